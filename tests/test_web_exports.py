"""bot.web.console.exports: the CSV rows, and the downloads through Starlette's test client over
a small tracker store in Rasa's ``events`` schema (the server tests use one Rasa wrote)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from starlette.testclient import TestClient

from bot.datafiles import ui_texts
from bot.web.app import create_app
from bot.web.console.exports import conversation_rows, unanswered_rows
from bot.web.config import WebSettings
from bot.web.storage.conversations import Conversation, LogMessage, UnansweredQuestion
from tests.conftest import free_port

PASSWORD = "export-test-password"
CSV_TEXTS = ui_texts()["csv"]
CST = timezone(timedelta(hours=8))
START = datetime(2025, 9, 1, 9, 0, tzinfo=CST).timestamp()

EVENTS = [  # sender, type, seconds after START, event data
    ("alice-0001", "user", 0, {"text": "什么是证书直邮？我的手机13812345678"}),
    ("alice-0001", "bot", 1, {"text": "证书直邮是……", "data": {"custom": {
        "kind": "faq_answer", "entry_id": "direct_mail_what", "score": 0.9312}}}),
    ("alice-0001", "user", 60, {"text": "今天中午吃什么"}),
    ("alice-0001", "bot", 61, {"text": "抱歉……", "data": {"custom": {"kind": "fallback"}}}),
    ("bob-0000001", "user", 86400, {"text": "=HYPERLINK(\"http://evil\")"}),
    ("bob-0000001", "bot", 86401, {"text": "您是想问……", "data": {"custom": {
        "kind": "did_you_mean", "candidates": ["postage_fee"]}}}),
]


def shown(seconds: int) -> str:
    return datetime.fromtimestamp(START + seconds, CST).strftime("%Y-%m-%d %H:%M:%S")


def write_tracker_store(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255),"
                       " timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")
    connection.executemany(
        "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
        [(sender, kind, START + seconds, json.dumps(data)) for sender, kind, seconds, data in EVENTS])
    connection.commit()
    connection.close()


@contextmanager
def logged_in(tracker_db: Path) -> Iterator[TestClient]:
    settings = WebSettings(rasa_url=f"http://127.0.0.1:{free_port()}", staff_password=PASSWORD, secret_key="k",
                           tracker_db_url=f"sqlite:///{tracker_db}", display_timezone="Asia/Shanghai")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert client.post("/staff/login", data={"password": PASSWORD}).status_code == 303
        yield client


@pytest.fixture()
def staff(tmp_path: Path) -> Iterator[TestClient]:
    write_tracker_store(tmp_path / "tracker.db")
    with logged_in(tmp_path / "tracker.db") as client:
        yield client


def download(client: TestClient, path: str, **params: str) -> list[list[str]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in response.content
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_conversation_rows() -> None:
    conversation = Conversation("alice", [LogMessage("alice", "user", "问", 1.0),
                                          LogMessage("alice", "bot", "答", 2.0, kind="faq_answer",
                                                     entry_id="e1", score=0.98765)])
    rows = list(conversation_rows([conversation], CSV_TEXTS, lambda ts: f"t{ts}"))
    assert rows == [["alice", "t1.0", CSV_TEXTS["role_user"], "问", "", "", ""],
                    ["alice", "t2.0", CSV_TEXTS["role_bot"], "答", "faq_answer", "e1", "0.988"]]


def test_unanswered_rows() -> None:
    question = UnansweredQuestion("问", "问？", count=3, fallback_count=2, did_you_mean_count=1,
                                  last_asked=5.0, sender_ids=["a", "b"])
    assert list(unanswered_rows([question], CSV_TEXTS, lambda ts: f"t{ts}")) == [["问？", 3, 2, 1, "t5.0", "a b"]]


def test_the_conversation_export_is_every_message_newest_conversation_first(staff: TestClient) -> None:
    rows = download(staff, "/staff/export/conversations.csv")
    user, bot = CSV_TEXTS["role_user"], CSV_TEXTS["role_bot"]
    assert rows == [
        CSV_TEXTS["conversation_headers"],
        ["bob-0000001", shown(86400), user, "'=HYPERLINK(\"http://evil\")", "", "", ""],
        ["bob-0000001", shown(86401), bot, "您是想问……", "did_you_mean", "", ""],
        ["alice-0001", shown(0), user, "什么是证书直邮？我的手机138****5678", "", "", ""],
        ["alice-0001", shown(1), bot, "证书直邮是……", "faq_answer", "direct_mail_what", "0.931"],
        ["alice-0001", shown(60), user, "今天中午吃什么", "", "", ""],
        ["alice-0001", shown(61), bot, "抱歉……", "fallback", "", ""],
    ]
    response = staff.get("/staff/export/conversations.csv")
    assert response.headers["content-disposition"] == 'attachment; filename="conversations.csv"'


def test_the_conversation_export_takes_the_log_filters(staff: TestClient) -> None:
    by_text = download(staff, "/staff/export/conversations.csv", q="直邮")
    assert {row[0] for row in by_text[1:]} == {"alice-0001"}
    second_day = download(staff, "/staff/export/conversations.csv", date_from="2025-09-02", date_to="2025-09-02")
    assert {row[0] for row in second_day[1:]} == {"bob-0000001"}


def test_the_unanswered_export(staff: TestClient) -> None:
    rows = download(staff, "/staff/export/unanswered.csv")
    assert rows == [
        CSV_TEXTS["unanswered_headers"],
        ["'=HYPERLINK(\"http://evil\")", "1", "0", "1", shown(86400), "bob-0000001"],
        ["今天中午吃什么", "1", "1", "0", shown(60), "alice-0001"],
    ]
    first_day = download(staff, "/staff/export/unanswered.csv", date_to="2025-09-01")
    assert [row[0] for row in first_day[1:]] == ["今天中午吃什么"]


@pytest.mark.parametrize("path", ["/staff/export/conversations.csv", "/staff/export/unanswered.csv"])
def test_a_malformed_date_is_a_plain_400(staff: TestClient, path: str) -> None:
    response = staff.get(path, params={"date_from": "yesterday"})
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/plain")
    assert response.text == ui_texts()["staff"]["bad_date"]


@pytest.mark.parametrize("path", ["/staff/export/conversations.csv", "/staff/export/unanswered.csv"])
def test_no_tracker_store_is_a_plain_503(tmp_path: Path, path: str) -> None:
    with logged_in(tmp_path / "absent.db") as client:
        response = client.get(path)
    assert response.status_code == 503 and response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith(ui_texts()["staff"]["log_unavailable"].split("{")[0])
    assert str(tmp_path / "absent.db") in response.text


def test_the_exports_are_for_staff_only(tmp_path: Path) -> None:
    write_tracker_store(tmp_path / "tracker.db")
    settings = WebSettings(staff_password=PASSWORD, secret_key="k", tracker_db_url=f"sqlite:///{tmp_path}/tracker.db")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        response = client.get("/staff/export/unanswered.csv")
    assert response.status_code == 303 and "alice" not in response.text
