"""The live handoff (转人工) end to end against the REAL web front, Rasa and action server
(the ``servers`` fixture, staff hours forced open by ``HANDOFF_HOURS=open``): a candidate
asks for a person, joins the queue, a staff member claims the conversation, both write
live over server-sent events, the staff member ends it and the assistant answers the
next question; Rasa's tracker holds every message once, in order, with its author."""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

import httpx
import pytest

from bot import PROJECT_ROOT
from tests.conftest import TEST_STAFF_PASSWORD, RunningServers, free_port, started_server

pytestmark = [pytest.mark.servers]

STAFF_NAME = "王老师"
WAIT_SECONDS = 30  # a limit, not a measurement: the real servers on a busy machine


class EventStream:
    """A server-sent event stream read in a thread: (event, data) pairs in order."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._client, self._url = client, url
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event = "message"
        try:
            with self._client.stream("GET", self._url, timeout=httpx.Timeout(5, read=None)) as response:
                self._response = response
                assert response.status_code == 200, response.status_code
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        self.events.put((event, json.loads(line[5:].strip())))
                        event = "message"
        except (httpx.HTTPError, RuntimeError, AttributeError):  # closed by close()
            return

    def wait_for(self, event: str, check=lambda data: True, timeout: float = WAIT_SECONDS) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                name, data = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if name == event and check(data):
                return data
        raise AssertionError(f"no {event} event matching within {timeout} s")

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._thread.join(timeout=5)


def session_id() -> str:
    return "live-" + secrets.token_hex(8)


def staff_client(web_url: str, name: str = STAFF_NAME) -> tuple[httpx.Client, str]:
    """A logged-in editor and its CSRF token."""
    client = httpx.Client(base_url=web_url, timeout=30, trust_env=False)
    response = client.post("/staff/login", data={"name": name, "password": TEST_STAFF_PASSWORD,
                                                 "next": "/staff/live"}, follow_redirects=True)
    assert response.status_code == 200, response.text[:300]
    token = re.search(r'name="csrf-token" content="([^"]+)"', response.text).group(1)
    return client, token


def tracker_events(servers: RunningServers, sender_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{servers.rasa_url}/conversations/{sender_id}/tracker", timeout=30, trust_env=False)
    return response.json()["events"]


def messages_in(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    """(who, text, staff) of every message, in the tracker's order."""
    return [(e["event"], e.get("text") or "", (e.get("metadata") or {}).get("handoff_staff"))
            for e in events if e["event"] in ("user", "bot")]


@pytest.fixture(scope="module")
def warm(servers: RunningServers) -> None:
    """The action server's first answer loads its models (past Rasa's 5 s action timeout
    on a busy machine): a cold start is not what these tests are about."""
    with httpx.Client(base_url=servers.web_url, timeout=120, trust_env=False) as client:
        for _ in range(5):
            reply = client.post("/api/chat", json={"session_id": session_id(), "message": "什么是证书直邮？"}).json()
            if reply["messages"] and reply["messages"][-1]["custom"]["kind"] != "unavailable":
                return
            time.sleep(3)


@pytest.fixture()
def candidate(servers: RunningServers, warm: None) -> httpx.Client:
    with httpx.Client(base_url=servers.web_url, timeout=60, trust_env=False) as client:
        yield client


def test_a_person_takes_over_and_hands_back(servers: RunningServers, candidate: httpx.Client) -> None:
    person_takes_over_and_hands_back(servers, candidate, servers.web_url)


def person_takes_over_and_hands_back(servers: RunningServers, candidate: httpx.Client, staff_url: str) -> None:
    """The whole exchange, the candidate on ``candidate``'s web front, the staff member on
    ``staff_url``'s (the same one, or another instance sharing Redis)."""
    sender = session_id()
    staff, csrf = staff_client(staff_url)
    headers = {"X-CSRF-Token": csrf}
    desk = EventStream(staff, "/staff/api/live/stream")
    try:
        desk.wait_for("queue")
        asked = candidate.post("/api/chat", json={"session_id": sender, "message": "我要转人工"}).json()
        assert asked["messages"] == [] and asked["handoff"]["state"] == "queued"
        assert asked["handoff"]["position"] >= 1
        desk.wait_for("queue", lambda d: any(q["sender_id"] == sender and q["state"] == "queued" for q in d["queue"]))
        widget = EventStream(candidate, f"/api/live/stream?session_id={sender}")
        widget.wait_for("state", lambda d: d["state"] == "queued")

        claimed = staff.post("/staff/api/live/claim", json={"sender_id": sender}, headers=headers)
        assert claimed.status_code == 200, claimed.text
        assert widget.wait_for("state", lambda d: d["state"] == "claimed")["staff"] == STAFF_NAME

        # the candidate writes: stored by Rasa, shown on the desk, never answered by the assistant
        during = candidate.post("/api/chat", json={"session_id": sender, "message": "我的证书寄丢了怎么办"}).json()
        assert during["messages"] == [] and during["handoff"]["state"] == "claimed"
        shown = desk.wait_for("message", lambda d: d["sender_id"] == sender)
        assert shown["bubble"]["text"] == "我的证书寄丢了怎么办" and shown["bubble"]["role"] == "user"
        # Rasa's own REST channel, asked directly while paused, says nothing (not "briefly unavailable")
        direct = httpx.post(f"{servers.rasa_url}/webhooks/rest/webhook",
                            json={"sender": sender, "message": "还在吗"}, timeout=60, trust_env=False)
        assert direct.json() == []

        sent = staff.post("/staff/api/live/reply", headers=headers, json={
            "sender_id": sender, "text": "您好，我帮您查一下邮寄记录。",
            "sources": [{"title": "证书邮寄服务说明", "issuer": "人社厅", "date": "2026-01-01"}]})
        assert sent.status_code == 200, sent.text
        live = widget.wait_for("message", lambda d: d["staff"] == STAFF_NAME)
        assert live["text"] == "您好，我帮您查一下邮寄记录。"
        assert live["custom"]["sources"][0]["title"] == "证书邮寄服务说明"

        ended = staff.post("/staff/api/live/end", json={"sender_id": sender}, headers=headers)
        assert ended.status_code == 200, ended.text
        widget.wait_for("state", lambda d: d["state"] == "ended")
        widget.close()

        after = candidate.post("/api/chat", json={"session_id": sender, "message": "什么是证书直邮？"}).json()
        assert "handoff" not in after and after["messages"], after
        assert after["messages"][-1]["custom"]["kind"] == "faq_answer"
    finally:
        desk.close()
        staff.close()

    events = tracker_events(servers, sender)
    kinds = [e["event"] for e in events]
    assert kinds.index("pause") < kinds.index("resume")
    messages = messages_in(events)
    assert messages[:5] == [
        ("user", "我要转人工", None),
        ("user", "我的证书寄丢了怎么办", None),
        ("user", "还在吗", None),
        ("bot", "您好，我帮您查一下邮寄记录。", STAFF_NAME),
        ("user", "什么是证书直邮？", None),
    ]
    assert all(who == "bot" and staff is None for who, _, staff in messages[5:])  # the assistant's answer
    history = candidate.get(f"/api/history?session_id={sender}").json()["messages"]
    assert [m.get("staff") for m in history if m["role"] == "bot"][0] == STAFF_NAME

    staff, _ = staff_client(staff_url)
    audit = staff.get("/staff/audit").text
    staff.close()
    assert "接入人工对话" in audit and "结束人工对话" in audit


def test_only_the_holder_writes_and_changes_need_the_csrf_token(servers: RunningServers,
                                                                 candidate: httpx.Client) -> None:
    sender = session_id()
    holder, csrf = staff_client(servers.web_url, "李老师")
    other, other_csrf = staff_client(servers.web_url, "赵老师")
    candidate.post("/api/live/request", json={"session_id": sender})
    assert holder.post("/staff/api/live/claim", json={"sender_id": sender}).status_code == 403  # no CSRF token
    assert holder.post("/staff/api/live/claim", json={"sender_id": sender},
                       headers={"X-CSRF-Token": csrf}).status_code == 200
    again = other.post("/staff/api/live/claim", json={"sender_id": sender}, headers={"X-CSRF-Token": other_csrf})
    assert again.status_code == 409
    intrude = other.post("/staff/api/live/reply", json={"sender_id": sender, "text": "我来"},
                         headers={"X-CSRF-Token": other_csrf})
    assert intrude.status_code == 409
    moved = holder.post("/staff/api/live/transfer", json={"sender_id": sender, "to": "赵老师"},
                        headers={"X-CSRF-Token": csrf})
    assert moved.status_code == 200 and moved.json()["handoff"]["staff"] == "赵老师"
    assert other.post("/staff/api/live/reply", json={"sender_id": sender, "text": "<b>我来</b>"},
                      headers={"X-CSRF-Token": other_csrf}).status_code == 200
    assert other.post("/staff/api/live/end", json={"sender_id": sender},
                      headers={"X-CSRF-Token": other_csrf}).status_code == 200
    assert "转交同事" in holder.get("/staff/audit").text
    holder.close()
    other.close()
    # a candidate's request is JSON only (a cross-site form cannot send it)
    form = candidate.post("/api/live/request", data={"session_id": sender})
    assert form.status_code == 415
    assert candidate.get("/api/live/state?session_id=x").status_code == 400


@contextmanager
def another_web_front(servers: RunningServers, tmp_path, **env: str) -> Iterator[str]:
    """A second real web front on the same Rasa and database, with its own settings (staff
    hours closed, a short claim timeout); its output goes to ``tmp_path/web.log``."""
    port = free_port()
    with started_server(
            [str(PROJECT_ROOT / ".venv/bin/python"), "-m", "uvicorn", "--factory", "bot.web.app:create_app",
             "--host", "127.0.0.1", "--port", str(port)],
            {**os.environ, "RASA_URL": servers.rasa_url, "TRACKER_DB_URL": servers.tracker_db_url,
             "STAFF_PASSWORD": TEST_STAFF_PASSWORD, "SECRET_KEY": "test-secret-key-not-for-production",
             "WEB_ENV_FILE": str(tmp_path / "absent.env"), **env},
            tmp_path / "web.log", "/healthz", port, timeout=60) as url:
        yield url


def test_out_of_hours_a_left_message_reaches_staff_with_its_contact_masked(servers: RunningServers,
                                                                           tmp_path, warm: None) -> None:
    sender = session_id()
    with another_web_front(servers, tmp_path, HANDOFF_HOURS="closed") as closed_url, \
            httpx.Client(base_url=closed_url, timeout=60, trust_env=False) as candidate:
        asked = candidate.post("/api/chat", json={"session_id": sender, "message": "转人工"}).json()
        assert asked["messages"] == [] and asked["handoff"] == {"state": "none", "open": False,
                                                                "hours": "09:00–12:00、13:30–17:30"}
        assert candidate.post("/api/live/request", json={"session_id": sender}).json()["handoff"]["open"] is False
        missing = candidate.post("/api/live/leave-message", json={"session_id": sender, "contact": " ",
                                                                  "message": "请回电"})
        assert missing.status_code == 400
        left = candidate.post("/api/live/leave-message", json={
            "session_id": sender, "contact": "13800138000",
            "message": "证书一直没寄到，身份证440101199001011234，请回电"})
        assert left.status_code == 200 and left.json()["left"] is True
    assert "13800138000" not in (tmp_path / "web.log").read_text(errors="replace")

    staff, csrf = staff_client(servers.web_url)
    try:
        queue = staff.get("/staff/api/live/queue").json()
        mine = [m for m in queue["left"] if m["sender_id"] == sender]
        assert len(mine) == 1 and mine[0]["out_of_hours"] is True
        assert mine[0]["contact"] == "13800138000"            # whole for the editor who calls back
        assert "440101199001011234" not in mine[0]["text"] and "1234" in mine[0]["text"]
        exported = staff.get("/staff/export/left-messages.csv").text
        assert "138****8000" in exported and "13800138000" not in exported
        done = staff.post("/staff/api/live/left-done", json={"id": mine[0]["id"]}, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200
        assert all(m["sender_id"] != sender for m in staff.get("/staff/api/live/queue").json()["left"])
        assert "处理留言" in staff.get("/staff/audit").text
        dashboard = staff.get("/staff/dashboard").text
        left_out_of_hours = re.search(r'data-total="handoff_left_out_of_hours">(\d+)<', dashboard)
        assert left_out_of_hours and int(left_out_of_hours.group(1)) >= 1
    finally:
        staff.close()
    stored = json.dumps(tracker_events(servers, sender), ensure_ascii=False)
    assert "转人工" in stored and "13800138000" not in stored and "pause" not in stored


def test_unclaimed_the_candidate_leaves_a_message_and_the_assistant_answers_again(
        servers: RunningServers, tmp_path, warm: None) -> None:
    sender = session_id()
    with another_web_front(servers, tmp_path, HANDOFF_HOURS="open", HANDOFF_CLAIM_TIMEOUT_SECONDS="1") as url, \
            httpx.Client(base_url=url, timeout=60, trust_env=False) as candidate:
        queued = candidate.post("/api/live/request", json={"session_id": sender}).json()["handoff"]
        assert queued["state"] == "queued" and queued["unclaimed"] is False
        time.sleep(1.5)
        assert candidate.get(f"/api/live/state?session_id={sender}").json()["handoff"]["unclaimed"] is True
        left = candidate.post("/api/live/leave-message", json={
            "session_id": sender, "contact": "wx: kaoshi2026", "message": "没人接，麻烦回个消息"}).json()
        assert left["handoff"]["state"] == "left"
        answer = candidate.post("/api/chat", json={"session_id": sender, "message": "什么是证书直邮？"}).json()
    assert answer["messages"] and answer["messages"][-1]["custom"]["kind"] == "faq_answer"
    kinds = [e["event"] for e in tracker_events(servers, sender)]
    assert kinds.index("pause") < kinds.index("resume") < kinds.index("user")


def test_a_desk_that_disappears_gives_the_conversation_back_to_the_queue(servers: RunningServers, tmp_path,
                                                                         warm: None) -> None:
    sender = session_id()
    with another_web_front(servers, tmp_path, HANDOFF_HOURS="open", HANDOFF_DESK_RELEASE_SECONDS="3") as url, \
            httpx.Client(base_url=url, timeout=60, trust_env=False) as candidate:
        staff, csrf = staff_client(url, "周老师")
        try:
            desk = EventStream(staff, "/staff/api/live/stream")
            desk.wait_for("queue")
            candidate.post("/api/live/request", json={"session_id": sender})
            widget = EventStream(candidate, f"/api/live/stream?session_id={sender}")
            assert staff.post("/staff/api/live/claim", json={"sender_id": sender},
                              headers={"X-CSRF-Token": csrf}).status_code == 200
            widget.wait_for("state", lambda d: d["state"] == "claimed")
            time.sleep(5)   # past the release time: the open desk keeps its claim
            assert candidate.get(f"/api/live/state?session_id={sender}").json()["handoff"]["state"] == "claimed"
            desk.close()    # the staff member's browser disappears
            started = time.monotonic()
            widget.wait_for("state", lambda d: d["state"] == "queued", timeout=20)
            released_after = time.monotonic() - started
            widget.close()
            assert "自动放回队列" in staff.get("/staff/audit").text
        finally:
            staff.close()
    assert 2 <= released_after <= 10, released_after


@contextmanager
def redis_url_for(servers: RunningServers, tmp_path) -> Iterator[str]:
    """The cluster's Redis, or a Redis server of this test's own (Debian's redis-server)."""
    if servers.cluster:
        yield f"redis://127.0.0.1:{servers.ports.redis}/1"
        return
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: make install-cluster (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"redis://127.0.0.1:{port}/1"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_candidate_and_the_staff_member_on_different_web_fronts(servers: RunningServers, tmp_path,
                                                                    warm: None) -> None:
    """Two web front instances share the live events over Redis pub/sub (the cluster's
    shared channel), never process memory: the candidate's requests reach one, the staff
    member's the other."""
    with redis_url_for(servers, tmp_path) as redis_url:
        env = {"HANDOFF_HOURS": "open", "HANDOFF_REDIS_URL": redis_url}
        with another_web_front(servers, tmp_path / "candidates", **env) as candidates_url, \
                another_web_front(servers, tmp_path / "staff", **env) as staff_url, \
                httpx.Client(base_url=candidates_url, timeout=60, trust_env=False) as candidate:
            person_takes_over_and_hands_back(servers, candidate, staff_url)
