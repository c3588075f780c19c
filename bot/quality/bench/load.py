"""Load generation: conversations drawn from the held-out cases, played over Rasa's REST
channel by N simulated users, each with its own kept-alive connection.

A turn counts as an error when Rasa answers with another status than 200 ("HTTP <code>"),
with a body that is not JSON ("invalid JSON") or with no text ("empty reply"), or
cannot be reached (the name of the connection error, e.g. "ConnectError"). Latency
percentiles are over the successful turns only.
"""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.stats import interpolated_percentile
from bot.rasa_client import NOT_A_REPLY, RasaBadResponse, RasaClient, RasaUnavailable, RestReply
from bot.servers import HOST

SEED = 2024
REQUEST_TIMEOUT_S = 60
EMPTY_REPLY = "empty reply"


def rasa_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def error_problem(error: RasaUnavailable | RasaBadResponse) -> str:
    """The kind of error a failed turn counts as: "HTTP <code>", "invalid JSON",
    "empty reply" (JSON that is no reply list) or the connection error's name."""
    if error.problem == NOT_A_REPLY:
        return EMPTY_REPLY
    return error.problem.split(":", 1)[0]  # "ConnectError: [Errno 111] …" → its name


def send_turn(rasa: RasaClient, sender: str, text: str) -> tuple[str | None, RestReply]:
    """(None, the reply) for a usable reply, else (what is wrong, an empty reply)."""
    try:
        reply = rasa.send(sender, text)
    except (RasaUnavailable, RasaBadResponse) as error:
        return error_problem(error), RestReply()
    return (EMPTY_REPLY, RestReply()) if reply.empty else (None, reply)


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


def split_blocks(sessions: Sequence[Sequence[str]], blocks: int) -> list[list[Sequence[str]]]:
    """Consecutive groups of sessions with about the same number of turns each."""
    total = sum(map(len, sessions))
    groups: list[list[Sequence[str]]] = [[] for _ in range(blocks)]
    done = 0
    for session in sessions:
        groups[min(blocks - 1, done * blocks // max(total, 1))].append(session)
        done += len(session)
    return [group for group in groups if group]


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summarise_load(latencies_ms: Sequence[float], errors: int, wall_s: float) -> dict:
    """One load phase: turns sent, errors, latency percentiles of the successful turns,
    successful turns per second of wall time."""
    return {
        "turns": len(latencies_ms) + errors,
        "errors": errors,
        "p50_ms": _rounded(interpolated_percentile(latencies_ms, 50), 1),
        "p95_ms": _rounded(interpolated_percentile(latencies_ms, 95), 1),
        "p99_ms": _rounded(interpolated_percentile(latencies_ms, 99), 1),
        "turns_per_s": _rounded(len(latencies_ms) / wall_s, 2) if wall_s > 0 else None,
        "wall_s": round(wall_s, 2),
    }


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
    and sends its turns one after another under a new sender id. The clients are made
    before the clock starts: wall time is the sending only."""
    work: queue.Queue = queue.Queue()
    for session in sessions:
        work.put(session)
    run = LoadRun()
    lock = threading.Lock()

    def user(rasa: RasaClient) -> None:
        with rasa:
            while True:
                try:
                    session = work.get_nowait()
                except queue.Empty:
                    return
                sender = f"bench-{uuid.uuid4().hex}"
                for text in session:
                    started = time.perf_counter()
                    problem, _ = send_turn(rasa, sender, text)
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    with lock:
                        if problem:
                            run.problems[problem] = run.problems.get(problem, 0) + 1
                        else:
                            run.latencies_ms.append(elapsed_ms)

    clients = [RasaClient(rasa_url(port), timeout_seconds=REQUEST_TIMEOUT_S) for _ in range(users)]
    threads = [threading.Thread(target=user, args=(client,), daemon=True) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.wall_s = time.perf_counter() - started
    if run.problems:
        print(f"    errors: {run.problems}", flush=True)
    return run


def never_seen_questions() -> list[str]:
    """Questions the load phases never send and no warm-up caches: the held-out colloquial
    questions and the held-out off-topic list, each once."""
    import yaml

    from bot import PROJECT_ROOT

    colloquial = yaml.safe_load((PROJECT_ROOT / "tests" / "data" / "colloquial_questions.yml")
                                .read_text(encoding="utf-8"))["questions"]
    off_topic = yaml.safe_load((PROJECT_ROOT / "data" / "faq" / "calibration_offtopic.yml")
                               .read_text(encoding="utf-8"))["questions"]
    texts = [str(q["text"]) for q in colloquial] + [str(q["text"] if isinstance(q, dict) else q)
                                                     for q in off_topic]
    return list(dict.fromkeys(texts))


LENGTH_SHORT_CHARS = (12, 28)   # a short question: about 20 characters
LENGTH_LONG_CHARS = 200         # the same question inside about 200 characters of story


def length_pairs(limit: int = 40) -> list[tuple[str, str]]:
    """(short question, the same question after a candidate's story, ~200 characters):
    the questions of tests/data/bench_narratives.yml (about 20 characters, sent by no other
    stage, so that the short one is not read from the servers' caches, as the never-seen
    questions the stage before sends would be), each with its narratives cut to make the
    long message ~200 characters."""
    import yaml

    from bot import PROJECT_ROOT

    low, high = LENGTH_SHORT_CHARS
    data = yaml.safe_load((PROJECT_ROOT / "tests" / "data" / "bench_narratives.yml")
                          .read_text(encoding="utf-8"))
    narratives = data["narratives"]
    short = [str(q) for q in data["questions"] if low <= len(str(q)) <= high][:limit]
    pairs = []
    for n, text in enumerate(short):
        story = str(narratives[n % len(narratives)]) + str(narratives[(n + 1) % len(narratives)])
        pairs.append((text, story[-(LENGTH_LONG_CHARS - len(text)):] + text))
    return pairs


def play_long_conversation(port: int, texts: Sequence[str]) -> tuple[str, list[float]]:
    """One conversation of ``len(texts)`` turns under one sender; (sender, each turn's ms).
    A turn that fails counts as missing (None is not appended)."""
    sender = f"bench-session-{uuid.uuid4().hex[:12]}"
    latencies = []
    with RasaClient(rasa_url(port), timeout_seconds=REQUEST_TIMEOUT_S) as rasa:
        for text in texts:
            started = time.perf_counter()
            problem, _ = send_turn(rasa, sender, text)
            if problem is None:
                latencies.append((time.perf_counter() - started) * 1000)
    return sender, latencies


def session_figures(latencies: Sequence[float], stored_bytes: int | None, turns: int) -> dict:
    """Turn cost at the start and the end of one long conversation, and what it stores."""
    import statistics

    first, last = latencies[:10], latencies[-10:]
    first_ms = statistics.median(first) if first else None
    last_ms = statistics.median(last) if last else None
    return {"turns": turns, "answered": len(latencies),
            "first10_p50_ms": _rounded(first_ms, 1), "last10_p50_ms": _rounded(last_ms, 1),
            "last_over_first": _rounded(last_ms / first_ms, 2) if first_ms and last_ms else None,
            "stored_bytes_per_turn": round(stored_bytes / turns) if stored_bytes else None}


def stored_bytes(tracker_db_url: str, sender: str) -> int | None:
    """Bytes of the events one sender has in a SQLite tracker store."""
    import sqlite3

    path = tracker_db_url.removeprefix("sqlite:///")
    try:
        with sqlite3.connect(path) as db:
            (total,) = db.execute("SELECT sum(length(CAST(data AS BLOB))) FROM events "
                                  "WHERE sender_id = ?", (sender,)).fetchone()
    except sqlite3.Error:
        return None
    return total
