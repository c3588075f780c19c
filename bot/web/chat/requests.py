"""What a candidate's request carries, read and checked once for every chat route: the
JSON body, the session id, the message; and a call to Rasa whose failure is an API error."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any, Awaitable, TypeVar

from starlette.requests import Request

from bot.lang.text import strip_control
from bot.rasa_client import RasaBadResponse, RasaUnavailable
from bot.web.app_state import WebState
from bot.web.errors import ApiError

logger = logging.getLogger(__name__)

SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SURROGATES = re.compile("[\ud800-\udfff]")  # valid JSON, invalid Unicode
MAX_REQUEST_BODY_BYTES = 64 * 1024

T = TypeVar("T")


def too_long(state: WebState) -> ApiError:
    """The 413 for a message (or body) over the configured length."""
    limit = state.settings.max_message_chars
    return ApiError(413, state.texts["api"]["message_too_long"].format(limit=limit), "too_long")


async def read_json_object(request: Request, state: WebState) -> dict[str, Any]:
    """The request body as a JSON object; an oversized body is refused unparsed."""
    body = await request.body()
    if len(body) > MAX_REQUEST_BODY_BYTES:
        raise too_long(state)
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        raise ApiError(400, state.texts["api"]["malformed_json"], "malformed_json")
    return payload


def session_id_of(raw: Any, state: WebState) -> str:
    """A well-formed session id (letters, digits, ``_``, ``-``; 8 to 64 of them)."""
    if isinstance(raw, str) and SESSION_ID_PATTERN.fullmatch(raw):
        return raw
    raise ApiError(400, state.texts["api"]["bad_session_id"], "bad_session_id")


def without_surrogates(text: str) -> str:
    """``text`` without lone surrogates (valid JSON, invalid Unicode)."""
    return _SURROGATES.sub("", text)


def message_of(raw: Any, state: WebState) -> str:
    """The candidate's message, stripped: text, not empty, not over the limit."""
    if raw is not None and not isinstance(raw, str):
        raise ApiError(400, state.texts["api"]["message_not_text"], "message_not_text")
    message = strip_control(without_surrogates(raw or "")).strip()
    if not message:
        raise ApiError(400, state.texts["api"]["empty_message"], "empty_message")
    if len(message) > state.settings.max_message_chars:
        raise too_long(state)
    return message


async def from_rasa(call: Awaitable[T], state: WebState, what: str) -> T:
    """The result of a call to Rasa; Rasa down is a 503, a bad answer a 502."""
    try:
        return await call
    except RasaUnavailable as error:
        logger.warning("Rasa unavailable: %s", error)
        raise ApiError(503, state.texts["api"]["rasa_unavailable"], "rasa_unavailable") from error
    except RasaBadResponse as error:
        logger.error("bad Rasa %s: %s", what, error)
        raise ApiError(502, state.texts["api"]["rasa_bad_response"], "rasa_bad_response") from error


def message_id_of(raw: Any) -> str:
    """The widget's id of this turn (a retry sends the same), or a new one."""
    if isinstance(raw, str) and SESSION_ID_PATTERN.fullmatch(raw):
        return raw
    return uuid.uuid4().hex
