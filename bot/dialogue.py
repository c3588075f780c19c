"""One assistant turn for a knowledge-base question, independent of Rasa.

The Rasa action passes the message, the predicted intent and the conversation's
slots; this decides what to retrieve (a follow-up like "河南的呢？" re-asks the last
question for another province; a confident FAQ intent narrows retrieval to its
topic) and returns the reply and the slots to remember.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.regions import Place, find_place
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


def answer_turn(text: str, intent: str | None, confidence: float, place_slot: str | None = None,
                last_topic: str | None = None, last_question: str | None = None,
                engine: Any = None) -> Turn:
    """Decide and phrase the reply to one candidate message."""
    invalid = check_question(text)
    if invalid:
        return Turn(invalid)
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
    if intent == OFF_TOPIC and decision.kind != "answer":
        best = decision.hits[0].score if decision.hits else None
        return Turn(fallback_reply(text, best))
    reply = decision_reply(decision, text, place, engine.related_questions)
    slots: dict[str, Any] = {}
    if reply.custom.get("kind") == "faq_answer":
        slots = {"last_topic": reply.custom["topic"], "last_question": query}
    if place:
        slots["place"] = place.name
    return Turn(reply, slots)
