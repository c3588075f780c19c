"""Web front of the certificate FAQ assistant.

Serve with ``uvicorn --factory bot.web.app:create_app --host 127.0.0.1 --port 8000``.

Candidates
    ``GET /``               WeChat-style chat page (``?embed=1`` inside the embed panel)
    ``POST /api/chat``      ``{session_id, message}`` → ``{user_text, messages: [bubble…]}``
    ``GET /api/history``    ``?session_id=`` → ``{messages: [bubble…]}`` from Rasa's tracker
    ``GET /embed.js``       one-line embed: floating button + iframe panel
    ``GET /embed-demo``     a plain page using that snippet
    ``GET /healthz``        liveness

Staff (signed-cookie session after ``POST /staff/login``)
    ``GET /staff``                         retrieval search (``?q=``)
    ``GET /staff/api/search``              the same as JSON
    ``GET /staff/log``                     conversation log (``?q=&date_from=&date_to=``)
    ``GET /staff/log/{sender_id}``         one conversation
    ``GET /staff/unanswered``              fallback / did-you-mean questions by frequency
    ``GET /staff/export/conversations.csv``, ``/staff/export/unanswered.csv``
    ``GET /staff/api/regression-case``     ``?sender_id=&turn=`` → one logged question as a
                                           regression case (YAML for tests/regression/)
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from datetime import date, datetime, timezone as fixed_timezone, timedelta, tzinfo
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, quote

import jinja2
import yaml
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.lang.privacy import mask_sensitive
from bot.knowledge.cases import case_yaml, expect_from_reply, logged_case_id, received_label
from bot.web.auth import SESSION_COOKIE_NAME, LoginRateLimiter, SessionSigner, password_matches
from bot.rasa_client import AsyncRasaClient, RasaBadResponse, RasaUnavailable
from bot.web.messages import bubbles_from_reply, bubbles_from_tracker_events
from bot.web.settings import WebSettings
from bot.web.tracker_log import TrackerLog, TrackerLogUnavailable, to_csv

logger = logging.getLogger(__name__)

WEB_DIRECTORY = Path(__file__).resolve().parent
TEMPLATE_DIRECTORY = WEB_DIRECTORY / "templates"
STATIC_DIRECTORY = WEB_DIRECTORY / "static"
BUNDLE_FILES = ("dist/chat.js", "dist/chat.css")

SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_REQUEST_BODY_BYTES = 64 * 1024
SEARCH_RESULT_COUNT = 8
LOG_CONVERSATION_LIMIT = 200


# --------------------------------------------------------------------------- helpers


def load_ui_texts(path: Path) -> dict[str, Any]:
    """The user-facing Chinese text (``data/web/ui.yml``)."""
    with path.open(encoding="utf-8") as handle:
        texts = yaml.safe_load(handle)
    if not isinstance(texts, dict):
        raise ValueError(f"{path} must hold a mapping")
    return texts


def display_timezone(name: str) -> tzinfo:
    """The named zone, or UTC+8 when the zone database is missing."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - tzdata missing: China Standard Time is fixed UTC+8
        logger.warning("time zone %s unavailable, using UTC+08:00", name)
        return fixed_timezone(timedelta(hours=8), "CST")


def json_for_script(value: Any) -> str:
    """JSON safe to embed in JavaScript source (no ``</script>``, no U+2028/2029)."""
    return (
        json.dumps(value, ensure_ascii=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def error_response(status_code: int, message: str, code: str) -> JSONResponse:
    """The JSON error shape of the API: ``{"error": code, "message": 中文}``."""
    return JSONResponse({"error": code, "message": message}, status_code=status_code)


def client_address(request: Request) -> str:
    """The peer address used for rate limiting (proxies are not trusted)."""
    return request.client.host if request.client else "unknown"


def parse_day(raw: str | None) -> date | None:
    """``YYYY-MM-DD`` → date; empty → None; anything else raises ValueError."""
    if raw is None or not raw.strip():
        return None
    return datetime.strptime(raw.strip(), "%Y-%m-%d").date()


def safe_next_path(raw: str | None) -> str:
    """Only same-site staff paths are allowed as a post-login target."""
    if raw and raw.startswith("/staff") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/staff"


def hit_view(hit: Any) -> dict[str, Any]:
    """A retrieval ``Hit`` as a plain dict for templates and JSON (masked, dates as text)."""
    citations = []
    for citation in getattr(hit, "citations", None) or []:
        published = getattr(citation, "published", None)
        citations.append(
            {
                "passage_id": getattr(citation, "passage_id", None),
                "document_id": getattr(citation, "document_id", None),
                "title": getattr(citation, "title", None),
                "issuer": getattr(citation, "issuer", None),
                "published": published.isoformat() if hasattr(published, "isoformat") else published,
                "region": getattr(citation, "region", None),
                "source_url": getattr(citation, "source_url", None),
            }
        )
    score = getattr(hit, "score", None)
    return {
        "kind": getattr(hit, "kind", None),
        "id": getattr(hit, "id", None),
        "score": round(float(score), 4) if isinstance(score, (int, float)) else None,
        "similarity": round(float(getattr(hit, "similarity", 0.0) or 0.0), 4),
        "question": mask_sensitive(getattr(hit, "question", None) or ""),
        "answer": mask_sensitive(getattr(hit, "answer", None) or ""),
        "matched_text": mask_sensitive(getattr(hit, "matched_text", None) or ""),
        "topic": getattr(hit, "topic", None),
        "region": getattr(hit, "region", None),
        "citations": citations,
    }


class RetrievalEngineHolder:
    """Loads ``bot.retrieval.engine.load_engine()`` lazily, once; a failed load is retried later."""

    def __init__(self, loader: Callable[[], Any] | None = None) -> None:
        self._loader = loader
        self._engine: Any = None
        self._lock = threading.Lock()

    def set_engine(self, engine: Any) -> None:
        """Use an already loaded engine."""
        self._engine = engine

    def get(self) -> Any:
        """The engine (blocking on first use: call from a worker thread)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    if self._loader is not None:
                        self._engine = self._loader()
                    else:
                        from bot.retrieval.engine import load_engine  # lazy: heavy models, built by another part

                        self._engine = load_engine()
        return self._engine


class SecurityHeadersMiddleware:
    """Adds CSP and friends. The chat page may be framed (embed panel); staff pages never."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        is_staff = path.startswith("/staff")
        frame_ancestors = "'none'" if is_staff else "*"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"strict-origin-when-cross-origin",
                    b"content-security-policy": (
                        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
                        f"form-action 'self'; frame-ancestors {frame_ancestors}"
                    ).encode("ascii"),
                }
                if is_staff:
                    extra[b"x-frame-options"] = b"DENY"
                    extra[b"cache-control"] = b"no-store"
                for name, value in extra.items():
                    if name not in names:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --------------------------------------------------------------------------- factory


def create_app(settings: WebSettings | None = None) -> Starlette:
    """Build the web application (settings default to environment → ``.env`` → defaults)."""
    settings = settings or WebSettings.from_environment()
    texts = load_ui_texts(settings.ui_texts_file)
    api_texts: dict[str, str] = texts["api"]
    staff_texts: dict[str, Any] = texts["staff"]
    timezone = display_timezone(settings.display_timezone)

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIRECTORY), autoescape=True, undefined=jinja2.StrictUndefined
    )
    templates = Jinja2Templates(env=environment)

    def format_time(timestamp: float | None) -> str:
        if timestamp is None:
            return ""
        return datetime.fromtimestamp(timestamp, timezone).strftime("%Y-%m-%d %H:%M:%S")

    environment.filters["datetime"] = format_time
    environment.globals["texts"] = texts

    secret_key = settings.secret_key
    if not secret_key:
        secret_key = secrets.token_urlsafe(48)
        logger.warning("SECRET_KEY is not set: staff sessions will not survive a restart")
    signer = (
        SessionSigner(secret_key, settings.staff_password, settings.staff_session_max_age_seconds)
        if settings.staff_password
        else None
    )
    rate_limiter = LoginRateLimiter(settings.login_attempt_limit, settings.login_attempt_window_seconds)
    retrieval = RetrievalEngineHolder()
    tracker_log = TrackerLog(settings.tracker_db_path(), timezone)

    # ----------------------------------------------------------------- candidate pages

    def bundle_is_built() -> bool:
        return all((STATIC_DIRECTORY / name).is_file() for name in BUNDLE_FILES)

    def asset_version() -> str:
        stamps = [int((STATIC_DIRECTORY / name).stat().st_mtime) for name in BUNDLE_FILES if (STATIC_DIRECTORY / name).is_file()]
        return str(max(stamps, default=0))

    async def chat_page(request: Request) -> Response:
        config = {
            "texts": texts["chat"],
            "maxMessageChars": settings.max_message_chars,
            "embedded": request.query_params.get("embed") == "1",
        }
        return templates.TemplateResponse(
            request,
            "chat.html",
            {
                "config_json": json.dumps(config, ensure_ascii=False),
                "bundle_built": bundle_is_built(),
                "asset_version": asset_version(),
                "embedded": config["embedded"],
            },
        )

    async def embed_script(request: Request) -> Response:
        source = (STATIC_DIRECTORY / "embed.js").read_text(encoding="utf-8")
        body = source.replace("__EMBED_TEXTS__", json_for_script(texts["embed"]))
        return Response(
            body,
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
        )

    async def embed_demo(request: Request) -> Response:
        script_url = str(request.url_for("embed_script"))
        return templates.TemplateResponse(request, "embed_demo.html", {"script_url": script_url})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # ----------------------------------------------------------------- chat API

    async def read_json_object(request: Request) -> dict[str, Any] | JSONResponse:
        body = await request.body()
        if len(body) > MAX_REQUEST_BODY_BYTES:
            return error_response(413, api_texts["message_too_long"].format(limit=settings.max_message_chars), "too_long")
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return error_response(400, api_texts["malformed_json"], "malformed_json")
        if not isinstance(payload, dict):
            return error_response(400, api_texts["malformed_json"], "malformed_json")
        return payload

    def valid_session_id(raw: Any) -> str | None:
        return raw if isinstance(raw, str) and SESSION_ID_PATTERN.fullmatch(raw) else None

    async def chat(request: Request) -> Response:
        payload = await read_json_object(request)
        if isinstance(payload, JSONResponse):
            return payload
        session_id = valid_session_id(payload.get("session_id"))
        if session_id is None:
            return error_response(400, api_texts["bad_session_id"], "bad_session_id")
        message = payload.get("message")
        if message is not None and not isinstance(message, str):
            return error_response(400, api_texts["message_not_text"], "message_not_text")
        message = (message or "").strip()
        if not message:
            return error_response(400, api_texts["empty_message"], "empty_message")
        if len(message) > settings.max_message_chars:
            return error_response(
                413, api_texts["message_too_long"].format(limit=settings.max_message_chars), "too_long"
            )
        masked_message = mask_sensitive(message)  # before Rasa: never stored unmasked
        rasa: AsyncRasaClient = request.app.state.rasa_client
        try:
            reply = await rasa.send(session_id, masked_message)
        except RasaUnavailable as error:
            logger.warning("Rasa unavailable: %s", error)
            return error_response(503, api_texts["rasa_unavailable"], "rasa_unavailable")
        except RasaBadResponse as error:
            logger.error("bad Rasa response: %s", error)
            return error_response(502, api_texts["rasa_bad_response"], "rasa_bad_response")
        return JSONResponse(
            {
                "user_text": masked_message,
                "masked": masked_message != message,
                "messages": bubbles_from_reply(reply, timestamp=time.time()),
            }
        )

    async def history(request: Request) -> Response:
        session_id = valid_session_id(request.query_params.get("session_id"))
        if session_id is None:
            return error_response(400, api_texts["bad_session_id"], "bad_session_id")
        rasa: AsyncRasaClient = request.app.state.rasa_client
        try:
            tracker = await rasa.tracker(session_id)
            events = tracker.get("events") if isinstance(tracker.get("events"), list) else []
        except RasaUnavailable as error:
            logger.warning("Rasa unavailable: %s", error)
            return error_response(503, api_texts["rasa_unavailable"], "rasa_unavailable")
        except RasaBadResponse as error:
            logger.error("bad Rasa tracker response: %s", error)
            return error_response(502, api_texts["rasa_bad_response"], "rasa_bad_response")
        return JSONResponse({"session_id": session_id, "messages": bubbles_from_tracker_events(events)})

    # ----------------------------------------------------------------- staff auth

    def is_staff(request: Request) -> bool:
        return signer is not None and signer.verify(request.cookies.get(SESSION_COOKIE_NAME))

    def login_redirect(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        expired = "&expired=1" if request.cookies.get(SESSION_COOKIE_NAME) else ""
        response = RedirectResponse(f"/staff/login?next={quote(target, safe='')}{expired}", status_code=303)
        if expired:
            response.delete_cookie(SESSION_COOKIE_NAME, path="/staff")
        return response

    def render_login(request: Request, status_code: int = 200, error: str | None = None, next_path: str = "/staff") -> Response:
        notice = None
        if signer is None:
            error = staff_texts["password_not_configured"]
        elif request.query_params.get("expired") == "1" and error is None:
            notice = staff_texts["session_expired"]
        return templates.TemplateResponse(
            request,
            "staff_login.html",
            {"error": error, "notice": notice, "next_path": next_path, "login_enabled": signer is not None},
            status_code=status_code,
        )

    async def login_form(request: Request) -> Response:
        if is_staff(request):
            return RedirectResponse(safe_next_path(request.query_params.get("next")), status_code=303)
        return render_login(request, next_path=safe_next_path(request.query_params.get("next")))

    async def login_submit(request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body[:MAX_REQUEST_BODY_BYTES].decode("utf-8", errors="replace"))
        password = (form.get("password") or [""])[0]
        next_path = safe_next_path((form.get("next") or [""])[0])
        if signer is None:
            return render_login(request, status_code=503, next_path=next_path)
        client = client_address(request)
        if rate_limiter.is_blocked(client):
            retry_after = rate_limiter.retry_after_seconds(client)
            minutes = max(1, (retry_after + 59) // 60)
            response = render_login(
                request, status_code=429, error=staff_texts["rate_limited"].format(minutes=minutes), next_path=next_path
            )
            response.headers["Retry-After"] = str(retry_after)
            return response
        if not password_matches(password, settings.staff_password):
            rate_limiter.record_failure(client)
            logger.warning("failed staff login from %s", client)
            return render_login(request, status_code=401, error=staff_texts["wrong_password"], next_path=next_path)
        rate_limiter.reset(client)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            SESSION_COOKIE_NAME,
            signer.issue(),
            max_age=settings.staff_session_max_age_seconds,
            path="/staff",
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
        )
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/staff/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE_NAME, path="/staff")
        return response

    def staff_only(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def guarded(request: Request) -> Response:
            if not is_staff(request):
                if request.url.path.startswith("/staff/api/"):
                    return error_response(401, staff_texts["session_expired"], "login_required")
                return login_redirect(request)
            return await handler(request)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    # ----------------------------------------------------------------- staff console

    async def run_search(query: str) -> tuple[list[dict[str, Any]], str | None]:
        if not query:
            return [], None
        try:
            engine = await run_in_threadpool(retrieval.get)
            hits = await run_in_threadpool(engine.search, query, SEARCH_RESULT_COUNT)
        except Exception as error:  # noqa: BLE001 - show the reason to staff, keep the console up
            logger.exception("retrieval search failed")
            return [], f"{type(error).__name__}: {error}"
        return [hit_view(hit) for hit in hits], None

    async def staff_search(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()[: settings.max_message_chars]
        hits, failure = await run_search(query)
        return templates.TemplateResponse(
            request, "staff_search.html", {"query": query, "hits": hits, "failure": failure, "active": "search"}
        )

    async def staff_search_json(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()[: settings.max_message_chars]
        hits, failure = await run_search(query)
        if failure:
            return error_response(503, staff_texts["search_unavailable"].format(reason=failure), "search_unavailable")
        return JSONResponse({"query": query, "hits": hits})

    def log_filters(request: Request) -> tuple[str, date | None, date | None, str | None]:
        query = request.query_params.get("q", "").strip()
        try:
            date_from = parse_day(request.query_params.get("date_from"))
            date_to = parse_day(request.query_params.get("date_to"))
        except ValueError:
            return query, None, None, staff_texts["bad_date"]
        return query, date_from, date_to, None

    async def staff_log(request: Request) -> Response:
        query, date_from, date_to, failure = log_filters(request)
        conversations, total = [], 0
        if failure is None:
            try:
                conversations, total = await run_in_threadpool(
                    tracker_log.conversations, query, date_from, date_to, LOG_CONVERSATION_LIMIT
                )
            except TrackerLogUnavailable as error:
                failure = staff_texts["log_unavailable"].format(reason=error)
        return templates.TemplateResponse(
            request,
            "staff_log.html",
            {
                "query": query,
                "date_from": request.query_params.get("date_from", ""),
                "date_to": request.query_params.get("date_to", ""),
                "conversations": conversations,
                "total": total,
                "limit": LOG_CONVERSATION_LIMIT,
                "failure": failure,
                "active": "log",
                "export_query": request.url.query,
            },
        )

    async def staff_conversation(request: Request) -> Response:
        sender_id = request.path_params["sender_id"]
        failure = None
        conversation = None
        try:
            conversation = await run_in_threadpool(tracker_log.conversation, sender_id)
        except TrackerLogUnavailable as error:
            failure = staff_texts["log_unavailable"].format(reason=error)
        status_code = 404 if conversation is None and failure is None else 200
        return templates.TemplateResponse(
            request,
            "staff_conversation.html",
            {"sender_id": sender_id, "conversation": conversation, "failure": failure, "active": "log"},
            status_code=status_code,
        )

    async def staff_unanswered(request: Request) -> Response:
        _, date_from, date_to, failure = log_filters(request)
        questions = []
        if failure is None:
            try:
                questions = await run_in_threadpool(tracker_log.unanswered_questions, date_from, date_to)
            except TrackerLogUnavailable as error:
                failure = staff_texts["log_unavailable"].format(reason=error)
        return templates.TemplateResponse(
            request,
            "staff_unanswered.html",
            {
                "questions": questions,
                "failure": failure,
                "date_from": request.query_params.get("date_from", ""),
                "date_to": request.query_params.get("date_to", ""),
                "active": "unanswered",
                "export_query": request.url.query,
            },
        )

    def csv_response(content: bytes, filename: str) -> Response:
        return Response(
            content,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def export_conversations(request: Request) -> Response:
        query, date_from, date_to, failure = log_filters(request)
        if failure:
            return PlainTextResponse(failure, status_code=400)
        try:
            conversations, _ = await run_in_threadpool(tracker_log.conversations, query, date_from, date_to, None)
        except TrackerLogUnavailable as error:
            return PlainTextResponse(staff_texts["log_unavailable"].format(reason=error), status_code=503)
        role_names = {"user": texts["csv"]["role_user"], "bot": texts["csv"]["role_bot"]}
        rows = (
            [
                conversation.sender_id,
                format_time(message.timestamp),
                role_names[message.role],
                message.text,
                message.kind or "",
                message.entry_id or "",
                "" if message.score is None else f"{message.score:.3f}",
            ]
            for conversation in conversations
            for message in conversation.messages
        )
        return csv_response(to_csv(texts["csv"]["conversation_headers"], rows), "conversations.csv")

    async def export_unanswered(request: Request) -> Response:
        _, date_from, date_to, failure = log_filters(request)
        if failure:
            return PlainTextResponse(failure, status_code=400)
        try:
            questions = await run_in_threadpool(tracker_log.unanswered_questions, date_from, date_to)
        except TrackerLogUnavailable as error:
            return PlainTextResponse(staff_texts["log_unavailable"].format(reason=error), status_code=503)
        rows = (
            [
                question.example_text,
                question.count,
                question.fallback_count,
                question.did_you_mean_count,
                format_time(question.last_asked),
                " ".join(question.sender_ids),
            ]
            for question in questions
        )
        return csv_response(to_csv(texts["csv"]["unanswered_headers"], rows), "unanswered.csv")

    async def staff_regression_case(request: Request) -> Response:
        """One logged question as a regression case, YAML ready to paste under ``cases:``
        with ``expect`` guessed from the assistant's reply and comments telling staff to
        check it."""
        case_texts = staff_texts["regression_case"]
        sender_id = request.query_params.get("sender_id", "").strip()
        turn_text = request.query_params.get("turn", "").strip()
        turn = int(turn_text) if turn_text.isascii() and turn_text.isdigit() else 0
        if not sender_id or turn < 1:
            return error_response(400, case_texts["bad_request"], "bad_request")
        try:
            conversation = await run_in_threadpool(tracker_log.conversation, sender_id)
        except TrackerLogUnavailable as error:
            return error_response(503, staff_texts["log_unavailable"].format(reason=error), "log_unavailable")
        exchange = conversation.exchange(turn) if conversation else None
        if exchange is None:
            return error_response(404, case_texts["not_found"], "not_found")
        question, replies, earlier = exchange
        answered = [reply for reply in replies if reply.kind]
        custom = (
            {"kind": answered[-1].kind, "entry_id": answered[-1].entry_id,
             "procedure": answered[-1].procedure, "candidates": list(answered[-1].candidates)}
            if answered else {}
        )
        asked = datetime.fromtimestamp(question.timestamp, timezone)
        comments = [
            case_texts["header"].format(sender_id=sender_id, turn=turn, time=format_time(question.timestamp)),
            case_texts["answered"].format(received=received_label(custom)),
            case_texts["instructions"].strip(),
        ]
        if earlier:
            comments.append(case_texts["earlier_turns"].format(
                turns=case_texts["turn_separator"].join(message.text for message in earlier)))
        case = {"id": logged_case_id(sender_id, turn, asked.date()), "turns": [question.text],
                "expect": expect_from_reply(custom)}
        return PlainTextResponse(case_yaml(case, comments))

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return error_response(404, api_texts["not_found"], "not_found")
        return PlainTextResponse(api_texts["not_found"], status_code=404)

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return error_response(405, api_texts["not_found"], "method_not_allowed")

    routes = [
        Route("/", chat_page, name="chat_page"),
        Route("/healthz", health, name="health"),
        Route("/embed.js", embed_script, name="embed_script"),
        Route("/embed-demo", embed_demo, name="embed_demo"),
        Route("/api/chat", chat, methods=["POST"], name="api_chat"),
        Route("/api/history", history, methods=["GET"], name="api_history"),
        Route("/staff/login", login_form, methods=["GET"], name="staff_login"),
        Route("/staff/login", login_submit, methods=["POST"], name="staff_login_submit"),
        Route("/staff/logout", logout, methods=["POST"], name="staff_logout"),
        Route("/staff", staff_only(staff_search), name="staff_search"),
        Route("/staff/api/search", staff_only(staff_search_json), name="staff_search_json"),
        Route("/staff/api/regression-case", staff_only(staff_regression_case), name="staff_regression_case"),
        Route("/staff/log", staff_only(staff_log), name="staff_log"),
        Route("/staff/log/{sender_id:path}", staff_only(staff_conversation), name="staff_conversation"),
        Route("/staff/unanswered", staff_only(staff_unanswered), name="staff_unanswered"),
        Route("/staff/export/conversations.csv", staff_only(export_conversations), name="export_conversations"),
        Route("/staff/export/unanswered.csv", staff_only(export_unanswered), name="export_unanswered"),
        Mount("/static", app=StaticFiles(directory=STATIC_DIRECTORY), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.state.settings = settings
    app.state.rasa_client = AsyncRasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_seconds)
    app.state.retrieval = retrieval
    app.state.tracker_log = tracker_log
    app.state.login_rate_limiter = rate_limiter
    return app
