"""A long or many-part message decided on its question clauses.

Retrieval first reads the whole message (``Message.query``). A message that tells a story
and asks in the middle, or puts an instruction to the assistant first, dilutes that
reading; so when the whole message is not answered, it is read again on its question
clauses with the narrative clause just before them (``Message.focus``), on the question
clauses alone, and on each question clause with the clause before it; the most confident
answer of these readings wins when it beats the whole message's. Every reading is
embedded in one batch. Of a message longer than the question window
(``bot.lang.question_window``), only the question clauses in its window are read: a story
asks in passing ("也不知道会不会有影响"), and reading each of those would cost what
reading the whole story costs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.dialogue.message import Message
from bot.lang.clauses import INSTRUCTION, QUESTION
from bot.lang.question_window import WINDOW_CHARS, question_window
from bot.lang.vocabulary import canonical
from bot.retrieval.engine import Decision, Engine

# A long message's window answered at least this confidently is not read whole too.
WINDOW_SURE = 0.8


@dataclass(frozen=True)
class ClauseReading:
    decision: Decision
    query: str                                   # the reading that decided
    others: tuple[tuple[str, Decision], ...] = ()  # the other question clauses, read alone


def question_readings(message: Message) -> list[str]:
    """The readings of a message besides its whole text: its focus, its question clauses
    together, and each question clause with the clause before it (alone only when nothing
    of substance comes before: "什么时候寄出" alone is another question than after
    "广州过了领证期限才提交邮寄"). Of a message longer than the question window, whose
    whole reading is already its questions with their context, each question of the
    window with the clause before it."""
    clauses = message.clauses
    asked = read_questions(message)
    if len(message.query) > WINDOW_CHARS:
        # each question of the window with the clause before it, short readings in one
        # batch ("考后资格核查具体是怎么查的" read apart from "会不会因为这个不给我发证")
        readings = [_with_before(clauses, n) for n in reversed(asked)]
    else:
        readings = [message.focus] if message.focus else []
        if 1 < len(asked) < len(clauses):
            readings.append(",".join(canonical(clauses[n].text) for n in asked))
        readings += [_with_before(clauses, n) for n in asked]
    # a long message's readings are read on their question window (the engine's
    # read_part): one read as the whole message's window is no other reading
    whole = question_window(message.query)
    windows = (question_window(r) for r in readings)
    return [r for r in dict.fromkeys(windows) if r and r != whole]


def _with_before(clauses, n: int) -> str:
    """Question clause ``n`` read with the clause before it, unless that is an instruction
    to the assistant or there is none."""
    before = clauses[n - 1] if n else None
    if before is None or before.role == INSTRUCTION:
        return canonical(clauses[n].text)
    return canonical(f"{before.text},{clauses[n].text}")


def read_questions(message: Message) -> list[int]:
    """The positions of the question clauses read: all of them, or of a message longer than
    the question window, those in its window."""
    asked = [n for n, clause in enumerate(message.clauses) if clause.role == QUESTION]
    if len(message.query) <= WINDOW_CHARS:
        return asked
    window = question_window(message.query)
    return [n for n in asked if canonical(message.clauses[n].text) in window]


def read_clauses(engine: Engine, message: Message, whole: Decision,
                 topic: str | None) -> ClauseReading:
    """The best decision over the whole message and its question readings."""
    if len(message.query) > WINDOW_CHARS and not (
            whole.kind == "answer" and whole.hits[0].score >= WINDOW_SURE):
        # a long message its window does not settle is read whole as well: the window
        # takes one question and may leave out the one the story is about
        entire = engine.answer_query(message.query, topic=topic, windowed=False)
        if _better(entire, whole):
            whole = entire
    # a whole message that answers keeps its answer: a clause read alone loses the
    # context that makes it ("我没有报名账号，怎么下电子证书" is about registering)
    readings = [] if whole.kind == "answer" else question_readings(message)
    if not readings:
        return ClauseReading(whole, message.query)
    engine.prefetch(readings)
    best, best_query = whole, message.query
    for query in readings:
        decision = engine.answer_query(query, topic=topic)
        if _better(decision, best):
            best, best_query = decision, query
    return ClauseReading(best, best_query)


def _better(decision: Decision, than: Decision) -> bool:
    """An answer beats any other kind and a less confident answer; with no answer, a
    did-you-mean beats a fallback and a less confident did-you-mean (a story around the
    question leaves the whole message nothing to offer while its question clause points
    at the entries to ask about)."""
    rank = {"answer": 2, "did_you_mean": 1}
    mine, theirs = rank.get(decision.kind, 0), rank.get(than.kind, 0)
    if mine != theirs or not mine:
        return mine > theirs
    return decision.hits[0].score > than.hits[0].score


def other_questions(engine: Engine, message: Message, answered: str, topic: str | None
                    ) -> tuple[list, list[str]]:
    """For a message asking several things ("证书直邮怎么申请，邮费大概多少，一般几天能到"),
    the other question clauses besides the one answered (entry ``answered``): the entries
    that answer them, read each with the clause before it, and the clauses no entry
    answers (the documents do not say)."""
    clauses = message.clauses
    questions = read_questions(message)
    if len(questions) < 2:
        return [], []
    readings = {}
    for n in questions:
        before = clauses[n - 1] if n else None
        text = clauses[n].text if before is None else f"{before.text},{clauses[n].text}"
        readings[clauses[n].text] = canonical(text)
    engine.prefetch(list(readings.values()))
    also, unanswered, seen = [], [], {answered}
    for clause, query in readings.items():
        decision = engine.answer_query(query, topic=topic)
        if decision.kind == "answer":
            if decision.hits[0].id not in seen:
                seen.add(decision.hits[0].id)
                also.append(decision.hits[0])
        elif decision.kind == "no_answer":
            unanswered.append(clause)
    return also, unanswered
