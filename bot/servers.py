"""The three servers as supervised processes: action server, Rasa, web front.

What runs, with which environment, restart policy and log files is configuration
(``ops/supervisord.conf``, read by supervisord from PyPI's ``supervisor``); this module
only fills in what differs between runs (ports, the var/ directory, the tracker store
URL, extra environment such as ``ASSISTANT_TODAY`` for tests), starts supervisord, waits
until every server answers, and shuts it down. ``make run`` / ``make stop`` call
``python -m bot.servers start|stop``; the test fixtures start their own set on free
ports under a temporary directory. Every server binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bot import PROJECT_ROOT

HOST = "127.0.0.1"
CONFIG = PROJECT_ROOT / "ops" / "supervisord.conf"
VAR_DIR = PROJECT_ROOT / "var"
SUPERVISORD = PROJECT_ROOT / ".venv" / "bin" / "supervisord"
SUPERVISORCTL = PROJECT_ROOT / ".venv" / "bin" / "supervisorctl"
RASA_MODEL = PROJECT_ROOT / "models" / "rasa" / "model.tar.gz"
PROGRAMS = ("actions", "rasa", "web")
START_TIMEOUT_SECONDS = 240
# The encoder's OpenMP threads spin while they wait; on 2 shared cores, with Rasa busy on
# the other, two spinning threads per query turned a 15 ms embedding into 70 ms to 1.7 s
# of CPU under load. One passive thread per server process is faster at every load (Rasa
# runs the encoder too, for its intent classifier).
ONE_OMP_THREAD = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Ports:
    actions: int = 5055
    rasa: int = 5005
    web: int = 8000

    @classmethod
    def free(cls) -> Ports:
        return cls(actions=free_port(), rasa=free_port(), web=free_port())

    def health_urls(self) -> dict[str, str]:
        """Where each server says it is up (Rasa only once its model is loaded)."""
        return {"actions": f"http://{HOST}:{self.actions}/health",
                "rasa": f"http://{HOST}:{self.rasa}/status",
                "web": f"http://{HOST}:{self.web}/healthz"}


def is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


@dataclass
class Supervisor:
    """One supervisord and its three programs."""

    ports: Ports = field(default_factory=Ports)
    var_dir: Path = VAR_DIR
    tracker_db_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    def environment(self) -> dict[str, str]:
        """supervisord's environment, which its programs inherit."""
        tracker = self.tracker_db_url or os.environ.get("TRACKER_DB_URL",
                                                        f"sqlite:///{self.var_dir}/tracker.db")
        return {**os.environ, **ONE_OMP_THREAD, **self.extra_env,
                "ASSISTANT_LOG_DIR": str(self.log_dir), "ASSISTANT_RUN_DIR": str(self.run_dir),
                "ACTIONS_PORT": str(self.ports.actions), "RASA_PORT": str(self.ports.rasa),
                "WEB_PORT": str(self.ports.web), "TRACKER_DB_URL": tracker,
                "RASA_TELEMETRY_ENABLED": "false"}

    def ctl(self, *args: str, check: bool = True) -> str:
        """``supervisorctl`` against this supervisord; its output."""
        done = subprocess.run([str(SUPERVISORCTL), "-c", str(CONFIG), *args], cwd=PROJECT_ROOT,
                              env=self.environment(), capture_output=True, text=True, timeout=60)
        if check and done.returncode not in (0, 3):  # 3: some program is not running
            raise RuntimeError(f"supervisorctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start supervisord (it daemonizes) and wait until every server answers; on a
        failure shut it down and raise with the failing server's log tail."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(SUPERVISORD), "-c", str(CONFIG)], cwd=PROJECT_ROOT,
                       env=self.environment(), check=True, timeout=60)
        try:
            self.wait_until_up(PROGRAMS, timeout)
        except Exception:
            self.stop()
            raise

    def wait_until_up(self, names=PROGRAMS, timeout: float = START_TIMEOUT_SECONDS) -> float:
        """Seconds until every named server answers its health URL."""
        started = time.monotonic()
        urls = self.ports.health_urls()
        pending = list(names)
        while pending:
            pending = [name for name in pending if not is_up(urls[name])]
            if not pending:
                break
            if time.monotonic() - started > timeout:
                name = pending[0]
                log = self.log_dir / f"{name}.log"
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(f"{name} did not come up at {urls[name]}\n{tail}")
            time.sleep(0.2)
        return time.monotonic() - started

    def pid(self, program: str) -> int | None:
        """The process id of a program, None when it is not running."""
        out = self.ctl("pid", program, check=False).strip()
        return int(out) if out.isdigit() and out != "0" else None

    def daemon_pid(self) -> int | None:
        path = self.run_dir / "supervisord.pid"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 60) -> bool:
        """Shut supervisord down (each program and its process group stop first); True
        when one was running."""
        pid = self.daemon_pid()
        if pid is None or not _alive(pid):
            return False
        self.ctl("shutdown", check=False)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.servers")
    parser.add_argument("command", choices=["start", "stop", "status"])
    args = parser.parse_args(argv)
    supervisor = Supervisor()
    if args.command == "stop":
        print("stopped" if supervisor.stop() else "nothing was running")
        return 0
    if args.command == "status":
        if supervisor.daemon_pid() and _alive(supervisor.daemon_pid()):
            print(supervisor.ctl("status", check=False), end="")
        for name, url in supervisor.ports.health_urls().items():
            print(f"{name:8} {'up' if is_up(url) else 'down':5} {url}")
        return 0
    if supervisor.daemon_pid() and _alive(supervisor.daemon_pid()):
        print("servers already running; `make stop` first", file=sys.stderr)
        return 1
    if any(is_up(url) for url in supervisor.ports.health_urls().values()):
        print("a port of the servers is in use; stop what listens there first", file=sys.stderr)
        return 1
    started = time.monotonic()
    supervisor.start()
    ports = supervisor.ports
    print(f"all servers up in {time.monotonic() - started:.0f}s, supervised by supervisord")
    print(f"  chat:          http://{HOST}:{ports.web}/")
    print(f"  staff console: http://{HOST}:{ports.web}/staff")
    print(f"  Rasa REST:     http://{HOST}:{ports.rasa}/webhooks/rest/webhook")
    print("  logs in var/log/, status with `.venv/bin/python -m bot.servers status`, "
          "stop with `make stop`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
