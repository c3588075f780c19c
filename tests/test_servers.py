"""bot.servers and ops/supervisord.conf: the three servers supervised for real. A server
killed with -9 serves again; with the action server down Rasa still answers; `stop`
ends every process and frees every port. Uses its own set of servers (it kills them)."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from bot.rasa_client import RasaClient
from bot.servers import PROGRAMS, is_up
from tests.conftest import post_json, supervised_servers

pytestmark = pytest.mark.servers
BACK_WITHIN_SECONDS = 60  # a generous bound; the measured times are in make soak


@pytest.fixture(scope="module")
def supervised(tmp_path_factory):
    running = supervised_servers(tmp_path_factory.mktemp("supervised"))
    yield running
    running.supervisor.stop()


def wait_for(condition, timeout: float = BACK_WITHIN_SECONDS) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_server_killed_with_sigkill_serves_again(supervised, program):
    supervisor = supervised.supervisor
    url = supervisor.ports.health_urls()[program]
    old = supervisor.pid(program)
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: supervisor.pid(program) not in (None, old) and is_up(url))
    status, body = post_json(f"{supervised.web_url}/api/chat",
                             {"session_id": f"after-kill-{program}", "message": "证书直邮怎么申请？"})
    assert status == 200 and body["messages"][0]["custom"]["kind"] == "faq_answer"


def test_rasa_answers_politely_while_the_action_server_is_down(supervised):
    supervisor = supervised.supervisor
    supervisor.ctl("stop", "actions")
    try:
        with RasaClient(supervised.rasa_url) as rasa:
            reply = rasa.send("actions-down", "證書直郵怎麼申請？")
            again = rasa.send("actions-down", "那邮费呢")
    finally:
        supervisor.ctl("start", "actions")
        supervisor.wait_until_up(("actions",))
    for answer in (reply, again):
        assert not answer.empty and answer.custom["kind"] == "unavailable"
    assert "暫時" in reply.text and "暂时" in again.text      # each in the candidate's script
    assert "18558892138" in reply.text                          # a help contact of contacts.yml


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_stop_ends_every_process_and_frees_every_port(tmp_path):
    running = supervised_servers(tmp_path)
    supervisor = running.supervisor
    pids = [supervisor.daemon_pid()] + [supervisor.pid(name) for name in PROGRAMS]
    assert all(pids)
    assert supervisor.stop()
    ports = supervisor.ports
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not any(_listening(port) for port in (ports.actions, ports.rasa, ports.web))
    assert not supervisor.stop()  # nothing left to stop
