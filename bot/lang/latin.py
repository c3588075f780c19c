"""Latin letters in a candidate's message: English questions and pinyin words.

The documents are Chinese and so is retrieval's model, which barely relates "download my
e-certificate" to "下载电子证书". English words are read in the documents' words through a
small glossary of the documents' terms (``data/faq/vocabulary.yml``, ``english``); a
pinyin word among Chinese ("证书zhiyou怎么申请")
is the document term with that pinyin (terms: the words of the NLU examples of every topic,
read with ``pypinyin``). What is left in Latin letters afterwards is dropped
from the reading, except names retrieval knows (EMS, PDF).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from bot import datafiles

_LATIN_RUN = re.compile(r"[a-z]+(?:[ '\-][a-z]+)*")
_LATIN_WORD = re.compile(r"[a-z]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_STAR, _FEW_WORDS = re.escape("*"), r"[a-z ]*?"
_ASCII_EDGE_BEFORE, _ASCII_EDGE_AFTER = r"(?<![a-z])", r"(?![a-z])"
KEPT_WORDS = frozenset({"ems", "pdf"})
# A message is English when it has this many Latin words and more Latin letters than twice
# its Chinese characters ("What does 已撤销 mean on my certificate status?" is English).
MIN_ENGLISH_WORDS = 3
# Latin letters joined to a run of digits: a waybill or order number of some system
# ("SF1234567890"); the letters name the system (a courier), the digits the item. A
# postal item number (UPU S10: "EA123456789CN", what China Post's EMS uses) is not one.
_CODE = re.compile(r"(?<![a-z0-9])([a-z]{1,4})\d{6,}(?![a-z0-9])")


def is_english(text: str) -> bool:
    """Written in English (lower-case text)."""
    words = _LATIN_WORD.findall(text)
    letters = sum(len(w) for w in words)
    return len(words) >= MIN_ENGLISH_WORDS and letters > 2 * len(_CJK.findall(text))


@lru_cache(maxsize=1)
def _glossary() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(English phrase pattern, the documents' word), longest phrase first."""
    pairs = [(str(phrase).lower(), str(term))
             for term, phrases in (datafiles.vocabulary().get("english") or {}).items()
             for phrase in phrases or ()]
    pairs.sort(key=lambda pair: -len(pair[0]))
    return tuple((re.compile(_ASCII_EDGE_BEFORE + re.escape(p).replace(_STAR, _FEW_WORDS)
                             + _ASCII_EDGE_AFTER), t) for p, t in pairs)


@lru_cache(maxsize=1)
def _pinyin_terms() -> dict[str, str]:
    """Pinyin without tones → the document term (two characters or more) it spells."""
    import jieba  # lazy: dictionaries load on first use
    from pypinyin import lazy_pinyin

    counts: Counter[str] = Counter()
    for intent, texts in datafiles.nlu_examples().items():
        if intent == "out_of_scope":
            continue
        for text in texts:
            counts.update(w for w in jieba.lcut(text)
                          if len(w) >= 2 and all(_CJK.match(ch) for ch in w))
    terms: dict[str, str] = {}
    for word, _ in counts.most_common():   # the commoner term wins: zhiyou is 直邮, not 只有
        terms.setdefault("".join(lazy_pinyin(word)), word)
    return terms


def _pinyin(run: str) -> str | None:
    """The document term a run of pinyin spells ("dianzi zhengshu" → 电子证书), if any."""
    terms = _pinyin_terms()
    whole = terms.get(re.sub(r"[ '\-]", "", run))
    if whole:
        return whole
    parts = [terms.get(word) for word in _LATIN_WORD.findall(run)]
    return "".join(parts) if parts and all(parts) else None


def foreign_codes(text: str) -> tuple[str, ...]:
    """The waybill or order numbers in a (normalised, lower-case) text whose letters are no
    name the documents know (EMS): another courier's or system's numbers ("sf1234567890").
    The documents say nothing about them."""
    found = []
    for match in _CODE.finditer(text):
        if match.group(1) not in KEPT_WORDS:
            found.append(match.group())
    return tuple(found)


def in_documents_words(text: str) -> str:
    """The (normalised, lower-case) text with its Latin letters read: English phrases
    glossed, pinyin spelled, other Latin words dropped; unchanged without Latin letters."""
    if not _LATIN_WORD.search(text):
        return text
    for pattern, term in _glossary():
        text = pattern.sub(term, text)

    def read(match: re.Match[str]) -> str:
        run = match.group()
        if run in KEPT_WORDS:
            return run
        spelled = _pinyin(run)
        if spelled:
            return spelled
        kept = [w for w in _LATIN_WORD.findall(run) if w in KEPT_WORDS]
        return " ".join(kept)

    return re.sub(r"\s+", " ", _LATIN_RUN.sub(read, text)).strip()
