"""The publish console (``/staff/publish``): what is served, what waits to be published,
the editor's button, and the progress of a publish.

The button starts ``python -m bot.publish.job`` (the job: rebuild the index, retrain
Rasa, gate both with the regression cases, load them into the running servers) as a
process of its own, in its own session, so a restart of the web front does not stop it.
The job takes the lock that allows one publish at a time and writes its stages and
progress to a status file; the page polls ``GET /staff/api/publish`` for it. The web
process only starts the job and reads the file. The audit log gets who started a publish
and, once it ends, its outcome (recorded when the job exits, or when this page first
sees the outcome after a restart of the web front).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bot import PROJECT_ROOT, datafiles
from bot.knowledge import editing
from bot.publish.status import EXIT_BUSY, PublishStatus, log_path, read_status, status_path
from bot.web.storage.store import AuditEntry, DatabaseUnavailable
from bot.web.staff_identity import editor_only, staff_only
from bot.web.app_state import WebState, web_state

logger = logging.getLogger(__name__)

START_WAIT_SECONDS = 20         # until the job has taken the lock and written its status
MODEL_FILE = PROJECT_ROOT / "models" / "rasa" / "model.tar.gz"  # the one Rasa loads when it starts
_recording = threading.Lock()


def is_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def outcome_of(status: PublishStatus) -> str:
    """running | published | refused | failed | interrupted (running, its process gone)."""
    if status.state == "running" and not is_alive(status.pid):
        return "interrupted"
    return status.state


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class StageView:
    name: str
    label: str
    state: str                      # pending | running | done | failed | skipped
    state_label: str
    seconds: float | None
    done: int
    total: int
    detail: str


@dataclass(frozen=True)
class CaseView:
    """A regression case the publish would break."""

    id: str
    file: str
    turns: str
    expect: str
    received: str
    problem: str


@dataclass(frozen=True)
class PublishView:
    """One publish as the console shows it (and its JSON for the page's polling)."""

    id: str
    who: str
    state: str
    state_label: str
    started: str
    finished: str
    progress: int                   # per cent
    stage: str | None
    stages: tuple[StageView, ...]
    broken: tuple[CaseView, ...]
    still_failing: tuple[str, ...]
    problem: str

    @property
    def running(self) -> bool:
        return self.state == "running"

    @classmethod
    def of(cls, status: PublishStatus, state: WebState) -> PublishView:
        texts = state.texts["publish"]
        outcome = outcome_of(status)
        stages = tuple(StageView(
            name=stage.name, label=texts["stages"].get(stage.name, stage.name), state=stage.state,
            state_label=texts["stage_states"].get(stage.state, ""), seconds=stage.seconds, done=stage.done,
            total=stage.total, detail=stage.detail) for stage in status.stages)
        broken = tuple(CaseView(str(c.get("id")), str(c.get("file")), " / ".join(c.get("turns") or ()),
                                str(c.get("expect")), str(c.get("received")), str(c.get("problem") or ""))
                       for c in status.broken)
        return cls(id=status.id, who=status.who, state=outcome, state_label=texts["states"].get(outcome, outcome),
                   started=state.format_time(status.started_at), finished=state.format_time(status.finished_at),
                   progress=round(100 * status.progress), stage=status.stage, stages=stages, broken=broken,
                   still_failing=tuple(status.still_failing), problem=status.problem or "")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "running": self.running}


@dataclass(frozen=True)
class ServedView:
    """What candidates are answered with now, and what waits for a publish."""

    index_built: str
    model_built: str
    unpublished: bool
    pending: tuple[str, ...]        # summaries of the staff changes made since the index was built


def served_view(state: WebState) -> ServedView:
    from bot.retrieval.index import is_stale, read_manifest  # the encoder's settings: not at import
    from bot.retrieval.settings import load_settings

    settings = load_settings()
    manifest = read_manifest(settings.index_dir) or {}
    built = manifest.get("created_at")
    model = MODEL_FILE
    pending: list[str] = []
    if built and editing.CHANGELOG.exists():
        since = datetime.fromisoformat(built)
        notes = (datafiles.read_yaml(editing.CHANGELOG) or {}).get("changes") or []
        pending = [f"{note.get('who')}: {note.get('summary')}" for note in notes
                   if isinstance(note, dict) and note.get("when") and note.get("kind") != "cases"
                   and datetime.fromisoformat(str(note["when"])) > since]
    try:
        stale = is_stale()
    except Exception:  # noqa: BLE001 - the data cannot even be read: the publish will say why
        logger.exception("cannot compare the served index with the data")
        stale = True
    return ServedView(index_built=state.format_time(datetime.fromisoformat(built).timestamp()) if built else "",
                      model_built=state.format_time(model.stat().st_mtime) if model.exists() else "",
                      unpublished=stale, pending=tuple(pending))


# --------------------------------------------------------------------------- the audit log


def record_outcome(state: WebState, status: PublishStatus) -> None:
    """The outcome of a finished (or interrupted) publish in the audit log, once."""
    outcome = outcome_of(status)
    if outcome == "running":
        return
    action = "publish_undo" if status.kind == "undo" else "publish"
    with _recording:
        if state.store.is_recorded(action, status.id):
            return
        broken = [f"{case.get('id')}: {case.get('problem')}" for case in status.broken]
        after = "\n".join([outcome, *([status.problem] if status.problem else []), *broken,
                           *([json.dumps(status.served_after, ensure_ascii=False)] if status.served_after else [])])
        before = json.dumps(status.served_before, ensure_ascii=False)
        state.store.record(status.who or "?", [AuditEntry(action, status.id, before, after)],
                           when=status.finished_at or time.time())


def record_finished_publish(state: WebState) -> None:
    status = read_status()
    if status is not None:
        try:
            record_outcome(state, status)
        except DatabaseUnavailable:
            logger.exception("the outcome of publish %s is not recorded yet", status.id)


def _record_when_done(process: subprocess.Popen, state: WebState) -> None:
    process.wait()
    record_finished_publish(state)


# --------------------------------------------------------------------------- starting the job


def start_job(state: WebState, who: str) -> tuple[str, str, float]:
    """Start a publish; (``started`` | ``busy`` | ``failed``, its id or what went wrong,
    when it started). Waits until the job holds the lock and has written its status, or
    has exited."""
    publish_id = uuid.uuid4().hex[:12]
    path = status_path()
    log = log_path()
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "bot.publish.job", "--status", str(path), "--who", who, "--id", publish_id]
    with open(log, "ab") as output:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    threading.Thread(target=_record_when_done, args=(process, state), daemon=True,
                     name=f"publish-{publish_id}").start()
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        status = read_status(path)
        if status is not None and status.id == publish_id:
            return "started", publish_id, status.started_at
        code = process.poll()
        if code is not None:
            return ("busy", "", 0.0) if code == EXIT_BUSY else ("failed", f"exit status {code}, see {log}", 0.0)
        time.sleep(0.1)
    return "started", publish_id, time.time()  # slow to start: the page shows it once it writes


# --------------------------------------------------------------------------- handlers


async def current_view(state: WebState) -> PublishView | None:
    status = await run_in_threadpool(read_status)
    if status is None:
        return None
    await run_in_threadpool(record_finished_publish, state)
    return PublishView.of(status, state)


async def render(request: Request, notice: str | None = None, error: str | None = None,
                 status_code: int = 200) -> Response:
    state = web_state(request)
    served = await run_in_threadpool(served_view, state)
    return state.render(request, "staff_publish.html", {
        "served": served, "publish": await current_view(state), "notice": notice, "error": error,
        "active": "publish"}, status_code=status_code)


@staff_only
async def publish_page(request: Request) -> Response:
    """``GET /staff/publish``: the served version, waiting changes, the last publish."""
    return await render(request)


@staff_only
async def publish_status(request: Request) -> Response:
    """``GET /staff/api/publish``: the last publish (stages, progress, outcome) as JSON."""
    view = await current_view(web_state(request))
    return JSONResponse({"publish": view.as_json() if view else None})


@editor_only
async def start_publish(request: Request) -> Response:
    """``POST /staff/publish``: start a publish (one at a time); back to the page."""
    state = web_state(request)
    texts = state.texts["publish"]
    served = await run_in_threadpool(served_view, state)
    if not served.unpublished:
        return await render(request, notice=texts["nothing_to_publish"], status_code=409)
    who = request.user.display_name
    try:
        await run_in_threadpool(state.store.ensure_writable)
    except DatabaseUnavailable as error:
        return await render(request, error=texts["start_failed"].format(reason=error), status_code=503)
    outcome, detail, started_at = await run_in_threadpool(start_job, state, who)
    if outcome == "busy":
        return await render(request, error=texts["busy"], status_code=409)
    if outcome == "failed":
        return await render(request, error=texts["start_failed"].format(reason=detail), status_code=500)
    await run_in_threadpool(state.store.record, who, [AuditEntry("publish_start", detail, None, None)],
                            when=started_at)
    return RedirectResponse("/staff/publish", status_code=303)
