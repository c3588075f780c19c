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
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.dialogue.replies import unavailable_reply
from bot.lang.privacy import mask_sensitive
from bot.lang.text import is_traditional
from bot.rasa_client import BotMessage, RasaBadResponse, RasaUnavailable, RestReply
from bot.web.app_state import STATIC_DIRECTORY, WebState, web_state
from bot.web.chat import live
from bot.web.chat.bubbles import bubbles_from_reply
from bot.web.chat.history import current_turn, history_ratings, rated_bubbles
from bot.web.chat.requests import (
    from_rasa,
    message_id_of,
    message_of,
    read_json_object,
    session_id_of,
)

logger = logging.getLogger(__name__)

BUNDLE_FILES = ("dist/chat.js", "dist/chat.css")


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


async def chat(request: Request) -> Response:
    """``POST /api/chat``: ``{session_id, message, message_id?}`` →
    ``{user_text, masked, messages, turn}``
    (``turn``: the question's number, to rate its answer; null when Rasa did not answer)."""
    state = web_state(request)
    payload = await read_json_object(request, state)
    session_id = session_id_of(payload.get("session_id"), state)
    message = message_of(payload.get("message"), state)
    masked = mask_sensitive(message)  # before Rasa: never stored unmasked
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
