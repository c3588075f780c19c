"""The candidate-facing routes: pages, /api/chat, /api/history, /embed.js.

Backend: the ``rasa_url`` fixture (real Rasa when tests/conftest.py provides
``rasa_servers``, else the temporary stand-in in tests/support/fake_rasa.py). The
assertions use only what CONTRACTS.md promises, so they hold for both, except the
ones marked ``stand_in_only`` (they rely on the stand-in's canned answers).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from bot.web.app import create_app
from bot.web.settings import WebSettings

try:
    from support.fake_rasa import free_port, rasa_url, uses_stand_in  # noqa: F401  (fixture)
except ImportError:  # tests/ became a package
    from tests.support.fake_rasa import free_port, rasa_url, uses_stand_in  # noqa: F401

FAQ_QUESTION = "什么是证书直邮？"


def new_session_id() -> str:
    return "test-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def client(rasa_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = WebSettings(rasa_url=rasa_url, tracker_db_url=f"sqlite:///{tmp_path_factory.mktemp('db')}/none.db")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def stand_in_only(rasa_url: str) -> None:
    if not uses_stand_in(rasa_url):
        pytest.skip("relies on the stand-in's canned answers")


@pytest.fixture()
def rasa_down_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = WebSettings(rasa_url=f"http://127.0.0.1:{free_port()}", rasa_timeout_seconds=3)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


# ------------------------------------------------------------------ pages


def test_chat_page_is_served_with_escaped_config(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert 'id="app"' in response.text
    assert "data-config=" in response.text
    assert "<script>" not in response.text.split("data-config=")[1].split(">")[0]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_chat_page_references_the_bundle_when_built(client: TestClient) -> None:
    if not (Path(__file__).resolve().parent.parent / "bot/web/static/dist/chat.js").is_file():
        pytest.skip("frontend not built (cd bot/web/frontend && npm ci && npm run build)")
    page = client.get("/").text
    assert "/static/dist/chat.js" in page and "/static/dist/chat.css" in page
    assert client.get("/static/dist/chat.js").status_code == 200
    assert "cdn" not in page.lower()


def test_embed_script_and_demo(client: TestClient) -> None:
    script = client.get("/embed.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert "__EMBED_TEXTS__" not in script.text
    assert "/?embed=1" in script.text
    assert "\\u8bc1\\u4e66" in script.text  # "证书" from data/web/ui.yml, JSON-escaped
    demo = client.get("/embed-demo")
    assert demo.status_code == 200
    assert '<script src="http://testserver/embed.js"></script>' in demo.text
    embedded = client.get("/?embed=1")
    assert "frame-ancestors *" in embedded.headers["content-security-policy"]


def test_health_and_unknown_routes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get("/api/chat").status_code == 405


# ------------------------------------------------------------------ /api/chat


def test_chat_returns_normalised_bubbles(client: TestClient) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id(), "message": FAQ_QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert body["user_text"] == FAQ_QUESTION and body["masked"] is False
    assert body["messages"], "the bot answers something"
    for bubble in body["messages"]:
        assert bubble["role"] == "bot"
        assert isinstance(bubble["text"], str)
        assert isinstance(bubble["buttons"], list)
        assert isinstance(bubble["timestamp"], float)
    # the custom part is paired with its text: no bubble is custom-only with empty text
    assert not [bubble for bubble in body["messages"] if bubble["custom"] and not bubble["text"]]
    customs = [bubble["custom"] for bubble in body["messages"] if bubble["custom"]]
    assert customs and customs[0]["kind"] in {"faq_answer", "did_you_mean", "fallback", "deadline", "smalltalk", "form_prompt"}


def test_chat_answer_has_sources_and_buttons(client: TestClient, stand_in_only: None) -> None:
    bubble = client.post("/api/chat", json={"session_id": new_session_id(), "message": FAQ_QUESTION}).json()["messages"][0]
    assert bubble["custom"]["kind"] == "faq_answer"
    assert bubble["custom"]["sources"][0]["issuer"] == "广东省人事考试机构"
    assert bubble["buttons"] == [{"title": "怎么申请证书直邮？", "payload": "怎么申请证书直邮？"}]


def test_numbers_are_masked_before_rasa_sees_them(client: TestClient) -> None:
    session_id = new_session_id()
    message = "我的身份证440106199001011234，手机13812345678，证书什么时候寄？"
    body = client.post("/api/chat", json={"session_id": session_id, "message": message}).json()
    assert body["masked"] is True
    assert body["user_text"] == "我的身份证**************1234，手机138****5678，证书什么时候寄？"
    stored = json.dumps(client.get("/api/history", params={"session_id": session_id}).json(), ensure_ascii=False)
    assert "440106199001011234" not in stored and "13812345678" not in stored
    assert "**************1234" in stored


def test_numbers_never_reach_the_stand_in(client: TestClient, rasa_url: str, stand_in_only: None) -> None:
    client.post("/api/chat", json={"session_id": new_session_id(), "message": "手机 139 1234 5678"})
    raw = httpx.get(rasa_url + "/_received").json()
    assert "139 1234 5678" not in json.dumps(raw, ensure_ascii=False)


@pytest.mark.parametrize("message", ["", "   ", "\n\t "])
def test_empty_message_is_rejected(client: TestClient, message: str) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id(), "message": message})
    assert response.status_code == 400
    assert response.json()["error"] == "empty_message"
    assert "不能为空" in response.json()["message"]


def test_missing_message_is_rejected(client: TestClient) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id()})
    assert response.status_code == 400 and response.json()["error"] == "empty_message"


def test_non_text_message_is_rejected(client: TestClient) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id(), "message": ["a"]})
    assert response.status_code == 400 and response.json()["error"] == "message_not_text"


def test_oversized_message_is_rejected(client: TestClient) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id(), "message": "证" * 1001})
    assert response.status_code == 413
    assert "1000" in response.json()["message"]
    exactly = client.post("/api/chat", json={"session_id": new_session_id(), "message": "证" * 1000})
    assert exactly.status_code == 200


def test_huge_body_is_rejected_without_parsing(client: TestClient) -> None:
    response = client.post("/api/chat", content=b"{" + b" " * 200_000 + b"}", headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe", b"null"])
def test_malformed_json_is_rejected(client: TestClient, body: bytes) -> None:
    response = client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert "JSON" in response.json()["message"]


@pytest.mark.parametrize("session_id", [None, "", "short", "x" * 65, "../../etc/passwd", "有中文的会话编号abc", 12345678, "a b c d e f g h"])
def test_bad_session_id_is_rejected(client: TestClient, session_id: object) -> None:
    response = client.post("/api/chat", json={"session_id": session_id, "message": FAQ_QUESTION})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_session_id"
    if not isinstance(session_id, int):  # as a query string 12345678 is a fine id
        history = client.get("/api/history", params={} if session_id is None else {"session_id": session_id})
        assert history.status_code == 400


@pytest.mark.parametrize("attack", ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">'])
def test_injection_attempts_come_back_as_plain_data(client: TestClient, attack: str) -> None:
    session_id = new_session_id()
    response = client.post("/api/chat", json={"session_id": session_id, "message": attack})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["user_text"] == attack  # data, unchanged; the page renders it as text
    history = client.get("/api/history", params={"session_id": session_id}).json()["messages"]
    assert history[0] == {"role": "user", "text": attack, "buttons": [], "custom": None, "timestamp": history[0]["timestamp"]}


def test_rasa_down_gives_503_with_a_friendly_message(rasa_down_client: TestClient) -> None:
    response = rasa_down_client.post("/api/chat", json={"session_id": new_session_id(), "message": FAQ_QUESTION})
    assert response.status_code == 503
    assert response.json() == {"error": "rasa_unavailable", "message": "小助手暂时无法连接，请稍后再试。"}
    history = rasa_down_client.get("/api/history", params={"session_id": new_session_id()})
    assert history.status_code == 503 and "稍后再试" in history.json()["message"]


# ------------------------------------------------------------------ /api/history


def test_history_rebuilds_the_conversation(client: TestClient) -> None:
    session_id = new_session_id()
    client.post("/api/chat", json={"session_id": session_id, "message": FAQ_QUESTION})
    client.post("/api/chat", json={"session_id": session_id, "message": "邮费多少钱"})
    response = client.get("/api/history", params={"session_id": session_id})
    assert response.status_code == 200
    messages = response.json()["messages"]
    roles = [message["role"] for message in messages]
    assert roles[0] == "user" and "bot" in roles
    assert [message["text"] for message in messages if message["role"] == "user"] == [FAQ_QUESTION, "邮费多少钱"]
    assert all(isinstance(message["timestamp"], float) for message in messages)
    timestamps = [message["timestamp"] for message in messages]
    assert timestamps == sorted(timestamps)
    bot_customs = [message["custom"] for message in messages if message["role"] == "bot" and message["custom"]]
    assert bot_customs, "custom (kind, sources) survives in the tracker's bot events"


def test_history_of_an_unknown_session_is_empty(client: TestClient) -> None:
    response = client.get("/api/history", params={"session_id": new_session_id()})
    assert response.status_code == 200 and response.json()["messages"] == []


def test_history_keeps_buttons_and_sources(client: TestClient, stand_in_only: None) -> None:
    session_id = new_session_id()
    client.post("/api/chat", json={"session_id": session_id, "message": FAQ_QUESTION})
    bot = client.get("/api/history", params={"session_id": session_id}).json()["messages"][1]
    assert bot["buttons"][0]["payload"] == "怎么申请证书直邮？"
    assert bot["custom"]["sources"][0]["date"] == "2025年8月6日"
