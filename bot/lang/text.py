"""Text normalisation shared by the cleaner, the index and the query path.

Matching always happens on a normalised simplified form (NFKC, full-width folded,
traditional → simplified with OpenCC); replies are converted back to the user's
script. OpenCC converters are created lazily, once.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u200c\u200e\u200f\u2028-\u202e\ufeff]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[\w\u3400-\u4dbf\u4e00-\u9fff]")


@lru_cache(maxsize=2)
def _converter(config: str):
    import opencc  # imported lazily: the dictionaries take a moment to load

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC ``t2s``)."""
    return _converter("t2s").convert(text) if text else text


def to_traditional(text: str) -> str:
    """Simplified → traditional Chinese (OpenCC ``s2t``)."""
    return _converter("s2t").convert(text) if text else text


def strip_control(text: str) -> str:
    """Remove control and zero-width characters, keep newlines and tabs as spaces."""
    return _CONTROL.sub("", text.replace("\t", " ").replace("\r", "\n"))


def normalise(text: str) -> str:
    """The matching form: NFKC (folds full-width forms), no control characters,
    single spaces, lower-case Latin, simplified script."""
    text = unicodedata.normalize("NFKC", strip_control(text))
    text = _WHITESPACE.sub(" ", text).strip().lower()
    return to_simplified(text)


def is_traditional(text: str) -> bool:
    """True when the text is written in traditional script: more characters change
    under t2s than under s2t."""
    cjk = "".join(_CJK.findall(text))
    if not cjk:
        return False
    changed_to_simplified = sum(a != b for a, b in zip(cjk, to_simplified(cjk)))
    changed_to_traditional = sum(a != b for a, b in zip(cjk, to_traditional(cjk)))
    return changed_to_simplified > changed_to_traditional


def has_words(text: str) -> bool:
    """True when the text has at least one letter, digit or Chinese character
    (emoji, punctuation and symbols alone do not count)."""
    return bool(_WORD.search(text))
