"""The FAQ turn, independent of Rasa: which entry a message asks for, read alone and in
the conversation's context, and the reply with the slots to remember.

A follow-up like "河南的呢？" re-asks the last question for another province; a confident
FAQ intent narrows retrieval to its topic; a short message ("那邮费呢？") is also read
after the last answered question. A message about a personal deadline goes to
:mod:`bot.dialogue.deadline_form` first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.dialogue.deadline_form import deadline_turn
from bot.dialogue.deadlines import entry_procedure
from bot.dialogue.message import Message
from bot.dialogue.replies import check_question, clarify_reply, decision_reply, fallback_reply, texts
from bot.dialogue.state import DialogueState, Turn
from bot.knowledge.entries import TOPICS
from bot.lang.regions import Place, applies_to, find_place, nationwide
from bot.lang.text import normalise
from bot.retrieval.engine import Decision, Engine, load_engine
from bot.retrieval.settings import load_settings

REGION_FOLLOW_UP = "inform_region"
# A short question naming no topic ("那该怎么办理"): read after the last answered one.
FOLLOW_UP = "ask_follow_up"
# A message this short that cannot be answered alone ("那邮费呢？", "一共能加几次") is
# read again after the conversation's last answered question.
FOLLOW_UP_MAX_CHARS = 12
# ... unless it is answered by itself at least this confidently: over 870 short messages
# after an answered question (the follow-up regression cases and random pairs of dev
# questions), no reading in context changed such an answer, and each costs an embedding.
SURE_ALONE = 0.8
OFF_TOPIC = "out_of_scope"


def _prefer_province(engine: Engine, decision: Decision, query: str, topic: str | None,
                     place: Place) -> Decision:
    """For "河南的呢？": the same question's best entry written for that province, if the
    topic has one; otherwise the original answer (whose reply then names its region)."""
    hits = engine.search_query(query, k=10, topic=topic, kinds=("entry",))
    regional = [h for h in hits if h.region != nationwide()
                and applies_to(h.region, place.province) and (topic is None or h.topic == topic)]
    if not regional:
        return decision
    best = regional[0]
    return replace(decision, hits=[best] + [h for h in decision.hits if h.id != best.id])


def _looks_like_follow_up(message: Message, intent: str | None, in_domain: bool) -> bool:
    """Rasa gives the message an FAQ topic or calls it a follow-up, or it starts like one
    ("那…"), or Rasa is unsure what it is and retrieval does not reject the message alone
    (``in_domain``): "没参加会怎么样" gets a did-you-mean by itself, "今天天气怎么样"
    nothing."""
    markers = texts().get("follow_up_markers") or []
    return (intent in (*TOPICS, FOLLOW_UP)
            or (not message.confident_intent and in_domain)
            or any(message.normalised.startswith(m) for m in markers))


def _follow_up_queries(engine: Engine, message: Message, intent: str | None,
                       state: DialogueState, in_domain: bool) -> tuple[str | None, list[str]]:
    """For a short follow-up to an answered entry: that entry's id and the message read
    after the candidate's words and after the entry's question; else (None, [])."""
    last = next((e.id for e in engine.kb.entries if e.question == state.last_question), None)
    if not (last and len(message.text.strip()) <= FOLLOW_UP_MAX_CHARS
            and _looks_like_follow_up(message, intent, in_domain)):
        return None, []
    contexts = dict.fromkeys(normalise(c) for c in (state.last_asked, state.last_question)
                             if c and c.strip())
    return last, [f"{context}{message.normalised}" for context in contexts]


def _in_context(engine: Engine, decision: Decision, message: Message, intent: str | None,
                state: DialogueState, place: Place | None, topic: str | None) -> Decision:
    """The message read with the conversation's context. A short one ("那邮费呢？") is
    also read after the last answered question -- as the candidate asked it and as the
    entry words it -- as asking for an entry other than that one; the most confident
    of these readings wins when it answers more confidently than the message alone
    ("直邮怎么查物流" keeps its own 直邮), which is not re-read when it answered at
    least ``SURE_ALONE`` confidently. The candidate's own words matter when the
    entry's question is long ("什么是电子证书加注？为什么要加注？" drowns "一共能加几次",
    "加注是什么" does not). A message still unanswered is then read with the
    candidate's province said earlier."""
    sure = decision.kind == "answer" and decision.hits[0].score >= SURE_ALONE
    last, queries = (None, []) if sure else _follow_up_queries(
        engine, message, intent, state, in_domain=decision.kind != "no_answer")
    if queries:
        engine.prefetch(queries)  # every reading embedded in one batch
        readings = [engine.answer_query(query, topic=topic, exclude=last) for query in queries]
        answered = [r for r in readings if r.kind == "answer"]
        if answered:
            follow_up = max(answered, key=lambda r: r.hits[0].score)
            if decision.kind != "answer" or follow_up.hits[0].score > decision.hits[0].score:
                return follow_up
    if place and message.place is None and (decision.kind != "answer"
                                            or decision.hits[0].region == nationwide()):
        regional = engine.answer_query(normalise(f"{place.name}：") + message.normalised,
                                       topic=topic)
        if regional.kind == "answer" and (decision.kind != "answer"
                                          or _better_for_province(regional, decision, place)):
            return regional
    return decision


def _better_for_province(regional: Decision, decision: Decision, place: Place) -> bool:
    """The reading with the province said earlier answers with an entry written for
    that province, more confidently than the nationwide answer to the message alone
    ("证书没领会保管多久" after "河南的"): the province's own rule is the better answer."""
    best = regional.hits[0]
    return (best.region != nationwide() and applies_to(best.region, place.province)
            and best.score > decision.hits[0].score)


def answer_turn(message: Message, state: DialogueState, engine: Engine | None = None) -> Turn:
    """Decide and phrase the reply to one candidate message, with what the conversation
    remembers (``state``); the reply is in the candidate's script."""
    invalid = check_question(message.text, load_settings().max_input_chars)
    if invalid:
        return Turn(invalid.in_script(message.traditional))
    deadline = deadline_turn(message, state)
    if deadline:
        return deadline
    engine = engine or load_engine()
    if message.embedding:
        engine.remember(message.embedding)
    place = message.place or (find_place(normalise(state.place)) if state.place else None)
    intent = message.intent
    if intent == REGION_FOLLOW_UP and message.place is None:
        intent = None  # "那怎么申请" read as a region follow-up: it names no place
    query, topic = message.normalised, None
    if intent == REGION_FOLLOW_UP:
        if not state.last_question:
            ask = texts()["ask_which_question"].format(place=place.name if place else "")
            return Turn(clarify_reply(ask).in_script(message.traditional))
        query, topic = normalise(state.last_question), state.last_topic
    else:
        topic = message.topic_hint
    # A message Rasa confidently calls off-topic is not read in context, even after "那…":
    # read after an answered question, "那今天天气怎么样" can borrow that question's
    # confidence. Below the hint confidence the intent is trusted no more than a topic is.
    off_topic = intent == OFF_TOPIC and message.confident_intent
    decision = engine.answer_query(query, topic=topic)
    if (topic and decision.kind == "did_you_mean" and decision.hits[0].topic == topic
            and decision.hits[0].score >= engine.settings.hinted_answer_threshold):
        decision = replace(decision, kind="answer")
    alone = decision if query == message.normalised else None  # the message by itself
    if intent == REGION_FOLLOW_UP and place and decision.kind == "answer":
        decision = _prefer_province(engine, decision, query, topic, place)
    elif intent != REGION_FOLLOW_UP and not off_topic:
        decision = _in_context(engine, decision, message, intent, state, place, topic)
    if intent == OFF_TOPIC and decision.kind != "answer":
        best = decision.hits[0].score if decision.hits else None
        return Turn(fallback_reply(best).in_script(message.traditional))
    related = {entry.id: entry.question for entry in engine.kb.entries}
    reply = decision_reply(decision, place, related)
    return Turn(reply.in_script(message.traditional), _remembered(reply, decision is alone,
                                                                 message, place, engine))


def _remembered(reply: Any, alone: bool, message: Message, place: Place | None,
                engine: Engine) -> dict[str, Any]:
    """The slots an answer leaves: the entry answered (its topic and question), the
    candidate's words for it and the deadline rule it explains; the place."""
    slots: dict[str, Any] = {}
    if reply.custom.get("kind") == "faq_answer":
        answered = engine.kb.by_id[reply.custom["entry_id"]]
        # The candidate's words are context for the next follow-up only when they
        # asked the question by themselves ("一共能加几次" read in context does not).
        slots = {"last_topic": answered.topic, "last_question": answered.question,
                 "last_asked": message.text if alone else None,
                 "deadline_procedure": entry_procedure(answered.id)}
    if place:
        slots["place"] = place.name
    return slots
