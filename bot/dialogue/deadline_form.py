"""Personal deadlines in a conversation: answered in one turn when a message gives the
procedure and a usable date, otherwise collected by Rasa's deadline form, whose slot
helpers are here.

Every function takes the turn's :class:`~bot.dialogue.message.Message` (read once) and
the :class:`~bot.dialogue.state.DialogueState`; replies are put into the candidate's
script at the end.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.dialogue.deadline_replies import deadline_reply as result_reply
from bot.dialogue.deadlines import PROCEDURES, compute, date_label, error_prompt, load_texts
from bot.dialogue.message import Message, today
from bot.dialogue.replies import Reply
from bot.dialogue.state import DialogueState, Turn
from bot.knowledge.entries import TOPICS
from bot import datafiles
from bot.lang.dates import ParsedDate, first_date, parse_date
from bot.lang.text import normalise

DATE_ANSWER = "inform_date"
# Intents with rules of their own that may interrupt the deadline form.
CONVERSATION_INTENTS = ("greet", "goodbye", "thanks", "bot_challenge", "ask_human")
CANCEL = "stop"
DEADLINE_FORM = "deadline_form"
_MONTH_WITHOUT_DAY = re.compile(r"\d{1,4}\s*年\s*\d{1,2}\s*月(?!\s*\d)")


def deadline_turn(message: Message, state: DialogueState) -> Turn | None:
    """The deadline part of a turn outside the form, or None when the message is not
    about a personal deadline.

    A message naming a procedure and a usable date ("名单2024年9月27日公示，直邮最晚
    哪天申请？", or a date still to come: candidates ask ahead) is answered in one turn.
    One naming a procedure with an impossible date (2025年2月30日) hands over to the
    deadline form, which reads the same message again and asks only for what is missing
    or wrong; so does a message Rasa reads as giving a date (intent ``inform_date``) when
    the procedure or a readable date is missing ("2024年9月27日", "名单2025年9月公示的，
    直邮最晚哪天"). Anything else without a date is a question for the knowledge base.

    After a deadline answer, or an FAQ answer explaining a deadline rule, the rule and the
    date are remembered (``deadline_procedure``, ``deadline_date``): a date given then, or
    a correction ("说错了，公示日期是2025年5月9日", "不对，是河南的预约邮寄"), is counted
    for the remembered rule, or from the remembered date."""
    procedure = message.procedure or remembered_procedure(message, state.deadline_procedure)
    correcting = bool(state.deadline_date) and is_correction(message)
    # a date counts for a rule only when the message ties it to the rule's event (or
    # corrects the date given before); "我明天入职" is context, never a start date
    mentions = message.dates if correcting else message.start_dates
    if procedure and not mentions and correcting:
        if same_kind_of_date(procedure, state.deadline_procedure):
            return _answer(procedure, date.fromisoformat(state.deadline_date), None, message)
        return Turn(None, followup=DEADLINE_FORM)   # another kind of date: ask for it
    if procedure is None or not mentions:
        gives_date = (message.intent == DATE_ANSWER and (bool(mentions) or procedure is not None)
                      and not _other_question_with_a_date(message, procedure))
        personal = procedure is not None and _asks_for_own_date(message)
        return Turn(None, followup=DEADLINE_FORM) if gives_date or personal else None
    if not correcting and _asks_something_else(message):
        return None   # the date is part of the story; the question is for the knowledge base
    parsed = first_date(mentions, message.today)
    if not parsed.ok:
        return Turn(None, followup=DEADLINE_FORM)
    if correcting and parsed.year_inferred:
        # "不对，是9月29号": the year the candidate said before, not a guess
        said = date.fromisoformat(state.deadline_date)
        corrected = _with_year(parsed.value, said.year)
        if corrected is not None:
            return _answer(procedure, corrected, None, message)
    return _answer(procedure, parsed.value, parsed, message)


def same_kind_of_date(procedure: str, other: str | None) -> bool:
    """Two rules that count from the same kind of date (both from the score release day):
    a date given for one is the other's too."""
    procedures = load_texts()["procedures"]
    return other in procedures and procedures[procedure]["date_label"] == procedures[other]["date_label"]


def _with_year(day: date, year: int) -> date | None:
    try:
        return day.replace(year=year)
    except ValueError:      # 29 February
        return None


def _answer(procedure: str, start: date, parsed: ParsedDate | None, message: Message) -> Turn:
    """The computed deadline, remembered for a correction in the next message."""
    result = compute(procedure, start, today=message.today)
    return Turn(result_reply(result, parsed).in_script(message.traditional),
                remembered_deadline(procedure, start))


def remembered_deadline(procedure: str, start: date) -> dict[str, Any]:
    """The slots a deadline answer leaves: its rule and its date."""
    return {"deadline_procedure": procedure, "deadline_date": start.isoformat()}


def is_correction(message: Message) -> bool:
    """"不对", "说错了", "改成…": the candidate changes what they said before
    (data/faq/vocabulary.yml ``correction_cues``)."""
    cues = datafiles.vocabulary().get("correction_cues") or ()
    return any(cue in message.normalised for cue in cues)


def remembered_procedure(message: Message, remembered: str | None) -> str | None:
    """``remembered`` when the message gives a date and names no procedure of its own,
    as a date (Rasa reads it as ``inform_date``), as a correction or asking for its own
    deadline ("名单下周三公示，我最晚哪天申请"); else None."""
    dates = message.dates if is_correction(message) else message.start_dates
    if remembered not in PROCEDURES or message.procedure or not dates:
        return None
    asks = any(word in message.normalised for word in load_texts().get("deadline_words") or [])
    return remembered if message.intent == DATE_ANSWER or is_correction(message) or asks else None


def _other_question_with_a_date(message: Message, procedure: str | None) -> bool:
    """"今天上证指数收盘多少": a question with a date in it that names no procedure and no
    deadline is not a date given for the deadline form, whatever intent Rasa gives."""
    deadline_words = load_texts().get("deadline_words") or []
    return (procedure is None and message.is_question
            and not any(word in message.normalised for word in deadline_words))


def _asks_something_else(message: Message) -> bool:
    """The message asks questions and none of them about a time ("…申请了加注…这种情况是
    正常的吗": the date it tells is the story, not a date to count from); a question that
    holds the date asks about it ("要是12月18号公示呢")."""
    texts = load_texts()
    words = [*(texts.get("deadline_words") or []), *(texts.get("time_questions") or []),
             *(normalise(m.text) for m in message.start_dates)]
    questions = message.questions
    return bool(questions) and not any(w in q for q in questions for w in words)


def _asks_for_own_date(message: Message) -> bool:
    """"我的直邮截止日是哪天", "名单2025年9月公示的，直邮最晚哪天": about the candidate's own
    date, which the message does not (fully) give."""
    texts, text = load_texts(), message.normalised
    if any(cue in text for cue in texts.get("personal_cues") or []):
        return True
    own = texts.get("own_cue")
    if own and own in text and any(word in text for word in texts.get("deadline_words") or []):
        return True
    # "名单2025年9月公示的": a month without its day, tied to the rule's event
    events = datafiles.vocabulary().get("date_events") or ()
    return any(_MONTH_WITHOUT_DAY.search(c.text) and any(e in c.text for e in events)
               for c in message.clauses)


def _date_mention(message: Message) -> str | None:
    """The first date mention of a form answer, as typed (validated separately)."""
    return message.dates[0].text if message.dates else None


def form_digression(message: Message, state: DialogueState) -> bool:
    """While the form asks for the date, a message without one that greets, thanks,
    asks for a human or asks a knowledge-base question ("在哪里看公示日期？") is left
    to its own rule; the form asks again afterwards. When the form asks for the
    procedure, a message naming one answers it even as a question ("广州逾期证书什么
    时候寄出"), and one naming none fills nothing, so it is a digression anyway; at
    activation every message is read ("我的直邮申请截止日是哪天")."""
    if state.requested_slot != "start_date" or message.dates:
        return False
    return (message.intent in CONVERSATION_INTENTS
            or (message.intent in TOPICS and message.is_question))


def procedure_answer(message: Message, state: DialogueState) -> str | None:
    """The procedure a form message names, unless it is a digression. At activation a
    date naming none ("名单是2025年2月30日公示的", handed over by :func:`deadline_turn`)
    is for the procedure the last answer explained (``deadline_procedure``)."""
    if form_digression(message, state):
        return None
    if message.procedure is None and state.requested_slot is None:
        return remembered_procedure(message, state.deadline_procedure)
    return message.procedure


def start_date_answer(message: Message, state: DialogueState) -> str | None:
    """What a form message offers as the start date: its first date mention; when the
    form is asking for the date, otherwise the whole message (so that "还没公示" gets
    a request to re-enter) -- except a cancellation ("算了"), a bare change of
    procedure ("不对，是河南的预约邮寄") and a digression, which are not attempts at
    a date."""
    mention = _date_mention(message)
    if mention is not None:
        return mention
    if (state.requested_slot != "start_date" or not message.text.strip()
            or message.intent == CANCEL or message.procedure
            or form_digression(message, state)):
        return None
    return message.text


def start_date_problem(value: str, procedure: str | None, on: date | None = None
                       ) -> tuple[str | None, str | None]:
    """(ISO date, None) when ``value`` (a slot's text) is a usable start date, else
    (None, a bot.lang.dates error id). A date still to come is usable: candidates ask
    ahead, and a year without an official calendar yet is answered as provisional."""
    parsed = parse_date(value, on or today())
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


def start_date_prompt(message: Message, state: DialogueState) -> Reply:
    """Ask for the date the chosen procedure counts from; after a wrong date, the
    request to re-enter says what was wrong with it."""
    if state.date_problem:
        prompt = error_prompt(state.date_problem, state.procedure)
    else:
        prompt = load_texts()["ask_start_date"].format(label=date_label(state.procedure))
    return Reply(prompt, [], {"kind": "form_prompt", "sources": []}).in_script(message.traditional)


def deadline_reply(message: Message, state: DialogueState) -> Turn:
    """The computed deadline for a completed form, and the rule and date remembered.
    The message is the last answer: its script is kept, and when it was the date without
    a year, the reply says which year was assumed."""
    start = date.fromisoformat(state.start_date)
    parsed = first_date(message.dates, message.today)
    return _answer(state.procedure, start, parsed if parsed.ok and parsed.value == start
                   else None, message)
