"""Who is staff, resolved once per request: password check, signed session cookie, the
authentication backend and the guards of the staff handlers.

The session cookie is ``<base64 payload>.<base64 HMAC-SHA256>`` (standard library
only). The payload carries the role (editor or viewer: two passwords), the name typed
at login and the issue time; a cookie older than the configured max age is rejected
even if the browser still sends it. The signing key is derived from ``SECRET_KEY``
*and* the passwords, so changing a password logs everyone out. Each session has a CSRF
token derived from its cookie, which every state-changing staff request carries.

Starlette's ``AuthenticationMiddleware`` with :class:`StaffSessionBackend` reads the
cookie once per request: ``request.user`` is the :class:`StaffSession` (or an
unauthenticated user) and ``request.auth.scopes`` holds ``staff`` and the role. Handlers
declare what they need with :func:`requires` (``@staff_only``: editor or viewer;
``@editor_only``: changes); nothing else reads the cookie.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Awaitable, Callable
from urllib.parse import quote

from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser, has_required_scope
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from bot.web.errors import error_response

logger = logging.getLogger(__name__)

SESSION_COOKIE_NAME = "staff_session"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def password_matches(candidate: str, expected: str | None) -> bool:
    """Constant-time comparison; never true when no password is configured."""
    if not expected:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))


EDITOR = "editor"   # reads and changes: annotates, publishes
VIEWER = "viewer"   # reads only
ROLES = (EDITOR, VIEWER)
MAX_NAME_CHARS = 40


@dataclass(frozen=True)
class StaffSession(BaseUser):
    """Who a valid cookie says is logged in: the role, the name typed at login (for the
    audit log), when it was issued, and the session's CSRF token (``request.user``)."""

    role: str
    name: str
    issued_at: int
    csrf_token: str

    @property
    def can_edit(self) -> bool:
        return self.role == EDITOR

    @property
    def who(self) -> str:
        """How the audit log names this person."""
        return f"{self.name} ({self.role})"

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.who

    @property
    def identity(self) -> str:
        return self.name


@dataclass(frozen=True)
class SessionSigner:
    """Issues and verifies staff session cookie values for the editor and, when one is
    configured, the viewer password."""

    secret_key: str
    staff_password: str
    max_age_seconds: int
    viewer_password: str | None = None

    def _signing_key(self) -> bytes:
        passwords = self.staff_password + "\x00" + (self.viewer_password or "")
        return hashlib.sha256(
            b"staff-session\x00" + self.secret_key.encode("utf-8") + b"\x00" + passwords.encode("utf-8")
        ).digest()

    def _signature(self, payload: str, purpose: bytes = b"") -> str:
        return _b64encode(hmac.new(self._signing_key(), purpose + payload.encode("ascii"), hashlib.sha256).digest())

    def role_for(self, password: str) -> str | None:
        """The role this password logs in as, or None (both compared in constant time)."""
        editor = password_matches(password, self.staff_password)
        viewer = password_matches(password, self.viewer_password)
        return EDITOR if editor else VIEWER if viewer else None

    def issue(self, role: str = EDITOR, name: str = "", now: float | None = None) -> str:
        """A new cookie value for ``role``, issued at ``now``."""
        if role not in ROLES:
            raise ValueError(f"unknown staff role {role!r}")
        issued_at = int(time.time() if now is None else now)
        claims = {"role": role, "name": name[:MAX_NAME_CHARS], "iat": issued_at,
                  "nonce": _b64encode(os.urandom(9))}
        payload = _b64encode(json.dumps(claims, ensure_ascii=False).encode("utf-8"))
        return f"{payload}.{self._signature(payload)}"

    def verify(self, cookie_value: str | None, now: float | None = None) -> StaffSession | None:
        """The session of an untampered cookie younger than ``max_age_seconds``, else None."""
        if not cookie_value or cookie_value.count(".") != 1:
            return None
        payload, signature = cookie_value.split(".")
        try:
            expected = self._signature(payload)
        except UnicodeEncodeError:
            return None
        if not hmac.compare_digest(signature, expected):
            return None
        try:
            claims = json.loads(_b64decode(payload))
            issued_at = int(claims["iat"])
            role, name = claims["role"], str(claims.get("name", ""))
        except (ValueError, KeyError, TypeError):
            return None
        current = time.time() if now is None else now
        if role not in ROLES or not issued_at - 60 <= current <= issued_at + self.max_age_seconds:
            return None
        # The CSRF token is bound to this cookie: a page of another site can neither read
        # it nor derive it, and it dies with the session.
        return StaffSession(role, name, issued_at, self._signature(payload, b"csrf\x00"))


# --------------------------------------------------------------------------- once per request


class StaffSessionBackend(AuthenticationBackend):
    """Starlette's authentication backend: the request's staff session, read once."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        signer: SessionSigner | None = conn.app.state.web.signer
        session = signer.verify(conn.cookies.get(SESSION_COOKIE_NAME)) if signer else None
        if session is None:
            return None
        return AuthCredentials(["staff", session.role]), session


def staff_of(request: HTTPConnection) -> StaffSession | None:
    """The request's staff session as the middleware resolved it, or None."""
    user = request.scope.get("user")
    return user if isinstance(user, StaffSession) else None


SAFE_METHODS = frozenset({"GET", "HEAD"})
Handler = Callable[[Request], Awaitable[Response]]


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


def requires(*scopes: str) -> Callable[[Handler], Handler]:
    """Like Starlette's ``requires``, with the console's answers: without a session, pages
    redirect to the login form and the JSON API (``/staff/api/``) and unsafe requests
    answer 401; an unsafe request without the session's CSRF token answers 403, and so does
    a session without the scopes (a viewer on a change)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            texts = request.app.state.web.texts["staff"]
            session = staff_of(request)
            if session is None:
                if request.url.path.startswith("/staff/api/") or request.method not in SAFE_METHODS:
                    return error_response(401, texts["session_expired"], "login_required")
                return login_redirect(request)
            if request.method not in SAFE_METHODS and not await carries_csrf_token(request, session):
                logger.warning("staff %s without a CSRF token refused: %s", request.method, request.url.path)
                return error_response(403, texts["csrf_refused"], "csrf")
            if not has_required_scope(request, scopes):
                return error_response(403, texts["editor_only"], "editor_only")
            return await handler(request)

        return guarded

    return decorate


staff_only = requires("staff")            # editors and viewers: every staff page
editor_only = requires("staff", EDITOR)   # changes: editors only
