"""The candidates' side of the live handoff (转人工).

``POST /api/live/request``        ``{session_id}``: join the queue (staff hours) →
                                  ``{handoff: {state, position, …}}``; out of hours
                                  ``state: "none", open: false`` (leave a message instead)
``GET /api/live/state``           ``?session_id=`` → ``{handoff}``
``GET /api/live/stream``          ``?session_id=``: server-sent events: ``state`` (the
                                  handoff changed: its view) and ``message`` (a staff
                                  member's bubble); on reconnect the widget reloads the
                                  history from the tracker, so nothing is missed; ends
                                  with the handoff; over the stream limits: ``refused``
``POST /api/live/leave-message``  ``{session_id, contact, message}``: a message for staff

``/api/chat`` hands a message here first (:func:`take_over`): during a handoff it is
stored in Rasa and shown on the desks, never answered by the assistant; a message that
asks for a person (:mod:`bot.dialogue.handoff_request`) joins the queue.

The session id is the capability, as for ``/api/chat`` and ``/api/history``: a random id
only the candidate's browser knows. Changes are JSON only (a cross-site form cannot send
JSON without a CORS preflight, which is refused) and rate-limited per session and per
client address.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import aclosing
from typing import Any, AsyncIterator

from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.dialogue.handoff_request import asks_for_person
from bot.lang.privacy import mask_sensitive
from bot.lang.text import strip_control
from bot.web.chat.requests import from_rasa, message_of, read_json_object, session_id_of, without_surrogates
from bot.web.errors import ApiError
from bot.web.storage.handoff import ACTIVE
from bot.web.storage.tracker_events import DATABASE_ERRORS
from bot.web.live import LiveHandoff, live_handoff
from bot.web.live_broker import QUEUE_CHANNEL, conversation_channel
from bot.web.security import client_address
from bot.web.app_state import WebState, web_state

logger = logging.getLogger(__name__)
STREAM_TICK_SECONDS = 15.0  # a comment line this often keeps proxies from closing the stream
MAX_CONTACT_CHARS = 100


def limited(request: Request, live: LiveHandoff, state: WebState, session_id: str) -> None:
    wait = live.wait_seconds(session_id, client_address(request))
    if wait:
        raise ApiError(429, state.texts["chat"]["live"]["rate_limited"].format(seconds=wait), "rate_limited")


def json_only(request: Request, state: WebState) -> None:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise ApiError(415, state.texts["api"]["malformed_json"], "json_only")


async def take_over(request: Request, state: WebState, session_id: str, text: str) -> dict[str, Any] | None:
    """``/api/chat``'s answer when a person has (or is asked for by) this message; None
    when the assistant answers it."""
    live = live_handoff(request)
    try:
        handoff = await run_in_threadpool(live.store.active, session_id)
    except DATABASE_ERRORS as error:  # no queue without the database: the assistant answers
        logger.warning("handoff store unavailable: %s", error)
        return None
    if handoff is None and not asks_for_person(text):
        return None
    await from_rasa(live.candidate_message(state.rasa_client, session_id, text), state, "message log")
    if handoff is None and live.staff_on_duty():
        limited(request, live, state, session_id)
        handoff = await from_rasa(live.request(state.rasa_client, session_id, "asked"), state, "pause")
    view = await live.view(session_id, handoff) if handoff else live.no_handoff()
    return {"user_text": text, "masked": False, "messages": [], "turn": None, "handoff": view}


async def request_person(request: Request) -> Response:
    """``POST /api/live/request``: the candidate takes the offer of a person."""
    state, live = web_state(request), live_handoff(request)
    json_only(request, state)
    payload = await read_json_object(request, state)
    session_id = session_id_of(payload.get("session_id"), state)
    limited(request, live, state, session_id)
    if not live.staff_on_duty():
        return JSONResponse({"handoff": live.no_handoff()})
    handoff = await from_rasa(live.request(state.rasa_client, session_id, "offered"), state, "pause")
    return JSONResponse({"handoff": await live.view(session_id, handoff)})


async def handoff_state(request: Request) -> Response:
    """``GET /api/live/state?session_id=``."""
    state, live = web_state(request), live_handoff(request)
    session_id = session_id_of(request.query_params.get("session_id"), state)
    return JSONResponse({"handoff": await live.view(session_id)})


async def stream(request: Request) -> Response:
    """``GET /api/live/stream?session_id=``: this conversation's live events while a person
    has it or is being asked for; the stream ends with the state that ends the handoff (the
    SSE ``retry`` then keeps a client that is not the widget from asking again at once).
    Over the limits of open streams (:mod:`bot.web.live_streams`) a ``refused`` event says
    why, and the widget polls instead."""
    state, live = web_state(request), live_handoff(request)
    session_id = session_id_of(request.query_params.get("session_id"), state)
    address, retry_ms = client_address(request), live.stream_retry_ms()

    async def events() -> AsyncIterator[dict[str, Any]]:
        async with live.candidate_streams.slot(address) as accepted:
            if not accepted:
                yield {"event": "refused", "retry": retry_ms, "data": {
                    "message": state.texts["chat"]["live"]["streams_full"], "retry_seconds": retry_ms // 1000}}
                return
            async with aclosing(_handoff_events(request, live, session_id)) as handoff_events:
                async for event in handoff_events:
                    if event["event"] == "state" and event["data"].get("state") not in ACTIVE:
                        yield {**event, "retry": retry_ms}
                        return  # the handoff is over: so is its stream (and its subscription)
                    yield event

    return EventSourceResponse(_as_json(events()), ping=int(STREAM_TICK_SECONDS))


async def _handoff_events(request: Request, live: LiveHandoff, session_id: str) -> AsyncIterator[dict[str, Any]]:
    async with live.broker.subscribe(conversation_channel(session_id), QUEUE_CHANNEL) as subscription:
        view = await live.view(session_id)
        yield {"event": "state", "data": view}
        while not await request.is_disconnected():
            event = await subscription.next(live.tick_seconds(STREAM_TICK_SECONDS))
            if event is None:
                await live.release_stale()  # the holder's desk may have disappeared
                if view.get("state") == "queued":  # the wait may have passed the claim timeout
                    view = await live.view(session_id)
                    yield {"event": "state", "data": view}
                continue
            if event.get("type") == "message" and event.get("sender_id") == session_id:
                yield {"event": "message", "data": event["bubble"]}
            elif event.get("type") in ("state", "queue"):
                view = await live.view(session_id)
                yield {"event": "state", "data": view}


async def _as_json(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        yield {**event, "data": json.dumps(event["data"], ensure_ascii=False)}


def contact_of(raw: Any, state: WebState) -> str:
    """The contact the candidate left (phone, e-mail, WeChat), cleaned, not empty."""
    if not isinstance(raw, str) or not strip_control(without_surrogates(raw)).strip():
        raise ApiError(400, state.texts["chat"]["live"]["contact_missing"], "contact_missing")
    contact = strip_control(without_surrogates(raw)).strip()
    if len(contact) > MAX_CONTACT_CHARS:
        raise ApiError(413, state.texts["chat"]["live"]["contact_too_long"].format(limit=MAX_CONTACT_CHARS), "too_long")
    return contact


async def leave_message(request: Request) -> Response:
    """``POST /api/live/leave-message``: ``{session_id, contact, message}`` for staff to
    answer later; the contact is masked in logs and exports like every number, and kept
    whole only where staff read it to call back."""
    state, live = web_state(request), live_handoff(request)
    json_only(request, state)
    payload = await read_json_object(request, state)
    session_id = session_id_of(payload.get("session_id"), state)
    contact = contact_of(payload.get("contact"), state)
    text = mask_sensitive(message_of(payload.get("message"), state))
    limited(request, live, state, session_id)
    ended = await run_in_threadpool(live.store.leave_message, session_id, contact, text,
                                    not live.staff_on_duty(), time.time())
    if ended is not None:
        await from_rasa(live.resume(state.rasa_client, ended), state, "resume")
    else:
        await live.queue_changed(session_id)
    return JSONResponse({"left": True, "handoff": await live.view(session_id)})
