"""What each publish served, so the last one can be undone in one step.

A publish notes the index version served before and after it, and whether it replaced
Rasa's model (the one before it is kept as ``models/rasa/previous.tar.gz``). Undo serves
the index before again (one rename, as a publish does) and, when the publish replaced the
model, puts the previous model back and loads it into every Rasa instance. Only the last
publish can be undone, once; the history is ``models/publish-history.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bot import PROJECT_ROOT
from bot.config import Settings

HISTORY = PROJECT_ROOT / "models" / "publish-history.json"
KEPT = 20


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def _write(path: Path, history: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(history[-KEPT:], ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def note(publish_id: str, who: str, path: Path | None = None, **fields: Any) -> None:
    """Add to (or update) the history entry of one publish."""
    path = Path(path or HISTORY)
    history = _read(path)
    entry = next((e for e in history if e.get("id") == publish_id), None)
    if entry is None:
        entry = {"id": publish_id, "who": who, "at": time.time(), "undone": False}
        history.append(entry)
    entry.update(fields)
    _write(path, history)


def last(path: Path | None = None) -> dict[str, Any] | None:
    """The last publish that served something and is not undone (None: nothing to undo)."""
    history = _read(Path(path or HISTORY))
    for entry in reversed(history):
        if entry.get("undone"):
            return None  # undo goes back one publish only
        if entry.get("index_after"):
            return entry
    return None


def mark_undone(publish_id: str, who: str, path: Path | None = None) -> None:
    note(publish_id, who, path, undone=True, undone_by=who, undone_at=time.time())


def undo(status_file, who: str, instances: list[str] | None = None, path: Path | None = None) -> int:
    """Serve again what the last publish replaced; the status file shows one ``undo``
    stage. Exit status as a publish's (0 done, 2 failed or nothing to undo)."""
    from bot.publish import job
    from bot.retrieval.index import publish_index
    from bot.retrieval.settings import load_settings

    status = job.PublishStatus(id=f"undo-{int(time.time())}", who=who, started_at=time.time(),
                               instances=instances if instances is not None else job.rasa_instance_urls(),
                               stages=[job.StageStatus("undo")], kind="undo")
    stage = status.stages[0]
    stage.state, status.stage = "running", "undo"
    status_file.write(status)
    started = time.monotonic()
    entry = last(path)
    try:
        if entry is None or not entry.get("index_before"):
            raise job.PublishFailed(job.text("nothing_to_undo"))
        index_dir = load_settings().index_dir
        publish_index(Path(entry["index_before"]), index_dir)
        status.live_seconds = round(time.time() - status.started_at, 1)
        if entry.get("model_replaced"):
            _previous_model_back(job, status)
        mark_undone(entry["id"], who, path)
        stage.state, status.state = "done", "published"
        stage.detail = job.text("undone", id=entry["id"])
        code = job.EXIT_PUBLISHED
    except Exception as error:  # noqa: BLE001 - every failure ends in the status file
        stage.state, status.state, code = "failed", "failed", job.EXIT_FAILED
        status.problem = str(error) if isinstance(error, job.PublishFailed) else f"{type(error).__name__}: {error}"
    stage.seconds = round(time.monotonic() - started, 1)
    status.finished_at = time.time()
    status_file.write(status)
    return code


def _previous_model_back(job, status) -> None:
    from bot.publish import rasa_inputs

    previous = job.RASA_MODEL.with_name("previous.tar.gz")
    if not previous.exists():
        raise job.PublishFailed(job.text("model_gone", path=previous))
    record = rasa_inputs.record_path(previous)
    if record.exists():
        os.replace(record, rasa_inputs.record_path(job.RASA_MODEL))
    else:
        rasa_inputs.record_path(job.RASA_MODEL).unlink(missing_ok=True)
    os.replace(previous, job.RASA_MODEL)
    token = Settings()("RASA_TOKEN", str, None)
    for url in status.instances:
        with job.RasaInstance(url, token, timeout_seconds=60) as rasa:
            rasa.replace_model(job.RASA_MODEL)
