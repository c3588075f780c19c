"""Next year's holidays (``/staff/holidays``): staff enter the State Council's schedule for
a year the calendar package does not cover yet, as lines of dates, with the notice it comes
from. The schedule is checked (``bot.lang.holiday_schedules.check_year``), saved into
``data/holidays.yml`` by ``bot.knowledge.editing`` (lock, atomic write, changelog) and
audited; deadlines count on it from then on (no index or model depends on it). The texts
are ``data/faq/editions.yml``'s ``console``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot import datafiles
from bot.knowledge import editing
from bot.knowledge.edition_updates import save_holidays
from bot.lang import holiday_schedules, workdays
from bot.web.storage.store import AuditEntry, DatabaseUnavailable
from bot.web.staff_identity import editor_only, staff_only
from bot.web.app_state import web_state


def _last_package_year() -> int:
    year = workdays.first_covered_year() or 2004
    while workdays.package_covers(year + 1):
        year += 1
    return year


def _page(request: Request, values: dict[str, str] | None = None, problems=(), saved: str | None = None,
          status_code: int = 200) -> Response:
    last = _last_package_year()
    entered = holiday_schedules.entered_years()
    context: dict[str, Any] = {
        "t": datafiles.edition_texts()["console"], "active": "holidays", "last_year": last,
        "values": values or {"year": str(last + 1)}, "problems": list(problems), "saved": saved,
        "entered": sorted(entered.values(), key=lambda s: s.year)}
    return web_state(request).render(request, "staff_holidays.html", context, status_code=status_code)


@staff_only
async def holidays_page(request: Request) -> Response:
    """``GET /staff/holidays``: the years entered and the form."""
    return await run_in_threadpool(_page, request)


@editor_only
async def save(request: Request) -> Response:
    """``POST /staff/holidays``: one year's schedule checked and saved."""
    state, who = web_state(request), request.user.display_name
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in ("year", "notice", "holidays", "makeup")}

    def work() -> str:
        year_text = values["year"].strip()
        if not year_text.isdigit():
            raise editing.ChangeRefused([holiday_schedules.message("bad_year", year=year_text[:10],
                                                                   first=_last_package_year() + 1)])
        spec = {"notice": values["notice"], **holiday_schedules.parse_lines(values["holidays"], values["makeup"])}
        change = save_holidays(int(year_text), spec)
        state.store.ensure_writable()
        editing.apply(change, who)
        state.store.record(who, [AuditEntry(change.kind, change.target, None, change.excerpt_after)])
        return year_text

    try:
        year = await run_in_threadpool(work)
    except editing.ChangeRefused as refused:
        return await run_in_threadpool(_page, request, values, refused.problems, None, 422)
    except DatabaseUnavailable as error:
        problems = [datafiles.edition_texts()["console"]["database_unavailable"].format(reason=error)]
        return await run_in_threadpool(_page, request, values, problems, None, 503)
    return await run_in_threadpool(_page, request, None, (), year)
