"""Server handling: training and index build timing, starting and stopping both systems
on free ports, how long Rasa takes to load its model, and resident memory.

Our servers run under their own supervisord (``bot.servers``) with the tracker store given; the baseline
(``bot.training.baseline``, ``benchmarks/response_selector/``) is ``rasa run`` of
``models/baseline/model.tar.gz`` with the same kind of tracker store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from bot import PROJECT_ROOT
from bot import servers as server_control
from bot.quality.bench.load import rasa_url
from bot.rasa_client import RasaBadResponse, RasaClient, RasaUnavailable
from bot.servers import HOST, free_port

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
BOT_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
BASELINE_DIR = PROJECT_ROOT / "benchmarks" / "response_selector"
BASELINE_MODEL = PROJECT_ROOT / "models" / "baseline" / "model.tar.gz"
OUR_MODEL = server_control.RASA_MODEL
INDEX_MANIFEST = PROJECT_ROOT / "models" / "index" / "manifest.json"
MODELS = {"assistant": OUR_MODEL, "response_selector": BASELINE_MODEL}
LOAD_TIMEOUT_S = 600
POLL_S = 0.1

# --- building and timing --------------------------------------------------------------

def _run_logged(argv: list[str], log_name: str, env: dict[str, str] | None = None) -> float:
    """Run a build command from the project root; its seconds, or an error with the log tail."""
    log_path = server_control.VAR_DIR / "log" / f"bench-{log_name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        done = subprocess.run(argv, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})},
                              stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({log_path}):\n{tail}")
    return seconds


def train_args(system: str, out_dir: Path) -> list[str]:
    common = ["--out", str(out_dir), "--fixed-model-name", "model", "--num-threads", "2"]
    if system == "assistant":
        return [str(RASA), "train", *common, "--data", "data/nlu", "data/rules", "data/stories"]
    relative = BASELINE_DIR.relative_to(PROJECT_ROOT)
    return [str(RASA), "train", *common, "--config", str(relative / "config.yml"),
            "--domain", str(relative / "domain.yml"), "--data", str(relative / "data")]


def train(system: str, skip: bool) -> float | None:
    """Generate the training data, then train cold (temporary output, empty Rasa cache)
    unless ``skip`` and the model exists; a missing model is put in place."""
    if system == "assistant":
        from bot.training.nlu_export import export
        export()
    else:
        from bot.training.baseline import write
        write()
    model = MODELS[system]
    if skip and model.exists():
        return None
    with tempfile.TemporaryDirectory(prefix=f"bench-train-{system}-") as tmp:
        print(f"  training {system} (cold) ...", flush=True)
        seconds = _run_logged(train_args(system, Path(tmp) / "model"), f"train-{system}",
                              {"RASA_CACHE_DIRECTORY": str(Path(tmp) / "rasa-cache"),
                               "RASA_TELEMETRY_ENABLED": "false"})
        if not model.exists():
            model.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(tmp) / "model" / "model.tar.gz", model)
    print(f"  trained {system} in {seconds:.0f} s", flush=True)
    return round(seconds, 1)


def time_index_build() -> dict:
    """``python -m bot index`` into a temporary directory: empty cache, then cached."""
    if not INDEX_MANIFEST.exists():
        _run_logged([str(BOT_PYTHON), "-m", "bot", "index"], "index")
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        argv = [str(BOT_PYTHON), "-m", "bot", "index", "--out", str(Path(tmp) / "index")]
        cold = _run_logged(argv, "index-cold")
        cached = _run_logged(argv, "index-cached")
    print(f"  index build: cold {cold:.1f} s, cached {cached:.1f} s", flush=True)
    return {"cold": round(cold, 1), "cached": round(cached, 1)}


def rasa_version() -> str | None:
    try:
        done = subprocess.run([str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-c",
                               "from importlib.metadata import version; print(version('rasa'))"],
                              capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


# --- servers ------------------------------------------------------------------------

class Processes(dict):
    """The running servers of one system by name (their process ids), and how to stop
    them all: our servers under their own supervisord, the baseline as a plain process."""

    def __init__(self, pids: dict[str, int], stop_all: Callable[[], None]):
        super().__init__(pids)
        self.stop_all = stop_all


def _model_loaded(rasa: RasaClient) -> bool:
    try:
        return bool(rasa.status().get("model_id"))
    except (RasaUnavailable, RasaBadResponse):
        return False


def wait_for_model(port: int, alive: Callable[[], bool], log: Path) -> float:
    """Seconds until Rasa's ``/status`` on ``port`` reports the loaded model (polled every
    0.1 s), or an error with the log's tail."""
    with RasaClient(rasa_url(port), timeout_seconds=2) as rasa:
        started = time.perf_counter()
        while time.perf_counter() - started < LOAD_TIMEOUT_S:
            if _model_loaded(rasa):
                return time.perf_counter() - started
            if not alive():
                break
            time.sleep(POLL_S)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"Rasa did not load its model on port {port}\n{tail}")


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process and all its children, MB."""
    import psutil

    if pid is None:
        return None
    try:
        parent = psutil.Process(pid)
        members = [parent, *parent.children(recursive=True)]
        total = 0
        for member in members:
            try:
                total += member.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return round(total / 2**20, 1)
    except psutil.NoSuchProcess:
        return None


def start_assistant(tracker_db_url: str) -> tuple[Processes, int, float]:
    """Action server, Rasa and web front under their own supervisord (as ``make run``
    starts them); Rasa is then restarted alone to time its model load.
    (processes, Rasa port, load seconds)."""
    var = Path(tempfile.mkdtemp(prefix="bench-assistant-"))
    supervisor = server_control.Supervisor(server_control.Ports.free(), var_dir=var,
                                           tracker_db_url=tracker_db_url)
    supervisor.start()
    try:
        supervisor.ctl("stop", "rasa")
        started = time.perf_counter()
        supervisor.ctl("start", "rasa")
        port = supervisor.ports.rasa
        wait_for_model(port, lambda: supervisor.pid("rasa") is not None,
                       supervisor.log_dir / "rasa.log")
        load_s = time.perf_counter() - started
        pids = {name: supervisor.pid(name) for name in supervisor.programs}
    except Exception:
        supervisor.stop()
        raise
    return Processes(pids, supervisor.stop), port, load_s


def start_baseline(tracker_db_url: str) -> tuple[Processes, int, float]:
    """The ResponseSelector bot's Rasa server (timed); (processes, port, load seconds)."""
    port = free_port()
    relative = BASELINE_DIR.relative_to(PROJECT_ROOT)
    log_path = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "rasa.log"
    argv = [str(RASA), "run", "--enable-api", "-i", HOST, "-p", str(port), "--model",
            str(BASELINE_MODEL), "--endpoints", str(relative / "endpoints.yml"),
            "--credentials", str(relative / "credentials.yml")]
    env = {**os.environ, "TRACKER_DB_URL": tracker_db_url, "RASA_TELEMETRY_ENABLED": "false"}
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)

    def stop_baseline() -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)

    try:
        wait_for_model(port, lambda: process.poll() is None, log_path)
    except Exception:
        stop_baseline()
        raise
    return Processes({"rasa": process.pid}, stop_baseline), port, time.perf_counter() - started


STARTERS = {"assistant": start_assistant, "response_selector": start_baseline}


def stop(processes: Processes) -> None:
    processes.stop_all()
