"""The staff inbox: what the assistant did not serve well, grouped by similar question.

``GET /staff/inbox?date_from=&date_to=&topic=&kind=&status=&page=`` lists groups of
fallbacks, did-you-means, low-confidence answers and thumbs down
(:mod:`bot.web.console.inbox_groups`); ``POST /staff/inbox/status`` (editors) marks a group's
questions pending, resolved or ignored; ``GET /staff/unanswered`` (the page it
replaces) redirects here. Each group links to its conversations and offers "处理": the
annotate page (``/staff/annotate``) with the group's questions.

Questions are grouped with the project's own sentence encoder
(:func:`bot.retrieval.embedding.get_encoder`, loaded on the first inbox, in a worker
thread) and :mod:`bot.retrieval.clustering`; their embeddings are kept between requests
(:class:`QuestionEmbeddings`, ``app.state.inbox_embeddings``). Without the encoder the
inbox still works, one group per question, and says so.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from bot.datafiles import reply_texts
from bot.web.storage.tables import INBOX_STATUSES
from bot.web.errors import log_unavailable
from bot.web.console.inbox_groups import (INBOX_KINDS, LOW_CONFIDENCE_MARGIN, STATUS_FILTERS, InboxFilters, InboxGroup,
                                 each_alone, group_items, inbox_items, shown_groups)
from bot.web.console.log_filters import log_filters
from bot.web.console.paging import paging, requested_page
from bot.web.staff_identity import editor_only, staff_only
from bot.web.app_state import WebState, web_state
from bot.web.storage.tracker_events import DATABASE_ERRORS

logger = logging.getLogger(__name__)

INBOX_PAGE_SIZE = 20
# Questions embedded per inbox at most (the most asked first): the first inbox of a big
# log embeds them all (~15 ms each on one core), later ones find them in the cache.
MAX_CLUSTERED_QUESTIONS = 500
EMBEDDING_CACHE_SIZE = 20_000  # ~1.5 kB each


class QuestionEmbeddings:
    """The embeddings of inbox questions, kept between requests, and the clustering over
    them. The encoder loads on first use (call from a worker thread)."""

    def __init__(self, size: int = EMBEDDING_CACHE_SIZE, encoder: Any = None) -> None:
        self.size = size
        self.encoder = encoder   # None: the project's (bot.retrieval.embedding.get_encoder)
        self._cache: Any = None  # an EmbeddingCache, made on first use (numpy)
        self._lock = threading.Lock()

    def cluster(self, keys: list[str]) -> list[list[int]]:
        """Groups of similar questions (indices into ``keys``, most asked first): the
        first :data:`MAX_CLUSTERED_QUESTIONS` by their embeddings, the rest alone."""
        from bot.lang.vocabulary import matching_form
        from bot.retrieval.clustering import cluster_texts
        from bot.retrieval.embedding import EmbeddingCache, get_encoder

        with self._lock:
            if self._cache is None:
                self._cache = EmbeddingCache(self.size)
        encoder, cache = self.encoder or get_encoder(), self._cache
        clustered = keys[:MAX_CLUSTERED_QUESTIONS]
        groups = cluster_texts([matching_form(key) for key in clustered],
                               lambda texts: cache.get(texts, encoder.encode))
        return groups + [[index] for index in range(len(clustered), len(keys))]


def question_embeddings(request: Request) -> QuestionEmbeddings:
    """The application's embeddings (``app.state.inbox_embeddings``, set in ``create_app``)."""
    return request.app.state.inbox_embeddings


@lru_cache(maxsize=1)
def low_confidence_below() -> float:
    """Answers scored under this are low-confidence: the calibrated answer threshold
    (data/faq/retrieval.yml) plus :data:`LOW_CONFIDENCE_MARGIN`."""
    from bot.retrieval.settings import load_settings

    return load_settings().answer_threshold + LOW_CONFIDENCE_MARGIN


def topic_names() -> dict[str, str]:
    """Each topic's name as candidates read it (data/faq/replies.yml)."""
    return dict(reply_texts().get("topic_names") or {})


@dataclass(frozen=True)
class Inbox:
    """What the inbox page shows: the groups with the filters' status, the number of
    groups in each status, and why similar questions could not be grouped (if so)."""

    groups: list[InboxGroup]
    status_counts: dict[str, int]
    ungrouped_reason: str | None


def read_inbox(state: WebState, embeddings: QuestionEmbeddings, filters: InboxFilters) -> Inbox:
    """The log's questions through the inbox's filters, grouped (blocking: a worker thread)."""
    thumbs_down = {(rating.sender_id, rating.turn): rating for rating in state.store.ratings_between(rating="down")}
    turns = state.store.events.turns(filters.date_from, filters.date_to)
    items = [item for item in inbox_items(turns, thumbs_down, low_confidence_below()) if filters.admits(item)]
    statuses = state.store.question_statuses()
    ungrouped_reason = None
    try:
        groups = group_items(items, statuses, embeddings.cluster)
    except Exception as error:  # noqa: BLE001 - no encoder (model missing, broken): the inbox stays up
        logger.exception("inbox questions not grouped")
        ungrouped_reason = f"{type(error).__name__}: {error}"
        groups = group_items(items, statuses, each_alone)
    counts = {status: sum(1 for group in groups if group.status == status) for status in INBOX_STATUSES}
    return Inbox(shown_groups(groups, filters.status), counts, ungrouped_reason)


def inbox_filters(request: Request) -> tuple[InboxFilters, str | None]:
    """The inbox's filters (unknown values: no filter; status: pending) and, for a
    malformed date, the staff-facing message."""
    dates = log_filters(request)
    params = request.query_params
    topic = params.get("topic", "").strip()
    kind = params.get("kind", "").strip()
    status = params.get("status", "").strip()
    return InboxFilters(
        date_from=dates.date_from, date_to=dates.date_to,
        topic=topic if topic in topic_names() or topic == "none" else None,
        kind=kind if kind in INBOX_KINDS else None,
        status=status if status in STATUS_FILTERS else "pending",
    ), dates.failure


@staff_only
async def inbox_page(request: Request) -> Response:
    """``GET /staff/inbox``: the groups of questions to look at, one page of them."""
    state = web_state(request)
    filters, failure = inbox_filters(request)
    inbox = Inbox([], {}, None)
    if failure is None:
        try:
            inbox = await run_in_threadpool(read_inbox, state, question_embeddings(request), filters)
        except DATABASE_ERRORS as error:
            failure = log_unavailable(request, error)
    page = paging(request, INBOX_PAGE_SIZE, len(inbox.groups), requested_page(request))
    return state.render(request, "staff_inbox.html", {
        "filters": filters,
        "date_from": request.query_params.get("date_from", ""),
        "date_to": request.query_params.get("date_to", ""),
        "groups": inbox.groups[page.offset:page.offset + page.size],
        "first_number": page.offset + 1,
        "paging": page,
        "status_counts": inbox.status_counts,
        "ungrouped_reason": inbox.ungrouped_reason,
        "topics": topic_names(),
        "kinds": INBOX_KINDS,
        "statuses": STATUS_FILTERS,
        "failure": failure,
        "active": "inbox",
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "export_query": request.url.query,
    })


def inbox_return_path(raw: str | None) -> str:
    """Back to the inbox page the form was on (only an inbox path)."""
    if raw and raw.startswith("/staff/inbox") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/staff/inbox"


@editor_only
async def set_status(request: Request) -> Response:
    """``POST /staff/inbox/status`` (form: ``question`` repeated, ``status``, ``next``):
    the questions get the status, the change goes to the audit log, back to the inbox."""
    state = web_state(request)
    texts = state.texts["inbox"]
    form = await request.form()
    questions = [value for value in form.getlist("question") if isinstance(value, str) and value.strip()]
    status = form.get("status")
    if not questions or status not in INBOX_STATUSES:
        return PlainTextResponse(texts["bad_status_request"], status_code=400)
    who = request.user.display_name
    try:
        await run_in_threadpool(state.store.set_status, who, questions, status)
    except Exception as error:  # noqa: BLE001 - the database is down: say so, change nothing else
        logger.error("inbox status not saved: %s", error)
        return PlainTextResponse(texts["status_not_saved"].format(reason=error), status_code=503)
    next_path = inbox_return_path(form.get("next") if isinstance(form.get("next"), str) else None)
    return RedirectResponse(next_path, status_code=303)


@staff_only
async def unanswered_redirect(request: Request) -> Response:
    """``GET /staff/unanswered``: the inbox replaced this page; its dates are kept."""
    kept = [(key, value) for key, value in request.query_params.multi_items() if key in ("date_from", "date_to")]
    return RedirectResponse("/staff/inbox" + (f"?{urlencode(kept)}" if kept else ""), status_code=301)
