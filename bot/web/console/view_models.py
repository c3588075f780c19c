"""Typed views of the core's results for the staff pages and JSON.

A :class:`HitView` is a retrieval hit as staff may see it (texts masked, scores rounded);
:func:`regression_case_yaml` turns a logged question into a regression case. Templates
read the views' attributes; the JSON API writes :meth:`HitView.as_json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from bot.knowledge.cases import case_yaml, expect_from_reply, logged_case_id, received_label
from bot.knowledge.corpus import Citation
from bot.lang.privacy import mask_sensitive
from bot.web.app_state import format_time
from bot.web.storage.conversations import Conversation, LogMessage

if TYPE_CHECKING:  # the engine module loads numpy and the index code: only for the type
    from bot.retrieval.engine import Hit

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


def reply_custom(reply: LogMessage) -> dict[str, Any]:
    """The parts of a logged reply's ``custom`` that say what the assistant did."""
    return {"kind": reply.kind, "entry_id": reply.entry_id, "procedure": reply.procedure,
            "candidates": list(reply.candidates)}


def regression_case_yaml(conversation: Conversation, turn: int, case_texts: dict[str, str],
                         timezone: tzinfo) -> str | None:
    """The ``turn``-th question of a logged conversation as a regression case, YAML ready
    to paste under ``cases:``, with ``expect`` guessed from the assistant's reply and
    comments telling staff to check it; None when the conversation has no such turn."""
    exchange = conversation.exchange(turn)
    if exchange is None:
        return None
    question, replies, earlier = exchange
    answered = [reply for reply in replies if reply.kind]
    custom = reply_custom(answered[-1]) if answered else {}
    comments = [
        case_texts["header"].format(sender_id=conversation.sender_id, turn=turn,
                                    time=format_time(question.timestamp, timezone)),
        case_texts["answered"].format(received=received_label(custom)),
        case_texts["instructions"].strip(),
    ]
    if earlier:
        comments.append(case_texts["earlier_turns"].format(
            turns=case_texts["turn_separator"].join(message.text for message in earlier)))
    asked = datetime.fromtimestamp(question.timestamp, timezone).date()
    case = {"id": logged_case_id(conversation.sender_id, turn, asked), "turns": [question.text],
            "expect": expect_from_reply(custom)}
    return case_yaml(case, comments)
