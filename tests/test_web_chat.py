"""bot.web.chat.api through Starlette's test client, without Rasa: the chat page's config,
the embed script, and the API's refusals, all before any call to Rasa (answers from the
real Rasa: tests/test_web_api.py)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from starlette.testclient import TestClient

from bot.datafiles import ui_texts
from bot.web.app import create_app
from bot.web.chat.api import json_for_script
from bot.web.config import WebSettings
from tests.conftest import free_port

TEXTS = ui_texts()
LIMIT = 20


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = WebSettings(rasa_url=f"http://127.0.0.1:{free_port()}", rasa_timeout_seconds=3,
                           max_message_chars=LIMIT, tracker_db_url=f"sqlite:///{tmp_path}/tracker.db")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def page_config(page: str) -> dict[str, Any]:
    match = re.search(r'data-config="([^"]*)"', page)
    assert match, page
    return json.loads(html.unescape(match.group(1)))


@pytest.mark.parametrize("embed", [False, True])
def test_the_chat_page_carries_its_texts_and_limit(client: TestClient, embed: bool) -> None:
    page = client.get("/", params={"embed": "1"} if embed else {}).text
    assert page_config(page) == {"texts": TEXTS["chat"], "maxMessageChars": LIMIT, "embedded": embed}
    assert ('<body class="is-embedded">' in page) is embed
    assert f"<title>{TEXTS['chat']['page_title']}</title>" in page


def test_json_for_script_cannot_close_the_script() -> None:
    value = {"text": "</script><b>&\u2028\u2029证书"}
    source = json_for_script(value)
    assert not set("<>&\u2028\u2029") & set(source)
    assert json.loads(source) == value


def test_the_embed_script_has_its_texts_inlined(client: TestClient) -> None:
    script = client.get("/embed.js")
    assert script.headers["access-control-allow-origin"] == "*"
    assert script.headers["cache-control"] == "no-cache"
    assert "__EMBED_TEXTS__" not in script.text and json_for_script(TEXTS["embed"]) in script.text


def test_the_embed_demo_uses_the_one_line_snippet(client: TestClient) -> None:
    assert '<script src="http://testserver/embed.js"></script>' in client.get("/embed-demo").text


def refusal(status_code: int, code: str, message: str) -> tuple[int, dict[str, str]]:
    return status_code, {"error": code, "message": message}


API = TEXTS["api"]
TOO_LONG = refusal(413, "too_long", API["message_too_long"].format(limit=LIMIT))
MALFORMED = refusal(400, "malformed_json", API["malformed_json"])


@pytest.mark.parametrize("body, expected", [
    (b"x" * (64 * 1024 + 1), TOO_LONG),
    (b"{not json", MALFORMED),
    ("\"文字\"".encode(), MALFORMED),
    (b"\xff\xfe", MALFORMED),
    (json.dumps({"message": "你好"}).encode(), refusal(400, "bad_session_id", API["bad_session_id"])),
    (json.dumps({"session_id": "short", "message": "你好"}).encode(), refusal(400, "bad_session_id", API["bad_session_id"])),
    (json.dumps({"session_id": "session-0001", "message": ["你好"]}).encode(),
     refusal(400, "message_not_text", API["message_not_text"])),
    (json.dumps({"session_id": "session-0001", "message": " \n "}).encode(),
     refusal(400, "empty_message", API["empty_message"])),
    (json.dumps({"session_id": "session-0001"}).encode(), refusal(400, "empty_message", API["empty_message"])),
    (json.dumps({"session_id": "session-0001", "message": "问" * (LIMIT + 1)}).encode(), TOO_LONG),
])
def test_the_api_refuses_what_it_cannot_send(client: TestClient, body: bytes,
                                             expected: tuple[int, dict[str, str]]) -> None:
    response = client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()) == expected


def test_a_message_at_the_limit_goes_to_rasa(client: TestClient) -> None:
    response = client.post("/api/chat", json={"session_id": "session-0001", "message": f"  {'问' * LIMIT}  "})
    # past every check, to Rasa (down here): the polite reply, not a refusal
    assert response.json()["messages"][0]["custom"]["kind"] == "unavailable"


@pytest.mark.parametrize("session_id", ["", "short", "with space 123", "ü" * 10, "x" * 65])
def test_history_refuses_a_bad_session_id(client: TestClient, session_id: str) -> None:
    response = client.get("/api/history", params={"session_id": session_id})
    assert (response.status_code, response.json()) == refusal(400, "bad_session_id", API["bad_session_id"])


@pytest.mark.parametrize("message, sent", [
    ("\ud800", None),                          # a lone surrogate only: nothing left → 400
    ("证书\udfff直邮怎么申请", "证书直邮怎么申请"),   # removed, the rest goes on
    ("\u202e请问\u200b证书直邮\ufeff", "请问证书直邮"),  # bidi override, zero-width space, BOM
    ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),      # a zero-width joiner inside emoji stays
])
def test_invalid_unicode_and_invisible_characters_are_cleaned(client: TestClient, message: str,
                                                              sent: str | None) -> None:
    # main answered 500 for {"message": "\ud800"}: valid JSON, invalid Unicode
    body = json.dumps({"session_id": "session-0001", "message": message}).encode()
    response = client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    if sent is None:
        assert (response.status_code, response.json()["error"]) == (400, "empty_message")
    else:
        assert response.status_code == 200 and response.json()["user_text"] == sent
