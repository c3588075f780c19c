"""The candidates' side: the chat page, its JSON API and the embed snippet.

``GET /`` (``?embed=1`` inside the embed panel), ``POST /api/chat``, ``GET /api/history``,
``GET /embed.js``, ``GET /embed-demo`` and ``GET /healthz`` (the thumbs up and down on the
answers: :mod:`bot.web.chat.feedback`). A message is cleaned (invalid
Unicode, control and zero-width characters) and masked before Rasa sees it, so no tracker
store ever holds an identity number or a mobile number. Every message gets a reply: when
Rasa cannot answer (down, too slow, an error, nothing to say) the candidate gets the
renderer's polite "briefly unavailable" reply with a retry; the web front's log names
the conversation and what Rasa did (the candidate's text is not kept: Rasa did not store it).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any, Awaitable, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.dialogue.replies import unavailable_reply
from bot.lang.privacy import mask_sensitive
from bot.lang.text import is_traditional, strip_control
from bot.rasa_client import BotMessage, RasaBadResponse, RasaUnavailable, RestReply
from bot.web.errors import ApiError
from bot.web.chat.bubbles import bubbles_from_reply
from bot.web.chat.history import current_turn, history_ratings, rated_bubbles
from bot.web.app_state import STATIC_DIRECTORY, WebState, web_state

logger = logging.getLogger(__name__)

BUNDLE_FILES = ("dist/chat.js", "dist/chat.css")
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SURROGATES = re.compile("[\ud800-\udfff]")  # valid JSON, invalid Unicode
MAX_REQUEST_BODY_BYTES = 64 * 1024

T = TypeVar("T")


# --------------------------------------------------------------------------- pages


def bundle_is_built() -> bool:
    """Whether the chat page's script and style have been built (``make install``)."""
    return all((STATIC_DIRECTORY / name).is_file() for name in BUNDLE_FILES)


def asset_version() -> str:
    """A cache-busting stamp: the newest modification time of the bundle's files."""
    stamps = [int((STATIC_DIRECTORY / name).stat().st_mtime) for name in BUNDLE_FILES
              if (STATIC_DIRECTORY / name).is_file()]
    return str(max(stamps, default=0))


def json_for_script(value: Any) -> str:
    """JSON safe to embed in JavaScript source (no ``</script>``, no U+2028/2029)."""
    return (
        json.dumps(value, ensure_ascii=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


async def chat_page(request: Request) -> Response:
    """``GET /``: the chat page; its texts and limits travel in ``data-config``."""
    state = web_state(request)
    embedded = request.query_params.get("embed") == "1"
    config = {"texts": state.texts["chat"], "maxMessageChars": state.settings.max_message_chars,
              "embedded": embedded}
    return state.render(request, "chat.html", {
        "config_json": json.dumps(config, ensure_ascii=False),
        "bundle_built": bundle_is_built(),
        "asset_version": asset_version(),
        "embedded": embedded,
    })


async def embed_script(request: Request) -> Response:
    """``GET /embed.js``: the floating button and iframe panel, with its texts inlined."""
    source = (STATIC_DIRECTORY / "embed.js").read_text(encoding="utf-8")
    body = source.replace("__EMBED_TEXTS__", json_for_script(web_state(request).texts["embed"]))
    return Response(
        body,
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
    )


async def embed_demo(request: Request) -> Response:
    """``GET /embed-demo``: a plain page using the one-line snippet."""
    script_url = str(request.url_for("embed_script"))
    return web_state(request).render(request, "embed_demo.html", {"script_url": script_url})


async def health(request: Request) -> Response:
    """``GET /healthz``: liveness."""
    return JSONResponse({"status": "ok"})


# --------------------------------------------------------------------------- API


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


async def answered(state: WebState, session_id: str, text: str, message_id: str
                   ) -> RestReply | str:
    """Rasa's reply, or why there is none. A turn that failed is sent once more with the
    same ``message_id``: Rasa answers a turn it already stored (an instance that died
    after storing it: the cluster's other instance has it) from the stored reply, so no
    turn is lost or doubled. When the retry fails too, the stored reply is looked up."""
    for attempt in (1, 2):
        try:
            reply = await state.rasa_client.send(session_id, text, message_id)
        except (RasaUnavailable, RasaBadResponse) as error:
            logger.warning("Rasa did not answer (attempt %d): %s", attempt, error)
            problem = error.problem
            recorded = await recorded_reply(state, session_id, message_id)
            if recorded is not None:
                return recorded
            continue
        if not reply.empty:
            return reply
        problem = "empty reply"
    return problem


async def recorded_reply(state: WebState, session_id: str, message_id: str
                         ) -> RestReply | None:
    """The bot messages Rasa stored after the user message ``message_id``, if it stored it."""
    try:
        tracker = await state.rasa_client.tracker(session_id)
    except (RasaUnavailable, RasaBadResponse):
        return None
    events = tracker.get("events") if isinstance(tracker.get("events"), list) else []
    for n in range(len(events) - 1, -1, -1):
        event = events[n]
        if isinstance(event, dict) and event.get("event") == "user" \
                and event.get("message_id") == message_id:
            bots = []
            for later in events[n + 1:]:
                if isinstance(later, dict) and later.get("event") == "user":
                    break
                if isinstance(later, dict) and later.get("event") == "bot":
                    bots.append(later)
            messages = tuple(BotMessage(e.get("text") or "", tuple((e.get("data") or {}).get("buttons") or ()),
                                        (e.get("data") or {}).get("custom")) for e in bots)
            return RestReply(messages) if messages else None
    return None


def message_id_of(raw: Any) -> str:
    """The widget's id of this turn (a retry sends the same), or a new one."""
    if isinstance(raw, str) and SESSION_ID_PATTERN.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


async def chat(request: Request) -> Response:
    """``POST /api/chat``: ``{session_id, message, message_id?}`` →
    ``{user_text, masked, messages, turn}``
    (``turn``: the question's number, to rate its answer; null when Rasa did not answer)."""
    state = web_state(request)
    payload = await read_json_object(request, state)
    session_id = session_id_of(payload.get("session_id"), state)
    message = message_of(payload.get("message"), state)
    masked = mask_sensitive(message)  # before Rasa: never stored unmasked
    from bot.web.chat import live  # (imports this module) a person has or is asked for this message

    person = await live.take_over(request, state, session_id, masked)
    if person is not None:
        return JSONResponse({**person, "masked": masked != message})
    reply = await answered(state, session_id, masked, message_id_of(payload.get("message_id")))
    turn = None
    if isinstance(reply, str):
        logger.warning("turn of %s not answered by Rasa (%s)", session_id, reply)  # the web log only
        polite = unavailable_reply().in_script(is_traditional(masked))
        reply = RestReply((BotMessage(polite.text, (), polite.custom),))
    else:
        turn = await run_in_threadpool(current_turn, state, session_id)
    return JSONResponse({
        "user_text": masked,
        "masked": masked != message,
        "messages": bubbles_from_reply(reply, timestamp=time.time()),
        "turn": turn,
    })


async def history(request: Request) -> Response:
    """``GET /api/history?session_id=``: the conversation so far, from Rasa's tracker, each
    bot bubble with the ``turn`` it answers and the ``rating`` the candidate gave it."""
    state = web_state(request)
    session_id = session_id_of(request.query_params.get("session_id"), state)
    tracker = await from_rasa(state.rasa_client.tracker(session_id), state, "tracker response")
    events = tracker.get("events") if isinstance(tracker.get("events"), list) else []
    turns_before, ratings = await run_in_threadpool(history_ratings, state, session_id, events)
    return JSONResponse({"session_id": session_id, "messages": rated_bubbles(events, turns_before, ratings)})
