"""Read-only view of Rasa's SQL tracker store for the staff console.

Rasa's ``SQLTrackerStore`` keeps one row per event in table ``events``
(id, sender_id, type_name, timestamp, intent_name, action_name, data), in a SQLite file
or in PostgreSQL (``bot.web.database``). ``data`` is the event as JSON text (older rows
with ``\\uXXXX`` escapes), so text filtering happens in Python after decoding, while the
date filter runs in SQL on ``timestamp``. It reads through a connection that cannot write
(``bot.web.database.read_only_engine``). All text leaving it is masked with
:func:`bot.lang.privacy.mask_sensitive`.
"""

from __future__ import annotations

import csv
import io
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock_time, timedelta, tzinfo
from typing import Any, Iterable, Iterator

import sqlalchemy as sa

from bot.lang.privacy import mask_sensitive
from bot.web.database import events, read_only_engine, sqlite_file

UNANSWERED_KINDS = ("fallback", "did_you_mean")


class TrackerLogUnavailable(Exception):
    """The tracker database is missing or unreadable."""


@dataclass(frozen=True)
class LogMessage:
    """One user or bot turn."""

    sender_id: str
    role: str  # "user" | "bot"
    text: str
    timestamp: float
    kind: str | None = None  # custom.kind for bot turns
    entry_id: str | None = None
    score: float | None = None
    procedure: str | None = None  # deadline replies
    candidates: tuple[str, ...] = ()  # did-you-mean replies: the entry ids offered


@dataclass
class Conversation:
    """All turns of one sender, oldest first."""

    sender_id: str
    messages: list[LogMessage] = field(default_factory=list)

    @property
    def started(self) -> float:
        return self.messages[0].timestamp

    @property
    def last_activity(self) -> float:
        return self.messages[-1].timestamp

    def exchange(self, turn: int) -> tuple[LogMessage, list[LogMessage], list[LogMessage]] | None:
        """The ``turn``-th user message (1-based), the bot messages answering it, and
        the user messages before it; None when there is no such turn."""
        users = [m for m in self.messages if m.role == "user"]
        if not 1 <= turn <= len(users):
            return None
        question = users[turn - 1]
        start = self.messages.index(question) + 1
        replies = []
        for message in self.messages[start:]:
            if message.role == "user":
                break
            replies.append(message)
        return question, replies, users[: turn - 1]


@dataclass
class UnansweredQuestion:
    """A normalised question the bot could not answer confidently, with its counts."""

    normalised_text: str
    example_text: str
    count: int = 0
    fallback_count: int = 0
    did_you_mean_count: int = 0
    last_asked: float = 0.0
    sender_ids: list[str] = field(default_factory=list)
    example_sender_id: str = ""  # where example_text was asked: conversation and
    example_turn: int = 0  # user turn (1-based), for the regression-case export


def _normalise_for_grouping(text: str) -> str:
    try:
        from bot.lang.text import normalise
    except ImportError:  # pragma: no cover - bot.lang.text is part of the core
        return " ".join(text.split()).lower()
    try:
        normalised = normalise(text)
    except Exception:  # OpenCC missing in a stripped environment: still group sensibly
        normalised = " ".join(text.split()).lower()
    return normalised.rstrip("?？!！。.~～ ")


class TrackerLog:
    """Queries over the ``events`` table of one tracker store (``database_url``)."""

    def __init__(self, database_url: str, timezone: tzinfo) -> None:
        self.database_url = database_url
        self.timezone = timezone

    def _check(self) -> None:
        path = sqlite_file(self.database_url)
        if path is not None and not path.is_file():
            raise TrackerLogUnavailable(f"no tracker database at {path}")

    def _day_bounds(self, date_from: date | None, date_to: date | None) -> tuple[float | None, float | None]:
        start = datetime.combine(date_from, clock_time.min, self.timezone).timestamp() if date_from else None
        end = (
            datetime.combine(date_to + timedelta(days=1), clock_time.min, self.timezone).timestamp()
            if date_to
            else None
        )
        return start, end

    def _rows(
        self, date_from: date | None, date_to: date | None, sender_ids: Iterable[str] | None = None
    ) -> Iterator[tuple[str, str, float, str]]:
        start, end = self._day_bounds(date_from, date_to)
        query = (sa.select(events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.data)
                 .where(events.c.type_name.in_(("user", "bot")))
                 .order_by(events.c.timestamp, events.c.id))
        if start is not None:
            query = query.where(events.c.timestamp >= start)
        if end is not None:
            query = query.where(events.c.timestamp < end)
        if sender_ids is not None:
            sender_list = list(sender_ids)
            if not sender_list:
                return
            query = query.where(events.c.sender_id.in_(sender_list))
        self._check()
        try:
            with read_only_engine(self.database_url).connect() as connection:
                yield from connection.execute(query)
        except sa.exc.SQLAlchemyError as error:
            raise TrackerLogUnavailable(str(error).splitlines()[0]) from error

    @staticmethod
    def _message(sender_id: str, type_name: str, timestamp: float, data_text: str) -> LogMessage | None:
        try:
            data = json.loads(data_text) if data_text else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        text = data.get("text")
        if type_name == "user":
            if not isinstance(text, str) or not text.strip():
                return None
            return LogMessage(sender_id, "user", mask_sensitive(text), float(timestamp))
        bot_data = data.get("data") if isinstance(data.get("data"), dict) else {}
        custom = bot_data.get("custom") if isinstance(bot_data.get("custom"), dict) else {}
        if not isinstance(text, str):
            text = custom.get("answer") if isinstance(custom.get("answer"), str) else ""
        if not text and not custom:
            return None
        score = custom.get("score")
        candidates = custom.get("candidates") if isinstance(custom.get("candidates"), list) else []
        return LogMessage(
            sender_id,
            "bot",
            mask_sensitive(text),
            float(timestamp),
            kind=custom.get("kind") if isinstance(custom.get("kind"), str) else None,
            entry_id=custom.get("entry_id") if isinstance(custom.get("entry_id"), str) else None,
            score=float(score) if isinstance(score, (int, float)) else None,
            procedure=custom.get("procedure") if isinstance(custom.get("procedure"), str) else None,
            candidates=tuple(c for c in candidates if isinstance(c, str)),
        )

    def _conversations(
        self, date_from: date | None, date_to: date | None, sender_ids: Iterable[str] | None = None
    ) -> "OrderedDict[str, Conversation]":
        conversations: OrderedDict[str, Conversation] = OrderedDict()
        for sender_id, type_name, timestamp, data_text in self._rows(date_from, date_to, sender_ids):
            message = self._message(sender_id, type_name, timestamp, data_text)
            if message is not None:
                conversations.setdefault(sender_id, Conversation(sender_id)).messages.append(message)
        return conversations

    def conversations(
        self,
        text_query: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        limit: int | None = 200,
    ) -> tuple[list[Conversation], int]:
        """Conversations with at least one turn in the date range whose text contains
        ``text_query`` (case-insensitive, matched on masked text), most recent first.

        Returns (the first ``limit`` conversations, how many matched in total).
        """
        needle = _normalise_for_grouping(text_query) if text_query and text_query.strip() else None
        matched = [
            conversation
            for conversation in self._conversations(date_from, date_to).values()
            if needle is None
            or any(needle in _normalise_for_grouping(message.text) for message in conversation.messages)
        ]
        matched.sort(key=lambda conversation: conversation.last_activity, reverse=True)
        total = len(matched)
        return (matched[:limit] if limit else matched), total

    def conversation(self, sender_id: str) -> Conversation | None:
        """Every turn of one sender, or None when there are none."""
        return self._conversations(None, None, [sender_id]).get(sender_id)

    def unanswered_questions(self, date_from: date | None = None, date_to: date | None = None) -> list[UnansweredQuestion]:
        """User questions answered with ``fallback`` or ``did_you_mean``, grouped by
        normalised text, most frequent first (ties: most recent first)."""
        grouped: dict[str, UnansweredQuestion] = {}
        for conversation in self._conversations(date_from, date_to).values():
            last_user_message: LogMessage | None = None
            user_turn = 0
            for message in conversation.messages:
                if message.role == "user":
                    last_user_message = message
                    user_turn += 1
                    continue
                if message.kind not in UNANSWERED_KINDS or last_user_message is None:
                    continue
                key = _normalise_for_grouping(last_user_message.text)
                question = grouped.setdefault(key, UnansweredQuestion(key, last_user_message.text))
                question.count += 1
                if message.kind == "fallback":
                    question.fallback_count += 1
                else:
                    question.did_you_mean_count += 1
                if last_user_message.timestamp >= question.last_asked:
                    question.last_asked = last_user_message.timestamp
                    question.example_text = last_user_message.text
                    question.example_sender_id = conversation.sender_id
                    question.example_turn = user_turn
                if conversation.sender_id not in question.sender_ids:
                    question.sender_ids.append(conversation.sender_id)
                last_user_message = None  # one verdict per question
        return sorted(grouped.values(), key=lambda question: (-question.count, -question.last_asked))


CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    """Text for one CSV cell; a leading formula character is neutralised for Excel."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_PREFIXES) else text


def to_csv(headers: list[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 with BOM (so Excel opens Chinese correctly), CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
