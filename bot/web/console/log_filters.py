"""The filters of the staff log pages and CSV exports, read from ``?q=&date_from=&date_to=``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from starlette.requests import Request

from bot.web.app_state import web_state


def parse_day(raw: str | None) -> date | None:
    """``YYYY-MM-DD`` → date; empty → None; anything else raises ValueError."""
    if raw is None or not raw.strip():
        return None
    return datetime.strptime(raw.strip(), "%Y-%m-%d").date()


@dataclass(frozen=True)
class LogFilters:
    """A text to look for and a range of days (either end open)."""

    query: str
    date_from: date | None
    date_to: date | None
    failure: str | None  # a malformed date: the staff-facing message, and no dates


def log_filters(request: Request) -> LogFilters:
    """The log filters of ``request``; a malformed date leaves both dates unset."""
    query = request.query_params.get("q", "").strip()
    try:
        date_from = parse_day(request.query_params.get("date_from"))
        date_to = parse_day(request.query_params.get("date_to"))
    except ValueError:
        return LogFilters(query, None, None, web_state(request).texts["staff"]["bad_date"])
    return LogFilters(query, date_from, date_to, None)
