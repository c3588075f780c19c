"""Undo of the last publish (``POST /staff/publish/undo``): starts
``python -m bot.build.publish --undo`` like the publish button starts a publish (its own
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
from bot.web import publish
from bot.web.audit import AuditUnavailable, ensure_writable, record, who_is
from bot.web.staff_auth import editor_only
from bot.web.state import web_state

START_WAIT_SECONDS = 20


def start_undo(state, who: str) -> tuple[str, str]:
    """(``started`` | ``busy`` | ``failed``, detail)."""
    path, log = publish.status_path(), publish.log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    before = (publish.read_status(path) or {}).get("id")
    command = [sys.executable, "-m", "bot.build.publish", "--status", str(path), "--who", who, "--undo"]
    with open(log, "ab") as output:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    threading.Thread(target=publish._record_when_done, args=(process, state), daemon=True).start()
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        status = publish.read_status(path)
        if status is not None and status.get("id") != before:
            return "started", str(status.get("id"))
        code = process.poll()
        if code is not None:
            return ("busy", "") if code == publish.EXIT_BUSY else ("failed", f"exit status {code}, see {log}")
        time.sleep(0.1)
    return "started", ""


@editor_only
async def undo(request: Request) -> Response:
    state, who = web_state(request), who_is(request)
    texts = datafiles.edition_texts()["console"]
    try:
        await run_in_threadpool(ensure_writable, state)
    except AuditUnavailable as error:
        return await publish.render(request, error=texts["undo_failed"].format(reason=error), status_code=503)
    outcome, detail = await run_in_threadpool(start_undo, state, who)
    if outcome == "busy":
        return await publish.render(request, error=texts["undo_busy"], status_code=409)
    if outcome == "failed":
        return await publish.render(request, error=texts["undo_failed"].format(reason=detail), status_code=500)
    await run_in_threadpool(record, state, who, "publish_undo", detail, None, None)
    return RedirectResponse("/staff/publish", status_code=303)
