"""The audit log: every change staff make, recorded by the handler that makes it, and its
page (``GET /staff/audit?page=``), newest first.

Rows live in the ``audit_log`` table of :mod:`bot.web.storage.tables` (who, when, what, before
and after). A change is recorded right after it is written; a handler checks the log
can be written (:func:`ensure_writable`) before it changes anything, so no change goes
unrecorded. Publishes are recorded when they start and when they end (the job runs in a process of
its own: :mod:`bot.web.console.publish_page` records its outcome when it exits, or when the publish
page first sees it after a restart of the web front).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.web.storage import tables as database
from bot.web.console.login import staff_only, staff_session
from bot.web.app_state import WebState, web_state

PAGE_SIZE = 50
MAX_PAGE = 1_000_000


class AuditUnavailable(Exception):
    """The audit log cannot be read or written (the reason in words)."""


@dataclass(frozen=True)
class AuditRow:
    """One recorded change as staff read it."""

    id: int
    when: str                       # display time zone
    who: str
    action: str                     # paraphrases | new_entry | … (data/web/ui.yml audit.actions)
    action_label: str
    target: str
    before: str
    after: str


@dataclass(frozen=True)
class AuditPage:
    rows: tuple[AuditRow, ...]
    page: int
    pages: int
    total: int

    @property
    def previous_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def ensure_writable(state: WebState) -> None:
    """Raise :class:`AuditUnavailable` when the audit log cannot be written now."""
    try:
        database.own_tables(state.settings.tracker_db_url)
    except database.DatabaseUnavailable as error:
        raise AuditUnavailable(str(error)) from error


def record(state: WebState, who: str, action: str, target: str | None, before: str | None,
           after: str | None, when: float | None = None) -> None:
    """One change in the audit log."""
    try:
        database.record_audit(state.settings.tracker_db_url, who, action, target, before, after, when)
    except (database.DatabaseUnavailable, sa.exc.SQLAlchemyError) as error:
        raise AuditUnavailable(str(error)) from error


def who_is(request: Request) -> str:
    """How the audit log names the logged-in staff member."""
    session = staff_session(request)
    return session.who if session else "?"


def is_recorded(state: WebState, action: str, target: str) -> bool:
    """Whether the log already holds ``action`` on ``target``."""
    table = database.audit_log
    query = sa.select(sa.func.count()).select_from(table).where(table.c.action == action, table.c.target == target)
    with database.own_tables(state.settings.tracker_db_url).connect() as connection:
        return bool(connection.execute(query).scalar_one())


def read_page(state: WebState, page: int, size: int = PAGE_SIZE) -> AuditPage:
    """The ``page``-th page of the log, newest first."""
    table = database.audit_log
    labels = state.texts["audit"]["actions"]
    try:
        with database.own_tables(state.settings.tracker_db_url).connect() as connection:
            total = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            pages = max(1, -(-total // size))
            page = min(page, pages)
            rows = connection.execute(sa.select(table).order_by(table.c.timestamp.desc(), table.c.id.desc())
                                      .limit(size).offset((page - 1) * size)).all()
    except (database.DatabaseUnavailable, sa.exc.SQLAlchemyError) as error:
        raise AuditUnavailable(str(error)) from error
    return AuditPage(tuple(AuditRow(id=row.id, when=state.format_time(row.timestamp), who=row.who,
                                    action=row.action, action_label=labels.get(row.action, row.action),
                                    target=row.target or "", before=row.before or "", after=row.after or "")
                           for row in rows), page, pages, total)


def requested_page(request: Request) -> int:
    raw = request.query_params.get("page", "").strip()
    return min(max(1, int(raw)), MAX_PAGE) if raw.isascii() and raw.isdigit() else 1


@staff_only
async def audit_page(request: Request) -> Response:
    """``GET /staff/audit?page=``: who changed what, when, before and after."""
    state = web_state(request)
    failure, log = None, None
    try:
        log = await run_in_threadpool(read_page, state, requested_page(request))
    except AuditUnavailable as error:
        failure = state.texts["audit"]["unavailable"].format(reason=error)
    return state.render(request, "staff_audit.html", {"log": log, "failure": failure, "active": "audit"})
