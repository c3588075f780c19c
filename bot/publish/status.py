"""A publish's status, typed: its stages, exit codes and files, as the job writes them and
the console's publish page reads them (:mod:`bot.publish.job`,
:mod:`bot.web.console.publish_page`).

The job rewrites the status file whole (:class:`StatusFile`) and holds a lock beside it
while it runs; the page reads it back with :func:`read_status` as a
:class:`PublishStatus`. Both live in the servers' run directory (``var/run``;
``ASSISTANT_RUN_DIR``), the job's output in ``var/log/publish.log`` (``ASSISTANT_LOG_DIR``).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bot import PROJECT_ROOT
from bot.config import Settings

STAGES = ("validate", "index", "servers", "check_index", "baseline", "deploy_index", "train", "check_model",
          "deploy")
# What each stage usually takes (seconds, measured on 2 cores): the progress bar's weights.
EXPECTED_SECONDS = {"validate": 3, "index": 12, "servers": 35, "check_index": 15, "baseline": 3,
                    "deploy_index": 1, "train": 110, "check_model": 30, "deploy": 20, "undo": 5}
FINISHED = ("published", "refused", "failed")
EXIT_PUBLISHED, EXIT_REFUSED, EXIT_FAILED, EXIT_BUSY = 0, 1, 2, 3
STATUS_WRITE_INTERVAL_SECONDS = 0.5
STATUS_FILE_NAME = "publish.json"
LOG_FILE_NAME = "publish.log"


def run_dir() -> Path:
    """Where the status and lock files are: the servers' run directory (var/run)."""
    return Settings()("ASSISTANT_RUN_DIR", Path, PROJECT_ROOT / "var" / "run")


def status_path() -> Path:
    return run_dir() / STATUS_FILE_NAME


def log_path() -> Path:
    return Settings()("ASSISTANT_LOG_DIR", Path, PROJECT_ROOT / "var" / "log") / LOG_FILE_NAME


@dataclass
class StageStatus:
    name: str
    state: str = "pending"          # pending | running | done | failed | skipped
    seconds: float | None = None
    done: int = 0                   # cases run, training per cent …
    total: int = 0
    detail: str = ""


@dataclass
class PublishStatus:
    """What the console shows of one publish (the JSON of the status file)."""

    id: str
    who: str
    started_at: float
    state: str = "running"          # running | published | refused | failed
    finished_at: float | None = None
    stage: str | None = None
    stages: list[StageStatus] = field(default_factory=lambda: [StageStatus(name) for name in STAGES])
    broken: list[dict[str, Any]] = field(default_factory=list)   # passed before, fail now
    still_failing: list[str] = field(default_factory=list)       # failed before and now
    problem: str | None = None
    instances: list[str] = field(default_factory=list)
    served_before: dict[str, Any] = field(default_factory=dict)
    served_after: dict[str, Any] = field(default_factory=dict)
    pid: int = field(default_factory=os.getpid)
    kind: str = "publish"           # publish | undo
    retrain: bool | None = None     # Rasa's inputs changed: the model is retrained after the index
    retrain_reason: str = ""
    live_seconds: float | None = None   # from the start until the new index was served

    def stage_of(self, name: str) -> StageStatus:
        return next(stage for stage in self.stages if stage.name == name)

    @property
    def progress(self) -> float:
        """0..1 over the stages, weighted by what each usually takes."""
        total = sum(EXPECTED_SECONDS[stage.name] for stage in self.stages)
        reached = 0.0
        for stage in self.stages:
            weight = EXPECTED_SECONDS[stage.name]
            if stage.state in ("done", "skipped"):
                reached += weight
            elif stage.state == "running" and stage.total:
                reached += weight * min(1.0, stage.done / stage.total)
        return 1.0 if self.state == "published" else round(reached / total, 3)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "progress": self.progress}


class StatusFile:
    """The status file, rewritten whole (temp file and rename) so a reader never sees half."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._written = 0.0

    def write(self, status: PublishStatus, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._written < STATUS_WRITE_INTERVAL_SECONDS:
            return
        self._written = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(status.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.path)


def lock_path(status_path: Path) -> Path:
    return Path(status_path).with_suffix(".lock")


def take_lock(path: Path) -> int | None:
    """The lock's file descriptor, held until the process ends; None when another holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


def read_status(path: Path | None = None) -> PublishStatus | None:
    """The last publish's status, None before the first (or when the file is unreadable)."""
    try:
        data = json.loads((path or status_path()).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not data.get("id"):
            return None
        stages = [StageStatus(**_known(StageStatus, stage)) for stage in data.get("stages") or ()]
        return PublishStatus(**{**_known(PublishStatus, data), "stages": stages})
    except (OSError, ValueError, TypeError):
        return None
