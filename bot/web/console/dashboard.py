"""The staff dashboard: ``GET /staff/dashboard?date_from=&date_to=`` (default: the last
30 days in the display time zone).

Figures per day from the tracker's turns and the candidates' ratings
(:mod:`bot.web.console.dashboard_figures`), drawn as inline SVG by the templates
(:mod:`bot.web.console.charts`, ``staff_charts.html``): no script, no chart library, no CDN.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.datafiles import reply_texts
from bot.web.console.charts import Chart, bar_chart, line_chart, ranking_chart
from bot.web.console.dashboard_figures import DashboardFigures, dashboard_figures
from bot.web.errors import log_unavailable
from bot.web.console.handoff_figures import read_handoff_figures
from bot.web.console.log_filters import log_filters
from bot.web.staff_identity import staff_only
from bot.web.app_state import WebState, web_state
from bot.web.storage.tracker_events import DATABASE_ERRORS

DEFAULT_DAYS = 30
MAX_DAYS = 366


def dashboard_range(request: Request, state: WebState) -> tuple[date, date, str | None]:
    """The requested days (an open end: the default range's), and what was wrong with
    the request, if anything (then the default range)."""
    texts = state.texts["dashboard"]
    filters = log_filters(request)
    today = datetime.now(state.timezone).date()
    default = (today - timedelta(days=DEFAULT_DAYS - 1), today)
    if filters.failure:
        return *default, filters.failure
    date_to = filters.date_to or (today if not filters.date_from
                                  else min(today, filters.date_from + timedelta(days=DEFAULT_DAYS - 1)))
    date_from = filters.date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        return *default, texts["reversed_range"]
    if (date_to - date_from).days >= MAX_DAYS:
        return date_to - timedelta(days=MAX_DAYS - 1), date_to, texts["range_cut"].format(days=MAX_DAYS)
    return date_from, date_to, None


def read_figures(state: WebState, date_from: date, date_to: date) -> DashboardFigures:
    """The figures of these days (blocking: a worker thread)."""
    start, end = state.store.events.day_bounds(date_from, date_to)
    ratings = state.store.ratings_between(start, end)
    return dashboard_figures(state.store.events.turns(date_from, date_to), ratings, date_from, date_to,
                             state.timezone)


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def charts(figures: DashboardFigures, texts: dict[str, Any], topic_names: dict[str, str]) -> list[Chart]:
    """The dashboard's charts, in the page's order."""
    labels = [day.day.strftime("%m-%d") for day in figures.days]
    days = figures.days
    names = texts["series"]
    return [
        bar_chart(texts["charts"]["volume"], labels, [
            (names["conversations"], "bar-conversations", [day.conversations for day in days]),
            (names["turns"], "bar-turns", [day.turns for day in days])]),
        line_chart(texts["charts"]["outcomes"], labels, [
            (names["answered"], "line-answered", [day.share(day.answered) for day in days]),
            (names["did_you_mean"], "line-did-you-mean", [day.share(day.did_you_mean) for day in days]),
            (names["fallback"], "line-fallback", [day.share(day.fallback) for day in days])],
            fmt=percent, top_value=1.0),
        bar_chart(texts["charts"]["ratings"], labels, [
            (names["thumbs_up"], "bar-up", [day.thumbs_up for day in days]),
            (names["thumbs_down"], "bar-down", [day.thumbs_down for day in days])]),
        line_chart(texts["charts"]["latency"], labels, [
            (names["p95_latency"], "line-latency", [day.p95_latency_ms for day in days])],
            fmt=lambda ms: f"{ms:.0f} ms"),
        ranking_chart(texts["charts"]["topics"],
                      [(topic_names.get(topic, topic), count) for topic, count in figures.top_topics]),
    ]


@staff_only
async def dashboard_page(request: Request) -> Response:
    """``GET /staff/dashboard``: the figures of a range of days, as charts and a table."""
    state = web_state(request)
    date_from, date_to, notice = dashboard_range(request, state)
    figures, failure, handoff = None, None, None
    try:
        figures = await run_in_threadpool(read_figures, state, date_from, date_to)
        handoff = await run_in_threadpool(read_handoff_figures, request.app.state.live.store,
                                          *state.store.events.day_bounds(date_from, date_to))
    except DATABASE_ERRORS as error:
        failure = log_unavailable(request, error)
    texts = state.texts["dashboard"]
    return state.render(request, "staff_dashboard.html", {
        "figures": figures,
        "handoff": handoff,
        "charts": charts(figures, texts, dict(reply_texts().get("topic_names") or {})) if figures else [],
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "notice": notice,
        "failure": failure,
        "active": "dashboard",
    })
