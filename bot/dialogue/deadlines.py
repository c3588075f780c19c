"""Personalised deadline rules from the source documents (no Rasa), and which rule a
message asks about.

One pure function per rule; each returns a :class:`DeadlineResult` carrying the
dates, the structured counting steps, the sources and the interpretation notes.
``bot.dialogue.deadline_replies`` turns a result into the reply with the templates in
``data/deadlines.yml`` (all user-facing Chinese lives there).  ``today`` is always a
parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from bot import datafiles
from bot.lang import workdays
from bot.lang.regions import rule_region_named, within
from bot.lang.workdays import Period, Step

# Rule constants, named after the documents' wording.
DIRECT_MAIL_WORKDAYS = 12            # 公示之日起12个工作日内
PAPER_MAIL_CUTOFF_DAY = 20           # 每月20日前审核 … 20日后审核的延后
LAST_WEEK_DAYS = 7                   # "最后一周" read as the month's last 7 calendar days
HENAN_PUBLICITY_DAYS = 10            # 公示时间一般不少于10天
HENAN_CHECK_REPORT_DAYS = 15         # 成绩发布后15日内报送核查结果
HENAN_SUPPLEMENTARY_MONTHS = 2       # 成绩发布后两个月内
HENAN_BOOKING_DAYS = 30              # 核查结果发布后30天内
HENAN_STORAGE_YEARS = 5              # 自考试结束日起5年
ANNOTATION_WINDOW_DAYS = 90          # 申请当日起向前计算90日内
ANNOTATION_MAX_IN_WINDOW = 3         # 最多3次有效加注
ANNOTATION_VALIDITY_DAYS = 90        # 每次最长有效期90天
ANNOTATION_READY_HOURS = 24          # 24小时内完成加注
ECERT_DOWNLOAD_MONTHS = 1            # 成绩公布后一个月左右（估计）


@dataclass(frozen=True)
class DeadlineResult:
    """The outcome of one rule applied to one date.

    ``deadline`` is the main result date (last day, earliest end, estimate);
    ``window`` is set when the rule gives a range (the dispatch week).  ``notes`` are
    note ids whose text is in data/deadlines.yml.  ``details`` holds rule-specific
    values (annotation: ready_by, valid_until, allowed, next_slot, …).
    """

    procedure_id: str
    input_date: date
    today: date
    deadline: date | None
    window: tuple[date, date] | None
    steps: tuple[Step, ...]
    calendar_covered: bool
    estimate: bool
    sources: tuple[str, ...]
    region: str
    notes: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Procedure:
    """A registered rule: where it comes from and what date it needs. Where it applies,
    its display name and the date's label are in data/deadlines.yml."""

    id: str
    sources: tuple[str, ...]
    needs: str                      # English description of the input date
    compute: Callable[..., DeadlineResult]

    @property
    def region(self) -> str:
        """The rule region the procedure applies to."""
        return str(load_texts()["procedures"][self.id]["region"])


def load_texts() -> dict:
    """The templates, labels and keyword lists of data/deadlines.yml."""
    return datafiles.deadline_texts()


def _result(procedure_id: str, input_date: date, today: date, period: Period | None, *,
            deadline: date | None = None, window: tuple[date, date] | None = None,
            steps: Sequence[Step] = (), notes: Sequence[str] = (), estimate: bool = False,
            uncovered_years: Sequence[int] = (),
            details: Mapping[str, Any] | None = None) -> DeadlineResult:
    procedure = PROCEDURES[procedure_id]
    uncovered = tuple(uncovered_years)
    if period is not None:
        deadline = period.end if deadline is None else deadline
        steps = tuple(period.steps) + tuple(steps)
        estimate = estimate or period.estimate
        uncovered += tuple(period.uncovered_years)
    calendar_covered = not uncovered
    if uncovered:
        first = workdays.first_covered_year()
        before = first is not None and all(year < first for year in uncovered)
        notes = tuple(notes) + ("estimate_before_calendar" if before else "estimate_uncovered",)
    return DeadlineResult(
        procedure_id=procedure_id, input_date=input_date, today=today, deadline=deadline,
        window=window, steps=tuple(steps), calendar_covered=calendar_covered,
        estimate=estimate, sources=procedure.sources, region=procedure.region,
        notes=tuple(notes), details=MappingProxyType(dict(details or {})),
    )


def direct_mail_deadline(publicity: date, *, today: date) -> DeadlineResult:
    """Guangdong direct mail: apply within 12 working days from the day the list of
    successful candidates is publicised (the publicity day itself not counted)."""
    period = workdays.add_workdays(publicity, DIRECT_MAIL_WORKDAYS)
    return _result("gd_direct_mail", publicity, today, period,
                   notes=("workdays_official", "direct_mail_editions"))


def _last_week(year: int, month: int) -> tuple[date, date]:
    last, _ = workdays.add_months_clamped(date(year, month, 1), 1)
    last -= timedelta(days=1)
    return last - timedelta(days=LAST_WEEK_DAYS - 1), last


def paper_mail_dispatch(reviewed: date, *, today: date) -> DeadlineResult:
    """Guangzhou paper mailing after the notice period (incl. past years'
    certificates, 2024 edition only): reviewed on or before the 20th → dispatched in
    the last week of that month; after the 20th → the last week of the next month.
    "Last week" = the month's last 7 calendar days."""
    month_start = date(reviewed.year, reviewed.month, 1)
    if reviewed.day > PAPER_MAIL_CUTOFF_DAY:
        month_start, _ = workdays.add_months_clamped(month_start, 1)
    first, last = _last_week(month_start.year, month_start.month)
    holiday_steps, uncovered = workdays.holidays_between(first, last)
    return _result(
        "gz_paper_mail_dispatch", reviewed, today, None, deadline=last, window=(first, last),
        steps=holiday_steps, uncovered_years=uncovered,
        notes=("gz_rule_2024_only", "gz_twentieth_inclusive", "gz_last_week", "gz_review_date"),
        details={"next_month": reviewed.day > PAPER_MAIL_CUTOFF_DAY},
    )


def henan_check_report_deadline(score_release: date, *, today: date) -> DeadlineResult:
    """Henan: the check departments report results within 15 days of score release."""
    period = workdays.add_days(score_release, HENAN_CHECK_REPORT_DAYS)
    return _result("henan_check_report", score_release, today, period,
                   notes=("henan_department_deadline",))


def henan_supplementary_deadline(score_release: date, *, today: date) -> DeadlineResult:
    """Henan: supplementary check and appeals within two months of score release;
    afterwards the candidate is taken to have given up."""
    period = workdays.add_months(score_release, HENAN_SUPPLEMENTARY_MONTHS)
    return _result("henan_supplementary_check", score_release, today, period,
                   notes=("henan_supplementary_general",))


def henan_booking_deadline(results_published: date, *, today: date) -> DeadlineResult:
    """Henan: certificate mailing bookings within 30 days after the check results."""
    period = workdays.add_days(results_published, HENAN_BOOKING_DAYS)
    return _result("henan_mail_booking", results_published, today, period,
                   notes=("henan_booking_general",))


def henan_storage_end(exam_end: date, *, today: date) -> DeadlineResult:
    """Henan: unclaimed certificates are kept 5 years from the end of the exam."""
    period = workdays.add_years(exam_end, HENAN_STORAGE_YEARS)
    return _result("henan_storage", exam_end, today, period, notes=("henan_storage_after",))


def henan_publicity_end(publicity_start: date, *, today: date) -> DeadlineResult:
    """Henan: results publicity normally lasts at least 10 days; the earliest end."""
    period = workdays.add_days(publicity_start, HENAN_PUBLICITY_DAYS)
    return _result("henan_publicity", publicity_start, today, period,
                   notes=("henan_publicity_minimum",))


def annotation_window(application: date, previous: Sequence[date] = (), *,
                      today: date) -> DeadlineResult:
    """E-certificate annotation (加注) on ``application`` given earlier applications.

    Counting back 90 days from the application day (that day included), one
    certificate may have at most 3 valid annotations; each is valid at most 90 days
    and is completed within 24 hours.  ``previous`` dates after ``application`` are
    ignored (they cannot precede it).  Details: ``ready_by``, ``valid_until``,
    ``allowed``, ``counted`` (earlier applications inside the window),
    ``active_count`` and ``remaining`` (after this application, if allowed), and
    ``next_slot`` (earliest day another application would be within the limit).
    """
    window_start = application - timedelta(days=ANNOTATION_WINDOW_DAYS - 1)
    counted = sorted(d for d in previous if window_start <= d <= application)
    allowed = len(counted) < ANNOTATION_MAX_IN_WINDOW
    active = sorted(counted + [application]) if allowed else counted
    remaining = max(ANNOTATION_MAX_IN_WINDOW - len(active), 0)
    if remaining:
        next_slot = application
    else:
        # The window ending on day X holds the dates >= X - 89; a slot frees when
        # the oldest of the latest three falls out, i.e. 90 days after it.
        next_slot = active[-ANNOTATION_MAX_IN_WINDOW] + timedelta(days=ANNOTATION_WINDOW_DAYS)
    ready_by = application + timedelta(hours=ANNOTATION_READY_HOURS)
    valid_until = application + timedelta(days=ANNOTATION_VALIDITY_DAYS)
    details = {
        "allowed": allowed, "ready_by": ready_by, "valid_until": valid_until,
        "counted": tuple(counted), "active_count": len(active), "remaining": remaining,
        "next_slot": next_slot, "window_start": window_start,
    }
    return _result("ecert_annotation", application, today, None,
                   deadline=ready_by if allowed else next_slot,
                   notes=("annotation_window_rule", "annotation_validity"), details=details)


def ecert_download_estimate(results: date, *, today: date) -> DeadlineResult:
    """Estimate: e-certificates usually downloadable about a month after results
    (a rule of thumb from one document, for 一级建造师).  No holiday shift: this is
    not a legal period."""
    period = workdays.add_months(results, ECERT_DOWNLOAD_MONTHS, shift_rest_day=False)
    return _result("ecert_download_estimate", results, today, period, estimate=True,
                   notes=("ecert_rule_of_thumb",))


PROCEDURES: dict[str, Procedure] = {
    p.id: p
    for p in (
        Procedure("gd_direct_mail",
                  ("gz-mail-faq-2025/p05", "gz-mail-faq-2024/p04"),
                  "day the list of successful candidates was publicised", direct_mail_deadline),
        Procedure("gz_paper_mail_dispatch", ("gz-mail-faq-2024/p09",),
                  "day the mailing application was reviewed", paper_mail_dispatch),
        Procedure("henan_check_report",
                  ("henan-check-issuance-2024/p05", "henan-check-issuance-2024/p06"),
                  "score release day", henan_check_report_deadline),
        Procedure("henan_supplementary_check", ("henan-check-issuance-2024/p06",),
                  "score release day", henan_supplementary_deadline),
        Procedure("henan_mail_booking", ("henan-check-issuance-2024/p08",),
                  "day the check results were published", henan_booking_deadline),
        Procedure("henan_storage", ("henan-check-issuance-2024/p09",),
                  "last day of the exam", henan_storage_end),
        Procedure("henan_publicity", ("henan-check-issuance-2024/p05",),
                  "first day of the results publicity", henan_publicity_end),
        Procedure("ecert_annotation",
                  ("cpta-ecert-faq-2023/p09", "cpta-ecert-faq-2023/p16"),
                  "day of the annotation application", annotation_window),
        Procedure("ecert_download_estimate", ("cpta-ecert-faq-2023/p01",),
                  "day the results were published", ecert_download_estimate),
    )
}


def compute(procedure_id: str, day: date, *, today: date,
            previous: Sequence[date] = ()) -> DeadlineResult:
    """Run the rule ``procedure_id`` on ``day``; ``previous`` is only used by
    ``ecert_annotation``.  Raises KeyError for an unknown procedure id."""
    procedure = PROCEDURES[procedure_id]
    if procedure_id == "ecert_annotation":
        return procedure.compute(day, previous, today=today)
    return procedure.compute(day, today=today)


# ---------------------------------------------------------------- labels & prompts

def procedure_name(procedure_id: str) -> str:
    """The display name of a procedure."""
    return load_texts()["procedures"][procedure_id]["name"]


def date_label(procedure_id: str | None) -> str:
    """What date the procedure needs, as shown to the user."""
    texts = load_texts()
    if procedure_id in texts["procedures"]:
        return texts["procedures"][procedure_id]["date_label"]
    return texts["default_date_label"]


def error_prompt(error: str, procedure_id: str | None = None) -> str:
    """The re-entry prompt for a bot.lang.dates error id (or ``unknown_procedure``)."""
    return load_texts()["errors"][error].format(label=date_label(procedure_id))


# ---------------------------------------------------------------- guessing

def guess_procedure(normalised: str) -> str | None:
    """The procedure normalised text asks about, or None.  Score = total length of the
    matched keywords (longer keywords are more specific); a procedure of the region
    the text names wins a tie; remaining ties go to the earlier entry in the file."""
    region = rule_region_named(normalised)
    best, best_score = None, 0.0
    for procedure_id, keywords in load_texts()["procedure_keywords"].items():
        score = float(sum(len(k) for k in keywords if k in normalised))
        if score and region is not None and within(region, PROCEDURES[procedure_id].region):
            score += 0.5
        if score > best_score:
            best, best_score = procedure_id, score
    return best


def entry_procedure(entry_id: str | None) -> str | None:
    """The deadline procedure whose rule the FAQ entry explains (data/deadlines.yml
    ``entry_procedures``), if any."""
    return (load_texts().get("entry_procedures") or {}).get(entry_id)
