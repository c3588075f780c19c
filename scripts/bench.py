"""Benchmark (``make bench``): our assistant against a plain Rasa ResponseSelector FAQ bot.

Usage: .venv/bin/python scripts/bench.py [--turns N] [--skip-train] [--only assistant|baseline]

For each system, in one run and on this machine:
* Rasa training time: ``rasa train`` into a temporary directory with an empty Rasa
  cache (cold), wall clock; ``--skip-train`` reuses the models in ``models/`` and
  reports it as not measured. A missing model is always trained (and then measured).
* Index build time (ours only): ``python -m bot index`` into a temporary directory,
  first with an empty embedding cache (cold), then again from that cache.
* Rasa load time: process start until ``GET /status`` answers with the model id
  (polled every 0.1 s).
* Load over Rasa's REST channel (``POST /webhooks/rest/webhook``) at 1 and at 16
  concurrent users, ``--turns`` turns each (default 500): conversations of 2-5 turns
  per sender drawn from the held-out questions, the same ones for both systems; latency
  p50/p95/p99 of the successful turns, throughput (successful turns per second of wall
  time) and errors (non-200, invalid JSON, or a reply without text). Five warm-up turns
  are not counted. Both systems run side by side and the 1-user phase alternates between
  them in blocks of 100 turns, so that other work on this shared machine weighs on both
  alike; the machine's load average is recorded.
* Resident memory (RSS incl. children) of each server after the load.
* Accuracy on the held-out questions (tests/data/rest_questions.yml and
  tests/data/retrieval_dev.yml), one fresh sender per case: in-scope questions answered
  with the expected entry, off-topic questions sent to the fallback.

Our servers run through ``bot.servers`` on free ports with a throw-away SQLite tracker
store; the baseline (``bot.build.baseline``, ``benchmarks/response_selector/``) is ``rasa run``
of ``models/baseline/model.tar.gz`` with the same kind of tracker store. Writes
``reports/bench.json`` (the shape the HTML report reads; ``details`` adds the accuracy per
test set and the kinds of wrong outcomes) and ``reports/bench.md`` (printed). A failure in
one system is recorded in its ``error`` and does not lose the other's results.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import queue
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import servers as server_control  # noqa: E402

RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
BOT_PYTHON = ROOT / ".venv" / "bin" / "python"
BASELINE_DIR = ROOT / "benchmarks" / "response_selector"
BASELINE_MODEL = ROOT / "models" / "baseline" / "model.tar.gz"
OUR_MODEL = server_control.RASA_MODEL
INDEX_MANIFEST = ROOT / "models" / "index" / "manifest.json"
REST_QUESTIONS = ROOT / "tests" / "data" / "rest_questions.yml"
RETRIEVAL_DEV = ROOT / "tests" / "data" / "retrieval_dev.yml"
REPORT_JSON = ROOT / "reports" / "bench.json"
HOST = server_control.HOST
SYSTEMS = ("assistant", "response_selector")
USERS = (1, 16)
WARM_UP_TURNS = 5
ONE_USER_BLOCKS = 5  # the 1-user phase alternates between the systems in blocks
REQUEST_TIMEOUT_S = 60
LOAD_TIMEOUT_S = 600
ACCURACY_WORKERS = 4
SEED = 2024

TARGETS = {"p50_ms_1": 50, "p95_ms_1": 120, "turns_per_s_16": 30,
           "rss_mb_rasa": 1536, "rss_mb_actions": 500}


# --- statistics ---------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summarise_load(latencies_ms: Sequence[float], errors: int, wall_s: float) -> dict:
    """One load phase: turns sent, errors, latency percentiles of the successful turns,
    successful turns per second of wall time."""
    return {
        "turns": len(latencies_ms) + errors,
        "errors": errors,
        "p50_ms": _rounded(percentile(latencies_ms, 50), 1),
        "p95_ms": _rounded(percentile(latencies_ms, 95), 1),
        "p99_ms": _rounded(percentile(latencies_ms, 99), 1),
        "turns_per_s": _rounded(len(latencies_ms) / wall_s, 2) if wall_s > 0 else None,
        "wall_s": round(wall_s, 2),
    }


def ratio(ours: float | None, baseline: float | None) -> float | None:
    """ours / baseline, or None when either is unknown or the baseline is zero."""
    if ours is None or baseline is None or baseline == 0:
        return None
    return round(ours / baseline, 3)


def reply_problem(status: int, body: bytes) -> tuple[str | None, list]:
    """(None, messages) for a usable REST reply, else (what is wrong, [])."""
    if status != 200:
        return f"HTTP {status}", []
    try:
        messages = json.loads(body)
    except ValueError:
        return "invalid JSON", []
    if not isinstance(messages, list) or not any(
            isinstance(m, dict) and str(m.get("text") or "").strip() for m in messages):
        return "empty reply", []
    return None, messages


# --- test questions -----------------------------------------------------------------

def load_cases() -> list[dict]:
    """Held-out cases: {turns, expected (entry id or None), source}."""
    cases = []
    for case in yaml.safe_load(REST_QUESTIONS.read_text(encoding="utf-8"))["questions"]:
        turns = [str(t) for t in (case.get("turns") or [case["text"]])]
        cases.append({"turns": turns, "expected": case["expected"], "source": "rest_questions"})
    for case in yaml.safe_load(RETRIEVAL_DEV.read_text(encoding="utf-8"))["cases"]:
        cases.append({"turns": [str(case["text"])], "expected": case["expected"],
                      "source": "retrieval_dev"})
    return cases


def make_sessions(cases: Sequence[dict], turns: int, seed: int = SEED,
                  min_turns: int = 2, max_turns: int = 5) -> list[list[str]]:
    """Conversations of at least ``min_turns`` turns, drawn at random from the cases until
    ``max_turns`` is reached or passed by a multi-turn case (never split), ``turns`` turns
    in all (only the very last conversation is cut to make the total exact)."""
    rng = random.Random(seed)
    sessions: list[list[str]] = []
    left = turns
    while left > 0:
        wanted = rng.randint(min_turns, max_turns)
        session: list[str] = []
        while len(session) < wanted:
            session += rng.choice(cases)["turns"]
        session = session[:left]
        sessions.append(session)
        left -= len(session)
    return sessions


# --- HTTP client --------------------------------------------------------------------

class RestClient:
    """One keep-alive connection to Rasa's REST channel (one per simulated user)."""

    def __init__(self, port: int):
        self.port = port
        self.connection: http.client.HTTPConnection | None = None

    def send(self, sender: str, text: str) -> tuple[int, bytes]:
        body = json.dumps({"sender": sender, "message": text}).encode()
        for attempt in (1, 2):  # a keep-alive connection the server closed is retried once
            if self.connection is None:
                self.connection = http.client.HTTPConnection(HOST, self.port,
                                                             timeout=REQUEST_TIMEOUT_S)
            try:
                self.connection.request("POST", "/webhooks/rest/webhook", body,
                                        {"Content-Type": "application/json"})
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass
class LoadRun:
    """Raw results of playing sessions: successful latencies, problems, wall time."""

    latencies_ms: list[float] = field(default_factory=list)
    problems: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    def add(self, other: LoadRun) -> None:
        self.latencies_ms += other.latencies_ms
        for problem, count in other.problems.items():
            self.problems[problem] = self.problems.get(problem, 0) + count
        self.wall_s += other.wall_s

    def summary(self) -> dict:
        return summarise_load(self.latencies_ms, sum(self.problems.values()), self.wall_s)


def play(port: int, sessions: Sequence[Sequence[str]], users: int) -> LoadRun:
    """Play the sessions with ``users`` concurrent clients; each takes the next session
    and sends its turns one after another under a new sender id."""
    work: queue.Queue = queue.Queue()
    for session in sessions:
        work.put(session)
    run = LoadRun()
    lock = threading.Lock()

    def user() -> None:
        client = RestClient(port)
        try:
            while True:
                try:
                    session = work.get_nowait()
                except queue.Empty:
                    return
                sender = f"bench-{uuid.uuid4().hex}"
                for text in session:
                    started = time.perf_counter()
                    try:
                        status, body = client.send(sender, text)
                        problem, _ = reply_problem(status, body)
                    except OSError as exc:
                        client.close()
                        problem = type(exc).__name__
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    with lock:
                        if problem:
                            run.problems[problem] = run.problems.get(problem, 0) + 1
                        else:
                            run.latencies_ms.append(elapsed_ms)
        finally:
            client.close()

    threads = [threading.Thread(target=user, daemon=True) for _ in range(users)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.wall_s = time.perf_counter() - started
    if run.problems:
        print(f"    errors: {run.problems}", flush=True)
    return run


def split_blocks(sessions: Sequence[Sequence[str]], blocks: int) -> list[list[Sequence[str]]]:
    """Consecutive groups of sessions with about the same number of turns each."""
    total = sum(map(len, sessions))
    groups: list[list[Sequence[str]]] = [[] for _ in range(blocks)]
    done = 0
    for session in sessions:
        groups[min(blocks - 1, done * blocks // max(total, 1))].append(session)
        done += len(session)
    return [group for group in groups if group]


# --- accuracy -----------------------------------------------------------------------

FALLBACK, DID_YOU_MEAN = "fallback", "did_you_mean"


def our_outcome(messages: list) -> str | None:
    """Entry id our assistant answered with, "fallback", "did_you_mean", or None."""
    customs = [m["custom"] for m in messages if isinstance(m, dict) and m.get("custom")]
    custom = customs[-1] if customs else {}
    if custom.get("kind") == "faq_answer":
        return custom.get("entry_id")
    return custom.get("kind") if custom.get("kind") in (FALLBACK, DID_YOU_MEAN) else None


def baseline_outcome_reader() -> Callable[[list], str | None]:
    """The baseline's answer is an entry's answer text verbatim (answers are unique)
    or the fallback text."""
    from bot.build.baseline import fallback_text
    from bot.knowledge.entries import load_entries

    by_text = {entry.answer.strip(): entry.id for entry in load_entries()}
    fallback = fallback_text()

    def outcome(messages: list) -> str | None:
        texts = [str(m.get("text") or "").strip() for m in messages if isinstance(m, dict)]
        for text in reversed(texts):
            if text == fallback:
                return FALLBACK
            if text in by_text:
                return by_text[text]
        return None

    return outcome


def score_accuracy(cases: Sequence[dict], outcomes: Sequence[str | None]) -> tuple[dict, dict]:
    """(accuracy in the report's shape, details): in-scope cases are right when answered
    with the expected entry, off-topic ones when sent to the fallback. Details: the same
    per test set, and what the wrong outcomes were."""
    def summary(chosen: list[tuple[dict, str | None]]) -> dict:
        in_scope = [(c, o) for c, o in chosen if c["expected"]]
        off_topic = [o for c, o in chosen if not c["expected"]]
        right = sum(o == c["expected"] for c, o in in_scope)
        return {"in_scope": round(right / len(in_scope), 3) if in_scope else None,
                "in_scope_n": len(in_scope),
                "off_topic_fallback": (round(off_topic.count(FALLBACK) / len(off_topic), 3)
                                       if off_topic else None),
                "off_topic_n": len(off_topic)}

    def kind(outcome: str | None, expected: str | None) -> str:
        if outcome is None:
            return "other"
        if outcome in (FALLBACK, DID_YOU_MEAN):
            return outcome
        if expected is None:
            return "answered"
        return "right_entry" if outcome == expected else "wrong_entry"

    pairs = list(zip(cases, outcomes, strict=True))
    details = {"by_set": {source: summary([(c, o) for c, o in pairs if c["source"] == source])
                          for source in sorted({c["source"] for c in cases})},
               "in_scope_outcomes": {}, "off_topic_outcomes": {}}
    for case, outcome in pairs:
        group = details["in_scope_outcomes" if case["expected"] else "off_topic_outcomes"]
        name = kind(outcome, case["expected"])
        group[name] = group.get(name, 0) + 1
    return summary(pairs), details


def measure_accuracy(port: int, cases: Sequence[dict],
                     outcome: Callable[[list], str | None]) -> tuple[dict, dict]:
    """Each case from a fresh sender; the outcome of its last turn is scored."""
    def run_case(case: dict) -> str | None:
        client = RestClient(port)
        sender = f"bench-accuracy-{uuid.uuid4().hex}"
        try:
            for text in case["turns"]:
                status, body = client.send(sender, text)
            _, messages = reply_problem(status, body)
        except OSError:
            messages = []
        finally:
            client.close()
        return outcome(messages)

    with ThreadPoolExecutor(ACCURACY_WORKERS) as pool:
        return score_accuracy(cases, list(pool.map(run_case, cases)))


# --- building and timing --------------------------------------------------------------

def _run_logged(argv: list[str], log_name: str, env: dict[str, str] | None = None) -> float:
    """Run a build command from the project root; its seconds, or an error with the log tail."""
    log_path = server_control.LOG_DIR / f"bench-{log_name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        done = subprocess.run(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log,
                              stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({log_path}):\n{tail}")
    return seconds


def train_args(system: str, out_dir: Path) -> list[str]:
    common = ["--out", str(out_dir), "--fixed-model-name", "model", "--num-threads", "2"]
    if system == "assistant":
        return [str(RASA), "train", *common, "--data", "data/nlu", "data/rules", "data/stories"]
    relative = BASELINE_DIR.relative_to(ROOT)
    return [str(RASA), "train", *common, "--config", str(relative / "config.yml"),
            "--domain", str(relative / "domain.yml"), "--data", str(relative / "data")]


def train(system: str, skip: bool) -> float | None:
    """Generate the training data, then train cold (temporary output, empty Rasa cache)
    unless ``skip`` and the model exists; a missing model is put in place."""
    if system == "assistant":
        from bot.build.nlu_export import export
        export()
        model = OUR_MODEL
    else:
        from bot.build.baseline import write
        write()
        model = BASELINE_MODEL
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


# --- servers ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _model_loaded(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        connection.request("GET", "/status")
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response.status == 200 and bool(json.loads(body).get("model_id"))
    except (OSError, ValueError):
        return False


def start_rasa_timed(server: server_control.Server, port: int
                     ) -> tuple[subprocess.Popen, float]:
    """Start a Rasa server; seconds until ``/status`` reports the loaded model."""
    started = time.perf_counter()
    process = server_control.start(server)
    while time.perf_counter() - started < LOAD_TIMEOUT_S:
        if _model_loaded(port):
            return process, time.perf_counter() - started
        if process.poll() is not None:
            break
        time.sleep(0.1)
    server_control.stop_processes([process])
    log = server_control.LOG_DIR / f"{server.name}.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{server.name} did not load its model on port {port}\n{tail}")


def rss_mb(process: subprocess.Popen) -> float | None:
    """Resident memory of a process and all its children, MB."""
    import psutil

    try:
        parent = psutil.Process(process.pid)
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


def start_assistant(tracker_db_url: str) -> tuple[dict[str, subprocess.Popen], int, float]:
    """Action server, Rasa (timed) and web front; (processes, Rasa port, load seconds)."""
    ports = server_control.Ports(actions=free_port(), rasa=free_port(), web=free_port())
    processes = server_control.start_all(ports, run_dir=None, tracker_db_url=tracker_db_url,
                                         names=("actions",))
    try:
        rasa = next(s for s in server_control.servers(ports, tracker_db_url) if s.name == "rasa")
        processes["rasa"], load_s = start_rasa_timed(rasa, ports.rasa)
        processes.update(server_control.start_all(ports, run_dir=None,
                                                  tracker_db_url=tracker_db_url, names=("web",)))
    except Exception:
        server_control.stop_processes(processes.values())
        raise
    return processes, ports.rasa, load_s


def start_baseline(tracker_db_url: str) -> tuple[dict[str, subprocess.Popen], int, float]:
    port = free_port()
    relative = BASELINE_DIR.relative_to(ROOT)
    server = server_control.Server(
        "baseline-rasa",
        [str(RASA), "run", "--enable-api", "-i", HOST, "-p", str(port), "--model",
         str(BASELINE_MODEL), "--endpoints", str(relative / "endpoints.yml"),
         "--credentials", str(relative / "credentials.yml")],
        f"http://{HOST}:{port}/status",
        {"TRACKER_DB_URL": tracker_db_url, "RASA_TELEMETRY_ENABLED": "false"})
    process, load_s = start_rasa_timed(server, port)
    return {"rasa": process}, port, load_s


# --- one system ---------------------------------------------------------------------

def empty_result(system: str) -> dict:
    load = {str(u): dict.fromkeys(("turns", "errors", "p50_ms", "p95_ms", "p99_ms",
                                   "turns_per_s", "wall_s")) for u in USERS}
    rss = {"rasa": None, "actions": None, "web": None} if system == "assistant" else {"rasa": None}
    return {"load": load, "rss_mb": rss, "train_s": None, "load_s": None,
            "index_build_s": {"cold": None, "cached": None} if system == "assistant" else None,
            "accuracy": {"in_scope": None, "in_scope_n": 0,
                         "off_topic_fallback": None, "off_topic_n": 0}}


@dataclass
class Running:
    processes: dict[str, subprocess.Popen]
    port: int


def measure(systems: Sequence[str], report: dict, turns: int, cases: list[dict],
            save: Callable[[], object]) -> None:
    """Start every system, then measure them side by side so that the others' work on
    this shared machine weighs on both alike: the 1-user phase alternates between the
    systems in blocks, the 16-user phases follow one another, then memory and accuracy.
    A system that fails gets an ``error`` and leaves the run; ``save`` after each stage."""
    results, details = report["systems"], report["details"]
    running: dict[str, Running] = {}

    def fail(system: str, stage: str, exc: Exception) -> None:
        traceback.print_exc()
        results[system]["error"] = "; ".join(filter(None, [results[system].get("error"),
                                                           f"{stage}: {exc}"]))
        if system in running:
            server_control.stop_processes(running.pop(system).processes.values())

    def note_load_average(system: str, users: int) -> None:
        samples = details[system].setdefault("_load_samples", {}).setdefault(str(users), [])
        samples.append(os.getloadavg()[0])  # others' work on this machine
        details[system].setdefault("load_average_1min", {})[str(users)] = round(
            sum(samples) / len(samples), 2)

    with tempfile.TemporaryDirectory(prefix="bench-trackers-") as tmp:
        try:
            for system in systems:
                print(f"  starting the {system} servers ...", flush=True)
                start = start_assistant if system == "assistant" else start_baseline
                try:
                    processes, port, load_s = start(f"sqlite:///{Path(tmp) / system}.db")
                except Exception as exc:  # noqa: BLE001 - recorded; the others go on
                    fail(system, "start", exc)
                    continue
                running[system] = Running(processes, port)
                results[system]["load_s"] = round(load_s, 2)
                print(f"  {system}: Rasa loaded in {load_s:.1f} s", flush=True)
            for system, server in running.items():
                play(server.port, make_sessions(cases, WARM_UP_TURNS, seed=SEED - 1), 1)

            for users in USERS:
                sessions = make_sessions(cases, turns, seed=SEED + users)
                blocks = split_blocks(sessions, ONE_USER_BLOCKS if users == 1 else 1)
                print(f"  load: {turns} turns, {users} user(s), {len(blocks)} block(s) "
                      f"per system ...", flush=True)
                runs = {system: LoadRun() for system in running}
                for block in blocks:
                    for system in list(running):
                        try:
                            runs[system].add(play(running[system].port, block, users))
                            note_load_average(system, users)
                        except Exception as exc:  # noqa: BLE001
                            fail(system, f"load {users}", exc)
                for system in running:
                    results[system]["load"][str(users)] = runs[system].summary()
                    print(f"    {system}: {results[system]['load'][str(users)]}", flush=True)
                save()

            for system, server in running.items():
                results[system]["rss_mb"] = {name: rss_mb(process)
                                             for name, process in server.processes.items()}
                print(f"  {system}: resident memory (MB) {results[system]['rss_mb']}", flush=True)
            for system in list(running):
                print(f"  {system}: accuracy over {len(cases)} held-out cases ...", flush=True)
                outcome = our_outcome if system == "assistant" else baseline_outcome_reader()
                try:
                    results[system]["accuracy"], details[system]["accuracy"] = measure_accuracy(
                        running[system].port, cases, outcome)
                except Exception as exc:  # noqa: BLE001
                    fail(system, "accuracy", exc)
                    continue
                print(f"    {results[system]['accuracy']}", flush=True)
                save()
        finally:
            for server in running.values():
                server_control.stop_processes(server.processes.values())
            for system in systems:
                details[system].pop("_load_samples", None)


# --- report -------------------------------------------------------------------------

def ratios(systems: dict) -> dict:
    ours, base = systems["assistant"], systems["response_selector"]
    load = lambda s, u, key: s["load"][u][key]  # noqa: E731
    return {
        "p50_ms_1": ratio(load(ours, "1", "p50_ms"), load(base, "1", "p50_ms")),
        "p95_ms_1": ratio(load(ours, "1", "p95_ms"), load(base, "1", "p95_ms")),
        "p99_ms_1": ratio(load(ours, "1", "p99_ms"), load(base, "1", "p99_ms")),
        "turns_per_s_16": ratio(load(ours, "16", "turns_per_s"), load(base, "16", "turns_per_s")),
        "rss_mb_rasa": ratio(ours["rss_mb"]["rasa"], base["rss_mb"]["rasa"]),
        "train_s": ratio(ours["train_s"], base["train_s"]),
        "load_s": ratio(ours["load_s"], base["load_s"]),
        "in_scope_accuracy": ratio(ours["accuracy"]["in_scope"], base["accuracy"]["in_scope"]),
    }


def target_status(report: dict) -> dict[str, str]:
    """For each target: "met", "not met" or "not measured" (our assistant)."""
    ours = report["systems"]["assistant"]
    measured = {"p50_ms_1": ours["load"]["1"]["p50_ms"], "p95_ms_1": ours["load"]["1"]["p95_ms"],
                "turns_per_s_16": ours["load"]["16"]["turns_per_s"],
                "rss_mb_rasa": ours["rss_mb"].get("rasa"),
                "rss_mb_actions": ours["rss_mb"].get("actions")}
    status = {}
    for key, target in report["targets"].items():
        value = measured[key]
        if value is None:
            status[key] = "not measured"
        elif key == "turns_per_s_16":
            status[key] = "met" if value >= target else "not met"
        else:
            status[key] = "met" if value <= target else "not met"
    return status


def _fmt(value, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def markdown(report: dict) -> str:
    details = report.get("details", {})
    ours, base = report["systems"]["assistant"], report["systems"]["response_selector"]
    targets, status, r = report["targets"], target_status(report), report["ratios"]
    rows: list[tuple[str, str, str, str, str]] = []

    def row(label, a, b, rat=None, target_key=None, target_text=""):
        mark = f"{target_text} — **{status[target_key]}**" if target_key else ""
        rows.append((label, a, b, _fmt(rat, 2) if rat is not None else "", mark))

    for users in ("1", "16"):
        a, b = ours["load"][users], base["load"][users]
        for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
            rat = r.get(f"{key}_{users}") if users == "1" else ratio(a[key], b[key])
            target_key = f"{key}_{users}" if f"{key}_{users}" in targets else None
            target_text = f"≤ {targets[target_key]} ms" if target_key else ""
            row(f"{label} latency, {users} user(s) (ms)", _fmt(a[key]), _fmt(b[key]), rat,
                target_key, target_text)
        rat = r["turns_per_s_16"] if users == "16" else ratio(a["turns_per_s"], b["turns_per_s"])
        row(f"throughput, {users} user(s) (turns/s)", _fmt(a["turns_per_s"], 2),
            _fmt(b["turns_per_s"], 2), rat, "turns_per_s_16" if users == "16" else None,
            f"≥ {targets['turns_per_s_16']}/s")
        row(f"errors / turns, {users} user(s)", f"{_fmt(a['errors'])} / {_fmt(a['turns'])}",
            f"{_fmt(b['errors'])} / {_fmt(b['turns'])}")
    load_averages = [details.get(s, {}).get("load_average_1min", {}) for s in SYSTEMS]
    row("machine load average (1 min) during the 1 / 16-user load",
        *(f"{_fmt(la.get('1'), 2)} / {_fmt(la.get('16'), 2)}" for la in load_averages))
    row("RSS Rasa server (MB)", _fmt(ours["rss_mb"].get("rasa"), 0),
        _fmt(base["rss_mb"].get("rasa"), 0), r["rss_mb_rasa"], "rss_mb_rasa",
        f"≤ {targets['rss_mb_rasa']} MB")
    row("RSS action server (MB)", _fmt(ours["rss_mb"].get("actions"), 0), "none",
        None, "rss_mb_actions", f"≤ {targets['rss_mb_actions']} MB")
    row("RSS web front (MB)", _fmt(ours["rss_mb"].get("web"), 0), "none")
    row("Rasa training, cold (s)", _fmt(ours["train_s"], 0), _fmt(base["train_s"], 0), r["train_s"])
    row("Rasa load (s)", _fmt(ours["load_s"]), _fmt(base["load_s"]), r["load_s"])
    index = ours["index_build_s"] or {}
    row("index build, cold / cached (s)",
        f"{_fmt(index.get('cold'))} / {_fmt(index.get('cached'))}", "none")
    row("in-scope answered right", _acc(ours["accuracy"], "in_scope"),
        _acc(base["accuracy"], "in_scope"), r["in_scope_accuracy"])
    row("off-topic sent to fallback", _acc(ours["accuracy"], "off_topic_fallback"),
        _acc(base["accuracy"], "off_topic_fallback"),
        ratio(ours["accuracy"]["off_topic_fallback"], base["accuracy"]["off_topic_fallback"]))
    accuracy_details = [details.get(s, {}).get("accuracy", {}) for s in SYSTEMS]
    for source in ("rest_questions", "retrieval_dev"):
        a, b = (d.get("by_set", {}).get(source, {}) for d in accuracy_details)
        row(f"  {source}: in-scope right / off-topic to fallback",
            f"{_acc(a, 'in_scope')} / {_acc(a, 'off_topic_fallback')}",
            f"{_acc(b, 'in_scope')} / {_acc(b, 'off_topic_fallback')}")
    for group, label in (("in_scope_outcomes", "in-scope outcomes"),
                         ("off_topic_outcomes", "off-topic outcomes")):
        a, b = (_outcomes(d.get(group)) for d in accuracy_details)
        row(f"  {label}", a, b)

    machine = report["machine"]
    lines = [
        f"# Benchmark: assistant vs Rasa ResponseSelector FAQ bot ({report['generated']})",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, Rasa {machine['rasa']}. "
        "The machine is shared with other work, so times are noisy; ratios from the same run "
        "are more telling than absolute figures. Ratio = assistant / baseline.",
        "",
        "| measure | assistant | ResponseSelector baseline | ratio | target (assistant) |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(cells)} |" for cells in rows),
        "",
        "Latency percentiles over successful turns; throughput = successful turns / wall time; "
        "errors = non-200, invalid JSON or a reply without text. RSS includes child processes, "
        "measured after the load. Training: `rasa train` into a temporary directory with an "
        "empty Rasa cache. Load: process start until `/status` reports the model (0.1 s polling).",
    ]
    for system in SYSTEMS:
        error = report["systems"][system].get("error")
        if error:
            lines += ["", f"**{system} failed:** `{error.splitlines()[0]}`"]
    return "\n".join(lines) + "\n"


def _outcomes(counts: dict | None) -> str:
    order = ("right_entry", "wrong_entry", "answered", DID_YOU_MEAN, FALLBACK, "other")
    if not counts:
        return "–"
    return ", ".join(f"{name} {counts[name]}" for name in order if counts.get(name))


def _acc(accuracy: dict, key: str) -> str:
    n = accuracy.get("in_scope_n" if key == "in_scope" else "off_topic_n")
    value = accuracy.get(key)
    return "–" if value is None else f"{value:.3f} (n={n})"


def rasa_version() -> str | None:
    try:
        done = subprocess.run([str(ROOT / ".venv-rasa" / "bin" / "python"), "-c",
                               "from importlib.metadata import version; print(version('rasa'))"],
                              capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def write_report(report: dict, out: Path) -> str:
    report["ratios"] = ratios(report["systems"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    text = markdown(report)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    return text


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500, help="turns per load phase (default 500)")
    parser.add_argument("--skip-train", action="store_true",
                        help="reuse the trained models; training time is reported as not measured")
    parser.add_argument("--only", choices=("assistant", "baseline"), default=None)
    parser.add_argument("--out", type=Path, default=REPORT_JSON,
                        help="JSON report path (the .md goes beside it)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    chosen = {"assistant": ("assistant",), "baseline": ("response_selector",)}.get(
        args.only, SYSTEMS)

    report = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "rasa": rasa_version()},
        "targets": dict(TARGETS),
        "systems": {system: empty_result(system) for system in SYSTEMS},
        "ratios": {},
        "details": {system: {} for system in SYSTEMS},  # beyond the shared shape: Markdown only
    }
    cases = load_cases()

    for system in chosen:
        print(f"[{system}] building", flush=True)
        result = report["systems"][system]
        try:
            result["train_s"] = train(system, args.skip_train)
            if system == "assistant":
                result["index_build_s"] = time_index_build()
        except Exception as exc:  # noqa: BLE001 - recorded; the other system still runs
            traceback.print_exc()
            result["error"] = f"build: {exc}"
    models = {"assistant": OUR_MODEL, "response_selector": BASELINE_MODEL}
    ready = [system for system in chosen if models[system].exists()]
    print(f"[{', '.join(ready)}] measuring", flush=True)
    measure(ready, report, args.turns, cases, lambda: write_report(report, args.out))

    text = write_report(report, args.out)
    print()
    print(text)
    print(f"written: {args.out} and {args.out.with_suffix('.md')}")
    return 1 if any("error" in report["systems"][s] for s in chosen) else 0


if __name__ == "__main__":
    sys.exit(main())
