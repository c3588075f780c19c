"""WeChat replies as plain text (bot/dialogue/channel_text.py), the late answer of a turn
still running at WeChat's last try (rasa_server/wechat_late.py), and the customer-service
API client against a stand-in of WeChat's API that answers as its documentation says."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from bot.dialogue.channel_text import chosen_option, plain_text
from tests.test_rasa_server import in_rasa_venv, needs_rasa_venv
from tests.test_wechat import action_server_pids, new_openid, official_account, user_events

ANSWER = {"text": "长答案", "buttons": [{"title": "邮费多少？", "payload": "邮费多少？"},
                                       {"title": "怎么查物流？", "payload": "怎么查物流？"}],
          "custom": {"kind": "faq_answer", "answer": "证书直邮需要在系统里申请。" * 3,
                     "sources": [{"title": "关于证书直邮的通知", "date": "2025年8月6日"}],
                     "region": "广东省", "region_note": None}}


def test_an_answer_reads_answer_sources_region_then_numbered_options():
    text = plain_text([ANSWER], 2000)
    assert text.startswith("证书直邮需要在系统里申请。")
    assert text.index("来源：\n《关于证书直邮的通知》2025年8月6日") < text.index("适用地区：广东省")
    assert text.endswith("1. 邮费多少？\n2. 怎么查物流？")


def test_a_long_answer_is_shortened_at_a_character_within_the_byte_limit():
    long = {**ANSWER, "custom": {**ANSWER["custom"], "answer": "证书😀直邮" * 400}}
    for limit in (600, 601, 602, 2000):
        text = plain_text([long], limit, "https://example.org/chat")
        assert len(text.encode()) <= limit
        assert "完整回答请打开：https://example.org/chat" in text and text.endswith("2. 怎么查物流？")
        assert "\ufffd" not in text


def test_a_number_chooses_an_option_and_anything_else_does_not():
    options = ANSWER["buttons"]
    assert chosen_option("2", options) == "怎么查物流？"
    assert chosen_option(" ２ ", options) == "怎么查物流？"
    assert chosen_option("3", options) is None and chosen_option("0", options) is None
    assert chosen_option("邮费", options) is None


@pytest.mark.servers
def test_a_turn_still_running_at_the_last_try_is_given_with_the_next_message(servers, rasa_url):
    """WeChat's third try (ten seconds after CreateTime) finds the turn still running:
    the candidate is told to send any message; the reply to it starts with the answer,
    once, and the message is answered too."""
    server = official_account(rasa_url, secure=True)
    openid = new_openid()
    xml = server.text(openid, "证书直邮怎么申请？", created=int(time.time()) - 10)
    pids = action_server_pids(servers)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    # held past the channel's four seconds of waiting, well within the action timeout
    resume = threading.Timer(5.0, lambda: [os.kill(pid, signal.SIGCONT) for pid in pids])
    resume.start()
    try:
        last_try = server.deliver(xml, openid)
    finally:
        resume.join()
    assert last_try.tries == 1 and "任意一条消息" in last_try.reply
    time.sleep(1.5)
    anything = server.deliver(server.text(openid, "好的"), openid)
    assert anything.reply.startswith("您刚才的问题的回答：") and "来源：" in anything.reply
    assert anything.reply.endswith("不客气！还有其他证书方面的问题，可以继续问我。")
    again = server.deliver(server.text(openid, "电子证书在哪里下载"), openid)
    assert "您刚才的问题的回答" not in again.reply            # given once
    assert [e["text"] for e in user_events(rasa_url, "wx-" + openid)] == [
        "证书直邮怎么申请？", "好的", "电子证书在哪里下载"]


# ---------------------------------------------------------------- customer-service API

class StandInApi(BaseHTTPRequestHandler):
    """/cgi-bin/stable_token and /cgi-bin/message/custom/send, answering from ``script``."""

    script: list = []
    calls: list = []

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        sent = json.loads(self.rfile.read(length))
        if url.path == "/cgi-bin/stable_token":   # getStableAccessToken: POST JSON
            self.calls.append(("token", sent["appid"], sent["force_refresh"]))
            return self._answer({"access_token": f"token-{len(self.calls)}", "expires_in": 7200})
        self.calls.append(("send", parse_qs(url.query)["access_token"][0], sent["text"]["content"]))
        self._answer(self.script.pop(0) if self.script else {"errcode": 0, "errmsg": "ok"})


SEND = """
import asyncio, sys
from rasa_server.wechat_late import CustomerServiceApi, CustomerServiceError
api = CustomerServiceApi("wxapp", "secret", sys.argv[1])
async def main():
    outcomes = []
    for text in ("一", "二", "三"):
        try:
            await api.send_text("openid-1", text)
            outcomes.append("sent")
        except CustomerServiceError as error:
            outcomes.append(f"error {error.errcode}")
    print(outcomes)
asyncio.run(main())
"""


def sent_through(stand_in: type, script: str) -> str:
    """What ``script`` printed, run in Rasa's venv against a stand-in of the API."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), stand_in)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return in_rasa_venv(script, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


@needs_rasa_venv
def test_the_customer_service_api_caches_its_token_renews_it_and_reports_refusals():
    StandInApi.script = [{"errcode": 0}, {"errcode": 42001, "errmsg": "access_token expired"},
                         {"errcode": 0}, {"errcode": 45015, "errmsg": "response out of time limit"}]
    StandInApi.calls = []
    printed = sent_through(StandInApi, SEND)
    assert printed == "['sent', 'sent', 'error 45015']"
    kinds = [call[0] for call in StandInApi.calls]
    # one token for the first two sends, a new one when WeChat says it expired; never a
    # forced refresh, which would invalidate the token the other instances hold
    assert kinds == ["token", "send", "send", "token", "send", "send"]
    assert [call[2] for call in StandInApi.calls if call[0] == "token"] == [False, False]
    assert StandInApi.calls[4][1] == StandInApi.calls[5][1] != StandInApi.calls[1][1]


@needs_rasa_venv
def test_an_unreachable_api_is_an_error_not_a_crash():
    printed = in_rasa_venv(SEND, "http://127.0.0.1:9")
    assert printed == "['error None', 'error None', 'error None']"


class RecordingApi(BaseHTTPRequestHandler):
    """Any path: records (method, path, query, JSON body) and answers as WeChat does."""

    calls: list = []

    def log_message(self, *args):  # quiet
        pass

    def _record(self, body: dict | None) -> None:
        url = urlparse(self.path)
        self.calls.append((self.command, url.path, parse_qs(url.query), body))
        StandInApi._answer(self, {"access_token": "wecom-token", "expires_in": 7200,
                                  "errcode": 0, "errmsg": "ok"})

    def do_GET(self):
        self._record(None)

    def do_POST(self):
        self._record(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))


SEND_WECOM = """
import asyncio, os, sys
os.environ.update(WECOM_CUSTOMER_SERVICE="1", WECOM_API_BASE=sys.argv[1], WECOM_AGENT_ID="1000002")
from rasa_server.wechat_late import LateAnswers
from rasa_server.wechat_protocol import WeChatSettings
late = LateAnswers(WeChatSettings("token", "ww-corp", "corp-secret"), "WECOM")
asyncio.run(late.api.send_text("zhangsan", "一"))
print("sent")
"""


@needs_rasa_venv
def test_a_wecom_application_sends_with_wecoms_own_api():
    """企业微信's application message API (gettoken with the CorpID and the app's Secret,
    message/send with the AgentId), not the 公众号's customer-service API."""
    RecordingApi.calls = []
    printed = sent_through(RecordingApi, SEND_WECOM)
    assert printed == "sent"
    (get, token_path, token_query, _), (post, send_path, send_query, body) = RecordingApi.calls
    assert (get, token_path, token_query) == ("GET", "/cgi-bin/gettoken",
                                              {"corpid": ["ww-corp"], "corpsecret": ["corp-secret"]})
    assert (post, send_path, send_query["access_token"]) == ("POST", "/cgi-bin/message/send",
                                                             ["wecom-token"])
    assert body == {"touser": "zhangsan", "msgtype": "text", "agentid": 1000002,
                    "text": {"content": "一"}}
