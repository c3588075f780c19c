"""bot.web.security: the headers every response gets, on a small application of its own."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.web.security import SecurityHeadersMiddleware


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def own_cache_policy(request: Request) -> Response:
    return PlainTextResponse("ok", headers={"Cache-Control": "private, max-age=60"})


def client() -> TestClient:
    app = Starlette(routes=[Route("/", plain), Route("/staff/page", plain), Route("/staff/cached", own_cache_policy)],
                    middleware=[Middleware(SecurityHeadersMiddleware)])
    return TestClient(app)


def test_candidate_pages_may_be_framed_anywhere() -> None:
    headers = client().get("/").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "object-src 'none'" in policy
    assert policy.endswith("frame-ancestors *")
    assert "x-frame-options" not in headers and "cache-control" not in headers


def test_staff_pages_are_never_framed_nor_cached() -> None:
    headers = client().get("/staff/page").headers
    assert headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"


def test_a_header_the_response_sets_itself_is_kept() -> None:
    response = client().get("/staff/cached")
    assert response.headers.get_list("cache-control") == ["private, max-age=60"]
