"""When staff are at their desks: the daily hours of ``data/handoff/handoff.yml`` on
China's working days (statutory holidays off, make-up working days on), from the same
calendar the deadlines count with (:mod:`bot.lang.workdays`)."""

from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from bot.datafiles import handoff_settings
from bot.lang.workdays import day_info


def _clock(raw: str) -> time:
    hours, minutes = str(raw).split(":")
    return time(int(hours), int(minutes))


def daily_hours() -> tuple[tuple[time, time], ...]:
    """The day's opening spans, in the schedule's time zone."""
    return tuple((_clock(start), _clock(end)) for start, end in handoff_settings().get("staff_hours") or ())


def schedule_timezone() -> ZoneInfo:
    return ZoneInfo(str(handoff_settings().get("timezone", "Asia/Shanghai")))


def within_staff_hours(moment: datetime | None = None) -> bool:
    """Whether staff are at their desks at ``moment`` (default now)."""
    moment = (moment or datetime.now(timezone.utc)).astimezone(schedule_timezone())
    if not day_info(moment.date()).workday:
        return False
    clock = moment.time().replace(tzinfo=None)
    return any(start <= clock < end for start, end in daily_hours())
