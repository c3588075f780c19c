"""POST /api/feedback (bot.web.chat.feedback, bot.web.storage.ratings): thumbs up and down stored with
the turn in the tracker store's database, one per turn, masked, rate-limited, and every
malformed request a clear 4xx in the API's error shape.

The handler tests run through Starlette's test client over a real SQLite file in
Rasa's ``events`` schema; the last tests chat with the real servers (``servers``
fixture), rate an answer and read it back from the history and the staff log.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from bot.datafiles import ui_texts
from bot.web.app import create_app
from bot.web.storage.tables import feedback, own_tables
from bot.web.chat.feedback import MAX_BODY_BYTES, MAX_COMMENT_CHARS, FeedbackLimits
from bot.web.security import SlidingWindowLimiter
from bot.web.storage.store import ConsoleStore
from bot.web.config import WebSettings
from tests.conftest import RunningServers, free_port, post_json

ERRORS = ui_texts()["feedback"]["errors"]
SESSION = "web-feedback-000001"
EVENTS_SCHEMA = ("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                 "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                 "action_name VARCHAR(255), data TEXT)")


def user(text: str) -> tuple[str, dict[str, Any]]:
    return "user", {"event": "user", "text": text}


def bot(text: str, **custom: Any) -> tuple[str, dict[str, Any]]:
    buttons = custom.pop("buttons", None)
    data: dict[str, Any] = {"custom": custom} if custom else {}
    if buttons:
        data["buttons"] = [{"title": b, "payload": b} for b in buttons]
    return "bot", {"event": "bot", "text": text, "data": data}


def write_events(path: Path, conversations: dict[str, list[tuple[float, tuple[str, dict[str, Any]]]]]) -> None:
    """A tracker store as Rasa's SQLTrackerStore writes it: ``{sender: [(time, event)]}``,
    with an action row between messages as Rasa has."""
    connection = sqlite3.connect(path)
    connection.execute(EVENTS_SCHEMA)
    connection.execute("CREATE INDEX ix_events_sender_id ON events (sender_id)")
    for sender_id, timed in conversations.items():
        for timestamp, (type_name, data) in timed:
            connection.execute("INSERT INTO events (sender_id, type_name, timestamp, action_name, data) "
                               "VALUES (?, 'action', ?, 'action_listen', '{}')", (sender_id, timestamp - 0.001))
            connection.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                               (sender_id, type_name, timestamp, json.dumps({**data, "timestamp": timestamp},
                                                                            ensure_ascii=False)))
    connection.commit()
    connection.close()


def settings_for(tracker_db: Path, **overrides: Any) -> WebSettings:
    return WebSettings(**{"rasa_url": f"http://127.0.0.1:{free_port()}", "staff_password": "feedback-pw-1234",
                          "secret_key": "k", "tracker_db_url": f"sqlite:///{tracker_db}", **overrides})


@pytest.fixture()
def tracker_db(tmp_path: Path) -> Path:
    now = time.time() - 600
    write_events(tmp_path / "tracker.db", {SESSION: [
        (now, user("证书丢了怎么补办")), (now + 1, bot("可以申请补发……", kind="faq_answer", entry_id="reissue_how",
                                                     score=0.9)),
        (now + 60, user("今天食堂吃什么")), (now + 61, bot("抱歉……", kind="fallback")),
    ]})
    return tmp_path / "tracker.db"


@pytest.fixture()
def client(tracker_db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tracker_db))) as test_client:
        yield test_client


def rate(client: TestClient, **payload: Any) -> httpx.Response:
    return client.post("/api/feedback", json={"session_id": SESSION, **payload})


def stored_rows(tracker_db: Path) -> list[dict[str, Any]]:
    with own_tables(f"sqlite:///{tracker_db}").connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.select(feedback))]


# ------------------------------------------------------------------ stored, replaced, masked


def test_a_thumbs_up_is_stored_with_its_turn(client: TestClient, tracker_db: Path) -> None:
    response = rate(client, turn=1, rating="up")
    assert response.status_code == 200, response.text
    assert response.json() == {"session_id": SESSION, "turn": 1, "rating": "up", "reason": None}
    [row] = stored_rows(tracker_db)
    assert (row["sender_id"], row["turn"], row["rating"], row["reason"], row["comment"]) == (SESSION, 1, "up", None, None)
    assert abs(row["timestamp"] - time.time()) < 3600


def test_a_later_rating_of_the_same_turn_replaces_it(client: TestClient, tracker_db: Path) -> None:
    assert rate(client, turn=2, rating="up").status_code == 200
    assert rate(client, turn=2, rating="down").status_code == 200
    response = rate(client, turn=2, rating="down", reason="outdated", comment="  去年就改了  ")
    assert response.json() == {"session_id": SESSION, "turn": 2, "rating": "down", "reason": "outdated"}
    assert rate(client, turn=1, rating="down", reason="unclear").status_code == 200
    rows = sorted(stored_rows(tracker_db), key=lambda row: row["turn"])
    assert [(row["turn"], row["rating"], row["reason"], row["comment"]) for row in rows] == [
        (1, "down", "unclear", None), (2, "down", "outdated", "去年就改了")]
    assert set(ConsoleStore(f"sqlite:///{tracker_db}").ratings_of(SESSION)) == {1, 2}


def test_the_comment_is_masked_and_cleaned(client: TestClient, tracker_db: Path) -> None:
    comment = "我的手机13812345678，身份证440106199001011234\\u200b，\\ud800请回电"  # JSON escapes
    body = '{"session_id": "%s", "turn": 1, "rating": "down", "reason": "other", "comment": "%s"}' % (SESSION, comment)
    response = client.post("/api/feedback", content=body.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    [row] = stored_rows(tracker_db)
    assert row["comment"] == "我的手机138****5678，身份证**************1234，请回电"
    assert "13812345678" not in json.dumps(stored_rows(tracker_db))


# ------------------------------------------------------------------ bad input: a clear 4xx, never a 500


@pytest.mark.parametrize("body, code", [
    (b"{not json", "malformed_json"), (b"", "malformed_json"), (b"[1, 2]", "malformed_json"),
    (b'"up"', "malformed_json"), (b"\xff\xfe", "malformed_json"), (b"null", "malformed_json"),
])
def test_a_body_that_is_not_a_json_object_is_400(client: TestClient, body: bytes, code: str) -> None:
    response = client.post("/api/feedback", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json() == {"error": code, "message": ERRORS[code]}


def test_a_huge_body_is_refused_unread(client: TestClient) -> None:
    response = client.post("/api/feedback", content=b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == "too_large"


@pytest.mark.parametrize("payload, status, code", [
    ({"session_id": None}, 400, "bad_session_id"),
    ({"session_id": "short"}, 400, "bad_session_id"),
    ({"session_id": "../../etc/passwd"}, 400, "bad_session_id"),
    ({"session_id": 12345678}, 400, "bad_session_id"),
    ({"turn": None}, 400, "bad_turn"),
    ({"turn": "1"}, 400, "bad_turn"),
    ({"turn": 1.0}, 400, "bad_turn"),
    ({"turn": True}, 400, "bad_turn"),
    ({"turn": 0}, 400, "bad_turn"),
    ({"turn": -3}, 400, "bad_turn"),
    ({"turn": 3}, 400, "turn_out_of_range"),
    ({"turn": 10**30}, 400, "turn_out_of_range"),
    ({"rating": "meh"}, 400, "bad_rating"),
    ({"rating": None}, 400, "bad_rating"),
    ({"rating": ["up"]}, 400, "bad_rating"),
    ({"reason": "off_topic"}, 400, "bad_reason"),                  # a reason for a thumbs up
    ({"rating": "down", "reason": "boring"}, 400, "bad_reason"),
    ({"rating": "down", "reason": 1}, 400, "bad_reason"),
    ({"comment": "很好"}, 400, "bad_reason"),                       # a comment for a thumbs up
    ({"rating": "down", "comment": ["x"]}, 400, "comment_not_text"),
    ({"rating": "down", "comment": "长" * (MAX_COMMENT_CHARS + 1)}, 413, "comment_too_long"),
    ({"session_id": "web-nobody-here-0001"}, 404, "unknown_session"),
])
def test_bad_input_is_a_clear_4xx(client: TestClient, tracker_db: Path, payload: dict[str, Any], status: int,
                                  code: str) -> None:
    response = client.post("/api/feedback", json={"session_id": SESSION, "turn": 1, "rating": "up", **payload})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and body["message"]
    if code == "turn_out_of_range":
        assert "2 个问题" in body["message"]
    assert stored_rows(tracker_db) == []


def test_a_comment_at_the_limit_is_kept(client: TestClient, tracker_db: Path) -> None:
    assert rate(client, turn=1, rating="down", comment="长" * MAX_COMMENT_CHARS).status_code == 200
    assert stored_rows(tracker_db)[0]["comment"] == "长" * MAX_COMMENT_CHARS


def test_only_post(client: TestClient) -> None:
    assert client.get("/api/feedback").status_code == 405


def test_no_tracker_store_is_a_503(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path / "absent.db"))) as client:
        response = rate(client, turn=1, rating="up")
    assert response.status_code == 503 and response.json()["error"] == "unavailable"


# ------------------------------------------------------------------ rate limits


def test_ratings_are_limited_per_session_and_per_client_address(client: TestClient, tracker_db: Path) -> None:
    client.app.state.feedback_limits = FeedbackLimits(per_session=SlidingWindowLimiter(3, 600),
                                                      per_client=SlidingWindowLimiter(5, 600))
    for _ in range(3):
        assert rate(client, turn=1, rating="up").status_code == 200
    limited = rate(client, turn=1, rating="down")
    assert limited.status_code == 429
    assert limited.json() == {"error": "rate_limited", "message": ERRORS["rate_limited"].format(minutes=10)}
    assert 0 < int(limited.headers["retry-after"]) <= 600
    assert stored_rows(tracker_db)[0]["rating"] == "up", "the refused rating changed nothing"
    # another conversation from the same address still may, until the address's limit
    other = {"session_id": "web-other-session-01", "turn": 1, "rating": "up"}
    assert client.post("/api/feedback", json=other).status_code == 404  # counted (no such session)
    assert client.post("/api/feedback", json=other).status_code == 429


def test_a_sliding_window_lets_requests_through_again() -> None:
    limit = SlidingWindowLimiter(2, 60)
    assert [limit.take("a", t) for t in (0, 1)] == [0, 0]
    assert limit.take("a", 2) == 59
    assert limit.take("b", 2) == 0
    assert limit.take("a", 60.5) == 0     # the first one left the window
    assert limit.take("a", 60.7) > 0     # the second one still is


# ------------------------------------------------------------------ with the real servers


@pytest.mark.servers
def test_a_rating_comes_back_with_the_history_and_shows_in_the_log(servers: RunningServers) -> None:
    session = f"web-rated-{uuid.uuid4().hex[:16]}"
    turns = []
    for question in ("什么是证书直邮？", "证书丢了怎么补办？"):  # not the staff tests' questions
        status, body = post_json(f"{servers.web_url}/api/chat", {"session_id": session, "message": question},
                                 timeout=120)
        assert status == 200, body
        turns.append(body["turn"])
    assert turns == [1, 2], "each reply says which question it answers"
    status, body = post_json(f"{servers.web_url}/api/feedback", {
        "session_id": session, "turn": 2, "rating": "down", "reason": "off_topic",
        "comment": "我问的是证书，手机13812345678"})
    assert status == 200, body
    history = httpx.get(f"{servers.web_url}/api/history", params={"session_id": session}, timeout=60).json()
    bots = [message for message in history["messages"] if message["role"] == "bot"]
    assert [message["turn"] for message in bots] == [1, 2]
    assert [message["rating"] for message in bots] == [None, {"turn": 2, "rating": "down", "reason": "off_topic"}]
    users = [message for message in history["messages"] if message["role"] == "user"]
    assert all("turn" not in message for message in users), "user bubbles keep their shape"
    stored = ConsoleStore(servers.tracker_db_url).ratings_of(session)[2]
    assert stored.comment == "我问的是证书，手机138****5678"

    settings = settings_for(servers.tracker_db)
    with TestClient(create_app(settings), follow_redirects=False) as staff:
        staff.post("/staff/login", data={"password": "feedback-pw-1234"})
        page = staff.get(f"/staff/log/{session}").text
    assert 'class="badge rating-down"' in page and "答非所问" in page
    assert "我问的是证书，手机138****5678" in page and "13812345678" not in page
