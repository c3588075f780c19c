"""Staff authentication: password check, signed session cookie, login rate limit.

The session cookie is ``<base64 payload>.<base64 HMAC-SHA256>`` (standard library
only). The payload carries the role (editor or viewer: two passwords), the name typed
at login and the issue time; a cookie older than the configured max age is rejected
even if the browser still sends it. The signing key is derived from ``SECRET_KEY``
*and* the passwords, so changing a password logs everyone out. Each session has a CSRF
token derived from its cookie, which every state-changing staff request carries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field

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
class StaffSession:
    """Who a valid cookie says is logged in: the role, the name typed at login (for the
    audit log), when it was issued, and the session's CSRF token."""

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


@dataclass
class LoginRateLimiter:
    """Sliding-window count of *failed* logins per client address."""

    limit: int
    window_seconds: int
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _prune(self, client: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(client, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures

    def is_blocked(self, client: str, now: float | None = None) -> bool:
        """True when ``client`` has used up its failed attempts in the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return len(self._prune(client, now)) >= self.limit

    def record_failure(self, client: str, now: float | None = None) -> None:
        """Count one failed attempt."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._prune(client, now).append(now)

    def reset(self, client: str) -> None:
        """Forget the failures of ``client`` (after a successful login)."""
        with self._lock:
            self._failures.pop(client, None)

    def retry_after_seconds(self, client: str, now: float | None = None) -> int:
        """Seconds until the oldest counted failure leaves the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._prune(client, now)
            if not failures:
                return 0
            return max(1, int(failures[0] + self.window_seconds - now) + 1)
