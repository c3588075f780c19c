"""Staff authentication: password check, signed session cookie, login rate limit.

The session cookie is ``<base64 payload>.<base64 HMAC-SHA256>`` (standard library
only). The payload carries the issue time; a cookie older than the configured
max age is rejected even if the browser still sends it. The signing key is derived
from ``SECRET_KEY`` *and* the staff password, so changing the password logs
everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
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


@dataclass(frozen=True)
class SessionSigner:
    """Issues and verifies staff session cookie values."""

    secret_key: str
    staff_password: str
    max_age_seconds: int

    def _signing_key(self) -> bytes:
        return hashlib.sha256(
            b"staff-session\x00" + self.secret_key.encode("utf-8") + b"\x00" + self.staff_password.encode("utf-8")
        ).digest()

    def _signature(self, payload: str) -> str:
        return _b64encode(hmac.new(self._signing_key(), payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, now: float | None = None) -> str:
        """A new cookie value issued at ``now``."""
        issued_at = int(time.time() if now is None else now)
        payload = _b64encode(json.dumps({"role": "staff", "iat": issued_at}).encode("utf-8"))
        return f"{payload}.{self._signature(payload)}"

    def verify(self, cookie_value: str | None, now: float | None = None) -> bool:
        """True for an untampered cookie younger than ``max_age_seconds``."""
        if not cookie_value or cookie_value.count(".") != 1:
            return False
        payload, signature = cookie_value.split(".")
        try:
            expected = self._signature(payload)
        except UnicodeEncodeError:
            return False
        if not hmac.compare_digest(signature, expected):
            return False
        try:
            claims = json.loads(_b64decode(payload))
            issued_at = int(claims["iat"])
        except (ValueError, KeyError, TypeError):
            return False
        current = time.time() if now is None else now
        return claims.get("role") == "staff" and issued_at - 60 <= current <= issued_at + self.max_age_seconds


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
