"""Shared fixtures. The server fixtures start the REAL action server, Rasa server and
web front (on free ports, with a throw-away SQLite tracker store), once per session."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import PROJECT_ROOT
from bot.servers import RASA_MODEL, Ports, free_port, start_all, stop_processes

INDEX_MANIFEST = PROJECT_ROOT / "models" / "index" / "manifest.json"
TEST_STAFF_PASSWORD = "test-staff-password-1234"
# "Today" for the servers' deadline answers (ASSISTANT_TODAY), so that expected dates,
# "still to come" and "in the future" do not change with the calendar (a Sunday; the
# regression cases in tests/regression pin the same date).
SERVERS_TODAY = "2026-11-22"


@dataclass
class RunningServers:
    ports: Ports
    tracker_db: Path
    staff_password: str = TEST_STAFF_PASSWORD

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def tracker_db_url(self) -> str:
        return f"sqlite:///{self.tracker_db}"


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


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> RunningServers:
    """Action server + Rasa + web front, started for real. Needs `make index train`."""
    for needed, command in ((RASA_MODEL, "make train"), (INDEX_MANIFEST, "make index")):
        if not needed.exists():
            pytest.fail(f"{needed} is missing: run `{command}` (make test does it)")
    ports = Ports(actions=free_port(), rasa=free_port(), web=free_port())
    running = RunningServers(ports, tmp_path_factory.mktemp("tracker") / "tracker.db")
    with pytest.MonkeyPatch.context() as environment:  # the servers' environment only
        environment.setenv("STAFF_PASSWORD", running.staff_password)
        environment.setenv("SECRET_KEY", "test-secret-key-not-for-production")
        environment.setenv("WEB_ENV_FILE", str(running.tracker_db.parent / "absent.env"))  # ignore ./.env
        processes = start_all(ports, run_dir=None, tracker_db_url=running.tracker_db_url,
                              extra_env={"ASSISTANT_TODAY": SERVERS_TODAY})
    yield running
    stop_processes(processes.values())


@pytest.fixture(scope="session")
def rasa_url(servers: RunningServers) -> str:
    return servers.rasa_url


@pytest.fixture(scope="session")
def web_url(servers: RunningServers) -> str:
    return servers.web_url
