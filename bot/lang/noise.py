"""The question inside a noisy message: markup, emoji, runs of punctuation, numbers the
candidate left (phone, ID, their masked forms) and greetings or politeness
("你好，请问一下哈") removed, so a noisy message is read like its clean core. The phrases
live in ``data/faq/vocabulary.yml``; a message that is only a greeting keeps it."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

from bot import datafiles
from bot.lang.text import to_traditional

_TAG = re.compile(r"<[^<>]{0,300}>")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# mobile and ID numbers, as typed or as bot.lang.privacy masks them (138****5678, ****1234)
_NUMBER = re.compile(r"(?<![\d*])(?:\+?86[ -]?)?(?:1[3-9]\d[ -]?\d{4}[ -]?\d{4}|1[3-9]\d\*{4}\d{4}"
                     r"|\d{17}[\dXx]|\d{15}|\*{4,}\d{0,4}[\dXx]?)(?![\d*])")
_RUNS = re.compile(r"([!！?？。.,，、~～…;；:：\-—_=+*#@&^|/\\])\1+")
# a letter typed four times or more ("啊啊啊啊", "哈哈哈哈哈"): no word repeats so; digits may
_REPEATED = re.compile(r"([^\W\d_])\1{3,}")
_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = "，,、。.;；:：!！~～ "
# What is left of a message without its politeness must be longer than this to be read
# alone ("好的 谢谢" stays thanks; "电子证书怎么下载，谢谢" loses its thanks).
SHORT_REMAINDER = 3


def _emoji_free(text: str) -> str:
    """Without pictographs and their joiners and variation selectors."""
    return "".join(" " if unicodedata.category(ch) in ("So", "Sk", "Cs", "Co")
                   or 0xFE00 <= ord(ch) <= 0xFE0F or ch == "\u200d" else ch for ch in text)


@lru_cache(maxsize=8)
def _phrases(openings: tuple[str, ...], closings: tuple[str, ...], cues: tuple[str, ...]
             ) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    def alternation(words: tuple[str, ...]) -> str:
        return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or "(?!)"

    edge = f"[{re.escape(_EDGE_PUNCTUATION)}]*"
    return (re.compile(rf"^{edge}(?:(?:{alternation(openings)}){edge})+", re.IGNORECASE),
            re.compile(rf"{edge}(?:(?:{alternation(closings)}){edge})+$", re.IGNORECASE),
            re.compile(rf"(?:{alternation(cues)})\s*[:：]?\s*(?={_NUMBER.pattern})"))


def _both_scripts(words) -> tuple[str, ...]:
    """The phrases as written (simplified) and in traditional script: noise comes off
    before the script is folded."""
    words = [str(w) for w in words or ()]
    return tuple(dict.fromkeys(words + [to_traditional(w) for w in words]))


def _vocabulary_phrases() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    data = datafiles.vocabulary()
    politeness = data.get("politeness") or {}
    return _phrases(_both_scripts(politeness.get("openings")),
                    _both_scripts(politeness.get("closings")),
                    _both_scripts(data.get("number_cues")))


def core_of(text: str) -> str:
    """The message without its noise; the message itself (blanks folded) when nothing
    would be left but noise."""
    if not text:
        return ""
    opening, closing, cue = _vocabulary_phrases()
    core = html.unescape(_TAG.sub(" ", text))
    core = _URL.sub(" ", core)
    core = cue.sub(" ", core)
    core = _NUMBER.sub(" ", core)
    core = _emoji_free(core)
    core = _RUNS.sub(r"\1", core)
    core = _REPEATED.sub("", core)
    core = _SPACES.sub(" ", core).strip()
    without_politeness = closing.sub("", opening.sub("", core)).strip(_EDGE_PUNCTUATION)
    # "好滴，谢谢哈", "收到 谢谢": an acknowledgement is not a question without its thanks
    if sum(ch.isalnum() for ch in without_politeness) > SHORT_REMAINDER:
        core = without_politeness
    return core or _SPACES.sub(" ", text).strip()
