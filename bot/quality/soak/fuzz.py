"""Hostile input for the web front and the REST channel, generated with hypothesis.

Every generated request must get an answer below 500; every text message that still has
words after cleaning must get a non-empty reply. Problems are collected, not raised, so
one run reports all of them (with the request that caused each)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.lang.noise import core_of
from bot.lang.text import has_words, strip_control

CRAFTED = [
    "", " ", "\t\n", "证" * 10000, "<script>alert(1)</script>证书怎么下载",
    "' OR 1=1; DROP TABLE events;--", "{{7*7}} ${jndi:ldap://x} {% raw %}", "😀" * 50,
    "证书\u200b直邮\u200d怎么\ufeff申请", "\u202e请问证书直邮\u202c", "\x00\x01\x07\x1b证书",
    "\ud800", "证书\udfff直邮", "/restart", "/session_start", '/inform{"procedure":"gd_direct_mail"}',
    "/greet", "名单2025年2月30日公示，直邮最晚哪天", "2099年1月1日公示的直邮截止哪天",
    "13月45日", "你好", "谢谢", "证书直邮怎么申请？我电话13912345678", "&lt;b&gt;&amp;",
    "\\u0000", "null", "[]", "{}", "证书" + "？" * 500, "🇨🇳" * 20, "é\u0301", "ｆｕｌｌ　ｗｉｄｔｈ",
]
# text the REST channel and the web front must answer: hostile alphabets mixed with words
TEXTS = st.one_of(
    st.sampled_from(CRAFTED),
    st.text(min_size=0, max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Cf", "So", "Zs"]), max_size=50),
    st.builds(lambda a, b: a + b, st.sampled_from(["证书直邮怎么申请", "电子证书在哪下载", "加注"]),
              st.text(max_size=40)),
)
SESSIONS = st.one_of(st.just("valid"), st.text(max_size=80), st.sampled_from(
    ["", "x", "../../etc/passwd", "a" * 65, "会话编号", "ab cd efgh", None, 12345678]))
MESSAGES = st.one_of(TEXTS, st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3),
                     st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
                     st.booleans(), st.floats(allow_nan=True))
BODIES = st.one_of(
    st.fixed_dictionaries({"session_id": SESSIONS, "message": MESSAGES}),
    st.fixed_dictionaries({"session_id": SESSIONS, "message": TEXTS}),
    st.binary(max_size=200),                                    # not JSON at all
    st.sampled_from([b"{", b'{"session_id": "abcdefgh", "message": ', b"[1,2]", b"null",
                     b'"text"', b'{"message": "\\ud800"}', b"\xff\xfe\x00", b"{}" * 5000]),
)


@dataclass
class FuzzResult:
    """What one target made of the generated requests."""

    target: str
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0
    empty_replies: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def note(self, status: int, problem: str | None, request: Any) -> None:
        self.requests += 1
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if problem:
            if problem == "server error":
                self.server_errors += 1
            else:
                self.empty_replies += 1
            if len(self.problems) < 20:
                self.problems.append({"problem": problem, "status": status,
                                      "request": repr(request)[:300]})


def answerable(message: Any) -> bool:
    """A text the assistant must answer: words left after the cleaning the servers do."""
    if not isinstance(message, str):
        return False
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        message = message.encode("utf-8", "replace").decode("utf-8")
    cleaned = strip_control(message).strip()
    return bool(cleaned) and has_words(core_of(cleaned)) and len(cleaned) <= 500


class Poster:
    """POSTs with one kept-alive connection; a connection the server dropped (it may
    answer a huge body early and close) is opened again and the request sent once more."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.client = httpx.Client(base_url=base_url, timeout=60, trust_env=False)

    def post(self, path: str, data: bytes) -> httpx.Response | None:
        for _ in (1, 2):
            try:
                return self.client.post(path, content=data,
                                        headers={"Content-Type": "application/json"})
            except httpx.TransportError:
                self.client.close()
                self.client = httpx.Client(base_url=self.base_url, timeout=60, trust_env=False)
        return None

    def close(self) -> None:
        self.client.close()


def _encode(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, dict) and body.get("session_id") == "valid":
        body = {**body, "session_id": f"fuzz-{uuid.uuid4().hex[:16]}"}
    return json.dumps(body, ensure_ascii=True).encode()  # lone surrogates become \\ud800


def fuzz_web(web_url: str, examples: int) -> FuzzResult:
    """POST generated bodies to the web front's /api/chat."""
    result = FuzzResult("web /api/chat")
    poster = Poster(web_url)
    started = time.perf_counter()

    # derandomize: the same examples on every run, so CI and `make soak` are repeatable
    @settings(max_examples=examples, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(body=BODIES)
    def check(body: Any) -> None:
        response = poster.post("/api/chat", _encode(body))
        if response is None:
            result.note(0, "server error", body)   # no answer at all, twice
            return
        problem = None
        if response.status_code >= 500:
            problem = "server error"
        elif response.status_code == 200:
            bubbles = response.json().get("messages") or []  # the web front's own JSON
            if not any(str(b.get("text") or "").strip() for b in bubbles):
                problem = "empty reply"
        elif isinstance(body, dict) and body.get("session_id") == "valid" and answerable(
                body.get("message")) and response.status_code not in (400, 413):
            problem = f"refused with {response.status_code}"
        result.note(response.status_code, problem, body)

    check()
    poster.close()
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def fuzz_rest(rasa_url: str, examples: int) -> FuzzResult:
    """POST generated messages to Rasa's REST channel; an answerable one needs a reply."""
    result = FuzzResult("rasa /webhooks/rest/webhook")
    poster = Poster(rasa_url)
    started = time.perf_counter()

    @settings(max_examples=examples, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(message=TEXTS)
    def check(message: str) -> None:
        body = {"sender": f"fuzz-{uuid.uuid4().hex[:16]}", "message": message}
        response = poster.post("/webhooks/rest/webhook", _encode(body))
        if response is None:
            result.note(0, "server error", message)
            return
        problem = None
        if response.status_code >= 500:
            problem = "server error"
        elif answerable(message) and not any(str(m.get("text") or "").strip()
                                             for m in _json_list(response)):
            problem = "empty reply"
        result.note(response.status_code, problem, message)

    check()
    poster.close()
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def _json_list(response: httpx.Response) -> list:
    try:
        body = response.json()
    except ValueError:
        return []
    return [m for m in body if isinstance(m, dict)] if isinstance(body, list) else []
