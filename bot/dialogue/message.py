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
from bot.lang.clauses import NARRATIVE, QUESTION, Clause, clause_at, split_clauses
from bot.lang.dates import DateMention, extract_dates
from bot.lang.latin import foreign_codes, in_documents_words, is_english
from bot.lang.noise import core_of
from bot.lang.privacy import mask_sensitive
from bot.config import Settings
from bot.lang.regions import Place, places_named
from bot.lang.text import has_words, is_traditional, normalise
from bot.lang.vocabulary import canonical

# Words around a date that say nothing about it ("是9月29号的", "改成11月20日吧").
BARE_DATE_FILLER = set("是的号日了啊吧呢哦就在为成改")
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
                                    # (English and pinyin read too, bot.lang.latin)
    traditional: bool               # written in traditional script: so is the reply
    masked: str                     # with ID and mobile numbers masked, for logs
    has_words: bool
    is_question: bool               # a question mark or question word
    place: Place | None             # the place its rules are of (not where one works)
    dates: tuple[DateMention, ...]  # every date mentioned, in order
    procedure: str | None           # the deadline procedure the words name
    today: date
    intent: str | None = None       # Rasa's reading
    confidence: float = 0.0
    embedding: Any = None           # Rasa's ``text_embedding`` of the message, if any
    clauses: tuple[Clause, ...] = ()      # the normalised core cut into clauses, with roles
    start_dates: tuple[DateMention, ...] = ()  # the dates tied to the event a rule counts from
    english: bool = False           # written in English: the reply adds a note in English
    foreign_codes: tuple[str, ...] = ()   # another system's waybill / order numbers ("SF123…")
    missed: bool = False            # says a deadline or period has passed ("那个时限我错过了")

    @property
    def topic_hint(self) -> str | None:
        """The FAQ topic Rasa is confident the message is about, if any."""
        if self.intent in TOPICS and self.confidence >= TOPIC_HINT_MIN_CONFIDENCE:
            return self.intent
        return None

    @property
    def confident_intent(self) -> bool:
        return self.confidence >= TOPIC_HINT_MIN_CONFIDENCE

    @property
    def questions(self) -> tuple[str, ...]:
        """The question clauses, in the documents' words."""
        return tuple(canonical(c.text) for c in self.clauses if c.role == QUESTION)

    @property
    def focus(self) -> str | None:
        """The message read on its question clauses with the narrative clause just before
        the first of them (the context a question like "这到底是什么原因" leans on), in the
        documents' words; None when that is the whole message (nothing to leave out)."""
        kept, first = [], next((n for n, c in enumerate(self.clauses) if c.role == QUESTION), None)
        if first is None:
            return None
        for n, clause in enumerate(self.clauses):
            if clause.role == QUESTION or (n == first - 1 and clause.role == NARRATIVE):
                kept.append(clause.text)
        focus = canonical(",".join(kept))
        return focus if len(kept) < len(self.clauses) else None


def read_message(text: Any, intent: str | None = None, confidence: float = 0.0,
                 embedding: Any = None, on: date | None = None) -> Message:
    """Read a message once (``on``: the day it is read against, default :func:`today`)."""
    text = text if isinstance(text, str) else ""
    core = core_of(text)
    normalised = normalise(core)
    reading = in_documents_words(normalised)  # English glossed, pinyin spelled
    on = on or today()
    markers = datafiles.deadline_texts()["question_markers"]
    dates = tuple(extract_dates(core, on))
    starts = start_dates(core, dates)
    for mention in dates:
        if mention not in starts:   # "今天11月22日，…", "我明天入职": no part of the question
            reading = reading.replace(normalise(mention.text), "")
    place, lived_in = places_named(reading, [(c.start, c.end) for c in split_clauses(reading)])
    for start, end in reversed(lived_in):   # "我在深圳上班": context, not the rules' place
        reading = reading[:start] + reading[end:]
    clauses = split_clauses(reading)
    return Message(
        text=text, core=core, normalised=normalised, query=canonical(reading),
        traditional=is_traditional(text),
        masked=mask_sensitive(text), has_words=has_words(normalised),
        is_question=any(marker in normalised for marker in markers),
        place=place, dates=dates,
        procedure=guess_procedure(canonical(reading)), today=on, intent=intent,
        confidence=float(confidence or 0.0), embedding=embedding,
        clauses=clauses, start_dates=starts,
        english=is_english(normalised), foreign_codes=foreign_codes(normalised),
        missed=says_missed(clauses),
    )


def says_missed(clauses: tuple[Clause, ...]) -> bool:
    """A clause says a deadline or period has passed: a strong cue ("错过", "逾期"), or a
    cue with a word for a time ("通知上的日子已经过了"; ``missed_deadline`` of
    data/faq/vocabulary.yml); "考试过了" passed an exam."""
    words = datafiles.vocabulary().get("missed_deadline") or {}
    for clause in clauses:
        if any(cue in clause.text for cue in words.get("strong", ())):
            return True
        if (any(cue in clause.text for cue in words.get("cues", ()))
                and any(word in clause.text for word in words.get("time_words", ()))):
            return True
    return False


def start_dates(core: str, dates: tuple[DateMention, ...]) -> tuple[DateMention, ...]:
    """The dates a deadline rule may count from: each one in a clause that names the
    event (公示, 发布, 申请 … ``date_events`` of data/faq/vocabulary.yml), or every date
    of a message that is little more than dates ("2025年9月26号", "是9月29号"). A date
    the candidate mentions for another reason ("我明天入职", "下周一要交材料") is context."""
    if not dates:
        return ()
    rest = core
    for mention in dates:
        rest = rest.replace(mention.text, "")
    if sum(ch.isalnum() for ch in rest if ch not in BARE_DATE_FILLER) < 2:
        return dates
    events = datafiles.vocabulary().get("date_events") or ()
    clauses = split_clauses(core)
    tied = []
    for mention in dates:
        clause = clause_at(clauses, mention.start)
        if clause and any(event in normalise(clause.text) for event in events):
            tied.append(mention)
    return tuple(tied)

