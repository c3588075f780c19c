"""Load with live handoffs, against the REAL servers: 16 candidates chat with the
assistant, first alone, then while 4 other conversations are in a live handoff (the
candidate and a staff member writing in turn, each with the event stream their widget or
desk holds open). The two phases alternate for a few rounds, so both see the same machine
(two cores shared with other work). Every message is in the tracker store exactly once and
in order; the assistant's p95 with the handoffs and without them, in the same run, and
the CPU seconds each server spent in each phase go to reports/handoff_load.json."""

from __future__ import annotations

import json
import math
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bot import PROJECT_ROOT
from tests.conftest import RunningServers
from tests.test_live_handoff import EventStream, session_id, staff_client, tracker_events, warm  # noqa: F401 - a fixture

pytestmark = [pytest.mark.servers, pytest.mark.slow]

CHATTERS = 16
LIVE = 4
ROUNDS = 3
QUESTIONS = ("什么是证书直邮？", "电子证书怎么下载", "证书丢了怎么补办", "邮寄证书要多少钱")
LIVE_MESSAGES = 6
# The assistant's p95 in both phases is measured and written to reports/handoff_load.json,
# not asserted: a speed target belongs in a benchmark, not a timed test (2 cores shared with
# other work make p95 noisy between the two phases).


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def cpu_seconds(pid: int | None) -> float:
    """User and system CPU of a process and its children alive now (Linux /proc)."""
    if pid is None:
        return 0.0
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0.0
    for each in [pid, *map(int, children)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_by_program(servers: RunningServers) -> dict[str, float]:
    supervisor = servers.supervisor
    return {name: cpu_seconds(supervisor.pid(name)) for name in supervisor.ports.programs}


def chat(url: str, sender: str, latencies: list[float]) -> list[str]:
    sent = []
    with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
        for question in QUESTIONS:
            started = time.perf_counter()
            reply = client.post("/api/chat", json={"session_id": sender, "message": question})
            latencies.append(time.perf_counter() - started)
            assert reply.status_code == 200 and reply.json()["messages"], reply.text[:200]
            sent.append(question)
    return sent


def live_exchange(url: str, sender: str, staff: tuple[httpx.Client, str],
                  ready: threading.Barrier) -> tuple[list[str], list[str]]:
    """One handoff: requested, claimed, six messages each way, ended; the candidate's
    widget and the staff member's desk hold their event streams open throughout."""
    said, replied = [], []
    desk, csrf = staff
    with httpx.Client(base_url=url, timeout=120, trust_env=False) as candidate, \
            httpx.Client(base_url=url, trust_env=False) as widget:
        assert candidate.post("/api/live/request", json={"session_id": sender}).status_code == 200
        streams = [EventStream(widget, f"/api/live/stream?session_id={sender}"),
                   EventStream(desk, "/staff/api/live/stream")]
        try:
            streams[0].wait_for("state", lambda view: view["state"] == "queued")
            assert desk.post("/staff/api/live/claim", json={"sender_id": sender},
                             headers={"X-CSRF-Token": csrf}).status_code == 200
            ready.wait(timeout=120)
            for n in range(LIVE_MESSAGES):
                text = f"第{n + 1}个问题：证书还没到"
                body = candidate.post("/api/chat", json={"session_id": sender, "message": text}).json()
                assert body["messages"] == [] and body["handoff"]["state"] == "claimed"
                said.append(text)
                answer = f"第{n + 1}次答复：正在帮您查"
                assert desk.post("/staff/api/live/reply", json={"sender_id": sender, "text": answer},
                                 headers={"X-CSRF-Token": csrf}).status_code == 200
                replied.append(answer)
                streams[0].wait_for("message", lambda bubble, answer=answer: bubble["text"] == answer)
            assert desk.post("/staff/api/live/end", json={"sender_id": sender},
                             headers={"X-CSRF-Token": csrf}).status_code == 200
        finally:
            for stream in streams:
                stream.close()
    return said, replied


def run_chatters(url: str, latencies: list[float], pool: ThreadPoolExecutor) -> dict[str, list[str]]:
    senders = [session_id() for _ in range(CHATTERS)]
    futures = {sender: pool.submit(chat, url, sender, latencies) for sender in senders}
    return {sender: future.result() for sender, future in futures.items()}


def add_cpu(total: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    for name in after:
        total[name] = total.get(name, 0.0) + after[name] - before.get(name, 0.0)


def lost_or_doubled_turns(servers: RunningServers, chatted: dict[str, list[str]],
                          exchanged: dict[str, tuple[list[str], list[str]]]) -> list[tuple]:
    wrong = []
    for sender, sent in chatted.items():
        events = [e for e in tracker_events(servers, sender) if e["event"] in ("user", "bot")]
        users = [e["text"] for e in events if e["event"] == "user"]
        if users != sent or events[-1]["event"] != "bot":
            wrong.append((sender, users, sent))
    for sender, (said, replied) in exchanged.items():
        events = [e for e in tracker_events(servers, sender) if e["event"] in ("user", "bot")]
        stored = [(e["event"], e["text"]) for e in events]
        expected = [pair for n in range(LIVE_MESSAGES) for pair in (("user", said[n]), ("bot", replied[n]))]
        if stored != expected:
            wrong.append((sender, stored, expected))
    return wrong


def test_handoffs_lose_nothing_and_the_assistant_s_p95_is_measured(servers: RunningServers, warm: None) -> None:
    url = servers.web_url
    alone: list[float] = []
    with_handoffs: list[float] = []
    cpu_alone: dict[str, float] = {}
    cpu_with: dict[str, float] = {}
    rounds = []
    chatted: dict[str, list[str]] = {}
    exchanged: dict[str, tuple[list[str], list[str]]] = {}
    desks = [staff_client(url, f"客服{n}") for n in range(LIVE)]
    try:
        with ThreadPoolExecutor(CHATTERS + LIVE) as pool:
            for _ in range(ROUNDS):
                before, mark = cpu_by_program(servers), len(alone)
                chatted.update(run_chatters(url, alone, pool))
                add_cpu(cpu_alone, before, cpu_by_program(servers))
                ready = threading.Barrier(LIVE + 1)
                live = {sender: pool.submit(live_exchange, url, sender, desk, ready)
                        for sender, desk in ((session_id(), desk) for desk in desks)}
                ready.wait(timeout=120)
                before, mark_with = cpu_by_program(servers), len(with_handoffs)
                chatted.update(run_chatters(url, with_handoffs, pool))
                exchanged.update({sender: future.result() for sender, future in live.items()})
                add_cpu(cpu_with, before, cpu_by_program(servers))
                rounds.append([round(p95(alone[mark:]) * 1000), round(p95(with_handoffs[mark_with:]) * 1000)])
    finally:
        for desk, _ in desks:
            desk.close()

    lost_or_doubled = lost_or_doubled_turns(servers, chatted, exchanged)
    figures = {"chatters": CHATTERS, "live_handoffs": LIVE, "rounds": ROUNDS,
               "questions_per_phase": len(alone),
               "p95_alone_ms": round(p95(alone) * 1000), "p95_with_handoffs_ms": round(p95(with_handoffs) * 1000),
               "p95_by_round_ms": rounds,
               "cpu_seconds_alone": {k: round(v, 2) for k, v in cpu_alone.items()},
               "cpu_seconds_with_handoffs": {k: round(v, 2) for k, v in cpu_with.items()},
               "live_messages": len(exchanged) * LIVE_MESSAGES * 2, "lost_or_duplicated": len(lost_or_doubled)}
    report = PROJECT_ROOT / "reports" / "handoff_load.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(figures)
    assert lost_or_doubled == []
    assert len(with_handoffs) == len(alone) == ROUNDS * CHATTERS * len(QUESTIONS)
