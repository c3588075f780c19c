"""``python -m bot.quality.cluster_bench`` (``make bench-cluster``): the cluster profile
against the single-process profile, in one run on this machine.

(Over 400 lines: a quality tool outside the runtime path whose phases share one run's
servers and figures; issue 21's one load driver, still to do, is where it shrinks.)

For each profile, servers of its own (free ports, a throw-away var/ directory), one after
the other so that they do not share the cores: the start-up time; a closed-loop load
through the web front (``--users`` candidates, each its own session, sending the
held-out questions of tests/data/retrieval_dev.yml one after another without a pause)
for ``--seconds`` after a warm-up: answered turns per second, latency p50/p95, errors;
the CPU seconds and the RSS/PSS of every supervised process (children included, i.e.
PostgreSQL's backends), idle and under the load, and the CPU per turn. Then, on the
cluster, the faults of issue 18 under load, every sent turn checked in the tracker
store: one Rasa instance killed with -9, and PostgreSQL stopped and started again.

Writes ``reports/cluster_bench.json`` and ``reports/cluster_bench.md`` (printed): the
table, what each added instance costs, and how the figures extrapolate to N machines
(a CPU-bound model: see ``extrapolation``). The fault scenarios are also what
tests/test_cluster.py runs and checks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot import PROJECT_ROOT
from bot.quality.soak.load import LoadResult, check_tracker
from bot.stats import nearest_rank_percentile
from bot.servers import ClusterPorts, Ports, Supervisor, is_up

REPORT_JSON = PROJECT_ROOT / "reports" / "cluster_bench.json"
REPORT_MD = PROJECT_ROOT / "reports" / "cluster_bench.md"
QUESTIONS_FILE = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"
USERS, SECONDS, WARMUP_SECONDS = 16, 60, 10
# Longer than the web front's own wait for Rasa (15 s, then a retry): a candidate's
# browser waits for the web front's answer.
CHAT_TIMEOUT_SECONDS = 60
OUTAGE_KIND = "unavailable"   # the polite "briefly unavailable" reply (custom.kind)
BENCH_ENV = {"STAFF_PASSWORD": "cluster-bench-password", "SECRET_KEY": "cluster-bench-secret-key"}


# ------------------------------------------------------------------ candidates


def candidate_questions() -> list[str]:
    """The held-out questions, the way candidates type them (off-topic ones included)."""
    import yaml

    cases = yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8"))["cases"]
    return [str(case["text"]) for case in cases]


class ChatLoad:
    """Candidates as threads, each its own session of questions sent to the web front's
    ``/api/chat`` one after another (``pause_seconds`` between a reply and the next
    question), until ``stop``. Every turn is kept in the shape bot.quality.soak.load
    checks against the tracker store: session, text, sent, answered, status (0: no HTTP
    answer), kinds (each bubble's custom.kind), empty (no bubble with text)."""

    def __init__(self, web_url: str, users: int, pause_seconds: float = 0.0,
                 name: str = "bench", questions: list[str] | None = None):
        self.web_url, self.users, self.pause = web_url, users, pause_seconds
        self.questions = questions or candidate_questions()
        self.sessions = [f"{name}-{os.getpid()}-{time.time_ns() % 10**9}-{n:02d}"
                         for n in range(users)]
        self.turns: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._candidate, args=(session,), daemon=True)
                         for session in self.sessions]

    def start(self) -> ChatLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        """Stop after each candidate's current turn; every turn sent, in sending order."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(CHAT_TIMEOUT_SECONDS + 10)
        with self._lock:
            return sorted(self.turns, key=lambda turn: turn["sent"])

    def _candidate(self, session: str) -> None:
        import httpx

        # each question once per session, in an order of its own: the tracker check then
        # knows which stored message answers which sent turn
        order = list(dict.fromkeys(self.questions))
        random.Random(session).shuffle(order)
        with httpx.Client(base_url=self.web_url, timeout=CHAT_TIMEOUT_SECONDS,
                          trust_env=False) as http:
            for text in itertools.cycle(order):
                if self._stopping.is_set():
                    break
                message_id = uuid.uuid4().hex  # the tracker check counts turns by it
                turn = {"session": session, "text": text, "sent": time.time(), "status": 0,
                        "kinds": [], "empty": True, "message_id": message_id}
                try:
                    response = http.post("/api/chat", json={"session_id": session, "message": text,
                                                            "message_id": message_id})
                    turn["status"] = response.status_code
                    bubbles = ((response.json().get("messages") or [])
                               if response.status_code == 200 else [])
                    turn["kinds"] = [(b.get("custom") or {}).get("kind") for b in bubbles]
                    turn["empty"] = not any(str(b.get("text") or "").strip() for b in bubbles)
                except (httpx.HTTPError, ValueError) as error:
                    turn["problem"] = repr(error)[:200]
                turn["answered"] = time.time()
                with self._lock:
                    self.turns.append(turn)
                self._stopping.wait(self.pause)


def answered_normally(turn: dict[str, Any]) -> bool:
    """A reply of the assistant itself: HTTP 200, some text, not the outage reply."""
    return turn["status"] == 200 and not turn["empty"] and OUTAGE_KIND not in turn["kinds"]


def polite(turn: dict[str, Any]) -> bool:
    """Something a candidate can read: an answer or the polite outage reply."""
    return turn["status"] == 200 and not turn["empty"]


# ------------------------------------------------------------------ processes


def _tree(pid: int, children: bool = True) -> list[Any]:
    import psutil

    try:
        process = psutil.Process(pid)
        return [process, *(process.children(recursive=True) if children else ())]
    except psutil.Error:
        return []


def tree_cpu_seconds(pid: int, children: bool = True) -> float:
    """CPU seconds (user + system) of a process and its descendants, those that ended
    included (counted in their parent's children times once reaped)."""
    import psutil

    total = 0.0
    for n, process in enumerate(_tree(pid, children)):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
        if n == 0 and children:
            total += times.children_user + times.children_system
    return total


def tree_memory_mb(pid: int, children: bool = True) -> tuple[float, float]:
    """(RSS, PSS) in MB of a process and its descendants. RSS counts shared pages once
    per process (PostgreSQL's shared buffers in every backend); PSS shares them out."""
    import psutil

    rss = pss = 0
    for process in _tree(pid, children):
        try:
            memory = process.memory_full_info()
        except psutil.Error:
            continue
        rss, pss = rss + memory.rss, pss + memory.pss
    return round(rss / 2**20, 1), round(pss / 2**20, 1)


SUPERVISORD = "supervisord"


def supervised_pids(supervisor: Supervisor) -> dict[str, int]:
    pids = {name: supervisor.pid(name) for name in supervisor.programs}
    pids[SUPERVISORD] = supervisor.daemon_pid()
    return {name: pid for name, pid in pids.items() if pid}


# ------------------------------------------------------------------ one profile


@dataclass
class ProcessFigures:
    name: str
    cpu_seconds: float
    cpu_percent: float          # of one core, over the measured window
    cpu_ms_per_turn: float | None
    rss_mb_idle: float
    rss_mb_loaded: float
    pss_mb_loaded: float


@dataclass
class ProfileFigures:
    profile: str
    users: int
    seconds: float
    start_seconds: float
    turns: int = 0              # answered within the window
    errors: int = 0             # HTTP error, no answer or an empty one
    outage_replies: int = 0
    throughput: float = 0.0     # normally answered turns per second
    p50_ms: float | None = None
    p95_ms: float | None = None
    load_generator_cpu_percent: float = 0.0
    processes: list[ProcessFigures] = field(default_factory=list)


def bench_var_dir(profile: str) -> Path:
    """A throw-away var/ that PostgreSQL's own user can enter too."""
    directory = Path(tempfile.mkdtemp(prefix=f"cluster-bench-{profile}-"))
    directory.chmod(0o755)
    return directory


def start_profile(profile: str, var: Path) -> tuple[Supervisor, float]:
    ports = ClusterPorts.free() if profile == "cluster" else Ports.free()
    tracker = ports.tracker_db_url if profile == "cluster" else f"sqlite:///{var / 'tracker.db'}"
    supervisor = Supervisor(ports, var_dir=var, tracker_db_url=tracker,
                            extra_env={**BENCH_ENV, "WEB_ENV_FILE": str(var / "absent.env")})
    started = time.monotonic()
    supervisor.start()
    return supervisor, round(time.monotonic() - started, 1)


def measure_load(supervisor: Supervisor, profile: str, start_seconds: float, users: int,
                 seconds: float, warmup: float) -> ProfileFigures:
    """Closed-loop load through the web front; CPU and memory per process over the window."""
    import psutil

    web_url = f"http://127.0.0.1:{supervisor.ports.web}"
    pids = supervised_pids(supervisor)
    own = {name: name != SUPERVISORD for name in pids}  # supervisord's children are the others
    idle = {name: tree_memory_mb(pid, own[name]) for name, pid in pids.items()}
    load = ChatLoad(web_url, users, name=f"bench-{profile}").start()
    time.sleep(warmup)
    me = psutil.Process()
    window_start, my_cpu = time.time(), sum(me.cpu_times()[:2])
    cpu_before = {name: tree_cpu_seconds(pid, own[name]) for name, pid in pids.items()}
    time.sleep(seconds)
    cpu_after = {name: tree_cpu_seconds(pid, own[name]) for name, pid in pids.items()}
    window_end, my_cpu = time.time(), sum(me.cpu_times()[:2]) - my_cpu
    loaded = {name: tree_memory_mb(pid, own[name]) for name, pid in pids.items()}
    turns = [t for t in load.stop() if window_start <= t["sent"] and t["answered"] <= window_end]
    window = window_end - window_start
    normal = [t for t in turns if answered_normally(t)]
    latencies = [(t["answered"] - t["sent"]) * 1000 for t in normal]
    figures = ProfileFigures(
        profile=profile, users=users, seconds=round(window, 1), start_seconds=start_seconds,
        turns=len(turns), errors=sum(1 for t in turns if not polite(t)),
        outage_replies=sum(1 for t in turns if polite(t) and not answered_normally(t)),
        throughput=round(len(normal) / window, 2),
        p50_ms=_round(nearest_rank_percentile(latencies, 50)), p95_ms=_round(nearest_rank_percentile(latencies, 95)),
        load_generator_cpu_percent=round(100 * my_cpu / window, 1))
    for name in pids:
        cpu = max(0.0, cpu_after[name] - cpu_before[name])
        figures.processes.append(ProcessFigures(
            name=name, cpu_seconds=round(cpu, 2), cpu_percent=round(100 * cpu / window, 1),
            cpu_ms_per_turn=round(1000 * cpu / len(normal), 2) if normal else None,
            rss_mb_idle=idle[name][0], rss_mb_loaded=loaded[name][0],
            pss_mb_loaded=loaded[name][1]))
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ------------------------------------------------------------------ faults (cluster)


@dataclass
class KillFigures:
    """One Rasa instance killed with -9 while candidates chat through the web front."""

    instance: str
    users: int
    seconds: float
    turns: int = 0                   # sent during the load
    answered: int = 0                # answered by the assistant itself
    outage_replies: int = 0          # the polite "briefly unavailable" reply
    errors: int = 0                  # HTTP error, no answer or an empty one
    lost: int = 0                    # answered normally, yet missing from the tracker store
    duplicated: int = 0              # stored twice (or stored though never sent)
    unanswered_in_tracker: int = 0   # a stored user event without a bot reply after it
    back_after_s: float | None = None        # until the killed instance served again
    turns_while_down: int = 0
    answered_while_down: int = 0     # ... by the other instance, through haproxy
    max_latency_s: float | None = None
    examples: list[str] = field(default_factory=list)


def kill_rasa_under_load(supervisor: Supervisor, tracker_db_url: str, users: int = 16,
                         seconds: float = 45, instance: str = "rasa1", warmup: float = 8,
                         pause_seconds: float = 1.0) -> KillFigures:
    """``users`` candidates chat through the web front (haproxy in front of both Rasa
    instances); after ``warmup`` seconds ``instance`` is killed with SIGKILL (supervisord
    starts it again); every sent turn is then looked up in the tracker store."""
    ports = supervisor.ports
    web_url = f"http://127.0.0.1:{ports.web}"
    health = ports.health_urls()[instance]
    figures = KillFigures(instance=instance, users=users, seconds=seconds)
    started = time.time()
    load = ChatLoad(web_url, users, pause_seconds, name=f"kill-{instance}").start()
    time.sleep(warmup)
    old = supervisor.pid(instance)
    killed = time.time()
    os.kill(old, signal.SIGKILL)
    back = None
    while time.time() - started < seconds or back is None:
        if back is None and supervisor.pid(instance) not in (None, old) and is_up(health):
            back = time.time()
        if time.time() - killed > 300:
            break
        time.sleep(0.2)
    turns = load.stop()
    figures.back_after_s = None if back is None else round(back - killed, 1)
    _count(figures, turns, tracker_db_url)
    down = [t for t in turns if killed <= t["sent"] <= (back or time.time())]
    figures.turns_while_down = len(down)
    figures.answered_while_down = sum(1 for t in down if answered_normally(t))
    return figures


def _count(figures: KillFigures | PostgresFigures, turns: list[dict[str, Any]],
           tracker_db_url: str) -> None:
    figures.turns = len(turns)
    figures.answered = sum(1 for t in turns if answered_normally(t))
    figures.outage_replies = sum(1 for t in turns if polite(t) and not answered_normally(t))
    figures.errors = sum(1 for t in turns if not polite(t))
    latencies = [t["answered"] - t["sent"] for t in turns]
    figures.max_latency_s = round(max(latencies), 1) if latencies else None
    checked = LoadResult(users=figures.users, seconds=int(figures.seconds))
    check_tracker(turns, tracker_db_url, checked)  # an outage reply's turn may be missing, no other
    figures.lost, figures.duplicated = checked.lost, checked.duplicated
    figures.unanswered_in_tracker = checked.unanswered_in_tracker
    figures.examples = checked.examples + [t.get("problem", "") for t in turns
                                           if not polite(t)][:5]


@dataclass
class PostgresFigures:
    """PostgreSQL stopped and started again while candidates chat; Rasa keeps running."""

    users: int
    seconds: float
    down_seconds: float = 0.0
    turns: int = 0
    answered: int = 0
    outage_replies: int = 0
    errors: int = 0
    lost: int = 0
    duplicated: int = 0
    unanswered_in_tracker: int = 0
    turns_while_down: int = 0
    polite_while_down: int = 0       # an answer or the polite outage reply
    recovered_after_s: float | None = None   # from PostgreSQL's return to a normal answer
    outage_replies_after_recovery: int = 0
    rasa_restarted: bool = False
    max_latency_s: float | None = None
    examples: list[str] = field(default_factory=list)


def restart_postgres_under_load(supervisor: Supervisor, tracker_db_url: str, users: int = 8,
                                down_seconds: float = 5, warmup: float = 6, after: float = 20,
                                pause_seconds: float = 1.0) -> PostgresFigures:
    """``users`` candidates chat through the web front; PostgreSQL is stopped (fast
    shutdown: its connections die), left down ``down_seconds`` and started again; Rasa is
    not restarted (its pooled connections are checked before use)."""
    ports = supervisor.ports
    web_url = f"http://127.0.0.1:{ports.web}"
    rasa_pids = {name: supervisor.pid(name) for name in ports.instance_urls()}
    figures = PostgresFigures(users=users, seconds=0)
    started = time.time()
    load = ChatLoad(web_url, users, pause_seconds, name="pg-restart").start()
    time.sleep(warmup)
    supervisor.ctl("stop", "postgres")
    stopped = time.time()
    time.sleep(down_seconds)
    restarting = time.time()
    supervisor.ctl("start", "postgres")
    supervisor.wait_until_up(("postgres",), timeout=120)
    up = time.time()
    time.sleep(after)
    turns = load.stop()
    figures.seconds = round(time.time() - started, 1)
    figures.down_seconds = round(up - stopped, 1)
    _count(figures, turns, tracker_db_url)
    down = [t for t in turns if stopped <= t["sent"] and t["answered"] <= restarting]
    figures.turns_while_down = len(down)
    figures.polite_while_down = sum(1 for t in down if polite(t))
    recovered = next((t for t in turns if t["sent"] >= up and answered_normally(t)), None)
    if recovered is not None:
        figures.recovered_after_s = round(max(0.0, recovered["answered"] - up), 1)
        figures.outage_replies_after_recovery = sum(
            1 for t in turns if t["sent"] >= recovered["answered"] and not answered_normally(t))
    figures.rasa_restarted = any(supervisor.pid(name) != pid for name, pid in rasa_pids.items())
    return figures


# ------------------------------------------------------------------ the report


def extrapolation(single: ProfileFigures, cluster: ProfileFigures, cores: int) -> dict[str, Any]:
    """What each added instance costs, and a CPU-bound estimate for N machines.

    Tiers of the cluster: the stateless one (a Rasa instance with its action server per
    machine), the front (haproxy and the web front) and the shared stores (PostgreSQL,
    Redis). A tier of c cores answers at most c / (its CPU seconds per turn) turns per
    second; N machines of the stateless tier N times that, until the front or the stores
    are the bound. Network hops add latency, not CPU (about 0.1-0.5 ms each on a LAN)."""
    by_name = {p.name: p for p in cluster.processes}

    def per_turn(*names: str) -> float:
        return sum((by_name[n].cpu_ms_per_turn or 0.0) for n in names if n in by_name) / 1000

    rasa = [n for n in by_name if n.startswith("rasa")]
    actions = [n for n in by_name if n.startswith("actions")]
    stateless = per_turn(*rasa, *actions)
    front = per_turn("web", "haproxy")
    stores = per_turn("postgres", "redis")
    single_total = sum((p.cpu_ms_per_turn or 0.0) for p in single.processes) / 1000

    def ceiling(seconds_per_turn: float, machine_cores: int) -> float | None:
        return round(machine_cores / seconds_per_turn, 1) if seconds_per_turn else None

    machines = {}
    for n in (1, 2, 4, 8):
        bounds = {"stateless tier": ceiling(stateless, n * cores),
                  "front (web + haproxy)": ceiling(front, cores),
                  "stores (PostgreSQL + Redis)": ceiling(stores, cores)}
        known = {k: v for k, v in bounds.items() if v is not None}
        bound = min(known, key=known.get) if known else None
        machines[n] = {"turns_per_second": known.get(bound), "bound_by": bound}
    rasa_per_turn = per_turn(*rasa)  # the instances' CPU per turn, whichever answered it
    return {
        "cores_here": cores,
        # one Rasa instance is one event loop: at most one core, whatever the machine
        "one_rasa_instance_ceiling": ceiling(rasa_per_turn, 1),
        "cpu_ms_per_turn": {"stateless (rasa + actions)": round(stateless * 1000, 1),
                            "front (web + haproxy)": round(front * 1000, 1),
                            "stores (postgres + redis)": round(stores * 1000, 1),
                            "single profile, all": round(single_total * 1000, 1)},
        "added_instance": {
            "rasa_rss_mb": _mean([by_name[n].rss_mb_loaded for n in rasa]),
            "actions_rss_mb": _mean([by_name[n].rss_mb_loaded for n in actions]),
            "rasa_idle_cpu_note": "health checks every second from haproxy: negligible",
            "stores_rss_mb": round(sum(by_name[n].pss_mb_loaded for n in ("postgres", "redis")
                                       if n in by_name), 1),
        },
        "ceiling_here": {"single": ceiling(single_total, cores),
                         "cluster": ceiling(stateless + front + stores, cores)},
        "machines": machines,
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown (64 lines: one table after another, read top to bottom)."""
    lines = [f"# Cluster against single process ({report['generated']})", "",
             f"Machine: {report['machine']['cores']} cores, load average before "
             f"{report['machine']['load_average_before']}; {report['plan']['users']} candidates "
             f"without pauses, {report['plan']['seconds']} s measured after "
             f"{report['plan']['warmup']} s of warm-up, through the web front.", "",
             "| profile | start s | turns | turns/s | p50 ms | p95 ms | errors | outage replies |"
             " load generator CPU % |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p in report["profiles"]:
        lines.append(f"| {p['profile']} | {p['start_seconds']} | {p['turns']} | "
                     f"{p['throughput']} | {p['p50_ms']} | {p['p95_ms']} | {p['errors']} | "
                     f"{p['outage_replies']} | {p['load_generator_cpu_percent']} |")
    lines += ["", "| profile | process | CPU s | CPU % of a core | CPU ms/turn | RSS MB idle | "
              "RSS MB loaded | PSS MB loaded |", "|---|---|---|---|---|---|---|---|"]
    for p in report["profiles"]:
        for q in p["processes"]:
            lines.append(f"| {p['profile']} | {q['name']} | {q['cpu_seconds']} | "
                         f"{q['cpu_percent']} | {q['cpu_ms_per_turn']} | {q['rss_mb_idle']} | "
                         f"{q['rss_mb_loaded']} | {q['pss_mb_loaded']} |")
    x = report.get("extrapolation")
    if x:
        added = x["added_instance"]
        lines += ["", "## What an added instance costs, and N machines", "",
                  f"An added Rasa instance holds about {added['rasa_rss_mb']} MB (its model, "
                  f"TensorFlow and the e5 encoder), an added action server about "
                  f"{added['actions_rss_mb']} MB (the encoder and the index); PostgreSQL and "
                  f"Redis together {added['stores_rss_mb']} MB (PSS). CPU per turn: "
                  + ", ".join(f"{k} {v} ms" for k, v in x["cpu_ms_per_turn"].items()) + ".",
                  "",
                  f"On {x['cores_here']} cores the CPU alone allows about "
                  f"{x['ceiling_here']['single']} turns/s for the single profile and "
                  f"{x['ceiling_here']['cluster']} for the cluster: more processes on the same "
                  "cores add work (haproxy, PostgreSQL over TCP, the Redis lock) and take "
                  "none away. One Rasa instance is one event loop and uses at most one core "
                  f"(about {x['one_rasa_instance_ceiling']} turns/s here), so a machine runs "
                  "as many Rasa instances and action servers as it has cores. Spread over "
                  f"machines of {x['cores_here']} cores each, with one machine for the front "
                  "and one for the stores (a CPU-bound estimate from the figures above; "
                  "measure again on the real machines):", "",
                  "| Rasa machines | turns/s | bound by |", "|---|---|---|"]
        for n, m in x["machines"].items():
            lines.append(f"| {n} | {m['turns_per_second']} | {m['bound_by']} |")
    faults = report.get("faults") or {}
    if "kill" in faults:
        k = faults["kill"]
        lines += ["", "## Faults on the cluster, under load", "",
                  f"kill -9 {k['instance']} ({k['users']} candidates, {k['seconds']} s): "
                  f"{k['turns']} turns sent, {k['answered']} answered, {k['outage_replies']} "
                  f"polite outage replies, {k['errors']} errors; {k['lost']} lost, "
                  f"{k['duplicated']} duplicated in the tracker store; back after "
                  f"{k['back_after_s']} s, meanwhile {k['answered_while_down']} of "
                  f"{k['turns_while_down']} turns answered by the other instance; slowest turn "
                  f"{k['max_latency_s']} s."]
    if "postgres" in faults:
        g = faults["postgres"]
        lines += ["", f"PostgreSQL stopped and started ({g['users']} candidates): down "
                  f"{g['down_seconds']} s; {g['turns_while_down']} turns meanwhile, "
                  f"{g['polite_while_down']} with a polite reply; a normal answer again "
                  f"{g['recovered_after_s']} s after PostgreSQL was back, "
                  f"{g['outage_replies_after_recovery']} outage replies after that; Rasa "
                  f"restarted: {g['rasa_restarted']}; {g['errors']} errors, {g['lost']} lost, "
                  f"{g['duplicated']} duplicated."]
    return "\n".join(lines) + "\n"


def run_profile(profile: str, args: argparse.Namespace, report: dict[str, Any]) -> None:
    var = bench_var_dir(profile)
    supervisor = None
    try:
        supervisor, start_seconds = start_profile(profile, var)
        figures = measure_load(supervisor, profile, start_seconds, args.users, args.seconds,
                               args.warmup)
        report["profiles"].append(asdict(figures))
        if profile == "cluster" and args.faults:
            tracker = supervisor.ports.tracker_db_url
            report["faults"]["kill"] = asdict(kill_rasa_under_load(supervisor, tracker))
            supervisor.wait_until_up(timeout=300)
            report["faults"]["postgres"] = asdict(restart_postgres_under_load(supervisor, tracker))
    except Exception as error:  # noqa: BLE001 - one profile's failure keeps the other's figures
        report["errors"][profile] = f"{type(error).__name__}: {error}"[:2000]
    finally:
        if supervisor is not None:
            supervisor.stop()
        if profile not in report["errors"]:
            shutil.rmtree(var, ignore_errors=True)
        else:
            report["errors"][profile] += f" (logs in {var / 'log'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.quality.cluster_bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--warmup", type=float, default=WARMUP_SECONDS)
    parser.add_argument("--no-faults", dest="faults", action="store_false",
                        help="skip the kill -9 and PostgreSQL restart runs on the cluster")
    parser.add_argument("--out", type=Path, default=REPORT_JSON)
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    report: dict[str, Any] = {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "plan": {"users": args.users, "seconds": args.seconds, "warmup": args.warmup,
                 "faults": args.faults},
        "machine": {"cores": cores, "load_average_before": [round(v, 2) for v in os.getloadavg()]},
        "profiles": [], "faults": {}, "errors": {}}
    for profile in ("single", "cluster"):
        run_profile(profile, args, report)
    profiles = {p["profile"]: p for p in report["profiles"]}
    if {"single", "cluster"} <= set(profiles):
        report["extrapolation"] = extrapolation(
            *(ProfileFigures(**{**profiles[name], "processes": [
                ProcessFigures(**q) for q in profiles[name]["processes"]]})
              for name in ("single", "cluster")), cores=cores)
    report["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    text = markdown(report)
    if report["errors"]:
        text += "\nErrors: " + json.dumps(report["errors"], ensure_ascii=False) + "\n"
    args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text, end="")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
