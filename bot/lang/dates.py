"""Understanding the dates candidates type, in Chinese.

Supported forms (full-width digits and punctuation too, folded with NFKC):
``2024年3月8日`` / ``2024年3月8号`` / ``24年3月8日``, ``2024-03-08``, ``2024/3/8``,
``2024.3.8``, ``3月8日`` / ``3月8号``, ``3.8`` / ``3/8``, ``今天 昨天 前天 大前天
明天 后天``, and weeks: ``上周五 本周一 这周三 上个星期五 下周一 上上周日``
(weeks start on Monday, as in Chinese usage).

A date without a year resolves to the most recent such date on or before ``today``,
unless it comes within the next month ("12月15日" on 3 December is this month:
candidates ask ahead about dates just coming, not about ones a year away), and is
flagged ``year_inferred``. ``月底`` / ``月初`` (this month's, or next
month's with ``下个``) are relative dates.

Errors are values, never exceptions: ``no_date``, ``invalid_date`` (2025年2月30日,
13月1日, a year outside 1990–2100) and ``future_date`` (only when the caller says the
procedure needs a past date).  Their re-entry prompts live in data/deadlines.yml.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

NO_DATE = "no_date"
INVALID_DATE = "invalid_date"
FUTURE_DATE = "future_date"
ERRORS = (NO_DATE, INVALID_DATE, FUTURE_DATE)

# Years we accept: older or later dates are almost certainly typos, and keeping
# arithmetic far from date.max means "+5 years" can never overflow.
MIN_YEAR, MAX_YEAR = 1990, 2100
# How far back a missing year may go: far enough to reach the last 29 February.
_MAX_YEARS_BACK = 8
# A date without a year this close ahead is taken as coming, not as last year's.
AHEAD_DAYS = 31

_DAY_SUFFIX = r"(?:\s*[日号號])?"
_FULL_CJK = re.compile(
    r"(?<!\d)(?P<y>\d{4}|\d{2})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})" + _DAY_SUFFIX + r"(?!\d)"
)
_FULL_NUMERIC = re.compile(
    r"(?<![\d.\-/])(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?![\d]|[-/.]\d)"
)
_MONTH_DAY = re.compile(r"(?<![\d年])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})" + _DAY_SUFFIX + r"(?!\d)")
# "3.8" / "3/8": easily confused with decimals and fractions, so not next to other
# digits or separators, and not followed by a unit ("3.5万元", "2.5倍", "1/2小时").
_SHORT = re.compile(
    r"(?<![\d.\-/:])(?P<m>\d{1,2})(?P<sep>[./])(?P<d>\d{1,2})(?P<suffix>[日号號])?"
    r"(?![\d%‰]|[.\-/:]\d)(?!\s*(?:万|元|倍|分|米|个|個|岁|歲|小时|小時|天|年|月|版|寸|斤|公斤|公里|克|kg|g\b|m\b))"
)
_MONTH_EDGE = re.compile(r"(?P<next>下个?|下一个)?(?:本|这个?|当)?月(?P<edge>底|末|初)")
_RELATIVE_DAY = re.compile(r"大前天|前天|昨天|昨日|今天|今日|明天|明日|后天|後天")
_RELATIVE_OFFSETS = {
    "大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0,
    "明天": 1, "明日": 1, "后天": 2, "後天": 2,
}
_WEEK = re.compile(
    r"(?P<which>上上|上|本|这|這|下)\s*(?:个|個)?\s*(?:周|週|星期|礼拜|禮拜)\s*(?P<wd>[一二三四五六日天1-7])"
)
_WEEK_OFFSETS = {"上上": -2, "上": -1, "本": 0, "这": 0, "這": 0, "下": 1}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
             "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}


@dataclass(frozen=True)
class DateMention:
    """A date found in a text.  ``start``/``end`` index the original string (the
    normalisation keeps one character per character).  ``value`` is None and
    ``error`` is ``invalid_date`` for impossible dates such as 2月30日."""

    text: str
    start: int
    end: int
    value: date | None
    year_inferred: bool = False
    relative: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ParsedDate:
    """The outcome of reading one date: either ``value`` or an ``error`` id."""

    value: date | None
    error: str | None
    year_inferred: bool = False
    relative: bool = False
    mention: str = ""

    @property
    def ok(self) -> bool:
        """True when a usable date was read."""
        return self.error is None and self.value is not None


def _fold(text: str) -> str:
    """NFKC per character, keeping the length so match positions map back to the
    original text; characters whose NFKC form is longer (e.g. ㍻) stay as they are,
    control characters become spaces."""
    out = []
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            out.append(" ")
            continue
        folded = unicodedata.normalize("NFKC", char)
        out.append(folded if len(folded) == 1 else char)
    return "".join(out)


def _make(year: int, month: int, day: int) -> date | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _infer_year(month: int, day: int, today: date) -> date | None:
    """The coming date with this month and day within ``AHEAD_DAYS``, else the most
    recent one on or before ``today``."""
    for ahead in (today.year, today.year + 1):
        candidate = _make(ahead, month, day)
        if candidate is not None and 0 < (candidate - today).days <= AHEAD_DAYS:
            return candidate
    for back in range(_MAX_YEARS_BACK + 1):
        candidate = _make(today.year - back, month, day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


def _year(raw: str) -> int:
    # Two-digit years ("24年3月8日") are this century's.
    return int(raw) + 2000 if len(raw) == 2 else int(raw)


def _candidates(folded: str, original: str, today: date) -> list[tuple[int, int, DateMention]]:
    found: list[tuple[int, int, DateMention]] = []

    def add(match: re.Match, value: date | None, *, inferred: bool = False,
            relative: bool = False) -> None:
        start, end = match.span()
        mention = DateMention(original[start:end], start, end, value, inferred, relative,
                              None if value is not None else INVALID_DATE)
        found.append((start, end, mention))

    for pattern in (_FULL_CJK, _FULL_NUMERIC):
        for match in pattern.finditer(folded):
            add(match, _make(_year(match["y"]), int(match["m"]), int(match["d"])))
    for match in _MONTH_DAY.finditer(folded):
        month, day = int(match["m"]), int(match["d"])
        value = _infer_year(month, day, today) if 1 <= month <= 12 else None
        add(match, value, inferred=value is not None)
    for match in _SHORT.finditer(folded):
        month, day = int(match["m"]), int(match["d"])
        # Out-of-range numbers ("3.75", "45/60") are not dates at all; only a
        # plausible month and day that do not exist together (2/30) are invalid.
        if not (1 <= month <= 12 and 1 <= day <= 31):
            continue
        value = _infer_year(month, day, today)
        add(match, value, inferred=value is not None)
    for match in _MONTH_EDGE.finditer(folded):
        first = date(today.year, today.month, 1)
        if match["next"]:
            first = (first + timedelta(days=32)).replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        add(match, first if match["edge"] == "初" else last, relative=True)
    for match in _RELATIVE_DAY.finditer(folded):
        add(match, today + timedelta(days=_RELATIVE_OFFSETS[match.group()]), relative=True)
    for match in _WEEK.finditer(folded):
        monday = today - timedelta(days=today.weekday())
        value = monday + timedelta(weeks=_WEEK_OFFSETS[match["which"]], days=_WEEKDAYS[match["wd"]])
        add(match, value, relative=True)
    return found


def extract_dates(text: str, today: date) -> list[DateMention]:
    """All date mentions in ``text``, in order of appearance, without overlaps
    (the longest match wins: "2024年3月8日" is one date, not also "3月8日")."""
    if not isinstance(text, str) or not text:
        return []
    folded = _fold(text)
    candidates = _candidates(folded, text, today)
    candidates.sort(key=lambda item: (item[0], -(item[1] - item[0])))
    mentions: list[DateMention] = []
    taken_until = -1
    for start, end, mention in candidates:
        if start >= taken_until:
            mentions.append(mention)
            taken_until = end
    return mentions


def parse_date(text: str, today: date, *, require_past: bool = False) -> ParsedDate:
    """Read the first date in ``text``.

    ``require_past``: the procedure needs a date that has already happened (a
    publicity day, a score release); a later date gives ``future_date``.
    Today counts as past.
    """
    return first_date(extract_dates(text, today), today, require_past=require_past)


def first_date(mentions: Sequence[DateMention], today: date, *,
               require_past: bool = False) -> ParsedDate:
    """:func:`parse_date` for mentions already extracted (a message is read once)."""
    if not mentions:
        return ParsedDate(None, NO_DATE)
    first = mentions[0]
    if first.error is not None or first.value is None:
        return ParsedDate(None, INVALID_DATE, mention=first.text)
    if require_past and first.value > today:
        return ParsedDate(first.value, FUTURE_DATE, first.year_inferred, first.relative, first.text)
    return ParsedDate(first.value, None, first.year_inferred, first.relative, first.text)
