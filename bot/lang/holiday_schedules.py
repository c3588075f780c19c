"""Holiday schedules staff enter for the years ``chinese_calendar`` does not cover yet.

The State Council publishes each year's schedule around November; until the calendar
package has it, staff enter it from the notice (``data/holidays.yml``): the holidays
(first and last day, the festival's name) and the make-up working days, with the notice
they come from. A schedule is checked for sense before it is saved (:func:`check_year`:
every date in that year, no day both a holiday and a working day, make-up days on a
Saturday or Sunday, the notice named); a file that fails the check is not used at all
(the years stay estimates) rather than used in part. The package stays the source for the
years it covers: an entered year it covers is ignored.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot import datafiles

logger = logging.getLogger(__name__)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
MAX_HOLIDAY_DAYS = 15


@dataclass(frozen=True)
class EnteredYear:
    """One year's schedule as staff entered it."""

    year: int
    notice: str
    holidays: dict[date, str]           # each rest day of a holiday → the festival's name
    makeup_workdays: dict[date, str]    # each make-up working day → the festival it is for

    def day(self, day: date) -> tuple[bool, str | None]:
        """(working day?, the festival's name for a holiday or a make-up working day)."""
        if day in self.holidays:
            return False, self.holidays[day]
        if day in self.makeup_workdays:
            return True, self.makeup_workdays[day]
        return day.weekday() < 5, None


def message(key: str, **fields: Any) -> str:
    return str(datafiles.edition_texts()["holiday_errors"][key]).format(**fields)


def as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    match = _DATE.fullmatch(str(value or "").strip())
    if not match:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def check_year(year: int, spec: Any) -> tuple[EnteredYear | None, list[str]]:
    """The schedule of ``year`` from its YAML form, or every problem with it in Chinese."""
    if not isinstance(spec, dict):
        return None, [message("not_a_schedule", year=year)]
    problems: list[str] = []
    notice = " ".join(str(spec.get("notice") or "").split())
    if not notice:
        problems.append(message("no_notice"))
    holidays: dict[date, str] = {}
    for item in spec.get("holidays") or []:
        item = item if isinstance(item, dict) else {}
        name = str(item.get("name") or "").strip()
        first, last = as_date(item.get("first")), as_date(item.get("last") or item.get("first"))
        if not name or first is None or last is None:
            problems.append(message("bad_holiday", item=_show(item)))
            continue
        if first > last or (last - first).days >= MAX_HOLIDAY_DAYS:
            problems.append(message("bad_span", name=name, first=first, last=last))
            continue
        day = first
        while day <= last:
            if day.year != year:
                problems.append(message("wrong_year", day=day, year=year))
            holidays[day] = name
            day += timedelta(days=1)
    makeup: dict[date, str] = {}
    for item in spec.get("makeup_workdays") or []:
        item = item if isinstance(item, dict) else {"date": item}
        day = as_date(item.get("date"))
        if day is None:
            problems.append(message("bad_makeup", item=_show(item)))
            continue
        if day.year != year:
            problems.append(message("wrong_year", day=day, year=year))
        if day.weekday() < 5:
            problems.append(message("makeup_on_weekday", day=day))
        if day in holidays:
            problems.append(message("both", day=day))
        makeup[day] = str(item.get("name") or "").strip()
    if not holidays:
        problems.append(message("no_holidays"))
    if problems:
        return None, list(dict.fromkeys(problems))
    return EnteredYear(year, notice, holidays, makeup), []


def _show(item: Any) -> str:
    return str(item)[:60]


def entered_years() -> dict[int, EnteredYear]:
    """Every valid schedule of ``data/holidays.yml`` by year ({} when the file is absent
    or a schedule in it does not pass :func:`check_year`, which is logged)."""
    try:
        data = datafiles.holiday_schedules()
    except (OSError, ValueError) as error:
        logger.error("holiday schedules not used: %s", error)
        return {}
    years = (data or {}).get("years") or {}
    out: dict[int, EnteredYear] = {}
    for key, spec in years.items():
        try:
            year = int(key)
        except (TypeError, ValueError):
            logger.error("holiday schedules not used: %r is not a year", key)
            return {}
        schedule, problems = check_year(year, spec)
        if schedule is None:
            logger.error("holiday schedules not used: %d: %s", year, "; ".join(problems))
            return {}
        out[year] = schedule
    return out


_cache: dict[int, tuple[Any, dict[int, EnteredYear]]] = {}


def entered_year(year: int) -> EnteredYear | None:
    """The schedule staff entered for ``year``, if any (parsed again when the file changes)."""
    data = datafiles.holiday_schedules() if datafiles.paths().holidays.exists() else None
    cached = _cache.get(0)
    if cached is None or cached[0] is not data:
        cached = (data, entered_years())
        _cache[0] = cached
    return cached[1].get(year)


def parse_lines(holidays_text: str, makeup_text: str) -> dict[str, list[dict[str, Any]]]:
    """What staff type on the console's page, as the YAML form: one holiday a line
    (``2027-01-01 至 2027-01-03 元旦``, or one date and the name) and one make-up working
    day a line (``2027-02-20 春节``). Lines that hold no date are kept for the check to
    name."""
    holidays = []
    for line in _lines(holidays_text):
        dates = _DATE.findall(line)
        name = _DATE.sub("", line).replace("至", " ").replace("—", " ").replace("~", " ").strip(" -:：")
        if not dates:
            holidays.append({"name": name or line})
            continue
        first = "-".join(dates[0])
        last = "-".join(dates[1]) if len(dates) > 1 else first
        holidays.append({"name": " ".join(name.split()), "first": first, "last": last})
    makeup = []
    for line in _lines(makeup_text):
        found = _DATE.search(line)
        makeup.append({"date": "-".join(found.groups()) if found else line,
                       "name": " ".join(_DATE.sub("", line).split())})
    return {"holidays": holidays, "makeup_workdays": makeup}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").replace("\r", "").split("\n") if line.strip()]
