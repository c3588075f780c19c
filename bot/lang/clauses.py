"""A message cut into clauses, each with its role: a question, an instruction to the
assistant ("请用简单的话回答我", "你直接告诉我结论就行"), or narrative (the story, the feelings,
the context). Candidates write long messages that tell a story and ask in the middle, or
ask several things at once; the reader decides on the question clauses, with the rest as
context. The cue words live in ``data/faq/vocabulary.yml`` (``clauses``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot import datafiles

QUESTION, INSTRUCTION, NARRATIVE = "question", "instruction", "narrative"
# What is left of a clause without its instruction cue must be this long to still ask.
MIN_QUESTION_CHARS = 5
# Clause ends: sentence and clause punctuation, ASCII and full width, and a blank between
# two pieces of Chinese (candidates on phones type a space for a comma).
_BOUNDARY = re.compile(r"[，,。！!？?；;：:…~～\n]+|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


@dataclass(frozen=True)
class Clause:
    text: str
    start: int          # index in the text the clauses were cut from
    end: int
    role: str           # question | instruction | narrative


@lru_cache(maxsize=4)
def _cues(key: str) -> tuple[str, ...]:
    words = (datafiles.vocabulary().get("clauses") or {}).get(key) or ()
    return tuple(sorted((str(w) for w in words), key=len, reverse=True))


def _asks(text: str) -> bool:
    return any(marker in text for marker in _cues("question_markers"))


def role_of(text: str) -> str:
    """The role of one clause: an instruction to the assistant when it holds an
    instruction cue and, without it, asks nothing of substance ("你是机器人吗", "请用简单
    的话回答我"; but "能告诉我证书在哪下载吗" asks); a question with a question word or
    mark; else narrative."""
    cue = next((c for c in _cues("instruction_cues") if c in text), None)
    if cue:
        rest = text.replace(cue, "")
        if not (_asks(rest) and sum(ch.isalnum() for ch in rest) >= MIN_QUESTION_CHARS):
            return INSTRUCTION
    return QUESTION if _asks(text) else NARRATIVE


def split_clauses(text: str) -> tuple[Clause, ...]:
    """The clauses of a (normalised) text, in order; a question mark after a clause makes
    it a question whatever its words."""
    clauses, start = [], 0
    for boundary in [*_BOUNDARY.finditer(text), None]:
        end = boundary.start() if boundary else len(text)
        piece = text[start:end].strip()
        if piece:
            role = role_of(piece)
            if role == NARRATIVE and boundary and any(c in "?？" for c in boundary.group()):
                role = QUESTION
            offset = text.index(piece, start)
            clauses.append(Clause(piece, offset, offset + len(piece), role))
        if boundary:
            start = boundary.end()
    return tuple(clauses)


def clause_at(clauses: tuple[Clause, ...], index: int) -> Clause | None:
    """The clause holding the character at ``index``."""
    return next((c for c in clauses if c.start <= index < c.end), None)
