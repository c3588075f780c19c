"""The conversation log's values: messages, conversations, turns and unanswered questions
as :class:`bot.web.storage.tracker_events.TrackerLog` reads them from Rasa's events
(masked with :func:`bot.lang.privacy.mask_sensitive`), for the staff pages and exports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.lang.privacy import mask_sensitive
from bot.web.storage.tables import question_key

STAFF_METADATA_KEY = "handoff_staff"  # a bot event written by a person during a live handoff
# A staff reply to a WeChat candidate that waits for their next message (the account may
# not use the customer-service API, or WeChat refused it): rasa_server/wechat_handoff.py.
DELIVERY_METADATA_KEY = "handoff_delivery"
NEXT_MESSAGE = "next_message"


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
