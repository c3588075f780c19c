"""One assistant turn, independent of Rasa: knowledge-base questions and deadlines.

The Rasa action passes the message, the predicted intent and the conversation's
slots; this decides what to retrieve (a follow-up like "河南的呢？" re-asks the last
question for another province; a confident FAQ intent narrows retrieval to its
topic) and returns the reply and the slots to remember.  A message about a personal
deadline is answered in one turn when it has all it needs, else handed to the
deadline form, whose slot helpers are here too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from bot.lang.dates import extract_dates, parse_date
from bot.dialogue.deadlines import (PROCEDURES, DeadlineResult, compute, date_label, error_prompt,
                           guess_procedure, load_texts, region_label, render, source_documents)
from bot.lang.regions import NATIONWIDE, Place, applies_to, find_place
from bot.dialogue.replies import (Reply, check_question, decision_reply, fallback_reply, format_date,
                         templates)
from bot.lang.text import in_script_of

FAQ_TOPICS = (
    "ask_direct_mail", "ask_application_deadline", "ask_fees", "ask_tracking",
    "ask_delivery_problem", "ask_paper_mailing", "ask_reissue", "ask_qualification_check",
    "ask_certificate_storage", "ask_ecert_basics", "ask_ecert_download", "ask_annotation",
    "ask_blank_page", "ask_rare_character", "ask_certificate_status", "ask_verification_scope",
)
# Below this NLU confidence the intent is not trusted as a topic hint.
TOPIC_HINT_MIN_CONFIDENCE = 0.8
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
DATE_ANSWER = "inform_date"
# Intents with rules of their own that may interrupt the deadline form.
CONVERSATION_INTENTS = ("greet", "goodbye", "thanks", "bot_challenge", "ask_human")
CANCEL = "stop"
DEADLINE_FORM = "deadline_form"
# The deadline form's slots, cleared when it is answered or cancelled.
DEADLINE_FORM_SLOTS = ("procedure", "start_date", "date_problem")


@dataclass
class Turn:
    """A reply (None when another action answers), the slots to remember, and the
    action to run next (the deadline form), if any."""

    reply: Reply | None
    slots: dict[str, Any] = field(default_factory=dict)
    followup: str | None = None


def _engine():
    from bot.retrieval.engine import load_engine  # loads the index lazily, once

    return load_engine()


def _place(text: str, place_slot: str | None) -> Place | None:
    return find_place(text) or (find_place(place_slot) if place_slot else None)


def today() -> date:
    """The date deadlines are counted against; ASSISTANT_TODAY (YYYY-MM-DD) pins it
    for demos and tests."""
    pinned = os.environ.get("ASSISTANT_TODAY")
    return date.fromisoformat(pinned) if pinned else date.today()


def deadline_turn(text: str, intent: str | None = None, on: date | None = None,
                  remembered: str | None = None) -> Turn | None:
    """The deadline part of a turn outside the form, or None when the message is not
    about a personal deadline.

    A message naming a procedure and a usable date ("名单2024年9月27日公示，直邮最晚
    哪天申请？") is answered in one turn.  One naming a procedure with a wrong date
    (2025年2月30日, a publicity date still to come) hands over to the deadline form,
    which reads the same message again and asks only for what is missing or wrong; so
    does a message Rasa reads as giving a date (intent ``inform_date``) when the
    procedure or a readable date is missing ("2024年9月27日", "名单2025年9月公示的，
    直邮最晚哪天").  Anything else without a date is a question for the knowledge base.

    ``remembered``: the procedure whose rule the last answer explained (slot
    ``deadline_procedure``).  A date sent after it, naming no procedure ("名单是9月1日
    公示的" after "直邮最晚什么时候申请"), is that procedure's start date."""
    on = on or today()
    has_date = bool(extract_dates(text, on))
    procedure = guess_procedure(text) or remembered_procedure(text, intent, remembered, on)
    if procedure is None or not has_date:
        gives_date = (intent == DATE_ANSWER and (has_date or procedure is not None)
                      and not _other_question_with_a_date(text, procedure))
        personal = procedure is not None and _asks_for_own_date(text)
        return Turn(None, followup=DEADLINE_FORM) if gives_date or personal else None
    parsed = parse_date(text, on, require_past=PROCEDURES[procedure].needs_past)
    if not parsed.ok:
        return Turn(None, followup=DEADLINE_FORM)
    result = compute(procedure, parsed.value, today=on)
    return Turn(Reply(in_script_of(text, render(result, parsed=parsed)), [],
                      _deadline_custom(result)))


def remembered_procedure(text: str, intent: str | None, remembered: str | None,
                         on: date | None = None) -> str | None:
    """``remembered`` when the message gives a date (Rasa reads it as ``inform_date``
    and it has one) and names no procedure of its own; else None."""
    if remembered not in PROCEDURES or intent != DATE_ANSWER or guess_procedure(text):
        return None
    return remembered if extract_dates(text, on or today()) else None


def entry_procedure(entry_id: str | None) -> str | None:
    """The deadline procedure whose rule the FAQ entry explains (data/deadlines.yml
    ``entry_procedures``), if any."""
    return (load_texts().get("entry_procedures") or {}).get(entry_id)


_MONTH_WITHOUT_DAY = re.compile(r"\d{1,4}\s*年\s*\d{1,2}\s*月(?!\s*\d)")


def _other_question_with_a_date(text: str, procedure: str | None) -> bool:
    """"今天上证指数收盘多少": a question with a date in it that names no procedure and no
    deadline is not a date given for the deadline form, whatever intent Rasa gives."""
    deadline_words = load_texts().get("deadline_words") or []
    return (procedure is None and is_question(text)
            and not any(word in text for word in deadline_words))


def _asks_for_own_date(text: str) -> bool:
    """"我的直邮截止日是哪天", "名单2025年9月公示的，直邮最晚哪天": about the candidate's own
    date, which the message does not (fully) give."""
    texts = load_texts()
    if any(cue in text for cue in texts.get("personal_cues") or []):
        return True
    own = texts.get("own_cue")
    if own and own in text and any(word in text for word in texts.get("deadline_words") or []):
        return True
    return bool(_MONTH_WITHOUT_DAY.search(text))


def _deadline_custom(result: DeadlineResult) -> dict[str, Any]:
    """The ``custom`` part of a deadline reply; sources in the shape of FAQ answers
    (docs/CONTRACTS.md), one per document."""
    region = region_label(result.region)
    sources = [{"title": document.title, "issuer": document.issuer,
                "date": format_date(document.published), "region": region,
                "passage_id": passage_id, "url": document.source_url}
               for document, passage_id in source_documents(result)]
    return {"kind": "deadline", "procedure": result.procedure_id, "sources": sources}


def procedure_in(text: str) -> str | None:
    """The deadline procedure a form answer names (a button title or free text)."""
    return guess_procedure(text)


def date_in(text: str, on: date | None = None) -> str | None:
    """The first date mention in a form answer, as typed (validated separately)."""
    mentions = extract_dates(text, on or today())
    return mentions[0].text if mentions else None


def is_question(text: str) -> bool:
    """A question rather than an answer: a question mark or word from the data file."""
    from bot.lang.text import normalise  # lazy: OpenCC loads on first use

    norm = normalise(text) if isinstance(text, str) else ""
    return any(marker in norm for marker in load_texts()["question_markers"])


def form_digression(text: str, intent: str | None, requested_slot: str | None,
                    on: date | None = None) -> bool:
    """While the form asks for the date, a message without one that greets, thanks,
    asks for a human or asks a knowledge-base question ("在哪里看公示日期？") is left
    to its own rule; the form asks again afterwards.  When the form asks for the
    procedure, a message naming one answers it even as a question ("广州逾期证书什么
    时候寄出"), and one naming none fills nothing, so it is a digression anyway; at
    activation every message is read ("我的直邮申请截止日是哪天")."""
    if requested_slot != "start_date" or date_in(text, on) is not None:
        return False
    return intent in CONVERSATION_INTENTS or (intent in FAQ_TOPICS and is_question(text))


def procedure_answer(text: str, intent: str | None, requested_slot: str | None,
                     on: date | None = None, remembered: str | None = None) -> str | None:
    """The procedure a form message names, unless it is a digression.  At activation a
    date naming none ("名单是2025年2月30日公示的", handed over by :func:`deadline_turn`)
    is for the procedure the last answer explained (``remembered``)."""
    if form_digression(text, intent, requested_slot, on):
        return None
    named = procedure_in(text)
    if named is None and requested_slot is None:
        return remembered_procedure(text, intent, remembered, on)
    return named


def start_date_answer(text: str, intent: str | None, requested_slot: str | None,
                      on: date | None = None) -> str | None:
    """What a form message offers as the start date: its first date mention; when the
    form is asking for the date, otherwise the whole message (so that "还没公示" gets
    a request to re-enter) -- except a cancellation ("算了"), a bare change of
    procedure ("不对，是河南的预约邮寄") and a digression, which are not attempts at
    a date."""
    mention = date_in(text, on)
    if mention is not None:
        return mention
    if (requested_slot != "start_date" or not text.strip() or intent == CANCEL
            or procedure_in(text) or form_digression(text, intent, requested_slot, on)):
        return None
    return text


def check_start_date(value: str, procedure: str | None, on: date | None = None
                     ) -> tuple[str | None, str | None]:
    """(ISO date, None) when usable, else (None, the re-entry prompt)."""
    iso, problem = start_date_problem(value, procedure, on)
    return iso, (error_prompt(problem, procedure) if problem else None)


def start_date_problem(value: str, procedure: str | None, on: date | None = None
                       ) -> tuple[str | None, str | None]:
    """(ISO date, None) when ``value`` is a usable start date for ``procedure``, else
    (None, a bot.lang.dates error id).  Before the procedure is known only the date itself
    is checked; :func:`form_slots_for_procedure` checks it again once it is."""
    needs_past = PROCEDURES[procedure].needs_past if procedure in PROCEDURES else False
    parsed = parse_date(value, on or today(), require_past=needs_past)
    if not parsed.ok:
        return None, parsed.error
    return parsed.value.isoformat(), None


def form_slots_for_date(value: str, procedure: str | None, on: date | None = None
                        ) -> dict[str, Any]:
    """The form slots after the candidate typed ``value`` as the start date: the ISO
    date, or none and the problem the next question must explain."""
    iso, problem = start_date_problem(value, procedure, on)
    return {"start_date": iso, "date_problem": problem}


def form_slots_for_procedure(procedure: str | None, start_date: str | None,
                             on: date | None = None) -> dict[str, Any]:
    """The form slots after the candidate named ``procedure``: a date given before
    (or for another procedure) is checked again against this one."""
    if procedure not in PROCEDURES:
        return {"procedure": None}
    slots: dict[str, Any] = {"procedure": procedure}
    if start_date:
        slots.update(form_slots_for_date(start_date, procedure, on))
    return slots


def start_date_prompt(procedure: str | None, user_text: str = "",
                      problem: str | None = None) -> str:
    """Ask for the date the chosen procedure counts from; after a wrong date, the
    request to re-enter says what was wrong with it."""
    if problem:
        prompt = error_prompt(problem, procedure)
    else:
        prompt = load_texts()["ask_start_date"].format(label=date_label(procedure))
    return in_script_of(user_text, prompt)


def deadline_reply(procedure: str, start_iso: str, user_text: str = "",
                   on: date | None = None) -> Reply:
    """The computed deadline for a completed form.  ``user_text`` is the last answer:
    its script is kept, and when it was the date without a year, the reply says which
    year was assumed."""
    on = on or today()
    start = date.fromisoformat(start_iso)
    result = compute(procedure, start, today=on)
    parsed = parse_date(user_text, on) if user_text else None
    if parsed is not None and not (parsed.ok and parsed.value == start):
        parsed = None
    return Reply(in_script_of(user_text, render(result, parsed=parsed)), [],
                 _deadline_custom(result))


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


def _looks_like_follow_up(text: str, intent: str | None, confidence: float,
                          in_domain: bool) -> bool:
    """Rasa gives the message an FAQ topic or calls it a follow-up, or it starts like one
    ("那…"), or Rasa is unsure what it is and retrieval does not reject the message alone
    (``in_domain``): "没参加会怎么样" gets a did-you-mean by itself, "今天天气怎么样"
    nothing."""
    markers = templates().get("follow_up_markers") or []
    return (intent in (*FAQ_TOPICS, FOLLOW_UP)
            or (confidence < TOPIC_HINT_MIN_CONFIDENCE and in_domain)
            or any(text.strip().startswith(m) for m in markers))


def _follow_up_queries(engine: Any, text: str, intent: str | None, confidence: float,
                       last_question: str | None, last_asked: str | None,
                       in_domain: bool) -> tuple[str | None, list[str]]:
    """For a short follow-up to an answered entry: that entry's id and the message read
    after the candidate's words and after the entry's question; else (None, [])."""
    last = next((e.id for e in engine.kb.entries if e.question == last_question), None)
    if not (last and len(text.strip()) <= FOLLOW_UP_MAX_CHARS
            and _looks_like_follow_up(text, intent, confidence, in_domain)):
        return None, []
    contexts = dict.fromkeys(c for c in (last_asked, last_question) if c and c.strip())
    return last, [f"{context}{text}" for context in contexts]


def _in_context(engine: Any, decision: Any, text: str, intent: str | None, confidence: float,
                place: Place | None, place_named: bool, last_question: str | None,
                topic: str | None, last_asked: str | None = None) -> Any:
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
        engine, text, intent, confidence, last_question, last_asked,
        in_domain=decision.kind != "no_answer")
    if queries:
        engine.prefetch(queries)  # every reading embedded in one batch
        readings = [engine.answer(query, topic=topic, exclude=last) for query in queries]
        answered = [r for r in readings if r.kind == "answer"]
        if answered:
            follow_up = max(answered, key=lambda r: r.hits[0].score)
            if decision.kind != "answer" or follow_up.hits[0].score > decision.hits[0].score:
                return follow_up
    if place and not place_named and (decision.kind != "answer"
                                      or decision.hits[0].region == NATIONWIDE):
        regional = engine.answer(f"{place.name}：{text}", topic=topic)
        if regional.kind == "answer" and (decision.kind != "answer"
                                          or _better_for_province(regional, decision, place)):
            return regional
    return decision


def _better_for_province(regional: Any, decision: Any, place: Place) -> bool:
    """The reading with the province said earlier answers with an entry written for
    that province, more confidently than the nationwide answer to the message alone
    ("证书没领会保管多久" after "河南的"): the province's own rule is the better answer."""
    best = regional.hits[0]
    return (best.region != NATIONWIDE and applies_to(best.region, place.province)
            and best.score > decision.hits[0].score)


def answer_turn(text: str, intent: str | None, confidence: float, place_slot: str | None = None,
                last_topic: str | None = None, last_question: str | None = None,
                engine: Any = None, last_asked: str | None = None,
                deadline_procedure: str | None = None,
                text_embedding: dict | None = None) -> Turn:
    """Decide and phrase the reply to one candidate message.  The conversation's slots:
    ``last_topic`` and ``last_question`` (the last answered entry's topic and canonical
    question), ``last_asked`` (the candidate's own words for it), ``deadline_procedure``
    (the deadline rule that answer explained), ``place_slot`` (the province said).
    ``text_embedding``: the message's embedding as Rasa's NLU computed it, if any (saves
    embedding it again)."""
    invalid = check_question(text)
    if invalid:
        return Turn(invalid)
    deadline = deadline_turn(text, intent, remembered=deadline_procedure)
    if deadline:
        return deadline
    engine = engine or _engine()
    if text_embedding:
        engine.remember(text_embedding)
    place_named = find_place(text) is not None
    place = _place(text, place_slot)
    query, topic = text, None
    if intent == REGION_FOLLOW_UP and not place_named:
        intent = None  # "那怎么申请" read as a region follow-up: it names no place
    if intent == REGION_FOLLOW_UP:
        if not last_question:
            ask = templates()["ask_which_question"].format(place=place.name if place else "")
            return Turn(Reply(in_script_of(text, ask), [], {"kind": "clarify", "sources": []}))
        query, topic = last_question, last_topic
    elif intent in FAQ_TOPICS and confidence >= TOPIC_HINT_MIN_CONFIDENCE:
        topic = intent
    # A message Rasa confidently calls off-topic is not read in context, even after "那…":
    # read after an answered question, "那今天天气怎么样" can borrow that question's
    # confidence. Below the hint confidence the intent is trusted no more than a topic is.
    off_topic = intent == OFF_TOPIC and confidence >= TOPIC_HINT_MIN_CONFIDENCE
    in_context = intent != REGION_FOLLOW_UP and not off_topic
    decision = engine.answer(query, topic=topic)
    if (topic and decision.kind == "did_you_mean" and decision.hits[0].topic == topic
            and decision.hits[0].score >= engine.settings.hinted_answer_threshold):
        decision = replace(decision, kind="answer")
    alone = decision if query == text else None   # the message answered by itself
    if intent == REGION_FOLLOW_UP and place and decision.kind == "answer":
        decision = _prefer_province(engine, decision, query, topic, place)
    elif in_context:
        decision = _in_context(engine, decision, text, intent, confidence, place, place_named,
                               last_question, topic, last_asked)
    if intent == OFF_TOPIC and decision.kind != "answer":
        best = decision.hits[0].score if decision.hits else None
        return Turn(fallback_reply(text, best))
    related = {entry.id: entry.question for entry in engine.kb.entries}
    reply = decision_reply(decision, text, place, related)
    slots: dict[str, Any] = {}
    if reply.custom.get("kind") == "faq_answer":
        answered = engine.kb.by_id[reply.custom["entry_id"]]
        # The candidate's words are context for the next follow-up only when they
        # asked the question by themselves ("一共能加几次" read in context does not).
        slots = {"last_topic": answered.topic, "last_question": answered.question,
                 "last_asked": text if decision is alone else None,
                 "deadline_procedure": entry_procedure(answered.id)}
    if place:
        slots["place"] = place.name
    return Turn(reply, slots)
