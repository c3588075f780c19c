"""The candidate-facing routes: pages, /api/chat, /api/history, /embed.js.

Against the REAL servers of the ``servers`` fixture (tests/conftest.py): the web front
under uvicorn at ``web_url``, talking to the real Rasa, action server and retrieval
index, with a throw-away SQLite tracker store. The assertions check what
docs/CONTRACTS.md promises (message shapes, kinds, sources, related questions as
buttons) and what the knowledge base says, never answer wording.
"""

from __future__ import annotations

import json
import re
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from bot.knowledge.entries import KnowledgeBase, load_knowledge_base
from bot.lang.privacy import MOBILE
from bot.web.app import create_app
from bot.web.config import WebSettings
from tests.conftest import free_port

pytestmark = pytest.mark.servers

FAQ_QUESTION = "什么是证书直邮？"
OFF_TOPIC_QUESTION = "帮我订一张明天去北京的火车票"
KINDS = {"faq_answer", "did_you_mean", "fallback", "deadline", "smalltalk", "form_prompt", "invalid_input"}


def new_session_id() -> str:
    return "test-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def client(web_url: str) -> Iterator[httpx.Client]:
    """HTTP client for the real web front (uvicorn process of the ``servers`` fixture)."""
    with httpx.Client(base_url=web_url, timeout=120) as http:
        yield http


@pytest.fixture(scope="module")
def knowledge_base() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture()
def rasa_down_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = WebSettings(rasa_url=f"http://127.0.0.1:{free_port()}", rasa_timeout_seconds=3)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def chat(client: httpx.Client, message: str, session_id: str | None = None) -> dict:
    response = client.post("/api/chat", json={"session_id": session_id or new_session_id(), "message": message})
    assert response.status_code == 200, response.text
    return response.json()


def custom_bubble(body: dict) -> dict:
    """The bubble carrying the reply's ``custom`` part (exactly one per reply)."""
    bubbles = [bubble for bubble in body["messages"] if bubble["custom"]]
    assert len(bubbles) == 1, body
    return bubbles[0]


def rasa_tracker_text(rasa_url: str, session_id: str) -> str:
    """Rasa's own tracker of a conversation, as JSON text (what the tracker store keeps)."""
    response = httpx.get(f"{rasa_url}/conversations/{session_id}/tracker", timeout=30)
    assert response.status_code == 200, response.text
    return json.dumps(response.json(), ensure_ascii=False)


# ------------------------------------------------------------------ pages


def test_chat_page_is_served_with_escaped_config(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert 'id="app"' in response.text
    assert "data-config=" in response.text
    assert "<script>" not in response.text.split("data-config=")[1].split(">")[0]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_chat_page_references_the_bundle_when_built(client: httpx.Client) -> None:
    if not (Path(__file__).resolve().parent.parent / "bot/web/static/dist/chat.js").is_file():
        pytest.skip("frontend not built (cd bot/web/chat/frontend && npm ci && npm run build)")
    page = client.get("/").text
    assert "/static/dist/chat.js" in page and "/static/dist/chat.css" in page
    assert client.get("/static/dist/chat.js").status_code == 200
    assert "cdn" not in page.lower()


def test_embed_script_and_demo(client: httpx.Client, web_url: str) -> None:
    script = client.get("/embed.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert "__EMBED_TEXTS__" not in script.text
    assert "/?embed=1" in script.text
    assert "\\u8bc1\\u4e66" in script.text  # "证书" from data/web/ui.yml, JSON-escaped
    demo = client.get("/embed-demo")
    assert demo.status_code == 200
    assert f'<script src="{web_url}/embed.js"></script>' in demo.text
    embedded = client.get("/?embed=1")
    assert "frame-ancestors *" in embedded.headers["content-security-policy"]


def test_health_and_unknown_routes(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert client.get("/api/chat").status_code == 405


# ------------------------------------------------------------------ /api/chat


def test_chat_returns_normalised_bubbles(client: httpx.Client) -> None:
    body = chat(client, FAQ_QUESTION)
    assert body["user_text"] == FAQ_QUESTION and body["masked"] is False
    assert body["messages"], "the bot answers something"
    for bubble in body["messages"]:
        assert bubble["role"] == "bot"
        assert isinstance(bubble["text"], str)
        assert isinstance(bubble["buttons"], list)
        assert isinstance(bubble["timestamp"], float)
    # the custom part is paired with its text: no bubble is custom-only with empty text
    assert not [bubble for bubble in body["messages"] if bubble["custom"] and not bubble["text"]]
    assert custom_bubble(body)["custom"]["kind"] in KINDS


def test_faq_question_gets_an_answer_with_sources_and_related_buttons(
    client: httpx.Client, knowledge_base: KnowledgeBase
) -> None:
    bubble = custom_bubble(chat(client, FAQ_QUESTION))
    custom = bubble["custom"]
    assert custom["kind"] == "faq_answer"
    entry = knowledge_base.entry(custom["entry_id"])  # a real entry of the knowledge base
    assert custom["topic"] == entry.topic
    assert isinstance(custom["score"], (int, float)) and 0 <= custom["score"] <= 1
    assert custom["answer"].strip() and custom["answer"].strip() in bubble["text"]
    assert custom["sources"], "every answer cites its documents"
    for source in custom["sources"]:
        assert source["title"] and source["issuer"] and source["date"]
        assert source["passage_id"] in entry.citations
    assert custom["sources"][0]["title"] in bubble["text"]  # the source line is shown too
    questions = {known.question for known in knowledge_base.entries}
    assert bubble["buttons"], "an answer offers follow-up questions"
    assert all(button["title"] == button["payload"] and button["title"] in questions for button in bubble["buttons"])
    related = [knowledge_base.entry(related).question for related in entry.related]
    shown = min(len(related), len(bubble["buttons"]))
    assert [button["title"] for button in bubble["buttons"][:shown]] == related[:shown]  # related first


def test_off_topic_question_gets_the_fallback(client: httpx.Client) -> None:
    bubble = custom_bubble(chat(client, OFF_TOPIC_QUESTION))
    assert bubble["custom"]["kind"] == "fallback"
    assert bubble["custom"]["entry_id"] is None and bubble["custom"]["sources"] == []
    assert bubble["text"].strip()


def test_published_contact_numbers_in_answers_are_not_masked(
    client: httpx.Client, knowledge_base: KnowledgeBase
) -> None:
    """Only what candidates type is masked: a hotline the documents publish stays readable."""
    with_numbers = [entry for entry in knowledge_base.entries if MOBILE.search(entry.answer)]
    assert with_numbers, "the knowledge base publishes at least one mobile-style hotline"
    entry = with_numbers[0]
    bubble = custom_bubble(chat(client, entry.question))
    assert bubble["custom"]["entry_id"] == entry.id
    for match in MOBILE.finditer(entry.answer):
        assert match.group("number") in bubble["text"]
        assert match.group("number") in bubble["custom"]["answer"]


@pytest.mark.parametrize(
    ("message", "raw_numbers", "shown"),
    [
        ("我的身份证440106199001011234，手机13812345678，证书什么时候寄？", ["440106199001011234", "13812345678"],
         "我的身份证**************1234，手机138****5678，证书什么时候寄？"),
        ("手机 139 1234 5678 能查证书直邮吗", ["139 1234 5678", "13912345678"], "手机 139****5678 能查证书直邮吗"),
    ],
)
def test_numbers_are_masked_before_rasa_sees_them(
    client: httpx.Client, rasa_url: str, message: str, raw_numbers: list[str], shown: str
) -> None:
    session_id = new_session_id()
    body = chat(client, message, session_id)
    assert body["masked"] is True
    assert body["user_text"] == shown
    history = json.dumps(client.get("/api/history", params={"session_id": session_id}).json(), ensure_ascii=False)
    in_rasa = rasa_tracker_text(rasa_url, session_id)
    for number in raw_numbers:
        assert number not in history and number not in in_rasa
    assert shown in in_rasa  # Rasa got (and stored) the masked text


@pytest.mark.parametrize(("message", "kind"), [("证书直邮是什么😀", "faq_answer"),
                                             ("👨‍👩‍👧 证书丢了怎么补办？🙏", "faq_answer"),
                                             ("😀🎉", "invalid_input")])
def test_emoji_round_trip(client: httpx.Client, message: str, kind: str) -> None:
    session_id = new_session_id()
    body = chat(client, message, session_id)
    assert body["user_text"] == message
    assert custom_bubble(body)["custom"]["kind"] == kind  # emoji around a question do not hide it
    history = client.get("/api/history", params={"session_id": session_id}).json()["messages"]
    assert history[0]["role"] == "user" and history[0]["text"] == message


@pytest.mark.parametrize("message", ["", "   ", "\n\t "])
def test_empty_message_is_rejected(client: httpx.Client, message: str) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id(), "message": message})
    assert response.status_code == 400
    assert response.json()["error"] == "empty_message"
    assert "不能为空" in response.json()["message"]


def test_missing_message_is_rejected(client: httpx.Client) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id()})
    assert response.status_code == 400 and response.json()["error"] == "empty_message"


def test_non_text_message_is_rejected(client: httpx.Client) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id(), "message": ["a"]})
    assert response.status_code == 400 and response.json()["error"] == "message_not_text"


def test_oversized_message_is_rejected(client: httpx.Client) -> None:
    response = client.post("/api/chat", json={"session_id": new_session_id(), "message": "证" * 1001})
    assert response.status_code == 413
    assert "1000" in response.json()["message"]
    exactly = client.post("/api/chat", json={"session_id": new_session_id(), "message": "证" * 1000})
    assert exactly.status_code == 200
    assert custom_bubble(exactly.json())["custom"]["kind"] in KINDS


def test_huge_body_is_rejected_without_parsing(client: httpx.Client) -> None:
    response = client.post("/api/chat", content=b"{" + b" " * 200_000 + b"}", headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe", b"null"])
def test_malformed_json_is_rejected(client: httpx.Client, body: bytes) -> None:
    response = client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert "JSON" in response.json()["message"]


@pytest.mark.parametrize("session_id", [None, "", "short", "x" * 65, "../../etc/passwd", "有中文的会话编号abc", 12345678, "a b c d e f g h"])
def test_bad_session_id_is_rejected(client: httpx.Client, session_id: object) -> None:
    response = client.post("/api/chat", json={"session_id": session_id, "message": FAQ_QUESTION})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_session_id"
    if not isinstance(session_id, int):  # as a query string 12345678 is a fine id
        history = client.get("/api/history", params={} if session_id is None else {"session_id": session_id})
        assert history.status_code == 400


@pytest.mark.parametrize("attack", ["<script>alert(1)</script>", '<img src=x onerror="alert(1)">'])
def test_injection_attempts_come_back_as_plain_data(client: httpx.Client, attack: str) -> None:
    session_id = new_session_id()
    response = client.post("/api/chat", json={"session_id": session_id, "message": attack})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["user_text"] == attack  # data, unchanged; the page renders it as text
    assert custom_bubble(response.json())["custom"]["kind"] in KINDS  # the bot still answers
    history = client.get("/api/history", params={"session_id": session_id}).json()["messages"]
    assert history[0] == {"role": "user", "text": attack, "buttons": [], "custom": None, "timestamp": history[0]["timestamp"]}


def test_rasa_down_gives_a_polite_reply_with_a_retry(rasa_down_client: TestClient) -> None:
    # main answered 503 {"error": "rasa_unavailable"}: the chat showed an error, not a reply
    response = rasa_down_client.post("/api/chat", json={"session_id": new_session_id(), "message": FAQ_QUESTION})
    assert response.status_code == 200
    [bubble] = response.json()["messages"]
    assert bubble["custom"]["kind"] == "unavailable" and bubble["custom"]["retry"] is True
    assert "18558892138" in bubble["text"]                       # the help contacts
    traditional = rasa_down_client.post("/api/chat", json={"session_id": new_session_id(),
                                                           "message": "證書直郵怎麼申請"})
    assert "暫時" in traditional.json()["messages"][0]["text"]     # in the candidate's script
    history = rasa_down_client.get("/api/history", params={"session_id": new_session_id()})
    assert history.status_code == 503 and "稍后再试" in history.json()["message"]


@pytest.mark.parametrize("lifespan", [True, False])
def test_answers_with_the_pooled_client_and_without_it(rasa_url: str, tmp_path: Path, lifespan: bool) -> None:
    app = create_app(WebSettings(rasa_url=rasa_url, tracker_db_url=f"sqlite:///{tmp_path}/tracker.db"))
    test_client = TestClient(app)
    with test_client if lifespan else nullcontext(test_client):  # without a lifespan: one connection per call
        assert (app.state.web.rasa_client._http is not None) is lifespan
        session_id = new_session_id()
        response = test_client.post("/api/chat", json={"session_id": session_id, "message": FAQ_QUESTION})
        assert response.status_code == 200, response.text
        assert custom_bubble(response.json())["custom"]["kind"] == "faq_answer"
        history = test_client.get("/api/history", params={"session_id": session_id}).json()["messages"]
        assert [message["text"] for message in history if message["role"] == "user"] == [FAQ_QUESTION]


# ------------------------------------------------------------------ /api/history


def test_history_rebuilds_the_conversation(client: httpx.Client) -> None:
    session_id = new_session_id()
    chat(client, FAQ_QUESTION, session_id)
    chat(client, "邮费多少钱", session_id)
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
    assert len(bot_customs) == 2, "custom (kind, sources) survives in the tracker's bot events"


def test_history_of_an_unknown_session_is_empty(client: httpx.Client) -> None:
    response = client.get("/api/history", params={"session_id": new_session_id()})
    assert response.status_code == 200 and response.json()["messages"] == []


def test_history_keeps_text_buttons_and_sources(client: httpx.Client) -> None:
    session_id = new_session_id()
    live = custom_bubble(chat(client, FAQ_QUESTION, session_id))
    assert live["buttons"] and live["custom"]["sources"]
    history = client.get("/api/history", params={"session_id": session_id}).json()["messages"]
    bots = [message for message in history if message["role"] == "bot"]
    assert len(bots) == 1
    rebuilt = bots[0]
    assert rebuilt["text"] == live["text"]
    assert rebuilt["buttons"] == live["buttons"]
    assert rebuilt["custom"]["kind"] == live["custom"]["kind"]
    assert rebuilt["custom"]["entry_id"] == live["custom"]["entry_id"]
    assert rebuilt["custom"]["sources"] == live["custom"]["sources"]
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", rebuilt["custom"]["sources"][0]["date"])
