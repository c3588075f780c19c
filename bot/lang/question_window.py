"""The part of a long message the encoder reads: its question with the context just before.

The sentence encoder's time grows with the text's tokens (multilingual-e5-small on this
machine: about 13 ms for 20 characters, 66 ms for 200, more under load), and a long
message that tells a story and asks at the end is not read better whole: the story
dilutes the question (issue 22). So a text longer than ``WINDOW_CHARS`` is read on its
question clauses, with the narrative clause just before the first of them as context,
at most ``WINDOW_CHARS`` characters in all; a 200-character message then costs about what
its question costs. Rasa's featurizer and the retrieval engine read the same window, so
the embedding Rasa computes serves the action server too.
"""

from __future__ import annotations

from bot import datafiles
from bot.lang.clauses import NARRATIVE, QUESTION, split_clauses

# Longer texts are read on their window: room for a question (about 20 characters) and
# its context, at about twice a short question's encoding time. Two NLU training examples
# (51, 65 characters) and two development-set messages are longer.
WINDOW_CHARS = 48
# Context shorter than this is left out rather than cut to a fragment.
MIN_CONTEXT_CHARS = 4


def question_window(text: str, limit: int = WINDOW_CHARS) -> str:
    """``text`` (in matching form) when it is at most ``limit`` characters; else its
    last question clauses that fit, joined by "," after the tail of the narrative clause
    before the first of them, as much of it as ``limit`` holds. A text with no question clause is read
    on its last clauses; one clause too long by itself on the part around its question
    words (candidates on phones type no commas)."""
    if len(text) <= limit:
        return text
    clauses = split_clauses(text)
    asked = [n for n, clause in enumerate(clauses) if clause.role == QUESTION]
    if not asked:
        return _tail(clauses, limit)
    kept: list[int] = []   # the last question clauses that fit: a story asks at its end
    for n in reversed(asked):
        if len(",".join(clauses[k].text for k in [n, *kept])) > limit:
            break
        kept.insert(0, n)
    if not kept:  # the last question clause alone is too long
        return _around_question(clauses[asked[-1]].text, limit)
    questions = ",".join(clauses[n].text for n in kept)
    first, room = kept[0], limit - len(questions) - 1
    if first and clauses[first - 1].role == NARRATIVE and room >= MIN_CONTEXT_CHARS:
        return f"{clauses[first - 1].text[-room:]},{questions}"
    return questions


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
