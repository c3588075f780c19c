"""WeChat candidates in the live handoff (rasa_server/wechat_handoff.py, bot/web/live_wechat.py),
against the REAL servers with the WeChat server simulator (tests/wechat_simulator.py): the
candidate asks for a person in WeChat, the desk sees the request and the candidate's
messages, the assistant answers none of them; a staff reply goes out through WeChat's
customer-service message API where the account may use it (a stand-in of that API,
checking each request as WeChat's documentation defines it), and otherwise, or when
WeChat refuses it, with the reply to the candidate's next message, once."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bot import PROJECT_ROOT
from tests.conftest import WECHAT_TEST_ENV, RunningServers, free_port, started_server
from tests.test_live_handoff import EventStream, another_web_front, messages_in, staff_client, tracker_events
from tests.test_live_handoff import warm  # noqa: F401 - a fixture
from tests.test_wechat import new_openid, official_account

pytestmark = [pytest.mark.servers]

APP_SECRET = "test-app-secret-0123456789abcdef"
STAFF = "孙老师"


class CustomerServiceStandIn(BaseHTTPRequestHandler):
    """WeChat's ``POST /cgi-bin/stable_token`` and ``POST /cgi-bin/message/custom/send`` as its
    documentation defines them; a request that is not as defined is answered with
    WeChat's "invalid parameter" and recorded as wrong."""

    answers: list = []     # errcodes for the next sends (0: taken)
    sent: list = []        # (touser, content) WeChat took
    wrong: list = []

    def log_message(self, *args):  # quiet
        pass

    def _json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; encoding=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        url = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            sent = json.loads(body)
        except ValueError:
            sent = None
        if url.path == "/cgi-bin/stable_token":
            return self._stable_token(sent)
        right = (url.path == "/cgi-bin/message/custom/send"
                 and parse_qs(url.query).get("access_token") == ["stand-in-token"]
                 and isinstance(sent, dict) and sent.get("msgtype") == "text"
                 and isinstance(sent.get("touser"), str) and isinstance(sent.get("text"), dict)
                 and isinstance(sent["text"].get("content"), str) and len(sent["text"]["content"].encode()) <= 2048)
        if not right:
            self.wrong.append(("send", self.path, body[:200]))
            return self._json({"errcode": 40035, "errmsg": "invalid parameter"})
        errcode = self.answers.pop(0) if self.answers else 0
        if errcode == 0:
            self.sent.append((sent["touser"], sent["text"]["content"]))
        self._json({"errcode": errcode, "errmsg": "ok" if errcode == 0 else "response out of time limit"})


    def _stable_token(self, sent: dict | None) -> None:
        """getStableAccessToken: POST JSON, the same token to every caller while valid."""
        if sent != {"grant_type": "client_credential", "appid": WECHAT_TEST_ENV["WECHAT_APP_ID"],
                    "secret": APP_SECRET, "force_refresh": False}:
            self.wrong.append(("token", self.path, sent))
            return self._json({"errcode": 40013, "errmsg": "invalid appid"})
        self._json({"access_token": "stand-in-token", "expires_in": 7200})


@contextmanager
def customer_service_api() -> Iterator[str]:
    CustomerServiceStandIn.answers, CustomerServiceStandIn.sent, CustomerServiceStandIn.wrong = [], [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CustomerServiceStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def another_rasa(servers: RunningServers, tmp_path, **env: str) -> Iterator[str]:
    """A second real Rasa server on the same tracker store and action server, with its
    own environment (the WeChat account's customer-service settings)."""
    port = free_port()
    environment = {**servers.supervisor.environment(), **WECHAT_TEST_ENV, "HANDOFF_HOURS": "open",
                   "ACTION_SERVER_URL": f"http://127.0.0.1:{servers.ports.actions}/webhook", **env}
    with started_server(
            [str(PROJECT_ROOT / ".venv-rasa/bin/python"), "-m", "rasa_server", "run", "--enable-api",
             "-i", "127.0.0.1", "-p", str(port), "--model", "models/rasa/model.tar.gz",
             "--endpoints", "endpoints.yml", "--credentials", "credentials.yml"],
            environment, tmp_path / "rasa.log", "/status", port, timeout=240) as url:
        yield url


def handed_over(web_url: str, rasa_url: str, openid: str) -> tuple[httpx.Client, str, EventStream]:
    """The WeChat candidate asked for a person, the desk saw it and claimed it."""
    wechat = official_account(rasa_url, secure=True)
    staff, csrf = staff_client(web_url, STAFF)
    desk = EventStream(staff, "/staff/api/live/stream")
    desk.wait_for("queue")
    asked = wechat.deliver(wechat.text(openid, "转人工"), openid)
    assert not asked.platform_error and "正在为您转接人工客服" in asked.reply
    sender = "wx-" + openid
    desk.wait_for("queue", lambda d: any(q["sender_id"] == sender and q["state"] == "queued" for q in d["queue"]))
    assert staff.post("/staff/api/live/claim", json={"sender_id": sender},
                      headers={"X-CSRF-Token": csrf}).status_code == 200
    return staff, csrf, desk


def test_a_wechat_candidate_is_handed_over_and_staff_replies_wait_for_the_next_message(
        servers: RunningServers, warm: None) -> None:
    """The test account may not use the customer-service API (no AppSecret)."""
    openid = new_openid()
    sender = "wx-" + openid
    wechat = official_account(servers.rasa_url, secure=True)
    staff, csrf, desk = handed_over(servers.web_url, servers.rasa_url, openid)
    headers = {"X-CSRF-Token": csrf}
    try:
        during = wechat.deliver(wechat.text(openid, "我的证书寄丢了怎么办"), openid)
        assert not during.platform_error and during.reply is None     # not the assistant's answer
        shown = [desk.wait_for("message", lambda d: d["sender_id"] == sender)["bubble"] for _ in range(2)]
        assert [(b["role"], b["text"]) for b in shown] == [("user", "转人工"), ("user", "我的证书寄丢了怎么办")]

        replied = staff.post("/staff/api/live/reply", headers=headers, json={
            "sender_id": sender, "text": "您好，我帮您查一下邮寄记录。"})
        assert replied.status_code == 200 and replied.json()["bubble"]["delivery"] == "next_message"
        given = wechat.deliver(wechat.text(openid, "好的，谢谢"), openid)
        assert given.reply == f"人工客服{STAFF}：\n您好，我帮您查一下邮寄记录。"
        again = wechat.deliver(wechat.text(openid, "还在吗"), openid)
        assert again.reply is None and not again.platform_error          # given once

        conversation = staff.get("/staff/api/live/conversation", params={"sender_id": sender}).json()
        assert [m.get("delivery") for m in conversation["messages"] if m.get("staff")] == ["next_message"]
        assert staff.post("/staff/api/live/end", json={"sender_id": sender}, headers=headers).status_code == 200
        after = wechat.deliver(wechat.text(openid, "什么是证书直邮？"), openid)
        assert after.reply and "人工客服" not in after.reply and not after.platform_error  # the assistant again
    finally:
        desk.close()
        staff.close()
    assert messages_in(tracker_events(servers, sender))[:5] == [
        ("user", "转人工", None), ("user", "我的证书寄丢了怎么办", None),
        ("bot", "您好，我帮您查一下邮寄记录。", STAFF), ("user", "好的，谢谢", None), ("user", "还在吗", None)]


def test_staff_replies_go_out_through_the_customer_service_api_and_an_unclaimed_request_expires(
        servers: RunningServers, tmp_path, warm: None) -> None:
    openid = new_openid()
    sender = "wx-" + openid
    with customer_service_api() as api, \
            another_rasa(servers, tmp_path / "rasa", WECHAT_CUSTOMER_SERVICE="1", WECHAT_APP_SECRET=APP_SECRET,
                         WECHAT_API_BASE=api, HANDOFF_CLAIM_TIMEOUT_SECONDS="2") as rasa_url, \
            another_web_front(servers, tmp_path / "web", RASA_URL=rasa_url, HANDOFF_HOURS="open",
                              WECHAT_CUSTOMER_SERVICE="1") as web_url:
        wechat = official_account(rasa_url, secure=True)
        staff, csrf, desk = handed_over(web_url, rasa_url, openid)
        headers = {"X-CSRF-Token": csrf}
        try:
            CustomerServiceStandIn.answers = [0, 45015]   # the second: past WeChat's 48-hour window
            first = staff.post("/staff/api/live/reply", headers=headers, json={
                "sender_id": sender, "text": "您好，我是客服，请问证书是哪天寄出的？",
                "sources": [{"title": "证书邮寄服务说明", "date": "2026年1月1日"}]})
            assert first.status_code == 200 and first.json()["bubble"]["delivery"] == "sent"
            assert CustomerServiceStandIn.sent == [
                (openid, f"人工客服{STAFF}：\n您好，我是客服，请问证书是哪天寄出的？\n\n来源：\n《证书邮寄服务说明》2026年1月1日")]
            second = staff.post("/staff/api/live/reply", headers=headers, json={
                "sender_id": sender, "text": "查到了，明天送达。"})
            assert second.status_code == 200 and second.json()["bubble"]["delivery"] == "next_message"
            assert len(CustomerServiceStandIn.sent) == 1
            given = wechat.deliver(wechat.text(openid, "好的"), openid)
            assert given.reply == f"人工客服{STAFF}：\n查到了，明天送达。"   # not the one WeChat took
            assert staff.post("/staff/api/live/end", json={"sender_id": sender}, headers=headers).status_code == 200

            # nobody takes another candidate's request within the claim timeout (2 s here):
            # their next message is the assistant's again, and the desk's queue lets go of it
            waiting = new_openid()
            asked = wechat.deliver(wechat.text(waiting, "找人工客服"), waiting)
            assert "正在为您转接人工客服" in asked.reply
            desk.wait_for("queue", lambda d: any(q["sender_id"] == "wx-" + waiting for q in d["queue"]))
            time.sleep(2.5)
            answered = wechat.deliver(wechat.text(waiting, "什么是证书直邮？"), waiting)
            assert answered.reply and "直邮" in answered.reply and not answered.platform_error
            desk.wait_for("queue", lambda d: all(q["sender_id"] != "wx-" + waiting for q in d["queue"]))
        finally:
            desk.close()
            staff.close()
        assert CustomerServiceStandIn.wrong == []
    staff_messages = [m for m in messages_in(tracker_events(servers, sender)) if m[2]]
    assert staff_messages == [("bot", "您好，我是客服，请问证书是哪天寄出的？", STAFF), ("bot", "查到了，明天送达。", STAFF)]
