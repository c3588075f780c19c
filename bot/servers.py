"""Start, check and stop the three servers: action server, Rasa, web front.

Used by ``make run``/``make stop`` (``python -m bot.servers start|stop``) and by the
test fixtures, which start their own set on other ports. Every server binds to
127.0.0.1. Processes run in their own session so ``stop`` ends their children too.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot import PROJECT_ROOT

RUN_DIR = PROJECT_ROOT / "var" / "run"
LOG_DIR = PROJECT_ROOT / "var" / "log"
RASA_MODEL = PROJECT_ROOT / "models" / "rasa" / "model.tar.gz"
HOST = "127.0.0.1"
# The encoder's OpenMP threads spin while they wait; on 2 shared cores, with Rasa busy on
# the other, two spinning threads per query turned a 15 ms embedding into 70 ms to 1.7 s
# of CPU under load. One passive thread per server process is faster at every load (Rasa
# runs the encoder too, for its intent classifier).
ONE_OMP_THREAD = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


@dataclass(frozen=True)
class Ports:
    actions: int = 5055
    rasa: int = 5005
    web: int = 8000


@dataclass(frozen=True)
class Server:
    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)


def servers(ports: Ports, tracker_db_url: str | None = None) -> list[Server]:
    """The three servers in start order (Rasa needs the action server)."""
    root = PROJECT_ROOT
    tracker = tracker_db_url or os.environ.get("TRACKER_DB_URL", "sqlite:///var/tracker.db")
    rasa_url = f"http://{HOST}:{ports.rasa}"
    return [
        Server("actions", [str(root / ".venv/bin/python"), "-m", "rasa_sdk", "--actions", "actions",
                           "--port", str(ports.actions)],
               f"http://{HOST}:{ports.actions}/health", {"SANIC_HOST": HOST, **ONE_OMP_THREAD}),
        # rasa_server = Rasa's CLI with the speed fixes of rasa_server/patches.py
        Server("rasa", [str(root / ".venv-rasa/bin/python"), "-m", "rasa_server", "run",
                        "--enable-api", "-i", HOST, "-p", str(ports.rasa), "--model", str(RASA_MODEL),
                        "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"],
               f"{rasa_url}/status",
               {"ACTION_SERVER_URL": f"http://{HOST}:{ports.actions}/webhook",
                "TRACKER_DB_URL": tracker, "RASA_TELEMETRY_ENABLED": "false", **ONE_OMP_THREAD}),
        Server("web", [str(root / ".venv/bin/python"), "-m", "uvicorn", "--factory",
                       "bot.web.app:create_app", "--host", HOST, "--port", str(ports.web)],
               f"http://{HOST}:{ports.web}/healthz",
               {"RASA_URL": rasa_url, "TRACKER_DB_URL": tracker, **ONE_OMP_THREAD}),
    ]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the system picks it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


def wait_until_up(server: Server, process: subprocess.Popen, timeout: float) -> None:
    """Poll the health URL; fail with the log's tail if the process dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_up(server.health_url):
            return
        if process.poll() is not None:
            break
        time.sleep(0.5)
    log = (LOG_DIR / f"{server.name}.log")
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{server.name} did not come up at {server.health_url}\n{tail}")


def start(server: Server, log_dir: Path = LOG_DIR, extra_env: dict[str, str] | None = None
          ) -> subprocess.Popen:
    """Start one server detached, logging to ``var/log/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    env = {**os.environ, **server.env, **(extra_env or {})}
    with open(log_dir / f"{server.name}.log", "ab") as log:  # the child keeps its own copy
        return subprocess.Popen(server.argv, cwd=PROJECT_ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def start_all(ports: Ports, timeout: float = 240, run_dir: Path | None = RUN_DIR,
              tracker_db_url: str | None = None, names: tuple[str, ...] = ("actions", "rasa", "web"),
              extra_env: dict[str, str] | None = None) -> dict[str, subprocess.Popen]:
    """Start the servers one after another and wait until each answers; ``extra_env``
    is added to every server's environment (tests pin ``ASSISTANT_TODAY`` with it)."""
    processes: dict[str, subprocess.Popen] = {}
    try:
        for server in servers(ports, tracker_db_url):
            if server.name not in names:
                continue
            process = start(server, extra_env=extra_env)
            processes[server.name] = process
            if run_dir:
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / f"{server.name}.pid").write_text(str(process.pid))
            wait_until_up(server, process, timeout)
    except Exception:
        stop_processes(processes.values())
        raise
    return processes


def stop_processes(processes) -> None:
    for process in processes:
        _kill_group(process.pid)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid, signal.SIGKILL)


def _kill_group(pid: int, sig: int = signal.SIGTERM) -> bool:
    try:
        os.killpg(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def stop_all(run_dir: Path = RUN_DIR) -> list[str]:
    """Stop what ``start`` recorded in ``var/run``; returns the names stopped."""
    stopped = []
    for pid_file in sorted(run_dir.glob("*.pid")):
        if _kill_group(int(pid_file.read_text().strip())):
            stopped.append(pid_file.stem)
        pid_file.unlink()
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.servers")
    parser.add_argument("command", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    ports = Ports()
    if args.command == "stop":
        print("stopped:", ", ".join(stop_all()) or "nothing was running")
        return 0
    if args.command == "status":
        for server in servers(ports):
            print(f"{server.name:8} {'up' if is_up(server.health_url) else 'down':5} {server.health_url}")
        return 0
    if any(is_up(s.health_url) for s in servers(ports)):
        print("servers already running; `make stop` first", file=sys.stderr)
        return 1
    started = time.monotonic()
    start_all(ports)
    print(f"all servers up in {time.monotonic() - started:.0f}s")
    print(f"  chat:          http://{HOST}:{ports.web}/")
    print(f"  staff console: http://{HOST}:{ports.web}/staff")
    print(f"  Rasa REST:     http://{HOST}:{ports.rasa}/webhooks/rest/webhook")
    print("  logs in var/log/, stop with `make stop`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
