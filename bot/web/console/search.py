"""The staff search page (``GET /staff?q=``) and its JSON (``GET /staff/api/search``):
the entries and passages closest to a candidate's question, as the served engine ranks
them, each a :class:`HitView` (texts masked, scores rounded). The engine loads on first
use and blocks, so it runs in a worker thread."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.knowledge.corpus import Citation
from bot.lang.privacy import mask_sensitive
from bot.web.app_state import WebState, web_state
from bot.web.errors import ApiError
from bot.web.staff_identity import staff_only

if TYPE_CHECKING:  # the engine module loads numpy and the index code: only for the type
    from bot.retrieval.engine import Hit

logger = logging.getLogger(__name__)

SEARCH_RESULT_COUNT = 8
SCORE_PLACES = 4


def citation_json(citation: Citation) -> dict[str, Any]:
    """A citation's fields, its date as ``YYYY-MM-DD`` (null when undated)."""
    data = asdict(citation)
    data["published"] = citation.published.isoformat() if citation.published else None
    return data


@dataclass(frozen=True)
class HitView:
    """One retrieval hit on the staff search page (the fields of ``Hit``, masked)."""

    kind: str                       # "entry" | "passage"
    id: str
    score: float                    # entries: confidence; passages: similarity
    similarity: float
    question: str                   # "" for passages
    answer: str                     # "" for passages
    matched_text: str
    topic: str | None
    region: str
    citations: tuple[Citation, ...]

    @classmethod
    def of(cls, hit: Hit) -> HitView:
        """The view of ``hit``: every text masked, scores to four places."""
        return cls(
            kind=hit.kind,
            id=hit.id,
            score=round(hit.score, SCORE_PLACES),
            similarity=round(hit.similarity, SCORE_PLACES),
            question=mask_sensitive(hit.question or ""),
            answer=mask_sensitive(hit.answer or ""),
            matched_text=mask_sensitive(hit.matched_text),
            topic=hit.topic,
            region=hit.region,
            citations=tuple(hit.citations),
        )

    def as_json(self) -> dict[str, Any]:
        """The hit in the staff search API (``GET /staff/api/search``)."""
        view = {field.name: getattr(self, field.name) for field in fields(self)}
        view["citations"] = [citation_json(citation) for citation in self.citations]
        return view


async def search_hits(state: WebState, query: str) -> tuple[list[HitView], str | None]:
    """The engine's hits for ``query`` (the engine cuts it to its own limit), or why
    there are none: the reason is shown to staff and the console stays up."""
    if not query:
        return [], None
    try:
        engine = await run_in_threadpool(state.retrieval.get)
        hits = await run_in_threadpool(engine.search, query, SEARCH_RESULT_COUNT)
    except Exception as error:  # noqa: BLE001 - show the reason to staff, keep the console up
        logger.exception("retrieval search failed")
        return [], f"{type(error).__name__}: {error}"
    return [HitView.of(hit) for hit in hits], None


@staff_only
async def search_page(request: Request) -> Response:
    """``GET /staff?q=``: the entries and passages closest to a candidate's question."""
    state = web_state(request)
    query = request.query_params.get("q", "").strip()
    hits, failure = await search_hits(state, query)
    return state.render(request, "staff_search.html",
                        {"query": query, "hits": hits, "failure": failure, "active": "search"})


@staff_only
async def search_json(request: Request) -> Response:
    """``GET /staff/api/search?q=``: the same as JSON."""
    state = web_state(request)
    query = request.query_params.get("q", "").strip()
    hits, failure = await search_hits(state, query)
    if failure:
        message = state.texts["staff"]["search_unavailable"].format(reason=failure)
        raise ApiError(503, message, "search_unavailable")
    return JSONResponse({"query": query, "hits": [hit.as_json() for hit in hits]})
