"""Working days and legal periods on the official Chinese calendar.

Working days come from ``chinese_calendar`` (the State Council's yearly holiday
schedules: statutory holidays *and* make-up working days on Saturdays/Sundays).
We always ask ``is_workday`` day by day: ``get_workdays(..., include_weekends=False)``
would drop the make-up Saturdays and Sundays, which are working days.

Periods follow the Civil Code (民法典):

* art. 201 — the starting day is not counted; counting starts the next day;
* art. 202 — a period in months/years ends on the corresponding day of the last
  month, or on that month's last day when there is no corresponding day;
* art. 203 — when the last day is a statutory rest day, the period ends on the day
  after the rest ends.  "Rest day" here follows the long-standing reading (民通意见
  第198条): Sundays and other statutory rest days count, and when the schedule moves
  them (调休) the *actual* rest days count — so a make-up working Saturday is not a
  rest day and an ordinary weekend is.  On the official calendar that is simply
  "the next working day".

A year the calendar does not cover (``chinese_calendar`` raises
``NotImplementedError``; 2004–2026 in version 1.11.0) takes the schedule staff entered
from the State Council's notice (``data/holidays.yml``, :mod:`bot.lang.holiday_schedules`),
which counts as official. A year neither covers is never computed silently: such days are
treated as "working day unless Saturday/Sunday" and the result carries
``calendar_covered=False`` and ``estimate=True`` plus an ``uncovered_year`` step.

Nothing here knows today's date.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

from bot.lang.holiday_schedules import entered_year

# Step kinds, rendered by bot.dialogue.deadlines with templates from data/deadlines.yml.
STEP_START = "start"                    # starting day, not counted (art. 201)
STEP_HOLIDAY = "holiday"                # a block of statutory holidays crossed
STEP_MAKEUP = "makeup_workday"          # a make-up working day (调休上班) counted
STEP_UNCOVERED = "uncovered_year"       # year without an official schedule: estimate
STEP_WORKDAYS_END = "workdays_end"      # the n-th working day
STEP_PERIOD_END = "period_end"          # nominal last day of a calendar period
STEP_MONTH_END = "month_end"            # no corresponding day: month's last day (art. 202)
STEP_ART203_SHIFT = "art203_shift"      # last day was a rest day: moved (art. 203)
STEP_HOLIDAY_IN_WINDOW = "holiday_in_window"  # a holiday inside a date range

# The years bot.lang.dates accepts; the calendar's own range is found inside them.
_EARLIEST_YEAR, _LATEST_YEAR = 1990, 2100


@dataclass(frozen=True)
class Step:
    """One structured step of a computation.

    ``names`` are chinese_calendar's holiday names (English, e.g. "National Day");
    the Chinese display names live in data/deadlines.yml.
    """

    kind: str
    date: date
    end: date | None = None            # last day of a span (holiday blocks)
    original: date | None = None       # date before an art. 203 shift
    names: tuple[str, ...] = ()
    count: int | None = None           # running working-day count, or period length
    unit: str | None = None            # "workdays" | "days" | "months" | "years"
    year: int | None = None            # for uncovered_year
    estimate: bool = False             # this step relied on the weekends-only estimate


@dataclass(frozen=True)
class Period:
    """The result of counting a period from ``start``."""

    start: date
    end: date
    steps: tuple[Step, ...]
    calendar_covered: bool
    estimate: bool
    uncovered_years: tuple[int, ...] = field(default=())


@dataclass(frozen=True)
class DayInfo:
    """What the official calendar says about one day."""

    day: date
    workday: bool
    holiday_name: str | None   # set for statutory holidays and for make-up working days
    covered: bool

    @property
    def makeup(self) -> bool:
        """A make-up working day: a Saturday or Sunday on which people work."""
        return self.covered and self.workday and self.day.weekday() >= 5

    @property
    def statutory_holiday(self) -> bool:
        """A named statutory holiday (not an ordinary weekend)."""
        return self.covered and not self.workday and self.holiday_name is not None


def calendar_covers(day: date) -> bool:
    """True when the official holiday schedule for ``day``'s year is available."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return entered_year(day.year) is not None
    return True


@lru_cache(maxsize=1)
def first_covered_year() -> int | None:
    """The earliest year the official schedule is available for (2004 in
    chinesecalendar 1.11.0); an uncovered year before it is history the data lacks,
    not a schedule still to be published."""
    return next((year for year in range(_EARLIEST_YEAR, _LATEST_YEAR + 1)
                 if package_covers(year)), None)


def package_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def day_info(day: date) -> DayInfo:
    """Classify one day; outside the calendar's years and those staff entered, only
    weekends are rest days."""
    try:
        workday = chinese_calendar.is_workday(day)
        _, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        schedule = entered_year(day.year)
        if schedule is None:
            return DayInfo(day, day.weekday() < 5, None, covered=False)
        workday, name = schedule.day(day)
    return DayInfo(day, workday, name, covered=True)


class _Tracker:
    """Collects steps while walking day by day: holiday blocks are merged into one
    step, uncovered years are reported once each."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.uncovered: list[int] = []
        self._block: list[DayInfo] = []

    def see(self, info: DayInfo) -> None:
        if not info.covered and info.day.year not in self.uncovered:
            self.flush()
            self.uncovered.append(info.day.year)
            self.steps.append(Step(STEP_UNCOVERED, info.day, year=info.day.year, estimate=True))
        if info.statutory_holiday:
            self._block.append(info)
        else:
            self.flush()

    def flush(self) -> None:
        if not self._block:
            return
        names: list[str] = []
        for info in self._block:
            if info.holiday_name not in names:
                names.append(info.holiday_name)
        first, last = self._block[0].day, self._block[-1].day
        self.steps.append(Step(STEP_HOLIDAY, first, end=last, names=tuple(names),
                               count=(last - first).days + 1))
        self._block = []


def add_workdays(start: date, n: int) -> Period:
    """The ``n``-th working day after ``start`` (``start`` itself is not counted).

    Steps name every holiday block and every make-up working day crossed.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    tracker = _Tracker()
    steps_head = [Step(STEP_START, start)]
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        info = day_info(day)
        tracker.see(info)
        if info.workday:
            counted += 1
            if info.makeup:
                tracker.steps.append(Step(STEP_MAKEUP, day, names=_names(info), count=counted))
    tracker.flush()
    estimate = bool(tracker.uncovered)
    end_step = Step(STEP_WORKDAYS_END, day, count=n, unit="workdays", estimate=estimate)
    return Period(start, day, tuple(steps_head + tracker.steps + [end_step]),
                  calendar_covered=not estimate, estimate=estimate,
                  uncovered_years=tuple(tracker.uncovered))


def _names(info: DayInfo) -> tuple[str, ...]:
    return (info.holiday_name,) if info.holiday_name else ()


def add_months_clamped(start: date, months: int) -> tuple[date, bool]:
    """The corresponding day ``months`` later, or that month's last day when there
    is none (art. 202).  Returns the date and whether it was clamped."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    if start.day > last:
        return date(year, month, last), True
    return date(year, month, start.day), False


def add_days(start: date, n: int, *, shift_rest_day: bool = True) -> Period:
    """A period of ``n`` calendar days from ``start`` (arts. 201, 203)."""
    nominal = start + timedelta(days=n)
    return _finish_period(start, nominal, n, "days", clamped=False, shift_rest_day=shift_rest_day)


def add_months(start: date, n: int, *, shift_rest_day: bool = True) -> Period:
    """A period of ``n`` months from ``start`` (arts. 201, 202, 203)."""
    nominal, clamped = add_months_clamped(start, n)
    return _finish_period(start, nominal, n, "months", clamped=clamped, shift_rest_day=shift_rest_day)


def add_years(start: date, n: int, *, shift_rest_day: bool = True) -> Period:
    """A period of ``n`` years from ``start`` (arts. 201, 202, 203);
    2024-02-29 + 5 years ends on 2029-02-28."""
    nominal, clamped = add_months_clamped(start, 12 * n)
    return _finish_period(start, nominal, n, "years", clamped=clamped, shift_rest_day=shift_rest_day)


def _finish_period(start: date, nominal: date, n: int, unit: str, *, clamped: bool,
                   shift_rest_day: bool) -> Period:
    steps = [Step(STEP_START, start), Step(STEP_PERIOD_END, nominal, count=n, unit=unit)]
    if clamped:
        steps.append(Step(STEP_MONTH_END, nominal))
    if not shift_rest_day:
        return Period(start, nominal, tuple(steps), calendar_covered=True, estimate=False)
    end, shift_steps, uncovered = shift_to_workday(nominal)
    steps.extend(shift_steps)
    estimate = bool(uncovered)
    return Period(start, end, tuple(steps), calendar_covered=not estimate, estimate=estimate,
                  uncovered_years=uncovered)


def shift_to_workday(day: date) -> tuple[date, list[Step], tuple[int, ...]]:
    """Art. 203: when ``day`` is a rest day, the period ends on the day after the rest
    ends (the next working day).  Returns the end, the steps, and the uncovered years
    the answer depended on (the check on ``day`` itself needs its year's schedule)."""
    steps: list[Step] = []
    uncovered: list[int] = []
    info = day_info(day)
    if not info.covered:
        uncovered.append(day.year)
        steps.append(Step(STEP_UNCOVERED, day, year=day.year, estimate=True))
    names: list[str] = []
    current = info
    while not current.workday:
        if current.holiday_name and current.holiday_name not in names:
            names.append(current.holiday_name)
        current = day_info(current.day + timedelta(days=1))
        if not current.covered and current.day.year not in uncovered:
            uncovered.append(current.day.year)
            steps.append(Step(STEP_UNCOVERED, current.day, year=current.day.year, estimate=True))
    if current.day != day:
        steps.append(Step(STEP_ART203_SHIFT, current.day, original=day, names=tuple(names),
                          estimate=bool(uncovered)))
    return current.day, steps, tuple(uncovered)


def holidays_between(first: date, last: date) -> tuple[tuple[Step, ...], tuple[int, ...]]:
    """Holiday blocks overlapping ``first``..``last`` (both included), as
    ``holiday_in_window`` steps, and the years in the range the calendar lacks."""
    tracker = _Tracker()
    day = first
    while day <= last:
        tracker.see(day_info(day))
        day += timedelta(days=1)
    tracker.flush()
    steps = tuple(
        Step(STEP_HOLIDAY_IN_WINDOW, s.date, end=s.end, names=s.names, count=s.count)
        if s.kind == STEP_HOLIDAY else s
        for s in tracker.steps
    )
    return steps, tuple(tracker.uncovered)
