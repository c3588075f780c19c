"""The FAQ turn, independent of Rasa: which entry a message asks for, read alone and in
the conversation's context, and the reply with the slots to remember.

A follow-up like "河南的呢？" re-asks the last question for another province; a confident
FAQ intent narrows retrieval to its topic; a message is also read after the last answer
(:mod:`bot.dialogue.follow_up`). A message about a personal deadline goes to
:mod:`bot.dialogue.deadline_form` first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.dialogue.clause_reading import other_questions, read_clauses
from bot.dialogue.deadline_form import deadline_turn
from bot.dialogue.deadlines import entry_procedure
from bot.dialogue.follow_up import (LONG_MESSAGE, OFF_TOPIC, Margins, Reading, off_topic_words,
                                   read_in_context)
from bot.dialogue.message import Message
from bot.dialogue.replies import (check_question, clarify_options_reply, clarify_reply,
                                  decision_reply, fallback_reply, for_english_reader,
                                  regional_hits, regional_reply, texts, with_other_questions)
from bot.dialogue.state import DialogueState, Turn
from bot.knowledge.entries import Entry
from bot.lang.latin import in_documents_words
from bot.lang.regions import Place, applies_to, find_place, nationwide, rule_region_of
from bot.lang.text import normalise
from bot.lang.vocabulary import matching_form
from bot.retrieval.engine import Decision, Engine, Hit, load_engine
from bot.retrieval.settings import load_settings

REGION_FOLLOW_UP = "inform_region"
# An answer with one region's rule to a message naming no place is given with the other
# regions' rules of the topic when one of them is at least this likely ("证书邮费多少":
# Guangzhou 0.57, Henan 0.20, direct mail 0.19), unless the answer is this sure.
REGIONAL_RIVAL = 0.1
SURE_REGION = 0.8


def _prefer_province(engine: Engine, decision: Decision, query: str, topic: str | None,
                     place: Place) -> Decision:
    """For "河南的呢？": the same question's best entry written for that province, if the
    topic has one; otherwise the original answer (whose reply then names its region)."""
    hits = engine.search_query(query, k=10, topic=topic, kinds=("entry",))
    regional = [h for h in hits if h.region != nationwide()
                and applies_to(h.region, place.province) and (topic is None or h.topic == topic)]
    if not regional:
        if not applies_to(decision.hits[0].region, place.province):
            # "河南的又咋查？" after Guangdong's rule: the documents have none for Henan
            return replace(decision, kind="no_answer")
        return decision
    # the place's own rules first (广州's over Guangdong's), then by confidence
    own = rule_region_of(place)
    best = min(regional, key=lambda h: (h.region != own, -h.score))
    return replace(decision, hits=[best] + [h for h in decision.hits if h.id != best.id])


def _in_context(engine: Engine, decision: Decision, message: Message, state: DialogueState,
                place: Place | None, topic: str | None, limits: Margins | None) -> Reading:
    """The message read with the conversation's context: after the last answer
    (:mod:`bot.dialogue.follow_up`), then, still unanswered, with the candidate's
    province said earlier."""
    reading = read_in_context(engine, decision, message, state, topic, limits)
    decision = reading.decision
    if place and message.place is None and (decision.kind != "answer"
                                            or decision.hits[0].region == nationwide()):
        regional = engine.answer_query(matching_form(f"{place.name}：") + message.query,
                                       topic=topic)
        # two close readings asked back (reading.clarify) stay asked back when the
        # province's reading only gives the last answer again ("要是通知上的日子已经过了呢"
        # after Guangzhou's collection notice)
        again = reading.clarify and regional.hits and regional.hits[0].id == state.last_entry
        if regional.kind == "answer" and not again and (
                decision.kind != "answer" or _better_for_province(regional, decision, place)):
            if decision.kind != "answer" and reading.leaning and (
                    reading.leaning[0].id != regional.hits[0].id):
                # the readings after the last answer lean to another entry: the province
                # alone does not settle it ("在哪约" after Henan's fee: "河南：在哪约" is
                # on-site collection, after the fee it leans to the booking platform)
                options = {h.id: h for h in (reading.leaning[0], regional.hits[0],
                                             *reading.clarify)}
                return Reading(decision, clarify=tuple(options.values())[:3], in_context=True)
            return Reading(regional, in_context=True)
    return reading


def _better_for_province(regional: Decision, decision: Decision, place: Place) -> bool:
    """The reading with the province said earlier answers with an entry written for
    that province, more confidently than the nationwide answer to the message alone
    ("证书没领会保管多久" after "河南的"), or one the nationwide answer itself names as its
    related local rule ("没领的话会一直放着吗" after Henan: the overdue rule, whose related
    entries include Henan's storage period): the province's own rule is the better answer."""
    best, nationwide_answer = regional.hits[0], decision.hits[0]
    return (best.region != nationwide() and applies_to(best.region, place.province)
            and (best.score > nationwide_answer.score or best.id in nationwide_answer.related))


def prepare() -> None:
    """Load what a turn would otherwise load on first use: the engine (model, index),
    jieba's dictionary and the in-scope / off-topic words of follow-ups, the pinyin terms
    of ``bot.lang.latin``. The action server calls this before serving, so that no
    candidate's turn pays seconds for it (the first English or follow-up message did)."""
    engine = load_engine()
    off_topic_words("证书", engine)
    in_documents_words("zhengshu")


def _after_deadline(engine: Engine, message: Message, decision: Decision,
                    options: tuple[Hit, ...], last: Entry | None) -> Decision | None:
    """For a message saying the deadline has passed ("你说的那个时限我已经错过了咋整" after
    Guangzhou's collection notice), the entry saying what to do late (``after_deadline``
    of the entries): of the entry the message reads as (the decision's, or the first one
    asked back about), else of the last answer's for a short message; else such an entry
    asked back about. None when the message says no such thing, or already reads as what
    to do late."""
    if not message.missed:
        return None
    read = options[0] if options else (
        decision.hits[0] if decision.kind != "no_answer" and decision.hits else None)
    late_entries = {e.after_deadline for e in engine.kb.entries if e.after_deadline}
    # another region's "what to do late" is not the last answer's ("要是我已经错过了呢"
    # after Henan's booking window read as direct mail's missed deadline)
    own_region = (last is None or message.place is not None or read is None
                  or read.region in (last.region, nationwide()))
    if read is not None and read.id in late_entries and own_region:
        return None
    entries = [engine.kb.by_id.get(read.id) if read is not None else None]
    if len(message.query) <= LONG_MESSAGE:
        entries.append(last)
    entry = next((e for e in entries if e is not None and e.after_deadline), None)
    query = decision.query or message.query
    if entry is not None:
        hits = engine.search_query(query, k=len(engine.kb.entries), kinds=("entry",))
        return Decision(kind="answer", hits=[h for h in hits if h.id == entry.after_deadline],
                        query=query)
    # asked back between a point and what to do late ("那它过期了呢" after how to annotate)
    late = next((h for h in options if h.id in late_entries), None)
    return Decision(kind="answer", hits=[late], query=query) if late else None


def _per_region(engine: Engine, decision: Decision, topic_hint: str | None) -> list:
    """When no entry is a confident match only because the documents answer the question
    per region ("证书寄到家里的话，快递费是谁出": Guangdong's direct mail, Guangzhou, Henan),
    every region's entry of that topic, best first, from all the topic's entries rather
    than the few a did-you-mean keeps; [] otherwise. Together they must reach the answer
    threshold, or the floor when Rasa is confident the message is about that topic
    ("证书寄到家要不要自己付钱": ask_fees)."""
    if not decision.hits:
        return []
    settings = engine.settings
    widened = engine.search_query(decision.query, k=len(engine.kb.entries), kinds=("entry",))
    if decision.kind == "answer":
        # "证书邮费多少" answered with Guangzhou's rule: a region the candidate never named;
        # when another region's entry of the topic stays a rival, every region's rule
        best = decision.hits[0]
        rivals = [h for h in widened if h.topic == best.topic and h.region != best.region
                  and h.region != nationwide() and h.score >= REGIONAL_RIVAL]
        if best.region == nationwide() or best.score >= SURE_REGION or not rivals:
            return []
        return regional_hits(replace(decision, kind="did_you_mean", hits=widened), 0.0)
    hinted = topic_hint is not None and widened and widened[0].topic == topic_hint
    return regional_hits(replace(decision, kind="did_you_mean", hits=widened),
                         settings.floor if hinted else settings.answer_threshold)


def answer_turn(message: Message, state: DialogueState, engine: Engine | None = None,
                limits: Margins | None = None) -> Turn:
    """Decide and phrase the reply to one candidate message, with what the conversation
    remembers (``state``); the reply is in the candidate's script (and says so in English
    to a message written in English). ``limits``: the follow-up margins to use instead of
    the configured ones (choosing them)."""
    turn = _answer_turn(message, state, engine, limits)
    if message.english and turn.reply is not None:
        turn.reply = for_english_reader(turn.reply)
    return turn


def _answer_turn(message: Message, state: DialogueState, engine: Engine | None,
                 limits: Margins | None) -> Turn:
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
    query, topic = message.query, None
    last = engine.kb.by_id.get(state.last_entry or "")
    if intent == REGION_FOLLOW_UP:
        if last is None:
            ask = texts()["ask_which_question"].format(place=place.name if place else "")
            return Turn(clarify_reply(ask).in_script(message.traditional))
        query, topic = matching_form(last.question), last.topic
    else:
        topic = message.topic_hint
    # A message Rasa confidently calls off-topic is not read in context, even after "那…":
    # read after an answered question, "那今天天气怎么样" can borrow that question's
    # confidence. Below the hint confidence the intent is trusted no more than a topic is.
    off_topic = intent == OFF_TOPIC and message.confident_intent
    decision = engine.answer_query(query, topic=topic)
    if intent != REGION_FOLLOW_UP:
        decision = read_clauses(engine, message, decision, topic).decision
    if (topic and decision.kind == "did_you_mean" and decision.hits[0].topic == topic
            and decision.hits[0].score >= engine.settings.hinted_answer_threshold):
        decision = replace(decision, kind="answer")
    alone = query == message.query  # the message answered by itself
    settled = False
    if intent == REGION_FOLLOW_UP and place and decision.kind == "answer":
        decision = _prefer_province(engine, decision, query, topic, place)
    elif intent != REGION_FOLLOW_UP and not off_topic:
        reading = _in_context(engine, decision, message, state, place, topic, limits)
        decision, alone = reading.decision, alone and not reading.in_context
        late = _after_deadline(engine, message, decision, reading.clarify, last)
        if late is not None:   # what to do late, whatever the region
            decision, settled = late, True
        elif reading.clarify:
            reply = clarify_options_reply(last.topic, reading.clarify)
            return Turn(reply.in_script(message.traditional))
    if (message.place and decision.kind == "answer"
            and not applies_to(decision.hits[0].region, message.place.province)):
        # "河南的又咋查？" read after Guangzhou's tracking answer: never another province's
        # rule for the province the candidate names; its own rule in that topic, or none
        decision = _prefer_province(engine, decision, query, decision.hits[0].topic, message.place)
    if intent == OFF_TOPIC and decision.kind != "answer":
        best = decision.hits[0].score if decision.hits else None
        return Turn(fallback_reply(best).in_script(message.traditional))
    # another courier's number ("SF1234567890") is never answered below the threshold with
    # every region's rule of the topic Rasa names: the documents' procedures are not its
    unvouched = message.foreign_codes and decision.kind != "answer"
    regional = ([] if place or unvouched or settled
                else _per_region(engine, decision, message.topic_hint))
    related = {entry.id: entry.question for entry in engine.kb.entries}
    reply = regional_reply(regional) if regional else decision_reply(decision, place, related)
    if reply.custom.get("kind") == "faq_answer" and not regional:
        also, unanswered = other_questions(engine, message, reply.custom["entry_id"], topic)
        reply = with_other_questions(reply, also, unanswered)
    return Turn(reply.in_script(message.traditional), _remembered(reply, alone, message, place,
                                                                 engine))


def _remembered(reply: Any, alone: bool, message: Message, place: Place | None,
                engine: Engine) -> dict[str, Any]:
    """The slots an answer leaves: the entry answered (its topic and question), the
    candidate's words for it and the deadline rule it explains; the place."""
    slots: dict[str, Any] = {}
    kind = reply.custom.get("kind")
    if kind in ("faq_answer", "did_you_mean"):
        # after a did-you-mean its first candidate is the context of a follow-up
        entry_id = reply.custom["entry_id"] if kind == "faq_answer" else reply.custom["candidates"][0]
        answered = engine.kb.by_id[entry_id]
        # The candidate's words are context for the next follow-up only when they
        # asked the question by themselves ("一共能加几次" read in context does not).
        slots = {"last_topic": answered.topic, "last_entry": answered.id,
                 "last_asked": message.core if alone else None,
                 "deadline_procedure": entry_procedure(answered.id)}
    if place:
        slots["place"] = place.name
    return slots
