"""Candidates' words in the documents' words: the synonym and typo table of
``data/faq/vocabulary.yml`` applied to matching-form text (questions and entries alike),
and the matching form itself."""

from __future__ import annotations

import re
from functools import lru_cache

from bot import datafiles
from bot.lang.noise import core_of
from bot.lang.text import normalise


@lru_cache(maxsize=4)
def _table(synonyms: tuple[tuple[str, tuple[str, ...]], ...]
           ) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    replacement = {alias: word for word, aliases in synonyms for alias in aliases if alias}
    if not replacement:
        return None, {}
    # the documents' words match as themselves, so 电子证 inside 电子证书 is left alone
    replacement.update({word: word for word, _ in synonyms if word not in replacement})
    # longest first, so 咋弄 becomes 怎么办理 before 咋 becomes 怎么
    pattern = re.compile("|".join(re.escape(a) for a in sorted(replacement, key=len, reverse=True)))
    return pattern, replacement


def _synonyms() -> tuple[tuple[str, tuple[str, ...]], ...]:
    raw = datafiles.vocabulary().get("synonyms") or {}
    return tuple((str(word), tuple(str(a) for a in aliases or ())) for word, aliases in raw.items())


def canonical(normalised: str) -> str:
    """``normalised`` (``bot.lang.text.normalise``) with candidates' words replaced by the
    documents' (运费 → 邮费, 收费不 → 收费吗, 下在 → 下载)."""
    synonyms = _synonyms()
    pattern, replacement = _table(synonyms)
    if pattern is None or not normalised:
        return normalised
    return pattern.sub(lambda m: replacement[m.group()], normalised)


def dictionary_words() -> list[str]:
    """Every word of the table, for jieba's user dictionary."""
    words = []
    for word, aliases in _synonyms():
        words += [word, *aliases]
    return sorted(dict.fromkeys(w for w in words if len(w) > 1))


def matching_form(text: str) -> str:
    """How retrieval reads a question: without noise (``bot.lang.noise``), normalised, in
    the documents' words. Entries' questions and paraphrases are indexed in this form."""
    return canonical(normalise(core_of(text or "")))
