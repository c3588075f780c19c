"""Working days and Civil Code periods on the official calendar.

Every expected date below was worked out by hand from the State Council's published
holiday schedules (国务院办公厅关于2024/2025/2026年部分节假日安排的通知), not by
running the code:

2024  春节 2/10–2/17, make-up 2/4 (Sun), 2/18 (Sun); 劳动节 5/1–5/5, make-up 4/28
      (Sun), 5/11 (Sat); 国庆 10/1–10/7, make-up 9/29 (Sun), 10/12 (Sat).
2025  春节 1/28–2/4, make-up 1/26 (Sun), 2/8 (Sat); 劳动节 5/1–5/5, make-up 4/27
      (Sun); 端午 5/31–6/2; 国庆+中秋 10/1–10/8, make-up 9/28 (Sun), 10/11 (Sat).
2026  春节 2/15–2/23, make-up 2/14 (Sat), 2/28 (Sat); 劳动节 5/1–5/5, make-up 5/9
      (Sat); 中秋 9/25–9/27; 国庆 10/1–10/7, make-up 9/20 (Sun), 10/10 (Sat).
"""

from datetime import date

import pytest

from bot.lang import workdays
from bot.lang.workdays import (STEP_ART203_SHIFT, STEP_HOLIDAY, STEP_MAKEUP, STEP_MONTH_END,
                          STEP_START, STEP_UNCOVERED, add_days, add_months, add_workdays,
                          add_years)

D = date

# (start, n, expected end, make-up days crossed, holiday blocks crossed (first, last))
WORKDAY_CASES = [
    # National Day 2024: the brief's check value.
    (D(2024, 9, 27), 12, D(2024, 10, 18), [D(2024, 9, 29), D(2024, 10, 12)],
     [(D(2024, 10, 1), D(2024, 10, 7))]),
    # Spring Festival 2024: 2/9 (除夕) was a working day; 2/18 Sunday make-up.
    (D(2024, 2, 5), 12, D(2024, 2, 27), [D(2024, 2, 18)], [(D(2024, 2, 10), D(2024, 2, 17))]),
    # Labour Day 2024.
    (D(2024, 4, 25), 12, D(2024, 5, 14), [D(2024, 4, 28), D(2024, 5, 11)],
     [(D(2024, 5, 1), D(2024, 5, 5))]),
    # Spring Festival 2025.
    (D(2025, 1, 24), 12, D(2025, 2, 17), [D(2025, 1, 26), D(2025, 2, 8)],
     [(D(2025, 1, 28), D(2025, 2, 4))]),
    # Labour Day 2025.
    (D(2025, 4, 25), 12, D(2025, 5, 15), [D(2025, 4, 27)], [(D(2025, 5, 1), D(2025, 5, 5))]),
    # National Day + Mid-autumn 2025 (one 8-day block).
    (D(2025, 9, 26), 12, D(2025, 10, 20), [D(2025, 9, 28), D(2025, 10, 11)],
     [(D(2025, 10, 1), D(2025, 10, 8))]),
    # Spring Festival 2026 (two make-up Saturdays).
    (D(2026, 2, 12), 12, D(2026, 3, 6), [D(2026, 2, 14), D(2026, 2, 28)],
     [(D(2026, 2, 15), D(2026, 2, 23))]),
    # Labour Day 2026.
    (D(2026, 4, 29), 12, D(2026, 5, 19), [D(2026, 5, 9)], [(D(2026, 5, 1), D(2026, 5, 5))]),
    # Mid-autumn and National Day 2026: two separate blocks.
    (D(2026, 9, 18), 12, D(2026, 10, 12), [D(2026, 9, 20), D(2026, 10, 10)],
     [(D(2026, 9, 25), D(2026, 9, 27)), (D(2026, 10, 1), D(2026, 10, 7))]),
    # No holiday at all: plain weekdays.
    (D(2024, 3, 1), 12, D(2024, 3, 19), [], []),
    # Starting inside a holiday: the next working day is the first.
    (D(2024, 10, 3), 1, D(2024, 10, 8), [], [(D(2024, 10, 4), D(2024, 10, 7))]),
    # A make-up Saturday right after the start counts.
    (D(2024, 10, 11), 1, D(2024, 10, 12), [D(2024, 10, 12)], []),
]


@pytest.mark.parametrize("start, n, expected, makeups, holidays", WORKDAY_CASES)
def test_add_workdays_official_calendar(start, n, expected, makeups, holidays):
    period = add_workdays(start, n)
    assert period.end == expected
    assert period.calendar_covered and not period.estimate
    assert period.steps[0].kind == STEP_START and period.steps[0].date == start
    assert [s.date for s in period.steps if s.kind == STEP_MAKEUP] == makeups
    assert [(s.date, s.end) for s in period.steps if s.kind == STEP_HOLIDAY] == holidays


def test_workday_steps_name_the_holidays():
    period = add_workdays(D(2025, 9, 26), 12)
    blocks = [s for s in period.steps if s.kind == STEP_HOLIDAY]
    assert blocks[0].names == ("National Day", "Mid-autumn Festival")
    assert blocks[0].count == 8
    makeup = [s for s in period.steps if s.kind == STEP_MAKEUP]
    assert [(s.count, s.names) for s in makeup] == [(1, ("National Day",)), (6, ("National Day",))]


# Uncovered years: weekends-only estimate, flagged.
@pytest.mark.parametrize("start, n, expected, years", [
    # 2027-03-01 is a Monday; 12 weekdays later is Wednesday 2027-03-17.
    (D(2027, 3, 1), 12, D(2027, 3, 17), (2027,)),
    # Straddling: 5 working days left in 2026 (12/25, 12/28–12/31), then 2027 weekdays
    # 1/1 (Fri, New Year's Day unknown to the estimate), 1/4–1/8, 1/11.
    (D(2026, 12, 24), 12, D(2027, 1, 11), (2027,)),
    (D(2003, 12, 1), 3, D(2003, 12, 4), (2003,)),
])
def test_add_workdays_uncovered_year_is_an_estimate(start, n, expected, years):
    period = add_workdays(start, n)
    assert period.end == expected
    assert period.estimate and not period.calendar_covered
    assert period.uncovered_years == years
    assert [s.year for s in period.steps if s.kind == STEP_UNCOVERED] == list(years)


def test_add_workdays_rejects_zero():
    with pytest.raises(ValueError):
        add_workdays(D(2024, 1, 1), 0)


# (function, start, n, expected end, nominal end before art. 203, clamped by art. 202)
PERIOD_CASES = [
    (add_days, D(2024, 9, 20), 15, D(2024, 10, 8), D(2024, 10, 5), False),   # ends in National Day
    (add_days, D(2025, 4, 1), 30, D(2025, 5, 6), D(2025, 5, 1), False),     # ends on Labour Day
    (add_days, D(2025, 1, 20), 15, D(2025, 2, 5), D(2025, 2, 4), False),    # last day of 春节 2025
    (add_days, D(2026, 2, 5), 15, D(2026, 2, 24), D(2026, 2, 20), False),   # inside 春节 2026
    (add_days, D(2026, 4, 20), 15, D(2026, 5, 6), D(2026, 5, 5), False),    # last day of 劳动节 2026
    (add_days, D(2024, 3, 1), 15, D(2024, 3, 18), D(2024, 3, 16), False),   # ordinary Saturday
    (add_days, D(2024, 9, 27), 15, D(2024, 10, 12), D(2024, 10, 12), False),  # make-up Saturday: no shift
    (add_days, D(2026, 4, 20), 10, D(2026, 4, 30), D(2026, 4, 30), False),  # plain Thursday
    (add_months, D(2024, 12, 31), 2, D(2025, 2, 28), D(2025, 2, 28), True),  # no 31 Feb; Friday
    (add_months, D(2023, 12, 31), 2, D(2024, 2, 29), D(2024, 2, 29), True),  # leap year month end
    (add_months, D(2024, 8, 1), 2, D(2024, 10, 8), D(2024, 10, 1), False),   # National Day 2024
    (add_months, D(2025, 3, 31), 2, D(2025, 6, 3), D(2025, 5, 31), False),   # 端午 2025 5/31–6/2
    (add_months, D(2025, 8, 8), 2, D(2025, 10, 9), D(2025, 10, 8), False),   # last day of 2025 block
    (add_years, D(2020, 2, 29), 4, D(2024, 2, 29), D(2024, 2, 29), False),   # leap to leap
    (add_years, D(2019, 10, 1), 5, D(2024, 10, 8), D(2024, 10, 1), False),
]


@pytest.mark.parametrize("func, start, n, expected, nominal, clamped", PERIOD_CASES)
def test_calendar_periods(func, start, n, expected, nominal, clamped):
    period = func(start, n)
    assert period.end == expected
    assert period.calendar_covered and not period.estimate
    kinds = [s.kind for s in period.steps]
    assert kinds[0] == STEP_START
    assert (STEP_MONTH_END in kinds) == clamped
    shifts = [s for s in period.steps if s.kind == STEP_ART203_SHIFT]
    if expected == nominal:
        assert shifts == []
    else:
        assert [(s.original, s.date) for s in shifts] == [(nominal, expected)]


def test_art203_names_holiday_or_weekend():
    holiday = add_days(D(2024, 9, 20), 15)
    assert [s.names for s in holiday.steps if s.kind == STEP_ART203_SHIFT] == [("National Day",)]
    weekend = add_days(D(2024, 3, 1), 15)
    assert [s.names for s in weekend.steps if s.kind == STEP_ART203_SHIFT] == [()]


@pytest.mark.parametrize("func, start, n, expected, shifted", [
    # 2029-02-28 is a Wednesday; the 2029 schedule is unknown.
    (add_years, D(2024, 2, 29), 5, D(2029, 2, 28), False),
    # 2027-01-04 is a Monday.
    (add_days, D(2026, 12, 20), 15, D(2027, 1, 4), False),
    # 2027-01-02 is a Saturday: weekends-only estimate moves it to Monday 1/4.
    (add_days, D(2026, 12, 18), 15, D(2027, 1, 4), True),
])
def test_periods_in_uncovered_years_are_flagged(func, start, n, expected, shifted):
    period = func(start, n)
    assert period.end == expected
    assert period.estimate and not period.calendar_covered
    assert any(s.kind == STEP_UNCOVERED for s in period.steps)
    assert any(s.kind == STEP_ART203_SHIFT for s in period.steps) == shifted


def test_period_without_shift_needs_no_calendar():
    period = add_months(D(2031, 1, 31), 1, shift_rest_day=False)
    assert period.end == D(2031, 2, 28)
    assert period.calendar_covered and not period.estimate


@pytest.mark.parametrize("day, covered", [
    (D(2004, 1, 1), True), (D(2026, 12, 31), True), (D(2003, 12, 31), False), (D(2027, 1, 1), False),
])
def test_calendar_covers(day, covered):
    assert workdays.calendar_covers(day) == covered


def test_holidays_between_reports_blocks_in_range():
    steps, uncovered = workdays.holidays_between(D(2025, 1, 25), D(2025, 1, 31))
    assert [(s.kind, s.date, s.end, s.names) for s in steps] == [
        ("holiday_in_window", D(2025, 1, 28), D(2025, 1, 31), ("Spring Festival",))]
    assert uncovered == ()
