"""The security headers of every response (CSP and friends), and the one rate limiter.

The chat page may be framed (the embed panel puts it in an iframe on any site); staff
pages never are, and are never cached. :class:`SlidingWindowLimiter` counts events per
key (failed logins per client address, ratings per conversation and per client).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(frame_ancestors: str) -> bytes:
    """Same-origin everything, no inline scripts, framing as given."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        f"form-action 'self'; frame-ancestors {frame_ancestors}"
    ).encode("ascii")


class SecurityHeadersMiddleware:
    """Adds the headers a response does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_staff = scope.get("path", "").startswith("/staff")
        extra = {
            b"x-content-type-options": b"nosniff",
            b"referrer-policy": b"strict-origin-when-cross-origin",
            b"content-security-policy": content_security_policy("'none'" if is_staff else "*"),
        }
        if is_staff:
            extra[b"x-frame-options"] = b"DENY"
            extra[b"cache-control"] = b"no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra.items() if name not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class SlidingWindowLimiter:
    """At most ``limit`` counted events per key in any ``window_seconds`` (monotonic time)."""

    limit: int
    window_seconds: float
    _times: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._times.setdefault(key, deque())
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        return times

    def _wait(self, key: str, now: float) -> int:
        times = self._recent(key, now)
        return max(1, int(times[0] + self.window_seconds - now) + 1) if len(times) >= self.limit else 0

    def wait_seconds(self, key: str, now: float | None = None) -> int:
        """0 when ``key`` is under its limit, else whole seconds until it is (nothing counted)."""
        with self._lock:
            return self._wait(key, time.monotonic() if now is None else now)

    def count(self, key: str, now: float | None = None) -> None:
        """Count one event of ``key`` (a failed login)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(key, now).append(now)

    def take(self, key: str, now: float | None = None) -> int:
        """0, and the event counted, when ``key`` may go on; else whole seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = self._wait(key, now)
            if not wait:
                self._recent(key, now).append(now)
            if len(self._times) > 10_000:  # forget idle keys now and then
                for idle in [k for k, t in self._times.items() if not t or t[-1] <= now - self.window_seconds]:
                    del self._times[idle]
            return wait

    def reset(self, key: str) -> None:
        """Forget the events of ``key`` (after a successful login)."""
        with self._lock:
            self._times.pop(key, None)


def client_address(request: Request) -> str:
    """The peer address every rate limit counts (proxies are not trusted)."""
    return request.client.host if request.client else "unknown"
