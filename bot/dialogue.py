"""One assistant turn for a knowledge-base question, independent of Rasa.

The Rasa action passes the message, the predicted intent and the conversation's
slots; this decides what to retrieve (a follow-up like "河南的呢？" re-asks the last
question for another province; a confident FAQ intent narrows retrieval to its
topic) and returns the reply and the slots to remember.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from bot.dates import extract_dates, parse_date
from bot.deadlines import (PROCEDURES, compute, date_label, error_prompt, guess_procedure,
                           load_texts, render, reply_for)

from bot.regions import NATIONWIDE, Place, applies_to, find_place
from bot.replies import Reply, check_question, decision_reply, fallback_reply, templates
from bot.text import in_script_of

FAQ_TOPICS = (
    "ask_direct_mail", "ask_application_deadline", "ask_fees", "ask_tracking",
    "ask_delivery_problem", "ask_paper_mailing", "ask_reissue", "ask_qualification_check",
    "ask_certificate_storage", "ask_ecert_basics", "ask_ecert_download", "ask_annotation",
    "ask_blank_page", "ask_rare_character", "ask_certificate_status", "ask_verification_scope",
)
# Below this NLU confidence the intent is not trusted as a topic hint.
TOPIC_HINT_MIN_CONFIDENCE = 0.8
REGION_FOLLOW_UP = "inform_region"
OFF_TOPIC = "out_of_scope"


@dataclass
class Turn:
    reply: Reply
    slots: dict[str, Any] = field(default_factory=dict)


def _engine():
    from bot.retrieval import load_engine  # loads the index lazily, once

    return load_engine()


def _place(text: str, place_slot: str | None) -> Place | None:
    return find_place(text) or (find_place(place_slot) if place_slot else None)


def today() -> date:
    """The date deadlines are counted against; ASSISTANT_TODAY (YYYY-MM-DD) pins it
    for demos and tests."""
    pinned = os.environ.get("ASSISTANT_TODAY")
    return date.fromisoformat(pinned) if pinned else date.today()


def deadline_turn(text: str, on: date | None = None) -> Turn | None:
    """A one-turn deadline answer when the message names both a procedure and a
    date ("名单2024年9月27日公示，直邮最晚哪天申请？"), else None."""
    procedure = guess_procedure(text)
    if procedure is None or not extract_dates(text, on or today()):
        return None
    reply_text = reply_for(text, today=on or today(), procedure_id=procedure)
    return Turn(Reply(in_script_of(text, reply_text), [],
                      {"kind": "deadline", "procedure": procedure, "sources": []}))


def procedure_in(text: str) -> str | None:
    """The deadline procedure a form answer names (a button title or free text)."""
    return guess_procedure(text)


def date_in(text: str, on: date | None = None) -> str | None:
    """The first date mention in a form answer, as typed (validated separately)."""
    mentions = extract_dates(text, on or today())
    return mentions[0].text if mentions else None


def check_start_date(value: str, procedure: str | None, on: date | None = None
                     ) -> tuple[str | None, str | None]:
    """(ISO date, None) when usable, else (None, the re-entry prompt)."""
    needs_past = PROCEDURES[procedure].needs_past if procedure in PROCEDURES else True
    parsed = parse_date(value, on or today(), require_past=needs_past)
    if not parsed.ok:
        return None, error_prompt(parsed.error, procedure)
    return parsed.value.isoformat(), None


def start_date_prompt(procedure: str | None, user_text: str = "") -> str:
    """Ask for the date the chosen procedure counts from."""
    prompt = load_texts()["ask_start_date"].format(label=date_label(procedure))
    return in_script_of(user_text, prompt)


def deadline_reply(procedure: str, start_iso: str, user_text: str = "",
                   on: date | None = None) -> Reply:
    """The computed deadline for a completed form."""
    result = compute(procedure, date.fromisoformat(start_iso), today=on or today())
    return Reply(in_script_of(user_text, render(result)), [],
                 {"kind": "deadline", "procedure": procedure, "sources": list(result.sources)})


def _prefer_province(engine: Any, decision: Any, query: str, topic: str | None,
                     place: Place) -> Any:
    """For "河南的呢？": the same question's best entry written for that province, if the
    topic has one; otherwise the original answer (whose reply then names its region)."""
    hits = engine.search(query, k=10, topic=topic, kinds=("entry",))
    regional = [h for h in hits if h.region != NATIONWIDE and applies_to(h.region, place.province)
                and (topic is None or h.topic == topic)]
    if not regional:
        return decision
    best = regional[0]
    return replace(decision, hits=[best] + [h for h in decision.hits if h.id != best.id])


def answer_turn(text: str, intent: str | None, confidence: float, place_slot: str | None = None,
                last_topic: str | None = None, last_question: str | None = None,
                engine: Any = None) -> Turn:
    """Decide and phrase the reply to one candidate message."""
    invalid = check_question(text)
    if invalid:
        return Turn(invalid)
    deadline = deadline_turn(text)
    if deadline:
        return deadline
    engine = engine or _engine()
    place = _place(text, place_slot)
    query, topic = text, None
    if intent == REGION_FOLLOW_UP:
        if not last_question:
            ask = templates()["ask_which_question"].format(place=place.name if place else "")
            return Turn(Reply(in_script_of(text, ask), [], {"kind": "clarify", "sources": []}))
        query, topic = last_question, last_topic
    elif intent in FAQ_TOPICS and confidence >= TOPIC_HINT_MIN_CONFIDENCE:
        topic = intent
    decision = engine.answer(query, topic=topic)
    if (topic and decision.kind == "did_you_mean" and decision.hits[0].topic == topic
            and decision.hits[0].score >= engine.settings.hinted_answer_threshold):
        decision = replace(decision, kind="answer")
    if intent == REGION_FOLLOW_UP and place and decision.kind == "answer":
        decision = _prefer_province(engine, decision, query, topic, place)
    if intent == OFF_TOPIC and decision.kind != "answer":
        best = decision.hits[0].score if decision.hits else None
        return Turn(fallback_reply(text, best))
    related = {entry.id: entry.question for entry in engine.kb.entries}
    reply = decision_reply(decision, text, place, related)
    slots: dict[str, Any] = {}
    if reply.custom.get("kind") == "faq_answer":
        answered = engine.kb.by_id[reply.custom["entry_id"]]
        slots = {"last_topic": answered.topic, "last_question": answered.question}
    if place:
        slots["place"] = place.name
    return Turn(reply, slots)
