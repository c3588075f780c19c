"""Who is staff: the login form, its submission, logout and the guards
:func:`staff_only` (editor or viewer) and :func:`editor_only` (changes).

A staff session is a signed cookie (:mod:`bot.web.staff_identity`) scoped to ``/staff``; failed
logins are rate-limited per client address. Every state-changing request (any method
but GET and HEAD) must carry the session's CSRF token, in the ``X-CSRF-Token`` header
or a ``csrf_token`` form field. Without a staff password configured the login form
says so and every login is refused.
"""

from __future__ import annotations

import functools
import hmac
import logging
from typing import Awaitable, Callable
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.staff_identity import MAX_NAME_CHARS, SESSION_COOKIE_NAME, SessionSigner, StaffSession
from bot.web.errors import error_response
from bot.web.app_state import WebState, web_state

logger = logging.getLogger(__name__)

MAX_FORM_BYTES = 64 * 1024
Handler = Callable[[Request], Awaitable[Response]]


def client_address(request: Request) -> str:
    """The peer address used for rate limiting (proxies are not trusted)."""
    return request.client.host if request.client else "unknown"


def safe_next_path(raw: str | None) -> str:
    """Only same-site staff paths are allowed as a post-login target."""
    if raw and raw.startswith("/staff") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/staff"


SAFE_METHODS = frozenset({"GET", "HEAD"})


def staff_session(request: Request) -> StaffSession | None:
    """The valid, unexpired staff session the request's cookie carries, or None."""
    signer = web_state(request).signer
    return signer.verify(request.cookies.get(SESSION_COOKIE_NAME)) if signer else None


def is_staff(request: Request) -> bool:
    """Whether the request carries a valid, unexpired staff session cookie."""
    return staff_session(request) is not None


async def carries_csrf_token(request: Request, session: StaffSession) -> bool:
    """Whether an unsafe request carries this session's CSRF token (header or form field).
    The body is read (and cached) first, so the handler can read it again."""
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        await request.body()
        try:
            sent = (await request.form()).get("csrf_token")
        except Exception:  # a malformed form carries no token
            sent = None
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), session.csrf_token.encode())


def login_redirect(request: Request) -> RedirectResponse:
    """To the login form, coming back here afterwards; a stale cookie is dropped and the
    form says the session expired."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    expired = "&expired=1" if request.cookies.get(SESSION_COOKIE_NAME) else ""
    response = RedirectResponse(f"/staff/login?next={quote(target, safe='')}{expired}", status_code=303)
    if expired:
        response.delete_cookie(SESSION_COOKIE_NAME, path="/staff")
    return response


def staff_only(handler: Handler) -> Handler:
    """Guards a staff handler: without a session, pages redirect to the login form and
    the JSON API (``/staff/api/``) answers 401; an unsafe request without the session's
    CSRF token answers 403."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        session = staff_session(request)
        texts = web_state(request).texts["staff"]
        if session is None:
            if request.url.path.startswith("/staff/api/") or request.method not in SAFE_METHODS:
                return error_response(401, texts["session_expired"], "login_required")
            return login_redirect(request)
        if request.method not in SAFE_METHODS and not await carries_csrf_token(request, session):
            logger.warning("staff %s without a CSRF token refused: %s", request.method, request.url.path)
            return error_response(403, texts["csrf_refused"], "csrf")
        return await handler(request)

    return guarded


def editor_only(handler: Handler) -> Handler:
    """Guards a handler that changes something: as :func:`staff_only`, and a viewer's
    request answers 403 (viewers only read)."""

    @functools.wraps(handler)
    async def for_editors(request: Request) -> Response:
        session = staff_session(request)
        if session is not None and not session.can_edit:
            return error_response(403, web_state(request).texts["staff"]["editor_only"], "editor_only")
        return await handler(request)

    return staff_only(for_editors)


def render_login(request: Request, status_code: int = 200, error: str | None = None,
                 next_path: str = "/staff") -> Response:
    """The login form, with an error, or the notice that the session expired."""
    state = web_state(request)
    notice = None
    if state.signer is None:
        error = state.texts["staff"]["password_not_configured"]
    elif request.query_params.get("expired") == "1" and error is None:
        notice = state.texts["staff"]["session_expired"]
    return state.render(
        request,
        "staff_login.html",
        {"error": error, "notice": notice, "next_path": next_path, "login_enabled": state.signer is not None},
        status_code=status_code,
    )


async def login_form(request: Request) -> Response:
    """``GET /staff/login``: the form, or straight on when already logged in."""
    next_path = safe_next_path(request.query_params.get("next"))
    if is_staff(request):
        return RedirectResponse(next_path, status_code=303)
    return render_login(request, next_path=next_path)


def rate_limited(request: Request, state: WebState, client: str, next_path: str) -> Response:
    """The 429 login form, with when to try again."""
    retry_after = state.login_rate_limiter.retry_after_seconds(client)
    minutes = max(1, (retry_after + 59) // 60)
    error = state.texts["staff"]["rate_limited"].format(minutes=minutes)
    response = render_login(request, status_code=429, error=error, next_path=next_path)
    response.headers["Retry-After"] = str(retry_after)
    return response


def logged_in(state: WebState, signer: SessionSigner, next_path: str, role: str, name: str) -> Response:
    """On to ``next_path`` with a new session cookie (HttpOnly, SameSite=Strict, ``/staff``)."""
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE_NAME,
        signer.issue(role, name),
        max_age=state.settings.staff_session_max_age_seconds,
        path="/staff",
        httponly=True,
        samesite="strict",
        secure=state.settings.secure_cookies,
    )
    return response


async def login_submit(request: Request) -> Response:
    """``POST /staff/login``: password in, session cookie out; failures are counted per
    client, and once over the limit even the right password waits."""
    state = web_state(request)
    form = parse_qs((await request.body())[:MAX_FORM_BYTES].decode("utf-8", errors="replace"))
    password = (form.get("password") or [""])[0]
    name = " ".join((form.get("name") or [""])[0].split())[:MAX_NAME_CHARS]
    next_path = safe_next_path((form.get("next") or [""])[0])
    signer = state.signer
    if signer is None:
        return render_login(request, status_code=503, next_path=next_path)
    client = client_address(request)
    if state.login_rate_limiter.is_blocked(client):
        return rate_limited(request, state, client, next_path)
    role = signer.role_for(password)
    if role is None:
        state.login_rate_limiter.record_failure(client)
        logger.warning("failed staff login from %s", client)
        return render_login(request, status_code=401, error=state.texts["staff"]["wrong_password"],
                            next_path=next_path)
    state.login_rate_limiter.reset(client)
    return logged_in(state, signer, next_path, role, name or role)


@staff_only
async def logout(request: Request) -> Response:
    """``POST /staff/logout`` (with the CSRF token): the session cookie is dropped."""
    response = RedirectResponse("/staff/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE_NAME, path="/staff")
    return response
