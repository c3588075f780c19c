"""The part of a long message the encoder reads: its question with the context just before.

The sentence encoder's time grows with the text's tokens (multilingual-e5-small, one thread as
the servers run it: about 19 ms for 16 characters, 27 ms for 30, more under load), and a long
message that tells a story and asks at the end is not read better whole: the story
dilutes the question (issue 22). So a text longer than ``WINDOW_CHARS`` is read on its
main question (the question clause naming most of the documents' subjects, the last on a
tie) and the questions next to it, with the end of the clause before them as context,
at most ``WINDOW_CHARS`` characters in all; a 200-character message then costs about what
its question costs. Rasa's featurizer and the retrieval engine read the same window, so
the embedding Rasa computes serves the action server too.
"""

from __future__ import annotations

from bot import datafiles
from bot.lang.clauses import INSTRUCTION, QUESTION, split_clauses

# Longer texts are read on their window: room for a question (about 20 characters) and
# its context, at about twice a short question's encoding time. Two NLU training examples
# (51, 65 characters) and two development-set messages are longer.
WINDOW_CHARS = 48
# Context shorter than this is left out rather than cut to a fragment.
MIN_CONTEXT_CHARS = 4


def question_window(text: str, limit: int = WINDOW_CHARS) -> str:
    """``text`` (in matching form) when it is at most ``limit`` characters; else its last
    run of consecutive question clauses (as many of them as fit, from the last), joined
    by ",", after the end of the clause before the run (unless an instruction to the
    assistant), as much of it as ``limit`` holds. A text with no question clause is read
    on its last clauses; a question clause too long by itself on the part around its
    question words (candidates on phones type no commas)."""
    if len(text) <= limit:
        return text
    clauses = split_clauses(text)
    asked = [n for n, clause in enumerate(clauses) if clause.role == QUESTION]
    if not asked:
        return _tail(clauses, limit)
    kept = [_main_question(clauses, asked)]
    while (kept[-1] + 1 in asked   # with the questions right after it that fit,
           and len(",".join(clauses[n].text for n in [*kept, kept[-1] + 1])) <= limit):
        kept.append(kept[-1] + 1)
    while (kept[0] - 1 in asked   # then those just before it
           and len(",".join(clauses[n].text for n in [kept[0] - 1, *kept])) <= limit):
        kept.insert(0, kept[0] - 1)
    questions = ",".join(clauses[n].text for n in kept)
    if len(questions) > limit:  # the last question clause alone is too long
        return _around_question(questions, limit)
    first, room = kept[0], limit - len(questions) - 1
    context = _context(clauses, first)
    if context is not None and room >= MIN_CONTEXT_CHARS:
        return f"{context.text[-room:]},{questions}"
    return questions


def _main_question(clauses, asked: list[int]) -> int:
    """The question clause a long message is about: the one that, with the clause before
    it, names most of the documents' subjects (``subject_words``), the last on a tie. A
    story often asks in the middle and then asks in passing ("证书直邮的邮费是怎么收的，…，
    也不知道快递员会不会等，唉真麻烦", "…公示几天啊，…，对吧")."""
    subjects = datafiles.vocabulary().get("subject_words") or ()

    def named(n: int) -> int:
        text = clauses[n].text + (clauses[n - 1].text if n else "")
        return sum(word in text for word in subjects)

    return max(asked, key=lambda n: (named(n), n))


def _context(clauses, first: int):
    """The clause a question run at ``first`` is read after: the one just before it
    (unless an instruction to the assistant); for a question that points back ("这种情况
    是正常的吗") at a story whose last clause names nothing of the documents' ("单位下午就
    要"), the nearest clause before that does ("提交以后页面一直显示证书生成中")."""
    if not first or clauses[first - 1].role == INSTRUCTION:
        return None
    words = datafiles.vocabulary()
    pointing = any(cue in clauses[first].text for cue in words.get("pointing_cues") or ())
    subjects = words.get("subject_words") or ()
    if pointing and not any(w in clauses[first - 1].text for w in subjects):
        for clause in reversed(clauses[:first - 1]):
            if clause.role != INSTRUCTION and any(w in clause.text for w in subjects):
                return clause
    return clauses[first - 1]


def _tail(clauses, limit: int) -> str:
    """The last clauses that fit in ``limit`` (the last one's end when none fits)."""
    kept = ""
    for clause in reversed(clauses):
        joined = f"{clause.text},{kept}" if kept else clause.text
        if len(joined) > limit:
            break
        kept = joined
    return kept or clauses[-1].text[-limit:]


def _around_question(clause: str, limit: int) -> str:
    """``limit`` characters of a long clause around its last question word, a third of
    them after it (what is asked about often follows: "还能不能寄给我")."""
    markers = (datafiles.vocabulary().get("clauses") or {}).get("question_markers") or ()
    ends = [clause.rfind(str(m)) + len(str(m)) for m in markers if str(m) in clause]
    end = min(len(clause), max(ends, default=len(clause)) + limit // 3)
    start = max(0, end - limit)
    return clause[start:start + limit]
