"""Staff console: login, session expiry, rate limit, retrieval search, conversation
log and unanswered questions from a tracker store, CSV export.

The tracker store is a temporary SQLite file with Rasa's ``events`` schema, rows
written the way Rasa's SQLTrackerStore writes them (``json.dumps(event)``, so
Chinese is ``\\uXXXX``-escaped) - that is the real store format. The search tests use
the real ``bot.retrieval`` engine when it is importable; until it exists they use
the temporary stand-in engine from tests/support/fake_rasa.py.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from starlette.testclient import TestClient

from bot.web.app import create_app
from bot.web.auth import SESSION_COOKIE_NAME, SessionSigner
from bot.web.settings import WebSettings

try:
    from support.fake_rasa import StandInRetrievalEngine, free_port
except ImportError:  # tests/ became a package
    from tests.support.fake_rasa import StandInRetrievalEngine, free_port

PASSWORD = "correct-horse-battery"
SECRET = "test-secret-key"
CHINA = timezone(timedelta(hours=8))

RASA_EVENTS_SCHEMA = """
CREATE TABLE events (
    id INTEGER NOT NULL,
    sender_id VARCHAR(255) NOT NULL,
    type_name VARCHAR(255) NOT NULL,
    timestamp FLOAT,
    intent_name VARCHAR(255),
    action_name VARCHAR(255),
    data TEXT,
    PRIMARY KEY (id)
);
CREATE INDEX ix_events_sender_id ON events (sender_id);
"""


def at(day: str, clock: str = "10:00") -> float:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=CHINA).timestamp()


def user_event(text: str, timestamp: float) -> dict[str, Any]:
    return {"event": "user", "timestamp": timestamp, "text": text, "parse_data": {"intent": {"name": "x", "confidence": 0.4}},
            "input_channel": "rest", "message_id": "m", "metadata": {}}


def bot_event(text: str, timestamp: float, kind: str, entry_id: str | None = None, score: float | None = None,
              buttons: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"event": "bot", "timestamp": timestamp, "text": text, "metadata": {},
            "data": {"elements": None, "quick_replies": None, "buttons": buttons, "attachment": None, "image": None,
                     "custom": {"kind": kind, "entry_id": entry_id, "score": score, "topic": None, "answer": text,
                                "sources": [], "region_note": None}}}


def write_tracker_db(path: Path) -> None:
    conversations = {
        "alice-0001": [
            user_event("什么是证书直邮？", at("2025-09-01", "09:00")),
            bot_event("证书直邮是指……", at("2025-09-01", "09:00") + 1, "faq_answer", "direct_mail_what", 0.93),
            user_event("证书能寄到外省吗", at("2025-09-01", "09:01")),
            bot_event("抱歉，我还回答不了。", at("2025-09-01", "09:01") + 1, "fallback"),
        ],
        "bob-0002": [
            user_event("证书能寄到外省吗？", at("2025-09-02")),
            bot_event("抱歉，我还回答不了。", at("2025-09-02") + 1, "fallback"),
            user_event("邮费", at("2025-09-02", "10:05")),
            bot_event("您是不是想问：", at("2025-09-02", "10:05") + 1, "did_you_mean", score=0.55,
                      buttons=[{"title": "证书直邮要多少邮费？", "payload": "证书直邮要多少邮费？"}]),
        ],
        "carol-0003": [
            user_event("<script>alert('x')</script> 我的手机13812345678，身份证440106199001011234", at("2025-09-03")),
            bot_event("抱歉，我还回答不了“<img src=x onerror=alert(1)>”。", at("2025-09-03") + 1, "fallback"),
            user_event("=HYPERLINK(\"http://evil\")", at("2025-09-03", "10:02")),
            bot_event("您是不是想问：", at("2025-09-03", "10:02") + 1, "did_you_mean"),
        ],
    }
    connection = sqlite3.connect(path)
    connection.executescript(RASA_EVENTS_SCHEMA)
    for sender_id, events in conversations.items():
        connection.execute(
            "INSERT INTO events (sender_id, type_name, timestamp, action_name, data) VALUES (?, 'action', ?, 'action_listen', ?)",
            (sender_id, events[0]["timestamp"] - 1, json.dumps({"event": "action", "name": "action_listen"})),
        )
        for event in events:
            connection.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) VALUES (?, ?, ?, ?, ?)",
                (sender_id, event["event"], event["timestamp"], "x" if event["event"] == "user" else None, json.dumps(event)),
            )
    connection.commit()
    connection.close()


@pytest.fixture(scope="module")
def tracker_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tracker") / "tracker.db"
    write_tracker_db(path)
    return path


def make_settings(tracker_db: Path, **overrides: Any) -> WebSettings:
    values: dict[str, Any] = dict(
        rasa_url=f"http://127.0.0.1:{free_port()}", staff_password=PASSWORD, secret_key=SECRET,
        tracker_db_url=f"sqlite:///{tracker_db}",
    )
    values.update(overrides)
    return WebSettings(**values)


def retrieval_engine() -> Any:
    """The real engine when bot.retrieval exists and its index is built, else the
    temporary stand-in (remove the fallback once ``make index`` runs before the tests)."""
    try:
        from bot.retrieval import load_engine

        return load_engine()
    except Exception as error:  # noqa: BLE001 - ImportError, IndexMissingError, ...
        print(f"using the stand-in retrieval engine: {type(error).__name__}: {error}")
        return StandInRetrievalEngine()


@pytest.fixture(scope="module")
def engine() -> Any:
    return retrieval_engine()


@pytest.fixture()
def anonymous(tracker_db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tracker_db)), follow_redirects=False) as client:
        yield client


@pytest.fixture()
def staff(anonymous: TestClient) -> TestClient:
    response = anonymous.post("/staff/login", data={"password": PASSWORD, "next": "/staff"})
    assert response.status_code == 303, response.text
    return anonymous


STAFF_PAGES = ["/staff", "/staff/log", "/staff/log/alice-0001", "/staff/unanswered",
               "/staff/export/conversations.csv", "/staff/export/unanswered.csv"]


# ------------------------------------------------------------------ login


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_require_login(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login?next=")


def test_staff_json_api_requires_login(anonymous: TestClient) -> None:
    response = anonymous.get("/staff/api/search", params={"q": "直邮"})
    assert response.status_code == 401


def test_login_page_and_successful_login(anonymous: TestClient) -> None:
    page = anonymous.get("/staff/login")
    assert page.status_code == 200 and 'type="password"' in page.text
    assert page.headers["x-frame-options"] == "DENY"
    response = anonymous.post("/staff/login", data={"password": PASSWORD, "next": "/staff/log"})
    assert response.status_code == 303 and response.headers["location"] == "/staff/log"
    cookie = response.headers["set-cookie"]
    assert SESSION_COOKIE_NAME in cookie and "HttpOnly" in cookie and "Max-Age=28800" in cookie
    assert "samesite=strict" in cookie.lower()
    assert anonymous.get("/staff/log").status_code == 200


def test_open_redirect_is_refused(anonymous: TestClient) -> None:
    response = anonymous.post("/staff/login", data={"password": PASSWORD, "next": "https://evil.example/"})
    assert response.headers["location"] == "/staff"


def test_wrong_password_is_refused(anonymous: TestClient) -> None:
    response = anonymous.post("/staff/login", data={"password": "nope"})
    assert response.status_code == 401
    assert "密码错误" in response.text
    assert SESSION_COOKIE_NAME not in response.headers.get("set-cookie", "")
    assert anonymous.get("/staff").status_code == 303


def test_wrong_passwords_are_rate_limited(anonymous: TestClient) -> None:
    for _ in range(5):
        assert anonymous.post("/staff/login", data={"password": "guess"}).status_code == 401
    blocked = anonymous.post("/staff/login", data={"password": PASSWORD})
    assert blocked.status_code == 429, "even the right password waits once the limit is hit"
    assert "次数过多" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0


def test_rate_limit_window_passes(tracker_db: Path) -> None:
    app = create_app(make_settings(tracker_db, login_attempt_window_seconds=1, login_attempt_limit=2))
    with TestClient(app, follow_redirects=False) as client:
        client.post("/staff/login", data={"password": "a"})
        client.post("/staff/login", data={"password": "b"})
        assert client.post("/staff/login", data={"password": PASSWORD}).status_code == 429
        limiter = app.state.login_rate_limiter
        client_key = next(iter(limiter._failures))
        assert not limiter.is_blocked(client_key, now=limiter._failures[client_key][-1] + 1.5)


def test_expired_session_redirects_to_login(anonymous: TestClient) -> None:
    signer = SessionSigner(SECRET, PASSWORD, 8 * 3600)
    old = signer.issue(now=datetime.now().timestamp() - 8 * 3600 - 5)
    anonymous.cookies.set(SESSION_COOKIE_NAME, old, path="/staff")
    response = anonymous.get("/staff")
    assert response.status_code == 303 and "expired=1" in response.headers["location"]
    page = anonymous.get(response.headers["location"])
    assert "登录已过期" in page.text


def test_tampered_or_foreign_cookies_are_refused(anonymous: TestClient) -> None:
    good = SessionSigner(SECRET, PASSWORD, 3600).issue()
    for value in [good[:-2] + "xx", SessionSigner("other-secret", PASSWORD, 3600).issue(),
                  SessionSigner(SECRET, "old-password", 3600).issue(), "garbage", "a.b.c"]:
        anonymous.cookies.set(SESSION_COOKIE_NAME, value, path="/staff")
        assert anonymous.get("/staff").status_code == 303
    anonymous.cookies.set(SESSION_COOKIE_NAME, good, path="/staff")
    assert anonymous.get("/staff").status_code == 200


def test_logout(staff: TestClient) -> None:
    response = staff.post("/staff/logout")
    assert response.status_code == 303
    staff.cookies.clear()
    assert staff.get("/staff").status_code == 303


def test_login_refused_when_no_password_is_configured(tracker_db: Path) -> None:
    with TestClient(create_app(make_settings(tracker_db, staff_password=None)), follow_redirects=False) as client:
        page = client.get("/staff/login")
        assert "未配置工作人员密码" in page.text and 'type="password"' not in page.text
        response = client.post("/staff/login", data={"password": ""})
        assert response.status_code == 503 and "python -m bot.web.password ensure" in response.text
        assert client.get("/staff").status_code == 303


# ------------------------------------------------------------------ search


def test_search_shows_hits_with_scores_and_citations(staff: TestClient, engine: Any) -> None:
    staff.app.state.retrieval.set_engine(engine)
    page = staff.get("/staff", params={"q": "什么是证书直邮"})
    assert page.status_code == 200
    assert 'class="hit ' in page.text
    assert "复制答案" in page.text and "相似度" in page.text
    assert "&lt;b&gt;" in page.text or "<b>" not in page.text  # answers are escaped
    assert "13812345678" not in page.text  # masked


def test_search_json(staff: TestClient, engine: Any) -> None:
    staff.app.state.retrieval.set_engine(engine)
    body = staff.get("/staff/api/search", params={"q": "证书直邮"}).json()
    assert body["hits"]
    hit = body["hits"][0]
    assert {"kind", "id", "score", "citations"} <= set(hit)
    assert 0 <= hit["score"] <= 1
    assert all("title" in citation and "issuer" in citation for citation in hit["citations"])


def test_search_failure_is_reported_not_crashed(tracker_db: Path) -> None:
    app = create_app(make_settings(tracker_db))

    class BrokenEngine:
        def search(self, *args: Any, **kwargs: Any) -> list[Any]:
            raise RuntimeError("index manifest mismatch")

    app.state.retrieval.set_engine(BrokenEngine())
    with TestClient(app, follow_redirects=False) as client:
        client.post("/staff/login", data={"password": PASSWORD})
        page = client.get("/staff", params={"q": "直邮"})
        assert page.status_code == 200 and "index manifest mismatch" in page.text
        assert client.get("/staff/api/search", params={"q": "直邮"}).status_code == 503


# ------------------------------------------------------------------ conversation log


def test_log_groups_by_conversation_newest_first(staff: TestClient) -> None:
    page = staff.get("/staff/log").text
    order = [page.index(f'data-sender-id="{sender}"') for sender in ("carol-0003", "bob-0002", "alice-0001")]
    assert order == sorted(order)
    assert "什么是证书直邮？" in page


def test_log_text_search_and_date_filter(staff: TestClient) -> None:
    by_text = staff.get("/staff/log", params={"q": "寄到外省"}).text
    assert 'data-sender-id="alice-0001"' in by_text and 'data-sender-id="bob-0002"' in by_text
    assert 'data-sender-id="carol-0003"' not in by_text
    by_date = staff.get("/staff/log", params={"date_from": "2025-09-02", "date_to": "2025-09-02"}).text
    assert 'data-sender-id="bob-0002"' in by_date
    assert 'data-sender-id="alice-0001"' not in by_date and 'data-sender-id="carol-0003"' not in by_date
    bad = staff.get("/staff/log", params={"date_from": "yesterday"})
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.text


def test_log_masks_numbers_and_escapes_html(staff: TestClient) -> None:
    page = staff.get("/staff/log/carol-0003").text
    assert "13812345678" not in page and "440106199001011234" not in page
    assert "138****5678" in page and "**************1234" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror" in page


def test_unknown_conversation_is_404(staff: TestClient) -> None:
    assert staff.get("/staff/log/nobody-here").status_code == 404


def test_missing_tracker_db_is_reported(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "absent.db"))
    with TestClient(app, follow_redirects=False) as client:
        client.post("/staff/login", data={"password": PASSWORD})
        page = client.get("/staff/log")
        assert page.status_code == 200 and "无法读取对话记录" in page.text
        assert client.get("/staff/export/unanswered.csv").status_code == 503


def test_tracker_db_is_opened_read_only(staff: TestClient, tracker_db: Path) -> None:
    before = tracker_db.read_bytes()
    staff.get("/staff/log")
    staff.get("/staff/unanswered")
    assert tracker_db.read_bytes() == before
    connection = staff.app.state.tracker_log._connect()
    with pytest.raises(sqlite3.OperationalError):
        connection.execute("DELETE FROM events")
    connection.close()


# ------------------------------------------------------------------ unanswered


def test_unanswered_ranked_by_normalised_frequency(staff: TestClient) -> None:
    questions = staff.app.state.tracker_log.unanswered_questions()
    assert questions[0].count == 2
    assert questions[0].normalised_text == "证书能寄到外省吗"  # with and without "？" merged
    assert sorted(questions[0].sender_ids) == ["alice-0001", "bob-0002"]
    assert {question.example_text for question in questions[1:]} >= {"邮费"}
    page = staff.get("/staff/unanswered").text
    assert page.index("证书能寄到外省吗") < page.index("邮费")
    assert 'href="/staff/log/alice-0001"' in page


def test_csv_exports_have_bom_and_masked_text(staff: TestClient) -> None:
    unanswered = staff.get("/staff/export/unanswered.csv")
    assert unanswered.status_code == 200
    assert unanswered.headers["content-type"].startswith("text/csv")
    assert "attachment" in unanswered.headers["content-disposition"]
    assert unanswered.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(unanswered.content.decode("utf-8-sig"))))
    assert rows[0][0] == "问题" and rows[1][0] == "证书能寄到外省吗？" and rows[1][1] == "2"
    text = unanswered.content.decode("utf-8-sig")
    assert "13812345678" not in text and "138****5678" in text
    assert "'=HYPERLINK" in text  # formula neutralised for Excel

    conversations = staff.get("/staff/export/conversations.csv", params={"q": "直邮"})
    assert conversations.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(conversations.content.decode("utf-8-sig"))))
    assert rows[0][0] == "会话编号"
    assert {row[0] for row in rows[1:]} == {"alice-0001"}
    assert ["alice-0001", "2025-09-01 09:00:00", "候选人", "什么是证书直邮？", "", "", ""] in rows


# ------------------------------------------------------------------ regression-case export


def exported_case(text: str) -> dict[str, Any]:
    """The exported YAML pasted under ``cases:``, as the case file loader reads it."""
    import yaml

    cases = yaml.safe_load("cases:\n" + text)["cases"]
    assert len(cases) == 1
    return cases[0]


def test_regression_case_export_requires_login(anonymous: TestClient) -> None:
    response = anonymous.get("/staff/api/regression-case", params={"sender_id": "alice-0001", "turn": 1})
    assert response.status_code == 401


def test_regression_case_export_of_an_answered_question(staff: TestClient, tmp_path: Path) -> None:
    from bot.regression import load_case_file

    response = staff.get("/staff/api/regression-case", params={"sender_id": "alice-0001", "turn": 1})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    case = exported_case(response.text)
    assert case == {"id": "logged-20250901-alice000-1", "turns": ["什么是证书直邮？"], "expect": "direct_mail_what"}
    assert "  # 小助手当时的回复：direct_mail_what。" in response.text
    assert "核对 expect" in response.text
    (tmp_path / "staff.yml").write_text("cases:\n" + response.text, encoding="utf-8")
    problems: list[str] = []
    loaded = load_case_file(tmp_path / "staff.yml", {"direct_mail_what"}, set(), problems)
    assert problems == [] and loaded[0].expect == "direct_mail_what"


def test_regression_case_export_of_a_fallback_names_the_earlier_turns(staff: TestClient) -> None:
    response = staff.get("/staff/api/regression-case", params={"sender_id": "alice-0001", "turn": 2})
    case = exported_case(response.text)
    assert case["turns"] == ["证书能寄到外省吗"] and case["expect"] == "fallback"
    assert "小助手当时的回复：fallback。" in response.text
    assert "候选人还说过：什么是证书直邮？" in response.text


def test_regression_case_export_is_masked_plain_text(staff: TestClient) -> None:
    response = staff.get("/staff/api/regression-case", params={"sender_id": "carol-0003", "turn": 1})
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    case = exported_case(response.text)
    assert "13812345678" not in response.text and "138****5678" in case["turns"][0]
    assert case["turns"][0].startswith("<script>")  # kept as text, served as text/plain
    formula = exported_case(staff.get("/staff/api/regression-case",
                                      params={"sender_id": "carol-0003", "turn": 2}).text)
    assert formula["turns"] == ['=HYPERLINK("http://evil")'] and formula["expect"] == "fallback"


@pytest.mark.parametrize("params, status", [
    ({"sender_id": "alice-0001"}, 400), ({"sender_id": "alice-0001", "turn": "0"}, 400),
    ({"sender_id": "alice-0001", "turn": "abc"}, 400), ({"turn": "1"}, 400),
    ({"sender_id": "alice-0001", "turn": "3"}, 404), ({"sender_id": "nobody-here", "turn": "1"}, 404),
])
def test_regression_case_export_rejects_bad_requests(staff: TestClient, params: dict[str, str], status: int) -> None:
    response = staff.get("/staff/api/regression-case", params=params)
    assert response.status_code == status
    assert response.json()["message"]


def test_regression_case_export_guesses_did_you_mean_and_deadline(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    guess = bot_event("您是不是想问：", at("2025-10-01", "08:00") + 1, "did_you_mean", score=0.93)
    guess["data"]["custom"]["candidates"] = ["direct_mail_fee", "henan_mail_fee"]
    deadline = bot_event("【广东证书直邮申请截止日】…", at("2025-10-01", "08:05") + 1, "deadline")
    deadline["data"]["custom"]["procedure"] = "gd_direct_mail"
    events = [user_event("那邮费呢", at("2025-10-01", "08:00")), guess,
              user_event("名单2025年9月1日公示，直邮哪天截止", at("2025-10-01", "08:05")), deadline]
    connection = sqlite3.connect(path)
    connection.executescript(RASA_EVENTS_SCHEMA)
    for event in events:
        connection.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                           ("dora-0004", event["event"], event["timestamp"], json.dumps(event)))
    connection.commit()
    connection.close()
    with TestClient(create_app(make_settings(path)), follow_redirects=False) as client:
        client.post("/staff/login", data={"password": PASSWORD})
        first = client.get("/staff/api/regression-case", params={"sender_id": "dora-0004", "turn": 1}).text
        assert exported_case(first)["expect"] == "direct_mail_fee"
        assert "did_you_mean:direct_mail_fee" in first
        second = client.get("/staff/api/regression-case", params={"sender_id": "dora-0004", "turn": 2}).text
        assert exported_case(second)["expect"] == "deadline:gd_direct_mail"


def test_log_and_unanswered_pages_link_to_the_export(staff: TestClient) -> None:
    page = staff.get("/staff/log/alice-0001").text
    assert 'href="/staff/api/regression-case?sender_id=alice-0001&amp;turn=1"' in page
    assert 'href="/staff/api/regression-case?sender_id=alice-0001&amp;turn=2"' in page
    assert "导出为回归用例" in page
    unanswered = staff.get("/staff/unanswered").text
    # the most recent asking of "证书能寄到外省吗" is bob's first question
    assert 'href="/staff/api/regression-case?sender_id=bob-0002&amp;turn=1"' in unanswered
