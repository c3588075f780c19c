"""The staff login form, its submission and logout.

A staff session is a signed cookie (:mod:`bot.web.staff_identity`, which also resolves it
once per request and guards the handlers) scoped to ``/staff``; failed logins are
rate-limited per client address. Every state-changing request (any method
but GET and HEAD) must carry the session's CSRF token, in the ``X-CSRF-Token`` header
or a ``csrf_token`` form field. Without a staff password configured the login form
says so and every login is refused.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.staff_identity import MAX_NAME_CHARS, SESSION_COOKIE_NAME, SessionSigner, staff_of, staff_only
from bot.web.app_state import WebState, web_state
from bot.web.security import client_address

logger = logging.getLogger(__name__)

MAX_FORM_BYTES = 64 * 1024


def safe_next_path(raw: str | None) -> str:
    """Only same-site staff paths are allowed as a post-login target."""
    if raw and raw.startswith("/staff") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/staff"


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
    if staff_of(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    return render_login(request, next_path=next_path)


def rate_limited(request: Request, state: WebState, client: str, next_path: str) -> Response:
    """The 429 login form, with when to try again."""
    retry_after = state.login_rate_limiter.wait_seconds(client)
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
    if state.login_rate_limiter.wait_seconds(client):
        return rate_limited(request, state, client, next_path)
    role = signer.role_for(password)
    if role is None:
        state.login_rate_limiter.count(client)
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
