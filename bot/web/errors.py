"""How the web front answers what it cannot serve: the API's error shape and the 404/405 pages.

An API handler that cannot serve a request raises :class:`ApiError`; the application's
exception handler (:func:`api_error`) answers it as ``{"error": code, "message": 中文}``,
the one error shape of the JSON API (docs/CONTRACTS.md).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.web.storage.tracker_events import TrackerLogUnavailable


class ApiError(Exception):
    """A JSON API request that cannot be served, with its status, Chinese message and code."""

    def __init__(self, status_code: int, message: str, code: str) -> None:
        super().__init__(f"{status_code} {code}: {message}")
        self.status_code = status_code
        self.message = message
        self.code = code


def error_response(status_code: int, message: str, code: str) -> JSONResponse:
    """The JSON error shape of the API: ``{"error": code, "message": 中文}``."""
    return JSONResponse({"error": code, "message": message}, status_code=status_code)


async def api_error(request: Request, exc: Exception) -> Response:
    """Exception handler: an :class:`ApiError` as the API's error shape."""
    if not isinstance(exc, ApiError):  # registered for ApiError only
        raise exc
    return error_response(exc.status_code, exc.message, exc.code)


async def not_found(request: Request, exc: Exception) -> Response:
    """Exception handler for 404: JSON under ``/api/``, plain text elsewhere."""
    message = request.app.state.web.texts["api"]["not_found"]
    if request.url.path.startswith("/api/"):
        return error_response(404, message, "not_found")
    return PlainTextResponse(message, status_code=404)


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """Exception handler for 405, in the API's error shape."""
    return error_response(405, request.app.state.web.texts["api"]["not_found"], "method_not_allowed")


def log_unavailable(request: Request, error: TrackerLogUnavailable) -> str:
    """The staff-facing reason the conversation log cannot be read."""
    return request.app.state.web.texts["staff"]["log_unavailable"].format(reason=error)
