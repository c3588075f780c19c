"""TEMPORARY stand-in for Rasa, for developing the web front before the real bot runs.

It speaks the two endpoints the web front uses, with the message shapes from
docs/CONTRACTS.md: ``POST /webhooks/rest/webhook`` (text+buttons item followed by a
custom item, as Rasa's REST channel splits them) and ``GET /conversations/<id>/tracker``
(user and bot events, bot ``data.custom``). ``GET /_received`` lists the raw messages
it was sent, so tests can prove masking happened before forwarding.

Fixtures
    ``rasa_url``  the real Rasa from the ``servers`` fixture of tests/conftest.py when
                  the trained model and index exist, otherwise this stand-in. Tests
                  only ever see a URL.

Also here, equally temporary: :class:`StandInRetrievalEngine` (used only while
``bot.retrieval`` does not exist) and :func:`serve_in_thread` (uvicorn in a thread).
Delete this file once the real servers are wired into ``tests/conftest.py``.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SOURCE_2025 = {
    "title": "专业技术人员职业资格证书邮寄常见问答（2025年版）",
    "issuer": "广东省人事考试机构",
    "date": "2025年8月6日",
    "region": "广东省",
    "passage_id": "gz-mail-faq-2025/p03",
}


def _answer(text: str, custom: dict[str, Any], buttons: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"text": text, "buttons": buttons or [], "custom": custom}


def reply_for(message: str) -> dict[str, Any]:
    """The canned reply (text, buttons, custom) for one user message."""
    if "怎么申请" in message and "直邮" in message:
        return _answer(
            "申请证书直邮的步骤：\n1. 登录广东省专业技术人员职业资格证书直邮系统\n2. 填写收件信息并支付邮费\n3. 等待快递送达",
            {"kind": "faq_answer", "entry_id": "direct_mail_how", "score": 0.91, "topic": "ask_direct_mail",
             "answer": "申请证书直邮的步骤…", "sources": [SOURCE_2025], "region_note": None},
        )
    if "直邮" in message:
        return _answer(
            "证书直邮是指考生在线申请后，由邮政 EMS 把证书直接寄到考生填写的地址，不用再到现场领取。详情见 https://www.gdrsks.gov.cn/ 。",
            {"kind": "faq_answer", "entry_id": "direct_mail_what", "score": 0.93, "topic": "ask_direct_mail",
             "answer": "证书直邮是指…", "sources": [SOURCE_2025],
             "region_note": "本规定来自广东省，其他地区请以当地通知为准。"},
            [{"title": "怎么申请证书直邮？", "payload": "怎么申请证书直邮？"}],
        )
    if "邮费" in message:
        return _answer(
            "您是不是想问：",
            {"kind": "did_you_mean", "entry_id": None, "score": 0.55, "topic": None, "answer": "您是不是想问：",
             "sources": [], "region_note": None},
            [{"title": "证书直邮要多少邮费？", "payload": "证书直邮要多少邮费？"},
             {"title": "邮费可以退吗？", "payload": "邮费可以退吗？"}],
        )
    return _answer(
        f"抱歉，我还回答不了“{message}”。您可以咨询当地人事考试机构。",
        {"kind": "fallback", "entry_id": None, "score": None, "topic": None, "answer": "抱歉…", "sources": [],
         "region_note": None},
    )


def create_fake_rasa_app() -> Starlette:
    """The stand-in app; state lives in ``app.state`` (per instance)."""
    events: dict[str, list[dict[str, Any]]] = {}
    received: list[dict[str, Any]] = []

    async def webhook(request: Request) -> JSONResponse:
        body = await request.json()
        sender, message = str(body["sender"]), str(body["message"])
        received.append({"sender": sender, "message": message})
        conversation = events.setdefault(sender, [{"event": "action", "timestamp": time.time(), "name": "action_session_start"}])
        conversation.append({"event": "user", "timestamp": time.time(), "text": message,
                             "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.3}}})
        reply = reply_for(message)
        conversation.append({"event": "bot", "timestamp": time.time(), "text": reply["text"],
                             "data": {"elements": None, "quick_replies": None, "buttons": reply["buttons"] or None,
                                      "attachment": None, "image": None, "custom": reply["custom"]}})
        first: dict[str, Any] = {"recipient_id": sender, "text": reply["text"]}
        if reply["buttons"]:
            first["buttons"] = reply["buttons"]
        return JSONResponse([first, {"recipient_id": sender, "custom": reply["custom"]}])

    async def tracker(request: Request) -> JSONResponse:
        sender = request.path_params["sender_id"]
        return JSONResponse({"sender_id": sender, "slots": {}, "latest_message": {}, "events": events.get(sender, [])})

    async def received_messages(request: Request) -> JSONResponse:
        return JSONResponse(received)

    async def status(request: Request) -> JSONResponse:
        return JSONResponse({"fake": True})

    return Starlette(routes=[
        Route("/webhooks/rest/webhook", webhook, methods=["POST"]),
        Route("/conversations/{sender_id:path}/tracker", tracker),
        Route("/_received", received_messages),
        Route("/", status),
    ])


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve_in_thread(app: Any, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a daemon thread; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def real_servers_can_start() -> bool:
    """True when the trained Rasa model and the retrieval index exist, i.e. the lead's
    ``servers`` fixture (tests/conftest.py) can start the real action server and Rasa."""
    try:
        from bot import PROJECT_ROOT
        from bot.servers import RASA_MODEL
    except ImportError:
        return False
    return Path(RASA_MODEL).exists() and (PROJECT_ROOT / "models" / "index" / "manifest.json").exists()


@pytest.fixture(scope="session")
def rasa_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The Rasa base URL for the web tests: the REAL servers (the ``servers`` fixture of
    tests/conftest.py) once ``make index train`` has produced the model and index,
    otherwise - temporarily - this stand-in. Import it into a test module to use it."""
    if real_servers_can_start():
        try:
            servers = request.getfixturevalue("servers")
        except pytest.FixtureLookupError:
            servers = None
        if servers is not None:
            yield str(servers.rasa_url).rstrip("/")
            return
    print("web tests: trained model/index missing - using the temporary Rasa stand-in")
    with serve_in_thread(create_fake_rasa_app()) as url:
        yield url


def uses_stand_in(url: str) -> bool:
    """True when ``url`` is this stand-in (it answers ``GET /`` with ``{"fake": true}``)."""
    try:
        return httpx.get(url + "/", timeout=2).json() == {"fake": True}
    except Exception:  # noqa: BLE001 - real Rasa answers / with text
        return False


# ------------------------------------------------------------------ retrieval stand-in


@dataclass(frozen=True)
class StandInCitation:
    passage_id: str
    document_id: str
    title: str
    issuer: str
    published: date | None
    region: str
    source_url: str | None


@dataclass(frozen=True)
class StandInHit:
    kind: str
    id: str
    score: float
    matched_text: str
    question: str | None
    answer: str | None
    topic: str | None
    region: str
    citations: list[StandInCitation] = field(default_factory=list)


class StandInRetrievalEngine:
    """Returns fixed hits shaped like ``bot.retrieval`` Hits (CONTRACTS.md); only for
    tests while ``bot.retrieval`` is not built yet."""

    citation = StandInCitation("gz-mail-faq-2025/p03", "gz-mail-faq-2025", SOURCE_2025["title"], SOURCE_2025["issuer"],
                               date(2025, 8, 6), "广东省", "https://www.gdrsks.gov.cn/")

    def search(self, text: str, k: int = 5, topic: str | None = None, kinds: tuple[str, ...] = ("entry", "passage")) -> list[StandInHit]:
        hits = [
            StandInHit("entry", "direct_mail_what", 0.93, "什么是证书直邮？", "什么是证书直邮？",
                       "证书直邮是指考生在线申请后，由邮政 EMS 把证书寄到考生填写的地址。<b>不用</b>到现场领取。",
                       "ask_direct_mail", "广东省", [self.citation]),
            StandInHit("passage", "gz-mail-faq-2025/p03", 0.81, "证书直邮：考生可通过直邮系统申请… 联系电话 13812345678",
                       None, None, "ask_direct_mail", "广东省", [self.citation]),
        ]
        return hits[:k]
