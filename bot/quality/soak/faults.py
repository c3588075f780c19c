"""Fault tests during load: each server killed with -9 in turn, and the SQLite tracker
held under a write lock; for each, how long the service was out and what the candidates
got meanwhile (polite replies, not errors)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.servers import Supervisor, is_up

SETTLE_SECONDS = 8     # between faults, so each one's effect is seen on its own


@dataclass
class Fault:
    name: str
    started: float
    back_after_s: float | None = None
    turns: int = 0               # turns sent while it lasted, until service was back
    polite: int = 0              # ... answered with a bubble (an answer or an outage reply)
    offline: int = 0             # ... not connected (the web front down): the widget's own
                                 #     network-failure bubble with a retry answers them
    errors: int = 0              # ... answered with an HTTP error or nothing

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "started"}


def kill(supervisor: Supervisor, program: str, timeout: float = 120) -> Fault:
    """Kill a program with SIGKILL; seconds until its health URL answers again."""
    url = supervisor.ports.health_urls()[program]
    old = supervisor.pid(program)
    fault = Fault(f"kill -9 {program}", time.time())
    os.kill(old, signal.SIGKILL)
    while time.time() - fault.started < timeout:
        if supervisor.pid(program) not in (None, old) and is_up(url):
            fault.back_after_s = round(time.time() - fault.started, 2)
            break
        time.sleep(0.1)
    return fault


def hold_sqlite_lock(database: Path, seconds: float = 2.0) -> Fault:
    """Hold an exclusive write lock on the SQLite tracker for ``seconds``."""
    fault = Fault(f"SQLite write lock {seconds:g} s", time.time())
    connection = sqlite3.connect(database, timeout=30, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    time.sleep(seconds)
    connection.execute("COMMIT")
    connection.close()
    fault.back_after_s = round(time.time() - fault.started, 2)
    return fault


def account(faults: list[Fault], turns: list[dict]) -> None:
    """What the candidates got during each fault (from the load's turn log)."""
    for fault in faults:
        end = fault.started + (fault.back_after_s or 0) + 1.0
        during = [t for t in turns if fault.started <= t["sent"] <= end]
        fault.turns = len(during)
        fault.polite = sum(1 for t in during if t["status"] == 200 and t["kinds"])
        fault.offline = sum(1 for t in during if not t["status"])
        fault.errors = fault.turns - fault.polite - fault.offline


def run_faults(supervisor: Supervisor, tracker_db: Path | None, programs: tuple[str, ...]
               ) -> list[Fault]:
    """Each program killed in turn, then the SQLite lock (when the tracker is SQLite)."""
    faults = []
    for program in programs:
        time.sleep(SETTLE_SECONDS)
        faults.append(kill(supervisor, program))
    if tracker_db is not None:
        time.sleep(SETTLE_SECONDS)
        faults.append(hold_sqlite_lock(tracker_db))
    return faults
