"""Publishing what staff changed: ``python -m bot.publish.job --status FILE --who NAME``.

The staff console's "publish" button starts this job as a process of its own and polls
the status file it writes (stages, progress, the outcome); the web process never builds
or trains. A change of the knowledge base alone (entries, paraphrases, sources,
out-of-scope questions) is served by the new index without retraining Rasa; Rasa is
retrained only when its own inputs changed (``bot.publish.rasa_inputs``), and then after the
new index is already served. The stages, each timed in the status file (``live_seconds``:
from the start until the new index was served):

``validate``     the entries and every regression case load, as ``make test`` checks them
``index``        a new index version from a copy of ``data/faq`` (``models/index-versions/``)
``servers``      a temporary action server and Rasa on free ports, with a throw-away
                 tracker store, serving the published model and index (started while the
                 index is built; the stage is the wait that is left)
``check_index``  every regression case (``tests/regression/*.yml``) with the new index
                 and the published model
``baseline``     the cases that failed, against what is published now: one that passes
                 there is one the change breaks, and refuses the publish before anything
                 is served (a case that fails with both is listed, not refused)
``deploy_index`` the new index served (``models/index`` swapped in one rename; each action
                 server loads it on its next request and answers with the old one until
                 it is loaded)
``train``        only when Rasa's inputs changed: Rasa's NLU data exported from the same
                 copy, Rasa trained into ``models/candidates/<id>/`` (never over the
                 served model)
``check_model``  the new model loaded into the temporary Rasa (``PUT /model``) and every
                 case again: a case that passed with the new index and the served model
                 and fails now refuses the model (the index stays served)
``deploy``       ``models/rasa/model.tar.gz`` replaced (a restart loads the new model) and
                 the new model loaded into every Rasa instance, one at a time, with
                 ``PUT /model`` (each answers with the old model until then):
                 ``RASA_INSTANCE_URLS`` (comma-separated), by default ``RASA_URL``

``--undo`` serves what the last publish replaced (``bot.publish.history``).

One publish at a time: the job holds a lock file beside the status file and exits with
status 3, writing nothing, when another holds it. The job runs at a lower CPU priority
than the servers that answer candidates. Exit status: 0 published, 1 refused by the
regression gate, 2 failed (the status says why), 3 another publish is running.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import httpx

from bot import PROJECT_ROOT, datafiles
from bot.training import nlu_export
from bot.config import Settings
from bot.publish import history as publish_history, rasa_inputs
from bot.knowledge.cases import Case, load_cases, pinned_today
from bot.knowledge.entries import load_knowledge_base
from bot.rasa_client import RasaBadResponse, RasaClient, RasaUnavailable
from bot.retrieval.index import (Knowledge, build_index, new_version_dir, publish_index, read_manifest,
                                 versions_dir)
from bot.retrieval.settings import load_settings
from bot.publish.gate import GateResult, broken_cases, run_cases, still_failing
from bot.publish.status import (EXIT_BUSY, EXIT_FAILED, EXIT_PUBLISHED, EXIT_REFUSED, PublishStatus, StageStatus,
                                StatusFile, lock_path, take_lock)
from bot.servers import RASA_MODEL, Ports, Supervisor

CANDIDATES_DIR = PROJECT_ROOT / "models" / "candidates"
RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL_LOAD_TIMEOUT_SECONDS = 600
NICENESS = 10
# endpoints.yml's variables for `rasa train` (it reads no endpoint, but resolves the file)
TRAIN_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TRACKER_DB_URL": "sqlite:///var/tracker.db",
             "TRACKER_DIALECT": "sqlite", "LOCK_STORE_TYPE": "in_memory", "REDIS_HOST": "127.0.0.1",
             "REDIS_PORT": "6379", "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook"}
_EPOCHS = re.compile(rb"Epochs:\s+(\d+)%")


def text(key: str, **fields: Any) -> str:
    """What the status tells staff, in Chinese (``data/faq/editions.yml``'s ``publish``)."""
    return str(datafiles.edition_texts()["publish"][key]).format(**fields)


class Refused(Exception):
    """The regression gate refuses the publish (the status lists the cases)."""


class PublishFailed(Exception):
    """A stage could not be done (the message says which and why)."""


# ---------------------------------------------------------------- Rasa's model


class RasaInstance(RasaClient):
    """One Rasa server's model: which is loaded, and loading another (``PUT /model``,
    Rasa's HTTP API; the server answers with the old model until the new one is loaded)."""

    def replace_model(self, model_file: Path) -> None:
        try:
            response = self._http.put("/model", params=self.params(), json={"model_file": str(model_file)},
                                      timeout=MODEL_LOAD_TIMEOUT_SECONDS)
        except httpx.TransportError as error:
            raise RasaUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code != 204:
            raise RasaBadResponse(f"HTTP {response.status_code}", response.text[:300])

    def model_id(self) -> str | None:
        """The fingerprint of the loaded model (``GET /status``)."""
        return self.status().get("model_id")


def rasa_instance_urls(environ: dict[str, str] | None = None) -> list[str]:
    """Every Rasa instance to load a new model into: ``RASA_INSTANCE_URLS``
    (comma-separated; the cluster's instances, not haproxy in front of them), else
    ``RASA_URL``, else Rasa's default address."""
    environ = os.environ if environ is None else environ
    listed = [u.strip().rstrip("/") for u in environ.get("RASA_INSTANCE_URLS", "").split(",") if u.strip()]
    return listed or [environ.get("RASA_URL", "http://127.0.0.1:5005").rstrip("/")]


# ---------------------------------------------------------------- the gate


class GateServers:
    """A temporary action server, Rasa and web front under a supervisord of their own:
    free ports, a throw-away var/ and tracker store, the published model, and the index
    behind a link the gate moves (the action server notices, as a published one does)."""

    def __init__(self, work_dir: Path, index_dir: Path, today: str | None):
        self.work_dir = work_dir
        self.link = work_dir / "index"
        self.serve_index(index_dir)
        extra = {"BOT_INDEX_DIR": str(self.link), "WEB_ENV_FILE": str(work_dir / "absent.env")}
        if today:
            extra["ASSISTANT_TODAY"] = today
        self.supervisor = Supervisor(Ports.free(), var_dir=work_dir / "var",
                                     tracker_db_url=f"sqlite:///{work_dir}/tracker.db", extra_env=extra)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.supervisor.ports.rasa}"

    def serve_index(self, index_dir: Path) -> None:
        tmp = self.link.with_name(".index.link")
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.realpath(index_dir), tmp)
        os.replace(tmp, self.link)

    def load_model(self, model_file: Path) -> str | None:
        with RasaInstance(self.rasa_url, timeout_seconds=60) as rasa:
            rasa.replace_model(model_file)
            return rasa.model_id()

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()


# ---------------------------------------------------------------- the stages


class Publish:
    """One publish: the stages in order, the status file kept up to date."""

    def __init__(self, status_file: StatusFile, who: str, publish_id: str | None = None,
                 instances: list[str] | None = None):
        self.status_file = status_file
        self.status = PublishStatus(id=publish_id or uuid.uuid4().hex[:12], who=who, started_at=time.time(),
                                    instances=instances if instances is not None else rasa_instance_urls())
        self.index_dir = load_settings().index_dir
        self.version_dir = new_version_dir(self.index_dir, self.status.id)
        self.candidate_dir = CANDIDATES_DIR / self.status.id
        self.served = False

    @contextmanager
    def stage(self, name: str) -> Iterator[StageStatus]:
        """A stage running: timed, its state in the status file; failed when it raises."""
        stage = self.status.stage_of(name)
        stage.state, self.status.stage = "running", name
        self.status_file.write(self.status)
        started = time.monotonic()
        try:
            yield stage
        except BaseException:
            stage.state = "failed"
            raise
        else:
            stage.state = "done"
        finally:
            stage.seconds = round(time.monotonic() - started, 1)
            print(f"publish {self.status.id}: {name} {stage.state} in {stage.seconds}s {stage.detail}",
                  flush=True)
            self.status_file.write(self.status)

    def progress(self, stage: StageStatus, done: int) -> None:
        stage.done = done
        self.status_file.write(self.status, force=False)

    def served_state(self) -> dict[str, Any]:
        """The index version and model served now."""
        manifest = read_manifest(self.index_dir) or {}
        return {"index": os.path.basename(os.path.realpath(self.index_dir)),
                "index_created_at": manifest.get("created_at"),
                "model_modified_at": RASA_MODEL.stat().st_mtime if RASA_MODEL.exists() else None}

    def run(self) -> int:
        """Every stage; the outcome in the status file and as the exit status."""
        self.status.served_before = self.served_state()
        self.status_file.write(self.status)
        try:
            code = self._run()
        except Refused as refusal:
            self.status.state, self.status.problem, code = "refused", str(refusal), EXIT_REFUSED
        except BaseException as error:  # noqa: BLE001 - every failure ends in the status file
            self.status.state, code = "failed", EXIT_FAILED
            self.status.problem = str(error) if isinstance(error, PublishFailed) else f"{type(error).__name__}: {error}"
        finally:
            for stage in self.status.stages:
                if stage.state == "pending":
                    stage.state = "skipped"
            self.status.finished_at = time.time()
            if not self.served:
                shutil.rmtree(self.version_dir, ignore_errors=True)
            shutil.rmtree(self.candidate_dir, ignore_errors=True)
            self.status_file.write(self.status)
        return code

    def _run(self) -> int:
        self.status.retrain, self.status.retrain_reason = rasa_inputs.needs_training(RASA_MODEL)
        trained_on = rasa_inputs.fingerprint()
        with self.stage("validate") as stage:
            kb = load_knowledge_base()
            cases = load_cases()
            today = pinned_today(cases)
            stage.detail = text("validate", entries=len(kb.entries), cases=len(cases))
        with tempfile.TemporaryDirectory(prefix="publish-gate-") as work, ThreadPoolExecutor(1) as starter:
            gate = GateServers(Path(work), self.index_dir, today.isoformat() if today else None)
            started = starter.submit(gate.start)  # Rasa loads while the index is built
            try:
                with self.stage("index") as stage:
                    report = build_index(out_dir=self.version_dir, cache_dir=self.embedding_cache())
                    knowledge = Knowledge.of(self.version_dir)
                    stage.detail = text("index", vectors=report.vectors, embedded=report.encoded)
                with self.stage("servers"):
                    started.result()
                gate.serve_index(self.version_dir)
                with self.stage("check_index") as stage:
                    results = self.run_cases(gate, cases, stage)
                    # a case that failed is asked again: one slow reply on a busy machine is not a break
                    results.update(run_cases(gate.rasa_url, [c for c in cases if not results[c.id].passed],
                                             lambda n: None))
                    stage.detail = f"{sum(r.passed for r in results.values())}/{len(cases)}"
                gate.serve_index(self.index_dir)
                with self.stage("baseline") as stage:
                    failing = [case for case in cases if not results[case.id].passed]
                    baseline = {**results, **self.run_cases(gate, failing, stage)}
                    self.judge(stage, cases, baseline, results)
                with self.stage("deploy_index"):
                    self.deploy_index()
                if not self.status.retrain:
                    return self.published(None)
                with self.stage("train") as stage:
                    model = self.train(knowledge, stage)
                gate.serve_index(self.version_dir)
                with self.stage("check_model") as stage:
                    model_id = gate.load_model(model)
                    # what is served now: the new index with the published model
                    self.judge(stage, cases, results, self.run_cases(gate, cases, stage))
            finally:
                if not started.cancel():
                    started.exception()  # a start under way ends before its servers are stopped
                gate.stop()
        with self.stage("deploy") as stage:
            self.deploy(model, model_id, stage)
        rasa_inputs.record(RASA_MODEL, value=trained_on)
        return self.published(model_id)

    def published(self, model_id: str | None) -> int:
        self.status.state = "published"
        self.status.served_after = {**self.served_state(), "model_id": model_id}
        return EXIT_PUBLISHED

    def deploy_index(self) -> None:
        """The new index served; noted so that it can be undone."""
        previous = publish_index(self.version_dir, self.index_dir)
        self.served = True
        self.status.live_seconds = round(time.time() - self.status.started_at, 1)
        publish_history.note(self.status.id, self.status.who, index_before=str(previous) if previous else None,
                             index_after=str(self.version_dir), model_replaced=False)

    def embedding_cache(self) -> Path:
        """One cache of vectors for every version (seeded from the served index's)."""
        cache = versions_dir(self.index_dir) / "cache"
        served = Path(os.path.realpath(self.index_dir)) / "cache"
        if not cache.exists() and served.is_dir():
            shutil.copytree(served, cache)
        return cache

    def run_cases(self, gate: GateServers, cases: list[Case], stage: StageStatus) -> dict[str, GateResult]:
        stage.total = len(cases)
        results = run_cases(gate.rasa_url, cases, lambda n: self.progress(stage, n))
        stage.detail = f"{sum(r.passed for r in results.values())}/{len(cases)}"
        return results

    def judge(self, stage: StageStatus, cases: list[Case], baseline: dict[str, GateResult],
              results: dict[str, GateResult]) -> None:
        """Refuse when a case that passed with what is published fails now."""
        self.status.broken = broken_cases(cases, baseline, results)
        self.status.still_failing = still_failing(cases, baseline, results)
        if self.status.broken:
            label = datafiles.ui_texts()["publish"]["stages"].get(stage.name, stage.name)
            raise Refused(text("refused", count=len(self.status.broken), stage=label))

    def train(self, knowledge: Knowledge, stage: StageStatus) -> Path:
        """Rasa trained from the index's own copy of the knowledge, into the candidate
        directory; the DIET epochs give the progress."""
        nlu_export.export(entries_dir=knowledge.entries_dir, out_of_scope=knowledge.out_of_scope)
        self.candidate_dir.mkdir(parents=True, exist_ok=True)
        stage.total = 100
        command = [str(RASA), "train", "--fixed-model-name", "model", "--out", str(self.candidate_dir),
                   "--data", "data/nlu", "data/rules", "data/stories", "--num-threads", "2"]
        env = {**TRAIN_ENV, **os.environ, "RASA_TELEMETRY_ENABLED": "false"}
        tail = b""
        with subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) as process:
            for chunk in iter(lambda: process.stdout.read1(4096), b""):
                sys.stdout.buffer.write(chunk)
                tail = (tail + chunk)[-4096:]
                epochs = _EPOCHS.findall(tail)
                if epochs:
                    self.progress(stage, min(99, int(epochs[-1])))
        sys.stdout.flush()
        model = self.candidate_dir / "model.tar.gz"
        if process.returncode != 0 or not model.exists():
            raise PublishFailed(text("train_failed", code=process.returncode,
                                     tail=tail.decode(errors="replace").strip()[-500:]))
        stage.detail = text("model_size", mb=model.stat().st_size // 1_000_000)
        return model

    def deploy(self, model: Path, model_id: str | None, stage: StageStatus) -> None:
        """The model (the index is already served): the file a restart loads, then every
        instance, one at a time."""
        if RASA_MODEL.exists():
            previous = RASA_MODEL.with_name("previous.tar.gz")
            previous.unlink(missing_ok=True)
            os.link(RASA_MODEL, previous)
            record = rasa_inputs.record_path(RASA_MODEL)
            if record.exists():
                shutil.copy2(record, rasa_inputs.record_path(previous))
        RASA_MODEL.parent.mkdir(parents=True, exist_ok=True)
        os.replace(model, RASA_MODEL)
        publish_history.note(self.status.id, self.status.who, model_replaced=True)
        stage.total = len(self.status.instances)
        token = Settings()("RASA_TOKEN", str, None)
        for n, url in enumerate(self.status.instances, start=1):
            try:
                with RasaInstance(url, token, timeout_seconds=60) as rasa:
                    rasa.replace_model(RASA_MODEL)
                    loaded = rasa.model_id()
            except (RasaUnavailable, RasaBadResponse) as error:
                raise PublishFailed(text("not_loaded", url=url, error=error)) from error
            if model_id and loaded != model_id:
                raise PublishFailed(text("wrong_model", url=url, loaded=loaded, expected=model_id))
            self.progress(stage, n)
        stage.detail = ", ".join(self.status.instances)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.publish.job", description=__doc__.split("\n\n")[0])
    parser.add_argument("--status", type=Path, required=True, help="the status file the console polls")
    parser.add_argument("--who", required=True, help="who publishes (for the status and the audit log)")
    parser.add_argument("--id", dest="publish_id", help="this publish's id (default: a new one)")
    parser.add_argument("--undo", action="store_true", help="serve again what the last publish replaced")
    args = parser.parse_args(argv)
    if take_lock(lock_path(args.status)) is None:
        print("another publish is running", file=sys.stderr)
        return EXIT_BUSY
    if args.undo:
        return publish_history.undo(StatusFile(args.status), args.who)
    os.nice(NICENESS)  # the servers that answer candidates come first
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # stop the gate's servers
    return Publish(StatusFile(args.status), args.who, args.publish_id).run()


if __name__ == "__main__":
    sys.exit(main())
