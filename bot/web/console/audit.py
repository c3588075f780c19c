"""The audit log: every change staff make, recorded by the handler that makes it, and its
page (``GET /staff/audit?page=``), newest first.

Rows live in the ``audit_log`` table (who, when, what, before and after), written by
:meth:`bot.web.storage.store.ConsoleStore.record` in the transaction of the change they
record; a handler checks the store can be written before it changes a data file, so no
change goes unrecorded. Publishes are recorded when they start and when they end (the job runs in a process of
its own: :mod:`bot.web.console.publish_page` records its outcome when it exits, or when the publish
page first sees it after a restart of the web front).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bot.web.storage.store import DatabaseUnavailable, Page
from bot.web.staff_identity import staff_only
from bot.web.app_state import WebState, web_state

PAGE_SIZE = 50
MAX_PAGE = 1_000_000


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


def read_page(state: WebState, page: int, size: int = PAGE_SIZE) -> Page:
    """The ``page``-th page of the log, newest first."""
    labels = state.texts["audit"]["actions"]
    found = state.store.audit_rows(page, size)
    return Page(tuple(AuditRow(id=row.id, when=state.format_time(row.timestamp), who=row.who,
                                    action=row.action, action_label=labels.get(row.action, row.action),
                                    target=row.target or "", before=row.before or "", after=row.after or "")
                           for row in found.rows), found.page, found.pages, found.total)


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
    except DatabaseUnavailable as error:
        failure = state.texts["audit"]["unavailable"].format(reason=error)
    return state.render(request, "staff_audit.html", {"log": log, "failure": failure, "active": "audit"})
