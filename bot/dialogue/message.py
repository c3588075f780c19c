"""A candidate's message, read once per turn.

:func:`read_message` takes the noise off the text (``bot.lang.noise``), normalises it,
puts it in the documents' words for retrieval (``bot.lang.vocabulary``), detects its
script, finds the place, the dates and the deadline procedure it names, and keeps what
Rasa said of it (intent, confidence, the embedding its NLU computed). Everything
downstream takes this one value and never reads the raw text again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot import datafiles
from bot.dialogue.deadlines import guess_procedure
from bot.knowledge.entries import TOPICS
from bot.lang.dates import DateMention, extract_dates
from bot.lang.noise import core_of
from bot.lang.privacy import mask_sensitive
from bot.config import Settings
from bot.lang.regions import Place, find_place
from bot.lang.text import has_words, is_traditional, normalise
from bot.lang.vocabulary import canonical

# Below this NLU confidence the intent is not trusted as a topic hint.
TOPIC_HINT_MIN_CONFIDENCE = 0.8


def today() -> date:
    """The date deadlines are counted against; ASSISTANT_TODAY (YYYY-MM-DD) pins it
    for demos and tests."""
    return Settings()("ASSISTANT_TODAY", date.fromisoformat, None) or date.today()


@dataclass(frozen=True)
class Message:
    """One candidate message and everything read from it."""

    text: str                       # as received (the web front masked it already)
    core: str                       # without greetings, emoji, markup, stray numbers
    normalised: str                 # the core: NFKC, simplified, lower-case
    query: str                      # what retrieval matches: normalised, documents' words
    traditional: bool               # written in traditional script: so is the reply
    masked: str                     # with ID and mobile numbers masked, for logs
    has_words: bool
    is_question: bool               # a question mark or question word
    place: Place | None             # the first place named
    dates: tuple[DateMention, ...]  # every date mentioned, in order
    procedure: str | None           # the deadline procedure the words name
    today: date
    intent: str | None = None       # Rasa's reading
    confidence: float = 0.0
    embedding: Any = None           # Rasa's ``text_embedding`` of the message, if any

    @property
    def topic_hint(self) -> str | None:
        """The FAQ topic Rasa is confident the message is about, if any."""
        if self.intent in TOPICS and self.confidence >= TOPIC_HINT_MIN_CONFIDENCE:
            return self.intent
        return None

    @property
    def confident_intent(self) -> bool:
        return self.confidence >= TOPIC_HINT_MIN_CONFIDENCE


def read_message(text: Any, intent: str | None = None, confidence: float = 0.0,
                 embedding: Any = None, on: date | None = None) -> Message:
    """Read a message once (``on``: the day it is read against, default :func:`today`)."""
    text = text if isinstance(text, str) else ""
    core = core_of(text)
    normalised = normalise(core)
    on = on or today()
    markers = datafiles.deadline_texts()["question_markers"]
    return Message(
        text=text, core=core, normalised=normalised, query=canonical(normalised),
        traditional=is_traditional(text),
        masked=mask_sensitive(text), has_words=has_words(normalised),
        is_question=any(marker in normalised for marker in markers),
        place=find_place(normalised), dates=tuple(extract_dates(core, on)),
        procedure=guess_procedure(canonical(normalised)), today=on, intent=intent,
        confidence=float(confidence or 0.0), embedding=embedding,
    )
