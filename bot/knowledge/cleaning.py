"""Cleaning of scraped seed pages into plain passages.

Pure functions: raw text and a per-document rule set (``data/faq/import.yml``) in,
cleaned lines and passages out. Nothing here reads files.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# A Chinese character followed by its pinyin in brackets, e.g. 費(fèi) → 費.
# Pinyin is lower-case Latin with tone marks; upper-case (EMS) and digits are kept.
_PINYIN_SYLLABLE = "[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ]{1,7}"
INLINE_PINYIN = re.compile(rf"(?<=[\u3400-\u9fff])[(（]{_PINYIN_SYLLABLE}[)）]")
# Mojibake that survives repairs: a replacement character, or "?" glued to CJK.
MOJIBAKE = re.compile(r"\ufffd|\?[\u3000-\u303f\u4e00-\u9fff]{1,2}[A-Za-z]|\?{2}[\u4e00-\u9fff]")

# Headings that open a passage: 一、 / （一） / (1) / 一. and numbered questions.
_HEADING = re.compile(
    r"^(?:[一二三四五六七八九十]+[、.．]"
    r"|[(（][一二三四五六七八九十]+[)）]"
    r"|[(（]\d+[)）].*[?？]$"
    r"|\d+[.．、].*[?？]$)"
)
_TOP_HEADING = re.compile(r"^[一二三四五六七八九十]+[、.．]")
MAX_PASSAGE_CHARS = 320


class MarkerNotFound(ValueError):
    """The start or end marker of a rule set is not a line of the page."""

    def __init__(self, which: str, marker: str):
        self.which, self.marker = which, marker
        super().__init__(f"{which} marker not found: {marker!r}")


class UnrepairedMojibake(ValueError):
    """A line still holds mojibake after the repairs."""

    def __init__(self, line: str):
        self.line = line
        super().__init__(f"unrepaired mojibake, add a repair for: {line!r}")


@dataclass(frozen=True)
class CleaningRules:
    """What to cut from one seed page; see ``data/faq/import.yml``."""

    start: str                      # "" for the first line
    end: str                        # "" for the end of the text
    repairs: dict[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    drop_lines: tuple[str, ...] = ()
    noise_line_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RawPassage:
    """A heading path and the paragraphs under it, in the page's own script."""

    heading: str
    text: str


def remove_inline_pinyin(text: str) -> str:
    """``實(shí)時`` → ``實時``; leaves ``(EMS)``, ``(2024年版)`` and URLs alone."""
    return INLINE_PINYIN.sub("", text)


def tidy_line(line: str) -> str:
    """Trim, fold runs of spaces, drop bullet marks; keep the page's punctuation."""
    line = re.sub(r"[ \u3000\u00a0]+", " ", line).strip()
    return re.sub(r"^[•·]\s*", "", line)


def clean_lines(raw: str, rules: CleaningRules) -> list[str]:
    """Apply the rule set and return the content lines between start and end."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n"))
    for broken, fixed in rules.repairs.items():
        text = text.replace(broken, fixed)
    text = remove_inline_pinyin(text)
    for fragment in rules.remove:
        text = text.replace(fragment, "")
    lines = [tidy_line(line) for line in text.split("\n")]
    # An empty marker (a page staff import whole) is the start or the end of the text.
    start = next((i for i, line in enumerate(lines) if line.startswith(rules.start)), None)
    if start is None:
        raise MarkerNotFound("start", rules.start)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(rules.end)), None)
    if not rules.end:
        end = len(lines)
    elif end is None:
        raise MarkerNotFound("end", rules.end)
    noise = [re.compile(p) for p in rules.noise_line_patterns]
    kept = []
    for line in lines[start:end]:
        if not line or line in rules.drop_lines or any(p.search(line) for p in noise):
            continue
        if MOJIBAKE.search(line):
            raise UnrepairedMojibake(line)
        kept.append(line)
    return kept


def is_heading(line: str) -> bool:
    """Section headings and numbered questions open a new passage; a numbered
    line that ends a sentence (。) is a rule in a list, not a heading."""
    return bool(_HEADING.match(line)) and len(line) <= 80 and not line.endswith(("。", "；", ";"))


def split_passages(lines: list[str], title: str) -> list[RawPassage]:
    """Group lines under their heading; long groups are split at paragraph ends.

    The heading path keeps the top-level section (一、证书直邮) in front of the
    question so that a passage read alone still says what it is about.
    """
    passages: list[RawPassage] = []
    top, heading, body = "", title, []

    def flush() -> None:
        chunk: list[str] = []
        for paragraph in body:
            if chunk and sum(map(len, chunk)) + len(paragraph) > MAX_PASSAGE_CHARS:
                passages.append(RawPassage(heading, "\n".join(chunk)))
                chunk = []
            chunk.append(paragraph)
        if chunk:
            passages.append(RawPassage(heading, "\n".join(chunk)))

    for line in lines:
        if is_heading(line):
            flush()
            body = []
            if _TOP_HEADING.match(line):
                top, heading = line, line
            else:
                heading = f"{top} › {line}" if top else line
        else:
            body.append(line)
    flush()
    return passages
