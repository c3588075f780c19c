"""The security headers of every response (CSP and friends).

The chat page may be framed (the embed panel puts it in an iframe on any site); staff
pages never are, and are never cached.
"""

from __future__ import annotations

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
