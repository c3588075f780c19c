"""The servers as supervised processes, in two profiles.

The single profile (``make run``): action server, Rasa and web front on one machine with
a SQLite tracker store. The cluster profile (``make run-cluster``): PostgreSQL and Redis
from Debian's packages, two action servers and two Rasa instances behind haproxy, and
the web front. What runs, with which environment, restart policy and log files is
configuration (``ops/supervisord.conf``, ``ops/supervisord-cluster.conf``,
``ops/haproxy.cfg``, read by supervisord from PyPI's ``supervisor``); this module only
fills in what differs between runs (ports, the var/ directory, the tracker store URL,
extra environment such as ``ASSISTANT_TODAY`` for tests), prepares PostgreSQL's data
directory once, starts supervisord, waits until every server answers, and shuts it down.
The test fixtures start their own sets on free ports under temporary directories. Every
server binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot import PROJECT_ROOT

HOST = "127.0.0.1"
CONFIG = PROJECT_ROOT / "ops" / "supervisord.conf"
CLUSTER_CONFIG = PROJECT_ROOT / "ops" / "supervisord-cluster.conf"
VAR_DIR = PROJECT_ROOT / "var"
SUPERVISORD = PROJECT_ROOT / ".venv" / "bin" / "supervisord"
SUPERVISORCTL = PROJECT_ROOT / ".venv" / "bin" / "supervisorctl"
RASA_MODEL = PROJECT_ROOT / "models" / "rasa" / "model.tar.gz"
PROGRAMS = ("actions", "rasa", "web")
CLUSTER_PROGRAMS = ("postgres", "redis", "haproxy", "actions1", "actions2", "rasa1", "rasa2", "web")
RASA_INSTANCES = ("rasa1", "rasa2")
POSTGRES_USER = "postgres"     # the OS user PostgreSQL runs as (it refuses root)
TRACKER_DATABASE = "rasa"
# Conversation locks for several Rasa instances: Rasa's own RedisLockStore loses tickets
# when two instances change one conversation's lock at once (rasa_server/lock_store.py).
CLUSTER_LOCK_STORE = "rasa_server.lock_store.AtomicRedisLockStore"
# A conversation's lock held by an instance that died is free again after this long
# (Rasa's default is 60 s; a live instance renews its tickets, a turn takes well under a
# second).
LOCK_LIFETIME_SECONDS = 5
START_TIMEOUT_SECONDS = 240
# The encoder's OpenMP threads spin while they wait; on 2 shared cores, with Rasa busy on
# the other, two spinning threads per query turned a 15 ms embedding into 70 ms to 1.7 s
# of CPU under load. One passive thread per server process is faster at every load (Rasa
# runs the encoder too, for its intent classifier).
ONE_OMP_THREAD = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
# endpoints.yml for one Rasa process: SQLite tracker, conversation locks in memory
SINGLE_PROCESS_STORES = {"TRACKER_DIALECT": "sqlite", "LOCK_STORE_TYPE": "in_memory",
                         "REDIS_HOST": HOST, "REDIS_PORT": "6379"}


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

    config = CONFIG
    programs = PROGRAMS

    def health_urls(self) -> dict[str, str]:
        """Where each server says it is up (Rasa only once its model is loaded)."""
        return {"actions": f"http://{HOST}:{self.actions}/health",
                "rasa": f"http://{HOST}:{self.rasa}/status",
                "web": f"http://{HOST}:{self.web}/healthz"}

    def environment(self, var_dir: Path) -> dict[str, str]:
        return {"ACTIONS_PORT": str(self.actions), "RASA_PORT": str(self.rasa),
                "WEB_PORT": str(self.web), **SINGLE_PROCESS_STORES,
                "TRACKER_DB_URL": f"sqlite:///{var_dir}/tracker.db"}


@dataclass(frozen=True)
class ClusterPorts:
    """The cluster profile: haproxy's two frontends (``actions``, ``rasa``) and the web
    front are what clients use; the instances and the databases sit behind them. Redis
    and PostgreSQL get ports of their own, off their defaults, so that a system Redis or
    PostgreSQL on this machine does not clash with them."""

    actions: int = 5055
    rasa: int = 5005
    web: int = 8000
    actions1: int = 5056
    actions2: int = 5057
    rasa1: int = 5006
    rasa2: int = 5007
    postgres: int = 6432
    redis: int = 6380

    config = CLUSTER_CONFIG
    programs = CLUSTER_PROGRAMS

    @classmethod
    def free(cls) -> ClusterPorts:
        return cls(**{name: free_port() for name in asdict(cls())})

    def health_urls(self) -> dict[str, str]:
        urls = {"postgres": f"tcp://{HOST}:{self.postgres}", "redis": f"tcp://{HOST}:{self.redis}",
                "haproxy": f"http://{HOST}:{self.rasa}/status",
                "web": f"http://{HOST}:{self.web}/healthz"}
        for n in (1, 2):
            urls[f"actions{n}"] = f"http://{HOST}:{getattr(self, f'actions{n}')}/health"
            urls[f"rasa{n}"] = f"http://{HOST}:{getattr(self, f'rasa{n}')}/status"
        return urls

    def instance_urls(self) -> dict[str, str]:
        """Each Rasa instance's own address (haproxy's backends), by program name."""
        return {name: f"http://{HOST}:{getattr(self, name)}" for name in RASA_INSTANCES}

    @property
    def tracker_db_url(self) -> str:
        return f"postgresql://{TRACKER_DATABASE}@{HOST}:{self.postgres}/{TRACKER_DATABASE}"

    def environment(self, var_dir: Path) -> dict[str, str]:
        cluster = var_dir / "cluster"
        ports = {f"{name.upper()}_PORT": str(port) for name, port in asdict(self).items()}
        return {**ports, "PG_BIN": str(postgres_bin()), "PG_DATA": str(cluster / "postgres"),
                "PG_SOCKET_DIR": str(cluster / "postgres-socket"),
                "TRACKER_DIALECT": "postgresql", "LOCK_STORE_TYPE": CLUSTER_LOCK_STORE,
                "REDIS_HOST": HOST, "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME_SECONDS),
                "TRACKER_DB_URL": self.tracker_db_url}


def postgres_bin() -> Path:
    """The newest PostgreSQL server of Debian's packages (/usr/lib/postgresql/<v>/bin)."""
    def version(binary: Path) -> int:
        name = binary.parent.parent.name
        return int(name) if name.isdigit() else 0

    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=version)
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run `make install-cluster`")
    return versions[-1].parent


def is_up(url: str) -> bool:
    """An HTTP health URL answers below 500, or a ``tcp://host:port`` accepts a connection."""
    if url.startswith("tcp://"):
        host, port = url[len("tcp://"):].rsplit(":", 1)
        with socket.socket() as probe:
            probe.settimeout(2)
            return probe.connect_ex((host, int(port))) == 0
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


@dataclass
class Supervisor:
    """One supervisord and the programs of a profile (its ports say which)."""

    ports: Ports | ClusterPorts = field(default_factory=Ports)
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
        profile = self.ports.environment(self.var_dir)
        if self.tracker_db_url:
            profile["TRACKER_DB_URL"] = self.tracker_db_url
        return {**os.environ, **ONE_OMP_THREAD, **profile, **self.extra_env,
                "ASSISTANT_LOG_DIR": str(self.log_dir), "ASSISTANT_RUN_DIR": str(self.run_dir),
                "RASA_TELEMETRY_ENABLED": "false"}

    @property
    def programs(self) -> tuple[str, ...]:
        return self.ports.programs

    def ctl(self, *args: str, check: bool = True) -> str:
        """``supervisorctl`` against this supervisord; its output."""
        done = subprocess.run([str(SUPERVISORCTL), "-c", str(self.ports.config), *args],
                              cwd=PROJECT_ROOT,
                              env=self.environment(), capture_output=True, text=True, timeout=60)
        if check and done.returncode not in (0, 3):  # 3: some program is not running
            raise RuntimeError(f"supervisorctl {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start supervisord (it daemonizes) and wait until every server answers; on a
        failure shut it down and raise with the failing server's log tail."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if isinstance(self.ports, ClusterPorts):
            prepare_postgres(self.environment())
        subprocess.run([str(SUPERVISORD), "-c", str(self.ports.config)], cwd=PROJECT_ROOT,
                       env=self.environment(), check=True, timeout=60)
        try:
            self.wait_until_up(self.programs, timeout)
        except Exception:
            self.stop()
            raise

    def wait_until_up(self, names: tuple[str, ...] | None = None,
                      timeout: float = START_TIMEOUT_SECONDS) -> float:
        """Seconds until every named server answers its health URL."""
        started = time.monotonic()
        urls = self.ports.health_urls()
        pending = list(names or self.programs)
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


def prepare_postgres(env: dict[str, str]) -> None:
    """Create the cluster's PostgreSQL data directory with its ``rasa`` database, once:
    initdb and a short-lived server as the ``postgres`` OS user (loopback only, trusted)."""
    data, sockets = Path(env["PG_DATA"]), Path(env["PG_SOCKET_DIR"])
    sockets.mkdir(parents=True, exist_ok=True)
    shutil.chown(sockets, POSTGRES_USER)
    reachable = subprocess.run(["runuser", "-u", POSTGRES_USER, "--", "test", "-w", str(sockets)],
                               capture_output=True, timeout=30)
    if reachable.returncode != 0:  # e.g. under a 0700 directory of root's, as pytest's tmp_path
        raise RuntimeError(f"the {POSTGRES_USER} user cannot reach {sockets.parent}: every "
                           f"directory above it must be searchable by others (chmod o+x)")
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    shutil.chown(data, POSTGRES_USER)
    pg_bin, port = Path(env["PG_BIN"]), env["POSTGRES_PORT"]
    log = Path(env["ASSISTANT_LOG_DIR"]) / "postgres-setup.log"

    def as_postgres(*argv: str) -> None:
        with open(log, "ab") as output:  # not a pipe: the server started here inherits it
            subprocess.run(["runuser", "-u", POSTGRES_USER, "--", *argv], check=True,
                           timeout=120, stdout=output, stderr=subprocess.STDOUT)

    as_postgres(str(pg_bin / "initdb"), "-D", str(data), "--auth=trust", "--encoding=UTF8",
                "--no-locale")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sockets}"
    as_postgres(str(pg_bin / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                str(data / "setup.log"), "-w", "start")
    try:
        as_postgres(str(pg_bin / "createuser"), "-h", HOST, "-p", port, TRACKER_DATABASE)
        as_postgres(str(pg_bin / "createdb"), "-h", HOST, "-p", port, "-O", TRACKER_DATABASE,
                    TRACKER_DATABASE)
    finally:
        as_postgres(str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")


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
    parser.add_argument("--cluster", action="store_true",
                        help="the cluster profile (PostgreSQL, Redis, two Rasa and action servers)")
    args = parser.parse_args(argv)
    # both profiles keep supervisord's pid file and socket in var/run: `stop` ends either
    supervisor = Supervisor(ClusterPorts() if args.cluster else Ports())
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
    print(f"  Rasa REST:     http://{HOST}:{ports.rasa}/webhooks/rest/webhook"
          + ("  (haproxy)" if args.cluster else ""))
    if isinstance(ports, ClusterPorts):
        for name, url in ports.instance_urls().items():
            print(f"    {name}:       {url}")
        print(f"  tracker store: {ports.tracker_db_url}")
        print(f"  lock store:    redis://{HOST}:{ports.redis}/0")
    print("  logs in var/log/, status with `.venv/bin/python -m bot.servers status"
          + (" --cluster" if args.cluster else "") + "`, stop with `make stop`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
