"""Read-only view of Rasa's SQL tracker store for the staff console.

Rasa's ``SQLTrackerStore`` keeps one row per event in table ``events``
(id, sender_id, type_name, timestamp, intent_name, action_name, data), in a SQLite file
or in PostgreSQL (``bot.web.database``); it indexes ``sender_id`` only. ``data`` is the
event as JSON text (older rows with ``\\uXXXX`` escapes), so text filtering happens in
Python after decoding, while dates, paging and counting run in SQL: a page of the log
reads one aggregate over the ``user``/``bot`` rows plus the rows of the conversations it
shows, and a page of one conversation reads its rows by ``sender_id`` with LIMIT/OFFSET.
Questions are numbered as the feedback table and the regression-case export number them:
turn *n* is the sender's *n*-th ``user`` event, oldest first. It reads through a
connection that cannot write (``bot.web.database.read_only_engine``). All text leaving
it is masked with :func:`bot.lang.privacy.mask_sensitive`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock_time, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa

from bot.lang.privacy import mask_sensitive
from bot.lang.text import normalise
from bot.web.database import DatabaseUnavailable, events, question_key, read_only_engine, sqlite_file
from bot.web.messages import STAFF_METADATA_KEY

MESSAGE_TYPES = ("user", "bot")
UNANSWERED_KINDS = ("fallback", "did_you_mean")
PREVIEW_MESSAGES = 4      # the first messages of a conversation shown in the log's list
EXPORT_SENDER_BATCH = 200  # conversations read per query by the CSV export


class TrackerLogUnavailable(Exception):
    """The tracker database is missing or unreadable."""


# What reading the tracker store or the console's tables next to it may raise when the
# database is missing or down: pages say so instead of failing.
DATABASE_ERRORS = (TrackerLogUnavailable, DatabaseUnavailable, sa.exc.SQLAlchemyError)


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
    turn: int = 0  # user: the sender's n-th user event (from 1); bot: the turn it answers
    topic: str | None = None  # bot: custom.topic; user: the intent Rasa read
    entries: tuple[str, ...] = ()  # a reply answering per region: every entry it gives
    buttons: tuple[str, ...] = ()  # with candidates: the quick replies' payloads (their questions)
    staff: str | None = None  # bot: the staff member who wrote it (the live handoff), None for the assistant


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


@dataclass(frozen=True)
class ConversationSummary:
    """One conversation in the log's list: its span, size and first messages (within the
    list's dates)."""

    sender_id: str
    started: float
    last_activity: float
    message_count: int
    preview: tuple[LogMessage, ...]


@dataclass(frozen=True)
class ConversationPage:
    """A slice of one conversation's messages, and where it lies in the whole."""

    sender_id: str
    messages: tuple[LogMessage, ...]
    offset: int            # messages of the conversation before this slice
    total: int             # messages of the whole conversation
    started: float
    last_activity: float


@dataclass(frozen=True)
class LoggedTurn:
    """One question of a candidate and what the assistant did with it."""

    sender_id: str
    turn: int
    question: LogMessage
    replies: tuple[LogMessage, ...]
    next_question: LogMessage | None  # the sender's next message: what a did-you-mean led to

    @property
    def answer(self) -> LogMessage | None:
        """The last reply that says what the assistant did (has a kind), if any."""
        return next((reply for reply in reversed(self.replies) if reply.kind), None)

    @property
    def kind(self) -> str | None:
        answer = self.answer
        return answer.kind if answer else None

    @property
    def topic(self) -> str | None:
        """The answer's topic, else the intent Rasa read when it names a topic."""
        answer = self.answer
        if answer and answer.topic:
            return answer.topic
        intent = self.question.topic
        return intent if intent and intent.startswith("ask_") else None

    @property
    def latency(self) -> float | None:
        """Seconds from the question to the assistant's last reply (as Rasa stamped them)."""
        if not self.replies:
            return None
        return max(0.0, self.replies[-1].timestamp - self.question.timestamp)

    @property
    def picked(self) -> str | None:
        """After a did-you-mean: the entry whose question the candidate sent next (a quick
        reply, or typed alike); None when they asked something else or nothing."""
        answer = self.answer
        if answer is None or answer.kind != "did_you_mean" or self.next_question is None:
            return None
        sent = question_key(self.next_question.text)
        for entry_id, payload in zip(answer.candidates, answer.buttons):
            if question_key(payload) == sent:
                return entry_id
        return None


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


def _text_list(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def log_message(sender_id: str, type_name: str, timestamp: float, intent_name: str | None,
                data_text: str | None, turn: int) -> LogMessage | None:
    """One ``events`` row as a masked message (None for a bot event with nothing to show).
    A user event without text is kept, empty, so that turns count every user event."""
    try:
        data = json.loads(data_text) if data_text else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    text = data.get("text")
    if type_name == "user":
        return LogMessage(sender_id, "user", mask_sensitive(text) if isinstance(text, str) else "",
                          float(timestamp), turn=turn, topic=intent_name)
    bot_data = data.get("data") if isinstance(data.get("data"), dict) else {}
    custom = bot_data.get("custom") if isinstance(bot_data.get("custom"), dict) else {}
    if not isinstance(text, str):
        text = custom.get("answer") if isinstance(custom.get("answer"), str) else ""
    if not text and not custom:
        return None
    score = custom.get("score")
    candidates = _text_list(custom.get("candidates"))
    # the quick replies matter where they offer candidates (what a did-you-mean led to)
    buttons = bot_data.get("buttons") if candidates and isinstance(bot_data.get("buttons"), list) else []
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return LogMessage(
        sender_id,
        "bot",
        mask_sensitive(text),
        float(timestamp),
        kind=_optional_text(custom.get("kind")),
        entry_id=_optional_text(custom.get("entry_id")),
        score=float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
        procedure=_optional_text(custom.get("procedure")),
        candidates=candidates,
        turn=turn,
        topic=_optional_text(custom.get("topic")),
        entries=_text_list(custom.get("entries")),
        buttons=tuple(mask_sensitive(str(b.get("payload") or b.get("title") or ""))
                      for b in buttons if isinstance(b, dict)),
        staff=_optional_text(metadata.get(STAFF_METADATA_KEY)),
    )


class TrackerLog:
    """Queries over the ``events`` table of one tracker store (``database_url``)."""

    def __init__(self, database_url: str, timezone: tzinfo) -> None:
        self.database_url = database_url
        self.timezone = timezone

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        """A read-only connection; a missing or unreadable store raises TrackerLogUnavailable."""
        path = sqlite_file(self.database_url)
        if path is not None and not path.is_file():
            raise TrackerLogUnavailable(f"no tracker database at {path}")
        try:
            with read_only_engine(self.database_url).connect() as connection:
                yield connection
        except sa.exc.SQLAlchemyError as error:
            raise TrackerLogUnavailable(str(error).splitlines()[0]) from error

    def day_bounds(self, date_from: date | None, date_to: date | None) -> tuple[float | None, float | None]:
        """The first instant of ``date_from`` and the first after ``date_to``, in the
        display time zone (None for an open end)."""
        start = datetime.combine(date_from, clock_time.min, self.timezone).timestamp() if date_from else None
        end = (datetime.combine(date_to + timedelta(days=1), clock_time.min, self.timezone).timestamp()
               if date_to else None)
        return start, end

    @staticmethod
    def _in_range(query: sa.Select, start: float | None, end: float | None) -> sa.Select:
        if start is not None:
            query = query.where(events.c.timestamp >= start)
        if end is not None:
            query = query.where(events.c.timestamp < end)
        return query

    @staticmethod
    def _messages(rows: Iterable[Any], turns_before: int = 0) -> list[LogMessage]:
        """Rows of one sender, in order, as messages numbered from ``turns_before``."""
        turn, messages = turns_before, []
        for sender_id, type_name, timestamp, intent_name, data_text in rows:
            turn += type_name == "user"
            message = log_message(sender_id, type_name, timestamp, intent_name, data_text, turn)
            if message is not None:
                messages.append(message)
        return messages

    MESSAGE_COLUMNS = (events.c.sender_id, events.c.type_name, events.c.timestamp, events.c.intent_name,
                       events.c.data)

    def _sender_rows(self, sender_id: str) -> sa.Select:
        return (sa.select(*self.MESSAGE_COLUMNS)
                .where(events.c.sender_id == sender_id, events.c.type_name.in_(MESSAGE_TYPES))
                .order_by(events.c.timestamp, events.c.id))

    # ------------------------------------------------------------------ the log's list

    def conversations(self, text_query: str | None = None, date_from: date | None = None,
                      date_to: date | None = None, offset: int = 0, limit: int | None = 50
                      ) -> tuple[list[ConversationSummary], int]:
        """Conversations with at least one message in the date range (and, with
        ``text_query``, one whose masked text contains it, normalised), most recent first:
        ``limit`` of them from ``offset`` (all with None), and how many match in all."""
        start, end = self.day_bounds(date_from, date_to)
        needle = question_key(text_query) if text_query and text_query.strip() else None
        with self._connection() as connection:
            if needle is None:
                spans, total = self._spans_in_sql(connection, start, end, offset, limit)
            else:
                spans, total = self._spans_matching(connection, needle, start, end, offset, limit)
            previews = self._previews(connection, [span[0] for span in spans], start, end)
        return [ConversationSummary(sender_id, started, last, count, previews.get(sender_id, ()))
                for sender_id, started, last, count in spans], total

    def _spans_in_sql(self, connection: sa.Connection, start: float | None, end: float | None,
                      offset: int, limit: int | None) -> tuple[list[tuple[str, float, float, int]], int]:
        """One page of (sender, first, last, messages), newest first, and the number of
        conversations: two aggregates, nothing decoded."""
        last = sa.func.max(events.c.timestamp).label("last")
        spans = self._in_range(
            sa.select(events.c.sender_id, sa.func.min(events.c.timestamp), last, sa.func.count())
            .where(events.c.type_name.in_(MESSAGE_TYPES)), start, end
        ).group_by(events.c.sender_id).order_by(last.desc(), events.c.sender_id).offset(offset)
        if limit is not None:
            spans = spans.limit(limit)
        total = self._in_range(sa.select(sa.func.count(sa.distinct(events.c.sender_id)))
                               .where(events.c.type_name.in_(MESSAGE_TYPES)), start, end)
        return ([tuple(row) for row in connection.execute(spans)],
                int(connection.execute(total).scalar_one()))

    def _spans_matching(self, connection: sa.Connection, needle: str, start: float | None,
                        end: float | None, offset: int, limit: int | None
                        ) -> tuple[list[tuple[str, float, float, int]], int]:
        """As :meth:`_spans_in_sql` for conversations whose text contains ``needle``: the
        rows stream through once, keeping one span per conversation (text is matched
        after decoding and masking, as staff see it)."""
        query = self._in_range(sa.select(events.c.sender_id, events.c.timestamp, events.c.type_name,
                                         events.c.data)
                               .where(events.c.type_name.in_(MESSAGE_TYPES)), start, end)
        spans: dict[str, list[Any]] = {}
        for sender_id, timestamp, type_name, data_text in connection.execution_options(yield_per=2000).execute(query):
            span = spans.get(sender_id)
            if span is None:
                span = spans[sender_id] = [timestamp, timestamp, 0, False]
            span[0], span[1], span[2] = min(span[0], timestamp), max(span[1], timestamp), span[2] + 1
            if not span[3]:
                message = log_message(sender_id, type_name, timestamp, None, data_text, 0)
                span[3] = message is not None and needle in normalise(message.text)
        matched = sorted(((sender_id, span[0], span[1], span[2]) for sender_id, span in spans.items() if span[3]),
                         key=lambda span: (-span[2], span[0]))
        page = matched[offset:] if limit is None else matched[offset:offset + limit]
        return page, len(matched)

    def _previews(self, connection: sa.Connection, sender_ids: list[str], start: float | None,
                  end: float | None) -> dict[str, tuple[LogMessage, ...]]:
        """The first :data:`PREVIEW_MESSAGES` messages in range of each conversation, in
        one query (a window function per sender)."""
        if not sender_ids:
            return {}
        position = sa.func.row_number().over(partition_by=events.c.sender_id,
                                             order_by=(events.c.timestamp, events.c.id)).label("position")
        numbered = self._in_range(
            sa.select(*self.MESSAGE_COLUMNS, events.c.id, position)
            .where(events.c.sender_id.in_(sender_ids), events.c.type_name.in_(MESSAGE_TYPES)), start, end
        ).subquery()
        query = (sa.select(numbered.c.sender_id, numbered.c.type_name, numbered.c.timestamp,
                           numbered.c.intent_name, numbered.c.data)
                 .where(numbered.c.position <= PREVIEW_MESSAGES)
                 .order_by(numbered.c.sender_id, numbered.c.position))
        rows: dict[str, list[Any]] = {}
        for row in connection.execute(query):
            rows.setdefault(row[0], []).append(row)
        return {sender_id: tuple(self._messages(sender_rows)) for sender_id, sender_rows in rows.items()}

    # ------------------------------------------------------------------ one conversation

    def conversation(self, sender_id: str) -> Conversation | None:
        """Every turn of one sender, or None when there are none."""
        with self._connection() as connection:
            messages = self._messages(connection.execute(self._sender_rows(sender_id)))
        return Conversation(sender_id, messages) if messages else None

    def conversation_page(self, sender_id: str, offset: int, limit: int) -> ConversationPage | None:
        """``limit`` messages of one conversation from ``offset`` (oldest first), numbered
        as in the whole conversation; None when the sender has no messages."""
        span = (sa.select(sa.func.count(), sa.func.min(events.c.timestamp), sa.func.max(events.c.timestamp))
                .where(events.c.sender_id == sender_id, events.c.type_name.in_(MESSAGE_TYPES)))
        before = self._sender_rows(sender_id).with_only_columns(events.c.type_name).limit(offset).subquery()
        turns_before = sa.select(sa.func.count()).select_from(before).where(before.c.type_name == "user")
        with self._connection() as connection:
            total, started, last = connection.execute(span).one()
            if not total:
                return None
            earlier = int(connection.execute(turns_before).scalar_one()) if offset else 0
            rows = connection.execute(self._sender_rows(sender_id).offset(offset).limit(limit))
            messages = self._messages(rows, earlier)
        return ConversationPage(sender_id, tuple(messages), offset, int(total), float(started), float(last))

    def message_offset(self, sender_id: str, turn: int) -> int | None:
        """How many messages of the conversation come before its ``turn``-th question
        (None when it has no such turn): where a page showing that turn starts."""
        if turn < 1:
            return None
        question = (sa.select(events.c.timestamp, events.c.id)
                    .where(events.c.sender_id == sender_id, events.c.type_name == "user")
                    .order_by(events.c.timestamp, events.c.id).offset(turn - 1).limit(1))
        with self._connection() as connection:
            found = connection.execute(question).first()
            if found is None:
                return None
            timestamp, event_id = found
            earlier = sa.select(sa.func.count()).where(
                events.c.sender_id == sender_id, events.c.type_name.in_(MESSAGE_TYPES),
                sa.or_(events.c.timestamp < timestamp,
                       sa.and_(events.c.timestamp == timestamp, events.c.id < event_id)))
            return int(connection.execute(earlier).scalar_one())

    def user_turns(self, sender_id: str) -> int:
        """How many questions (user events) the sender has asked: the last turn's number."""
        query = sa.select(sa.func.count()).where(events.c.sender_id == sender_id, events.c.type_name == "user")
        with self._connection() as connection:
            return int(connection.execute(query).scalar_one())

    # ------------------------------------------------------------------ turns

    def turns(self, date_from: date | None = None, date_to: date | None = None) -> Iterator[LoggedTurn]:
        """Every question asked in the date range with the replies to it, conversation by
        conversation; the rows stream (nothing but the current conversation is held)."""
        start, end = self.day_bounds(date_from, date_to)
        rows = self._in_range(sa.select(*self.MESSAGE_COLUMNS).where(events.c.type_name.in_(MESSAGE_TYPES)),
                              start, end).order_by(events.c.sender_id, events.c.timestamp, events.c.id)
        with self._connection() as connection:
            earlier = self._turns_before(connection, start, end)
            sender, turn, question, replies = None, 0, None, []
            for sender_id, type_name, timestamp, intent_name, data_text in \
                    connection.execution_options(yield_per=2000).execute(rows):
                if sender_id != sender:
                    if question is not None:
                        yield LoggedTurn(sender, question.turn, question, tuple(replies), None)
                    sender, turn, question, replies = sender_id, earlier.get(sender_id, 0), None, []
                turn += type_name == "user"
                message = log_message(sender_id, type_name, timestamp, intent_name, data_text, turn)
                if message is None:
                    continue
                if message.role == "user":
                    if question is not None:
                        yield LoggedTurn(sender_id, question.turn, question, tuple(replies), message)
                    question, replies = message, []
                elif question is not None:  # replies to a question before the range are left out
                    replies.append(message)
            if question is not None:
                yield LoggedTurn(sender, question.turn, question, tuple(replies), None)

    def _turns_before(self, connection: sa.Connection, start: float | None, end: float | None) -> dict[str, int]:
        """Questions each conversation in the range asked before it (so turns keep their
        numbers whatever the range)."""
        if start is None:
            return {}
        in_range = self._in_range(sa.select(events.c.sender_id).where(events.c.type_name == "user"),
                                  start, end).distinct()
        query = (sa.select(events.c.sender_id, sa.func.count())
                 .where(events.c.type_name == "user", events.c.timestamp < start,
                        events.c.sender_id.in_(in_range))
                 .group_by(events.c.sender_id))
        return {sender_id: int(count) for sender_id, count in connection.execute(query)}

    def unanswered_questions(self, date_from: date | None = None, date_to: date | None = None
                             ) -> list[UnansweredQuestion]:
        """User questions answered with ``fallback`` or ``did_you_mean``, grouped by
        :func:`bot.web.database.question_key`, most frequent first (ties: most recent first)."""
        grouped: dict[str, UnansweredQuestion] = {}
        for turn in self.turns(date_from, date_to):
            kind = turn.kind
            if kind not in UNANSWERED_KINDS:
                continue
            question = turn.question
            key = question_key(question.text)
            unanswered = grouped.setdefault(key, UnansweredQuestion(key, question.text))
            unanswered.count += 1
            if kind == "fallback":
                unanswered.fallback_count += 1
            else:
                unanswered.did_you_mean_count += 1
            if question.timestamp >= unanswered.last_asked:
                unanswered.last_asked = question.timestamp
                unanswered.example_text = question.text
                unanswered.example_sender_id = turn.sender_id
                unanswered.example_turn = turn.turn
            if turn.sender_id not in unanswered.sender_ids:
                unanswered.sender_ids.append(turn.sender_id)
        return sorted(grouped.values(), key=lambda question: (-question.count, -question.last_asked))

    # ------------------------------------------------------------------ export

    def exported_conversations(self, text_query: str | None = None, date_from: date | None = None,
                               date_to: date | None = None) -> Iterator[Conversation]:
        """Every matching conversation, most recent first, with its messages in the date
        range, read :data:`EXPORT_SENDER_BATCH` conversations per query."""
        start, end = self.day_bounds(date_from, date_to)
        needle = question_key(text_query) if text_query and text_query.strip() else None
        with self._connection() as connection:
            if needle is None:
                spans, _ = self._spans_in_sql(connection, start, end, 0, None)
            else:
                spans, _ = self._spans_matching(connection, needle, start, end, 0, None)
        for first in range(0, len(spans), EXPORT_SENDER_BATCH):
            batch = [span[0] for span in spans[first:first + EXPORT_SENDER_BATCH]]
            query = self._in_range(sa.select(*self.MESSAGE_COLUMNS)
                                   .where(events.c.sender_id.in_(batch), events.c.type_name.in_(MESSAGE_TYPES)),
                                   start, end).order_by(events.c.sender_id, events.c.timestamp, events.c.id)
            rows: dict[str, list[Any]] = {}
            with self._connection() as connection:
                for row in connection.execute(query):
                    rows.setdefault(row[0], []).append(row)
            for sender_id in batch:
                messages = self._messages(rows.get(sender_id, []))
                if messages:
                    yield Conversation(sender_id, messages)


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
