"""Undo of the last publish (``POST /staff/publish/undo``): starts
``python -m bot.publish.job --undo`` like the publish button starts a publish (its own
process, the same status file and lock, so it never runs beside a publish), audited; the
publish page shows its outcome."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot import PROJECT_ROOT, datafiles
from bot.publish.status import EXIT_BUSY, log_path, read_status, status_path
from bot.web.console import publish_page as publish
from bot.web.storage.store import DatabaseUnavailable
from bot.web.staff_identity import editor_only
from bot.web.app_state import web_state

START_WAIT_SECONDS = 20


def start_undo(state, who: str) -> tuple[str, str]:
    """(``started`` | ``busy`` | ``failed``, detail)."""
    path, log = status_path(), log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    previous = read_status(path)
    before = previous.id if previous else None
    command = [sys.executable, "-m", "bot.publish.job", "--status", str(path), "--who", who, "--undo"]
    with open(log, "ab") as output:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    threading.Thread(target=publish._record_when_done, args=(process, state), daemon=True).start()
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        status = read_status(path)
        if status is not None and status.id != before:
            return "started", status.id
        code = process.poll()
        if code is not None:
            return ("busy", "") if code == EXIT_BUSY else ("failed", f"exit status {code}, see {log}")
        time.sleep(0.1)
    return "started", ""


@editor_only
async def undo(request: Request) -> Response:
    state, who = web_state(request), request.user.display_name
    texts = datafiles.edition_texts()["console"]
    try:
        await run_in_threadpool(state.store.ensure_writable)
    except DatabaseUnavailable as error:
        return await publish.render(request, error=texts["undo_failed"].format(reason=error), status_code=503)
    outcome, detail = await run_in_threadpool(start_undo, state, who)
    if outcome == "busy":
        return await publish.render(request, error=texts["undo_busy"], status_code=409)
    if outcome == "failed":
        return await publish.render(request, error=texts["undo_failed"].format(reason=detail), status_code=500)
    # its outcome is audited when the job ends (publish_page.record_outcome: "publish_undo")
    return RedirectResponse("/staff/publish", status_code=303)
