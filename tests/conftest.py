"""Shared fixtures. The server fixtures start the REAL action server, Rasa server and
web front under supervisord (on free ports, with a throw-away var/ directory and SQLite
tracker store), once per session.

``pytest --cluster`` (``make test-cluster``) starts the cluster profile instead for the
session's ``servers`` (PostgreSQL, Redis, haproxy, two Rasa instances and two action
servers, the web front) and runs only the tests that use it, plus those marked
``cluster``; without the option those are skipped."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import tempfile
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import PROJECT_ROOT
from bot.servers import (  # noqa: F401 - tests import them from here
    RASA_MODEL, ClusterPorts, Ports, Supervisor, free_port)

INDEX_MANIFEST = PROJECT_ROOT / "models" / "index" / "manifest.json"
TEST_STAFF_PASSWORD = "test-staff-password-1234"
# "Today" for the servers' deadline answers (ASSISTANT_TODAY), so that expected dates,
# "still to come" and "in the future" do not change with the calendar (a Sunday; the
# regression cases in tests/regression pin the same date).
SERVERS_TODAY = "2026-11-22"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cluster", action="store_true", default=False,
                     help="the `servers` fixture starts the cluster profile; run only the tests "
                          "that use it and those marked `cluster` (make test-cluster)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: needs the cluster profile (pytest --cluster, "
                                       "make test-cluster); skipped without it")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--cluster"):
        skip = pytest.mark.skip(reason="the cluster profile: make test-cluster")
        for item in items:
            if item.get_closest_marker("cluster"):
                item.add_marker(skip)
        return
    # the tests that talk to the servers (through the session fixture), and the cluster's own
    kept = [item for item in items
            if item.get_closest_marker("cluster") or "servers" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


@dataclass
class RunningServers:
    supervisor: Supervisor
    tracker_db_url: str
    staff_password: str = TEST_STAFF_PASSWORD

    @property
    def ports(self) -> Ports | ClusterPorts:
        return self.supervisor.ports

    @property
    def cluster(self) -> bool:
        return isinstance(self.ports, ClusterPorts)

    @property
    def rasa_url(self) -> str:
        """Rasa's REST API: the one instance, or haproxy in front of the cluster's."""
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def tracker_db(self) -> Path:
        """The single profile's SQLite tracker file. The cluster has none: a test that
        reads the file is skipped there (tests/test_cluster.py reads PostgreSQL)."""
        if self.cluster:
            pytest.skip("reads the single profile's SQLite tracker file; the cluster's "
                        "PostgreSQL store is read in tests/test_cluster.py")
        return Path(self.tracker_db_url.removeprefix("sqlite:///"))


def post_json(url: str, payload: object, timeout: float = 30) -> tuple[int, object]:
    """POST JSON with the standard library; returns (status, parsed body or text)."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode(errors="replace"), error.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


# The WeChat channels' settings for the simulator (tests/wechat_simulator.py): both
# modes on one 公众号 ("compatible"), a WeCom application; an action may take up to 8 s,
# so a turn held 6 s (tests/test_wechat.py) finishes on WeChat's retry.
WECHAT_TEST_ENV = {
    "WECHAT_TOKEN": "test-wechat-token", "WECHAT_APP_ID": "wx0123456789abcdef",
    "WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "WECHAT_ENCRYPT_MODE": "compatible", "WECHAT_WEB_CHAT_URL": "https://example.org/chat",
    "WECOM_TOKEN": "test-wecom-token", "WECOM_APP_ID": "ww0123456789abcdef",
    "WECOM_ENCODING_AES_KEY": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut",
    "ACTION_TIMEOUT_SECONDS": "8",
}


def supervised_servers(directory: Path, cluster: bool = False) -> RunningServers:
    """A set of the real servers under supervisord in ``directory`` (its var/), with
    the test staff password and the pinned "today": the single profile, or the cluster
    profile (``directory`` must then be reachable by the postgres user)."""
    for needed, command in ((RASA_MODEL, "make train"), (INDEX_MANIFEST, "make index")):
        if not needed.exists():
            pytest.fail(f"{needed} is missing: run `{command}` (make test does it)")
    ports = ClusterPorts.free() if cluster else Ports.free()
    tracker_db_url = ports.tracker_db_url if cluster else f"sqlite:///{directory / 'tracker.db'}"
    supervisor = Supervisor(
        ports, var_dir=directory, tracker_db_url=tracker_db_url,
        extra_env={"STAFF_PASSWORD": TEST_STAFF_PASSWORD,
                   "SECRET_KEY": "test-secret-key-not-for-production",
                   "WEB_ENV_FILE": str(directory / "absent.env"),  # ignore ./.env
                   "ASSISTANT_TODAY": SERVERS_TODAY, **WECHAT_TEST_ENV,
                   "HANDOFF_HOURS": "open"})  # staff at their desks whatever the clock says
    supervisor.start()
    return RunningServers(supervisor, tracker_db_url)


def cluster_directory() -> Path:
    """A var/ directory for a test cluster: PostgreSQL runs as its own user, who cannot
    enter pytest's tmp_path (0700 directories of root's)."""
    directory = Path(tempfile.mkdtemp(prefix="assistant-cluster-"))
    directory.chmod(0o755)
    return directory


@pytest.fixture(scope="session")
def servers(request: pytest.FixtureRequest, tmp_path_factory) -> RunningServers:
    """Action server + Rasa + web front, started for real (with --cluster: the cluster
    profile). Needs `make index train`."""
    cluster = request.config.getoption("--cluster")
    directory = cluster_directory() if cluster else tmp_path_factory.mktemp("servers")
    running = supervised_servers(directory, cluster=cluster)
    yield running
    running.supervisor.stop()
    if cluster:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def rasa_url(servers: RunningServers) -> str:
    return servers.rasa_url


@pytest.fixture(scope="session")
def web_url(servers: RunningServers) -> str:
    return servers.web_url


def run_async(coroutine):
    """Run a coroutine in its own thread: Playwright's sync API (browser tests, which run
    earlier) leaves an event loop marked as running on the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@contextmanager
def started_server(command: list[str], env: dict[str, str], log_path: Path, health_path: str,
                   port: int, timeout: float) -> Iterator[str]:
    """A server of the test's own (``command``, in the project's directory, output in
    ``log_path``), its URL once ``health_path`` answers 200; stopped at the end."""
    import httpx

    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + health_path, timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log_path.read_text(errors="replace")[-2000:]
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
