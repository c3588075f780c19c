"""bot.web.console.login through Starlette's test client: the guard, login, rate limit,
session expiry and logout. No server is needed: the staff pages used here work (and say
so) without a tracker store, and nothing here searches."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote

import re

import pytest
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient

from bot.web.app import create_app
from bot.web.staff_identity import SESSION_COOKIE_NAME, SessionSigner
from bot.web.config import WebSettings
from bot.web.console.login import safe_next_path
from tests.conftest import free_port

PASSWORD = "correct-horse-battery"
SECRET = "test-secret-key"


@pytest.fixture()
def tracker_db(tmp_path: Path) -> Path:
    return tmp_path / "absent-tracker.db"


def make_settings(tracker_db: Path, **overrides: Any) -> WebSettings:
    values: dict[str, Any] = dict(
        rasa_url=f"http://127.0.0.1:{free_port()}", staff_password=PASSWORD, secret_key=SECRET,
        tracker_db_url=f"sqlite:///{tracker_db}",
    )
    values.update(overrides)
    return WebSettings(**values)


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
        limiter = app.state.web.login_rate_limiter
        client_key = next(iter(limiter._times))
        assert not limiter.wait_seconds(client_key, now=limiter._times[client_key][-1] + 1.5)


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


def csrf_token_of(client: TestClient, path: str = "/staff") -> str:
    """The CSRF token a staff page gives its forms and scripts."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text)
    assert match, "a staff page carries the session's CSRF token"
    return match.group(1)


def test_logout(staff: TestClient) -> None:
    response = staff.post("/staff/logout", data={"csrf_token": csrf_token_of(staff)})
    assert response.status_code == 303
    staff.cookies.clear()
    assert staff.get("/staff").status_code == 303


def test_a_state_changing_request_without_the_csrf_token_is_refused(staff: TestClient) -> None:
    token = csrf_token_of(staff)
    for headers, data in [({}, {}), ({}, {"csrf_token": "forged"}), ({"X-CSRF-Token": token[:-1] + "x"}, {})]:
        response = staff.post("/staff/logout", headers=headers, data=data)
        assert response.status_code == 403 and "刷新页面" in response.json()["message"]
    assert staff.get("/staff").status_code == 200, "still logged in"
    assert staff.post("/staff/logout", headers={"X-CSRF-Token": token}).status_code == 303


def test_the_csrf_token_belongs_to_one_session(tracker_db: Path) -> None:
    tokens = []
    for _ in range(2):
        with TestClient(create_app(make_settings(tracker_db)), follow_redirects=False) as client:
            client.post("/staff/login", data={"password": PASSWORD})
            tokens.append(csrf_token_of(client))
    assert tokens[0] != tokens[1]


VIEWER_PASSWORD = "viewer-only-password"


def test_two_passwords_two_roles_and_the_name_for_the_audit_log(tracker_db: Path) -> None:
    settings = make_settings(tracker_db, staff_viewer_password=VIEWER_PASSWORD)
    signer = SessionSigner(SECRET, PASSWORD, 3600, VIEWER_PASSWORD)
    for password, role in [(PASSWORD, "editor"), (VIEWER_PASSWORD, "viewer")]:
        with TestClient(create_app(settings), follow_redirects=False) as client:
            client.post("/staff/login", data={"password": password, "name": "  王 小明 "})
            session = signer.verify(client.cookies.get(SESSION_COOKIE_NAME))
            assert session is not None and session.role == role and session.who == f"王 小明 ({role})"
            assert ("编辑" if role == "editor" else "只读") in client.get("/staff").text
    assert signer.role_for("nope") is None and signer.role_for("") is None


def test_a_viewer_cannot_change_anything(tracker_db: Path) -> None:
    from starlette.routing import Route

    from bot.web.staff_identity import editor_only

    @editor_only
    async def change(request):
        return PlainTextResponse("changed")

    app = create_app(make_settings(tracker_db, staff_viewer_password=VIEWER_PASSWORD))
    app.router.routes.append(Route("/staff/api/change", change, methods=["POST"]))
    with TestClient(app, follow_redirects=False) as client:
        assert client.post("/staff/api/change").status_code == 401
        for password, status in [(VIEWER_PASSWORD, 403), (PASSWORD, 200)]:
            client.post("/staff/login", data={"password": password})
            token = csrf_token_of(client)
            assert client.post("/staff/api/change", headers={"X-CSRF-Token": token}).status_code == status
            client.cookies.clear()


def test_login_refused_when_no_password_is_configured(tracker_db: Path) -> None:
    with TestClient(create_app(make_settings(tracker_db, staff_password=None)), follow_redirects=False) as client:
        page = client.get("/staff/login")
        assert "未配置工作人员密码" in page.text and 'type="password"' not in page.text
        response = client.post("/staff/login", data={"password": ""})
        assert response.status_code == 503 and "python -m bot.web.password ensure" in response.text
        assert client.get("/staff").status_code == 303




@pytest.mark.parametrize("raw, expected", [
    ("/staff/log?q=1", "/staff/log?q=1"), ("/staff", "/staff"), (None, "/staff"), ("", "/staff"),
    ("https://evil.example/staff", "/staff"), ("//evil.example/staff", "/staff"), ("/", "/staff"),
    ("/staff\\..\\", "/staff"),
])
def test_only_staff_paths_are_login_targets(raw: str | None, expected: str) -> None:
    assert safe_next_path(raw) == expected


def test_the_login_redirect_comes_back_to_the_page_and_its_query(anonymous: TestClient) -> None:
    response = anonymous.get("/staff/log", params={"q": "直邮", "date_from": "2025-09-01"})
    location = response.headers["location"]
    assert location.startswith("/staff/login?next=") and "expired" not in location
    assert unquote(location.split("next=", 1)[1]) == "/staff/log?q=%E7%9B%B4%E9%82%AE&date_from=2025-09-01"
    assert SESSION_COOKIE_NAME not in response.headers.get("set-cookie", "")


def test_a_stale_cookie_is_dropped_on_the_way_to_the_login_form(anonymous: TestClient) -> None:
    anonymous.cookies.set(SESSION_COOKIE_NAME, "garbage", path="/staff")
    response = anonymous.get("/staff/unanswered")
    assert response.status_code == 303 and response.headers["location"].endswith("&expired=1")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE_NAME}=") and "Max-Age=0" in cookie and "Path=/staff" in cookie


def test_a_logged_in_visit_to_the_form_goes_straight_on(staff: TestClient) -> None:
    response = staff.get("/staff/login", params={"next": "/staff/unanswered"})
    assert response.status_code == 303 and response.headers["location"] == "/staff/unanswered"
    assert staff.get("/staff/login", params={"next": "https://evil.example/"}).headers["location"] == "/staff"


@pytest.mark.parametrize("secure", [False, True])
def test_the_session_cookie_is_scoped_and_secure_when_configured(tracker_db: Path, secure: bool) -> None:
    with TestClient(create_app(make_settings(tracker_db, secure_cookies=secure)), follow_redirects=False) as client:
        cookie = client.post("/staff/login", data={"password": PASSWORD}).headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "Path=/staff" in cookie and ("secure" in attributes) is secure


def test_the_rate_limit_says_how_many_minutes_to_wait(tracker_db: Path) -> None:
    app = create_app(make_settings(tracker_db, login_attempt_limit=1, login_attempt_window_seconds=150))
    with TestClient(app, follow_redirects=False) as client:
        assert client.post("/staff/login", data={"password": "guess"}).status_code == 401
        blocked = client.post("/staff/login", data={"password": PASSWORD, "next": "/staff/log"})
    assert blocked.status_code == 429 and 140 <= int(blocked.headers["retry-after"]) <= 151
    texts = app.state.web.texts["staff"]
    assert texts["rate_limited"].format(minutes=3) in blocked.text  # 150 s, rounded up
    assert 'name="next" value="/staff/log"' in blocked.text, "the form still goes where staff wanted"


def test_the_session_cookie_is_read_once_per_request(tracker_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a page that checks the guard, renders with the session and changes something:
    # the signer verifies the cookie once (the middleware), not per guard and renderer
    verified: list[str | None] = []
    verify = SessionSigner.verify

    def counted(self: SessionSigner, cookie_value: str | None, now: float | None = None) -> Any:
        verified.append(cookie_value)
        return verify(self, cookie_value, now)

    monkeypatch.setattr(SessionSigner, "verify", counted)
    with TestClient(create_app(make_settings(tracker_db)), follow_redirects=False) as client:
        client.post("/staff/login", data={"password": PASSWORD, "name": "王"})
        token = csrf_token_of(client, "/staff/audit")
        verified.clear()
        page = client.get("/staff/audit")
        assert page.status_code == 200 and f'content="{token}"' in page.text and len(verified) == 1
        verified.clear()
        response = client.post("/staff/inbox/status", data={"csrf_token": token, "status": "ignored",
                                                            "question": "今天食堂吃什么"})
        assert response.status_code == 503, "no tracker store: nothing saved, and it says so"
        assert len(verified) == 1
