"""The live desk (转人工) in the staff console.

``GET /staff/live``                    the desk: the queue with waiting times and who
                                       holds what, one conversation, the reply box, the
                                       knowledge-base search beside it, messages left
``GET /staff/api/live/queue``          the queue and the open left messages as JSON
``GET /staff/api/live/conversation``   ``?sender_id=``: its history (from Rasa's tracker,
                                       staff messages with their author) and handoff
``GET /staff/api/live/stream``         server-sent events: ``queue`` (the queue changed)
                                       and ``message`` (a message in a handoff); keeps this
                                       desk's claims alive and gives back those of desks
                                       that disappeared
``POST /staff/api/live/claim``         ``{sender_id}``                  editors
``POST /staff/api/live/reply``         ``{sender_id, text, sources?}`` (a cited answer
                                       inserted from the search carries its sources)
``POST /staff/api/live/transfer``      ``{sender_id, to}``
``POST /staff/api/live/end``           ``{sender_id}``: the assistant answers again
``POST /staff/api/live/left-done``     ``{id}``: a left message was answered
``GET /staff/export/left-messages.csv`` the open left messages, contacts masked

Viewers watch; editors claim, reply, transfer and end (CSRF token in ``X-CSRF-Token``).
Every claim, transfer, end and release is in the audit log (:mod:`bot.web.storage.handoff`).
"""

from __future__ import annotations

import json
import time
from contextlib import aclosing
from typing import Any, AsyncIterator

from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.lang.privacy import mask_sensitive, shown_sender
from bot.web.chat.requests import from_rasa, read_json_object, session_id_of
from bot.web.errors import ApiError
from bot.web.console.exports import csv_download
from bot.web.console.csv_files import to_csv
from bot.web.storage.handoff import Handoff, HandoffConflict
from bot.web.live import LiveHandoff, live_handoff
from bot.web.live_broker import DESK_CHANNEL, QUEUE_CHANNEL
from bot.web.live_wechat import SWEEP_SECONDS
from bot.web.chat.bubbles import bubbles_from_tracker_events
from bot.web.staff_identity import editor_only, staff_of, staff_only
from bot.web.app_state import WebState, web_state

STREAM_TICK_SECONDS = 10.0   # at most; a third of desk_release_seconds: an open desk is always "seen"
MAX_REPLY_CHARS = 2000
MAX_SOURCES = 5
SOURCE_FIELDS = ("title", "issuer", "date", "region", "passage_id", "url")


def _me(request: Request) -> tuple[str, str]:
    session = staff_of(request)
    return (session.name, session.who) if session else ("?", "?")


async def desk_page(request: Request) -> Response:
    """``GET /staff/live``."""
    state = web_state(request)
    session = staff_of(request)
    config = {"texts": state.texts["staff_live"], "me": session.name if session else "",
              "canEdit": bool(session and session.can_edit)}
    return state.render(request, "staff_live.html", {"active": "live",
                                                      "config_json": json.dumps(config, ensure_ascii=False)})


def handoff_json(handoff: Handoff, now: float) -> dict[str, Any]:
    return {"sender_id": handoff.sender_id, "shown": shown_sender(handoff.sender_id),
            "state": handoff.state, "staff": handoff.staff,
            "requested_at": handoff.requested_at, "waiting_seconds": int(now - handoff.requested_at)}


async def queue_snapshot(state: WebState, live: LiveHandoff, can_edit: bool) -> dict[str, Any]:
    """The queue, and the open left messages: their contact whole for editors, who call
    back, masked for viewers (and in every log and export)."""
    now = time.time()
    queue = await run_in_threadpool(live.store.queue)
    left = await run_in_threadpool(live.store.left)
    return {"queue": [handoff_json(h, now) for h in queue],
            "left": [{"id": m.id, "sender_id": m.sender_id, "shown": shown_sender(m.sender_id),
                      "time": state.format_time(m.timestamp),
                      "contact": m.contact if can_edit else mask_sensitive(m.contact), "text": m.text,
                      "out_of_hours": m.out_of_hours} for m in left]}


def can_edit(request: Request) -> bool:
    session = staff_of(request)
    return bool(session and session.can_edit)


async def queue_json(request: Request) -> Response:
    """``GET /staff/api/live/queue``."""
    return JSONResponse(await queue_snapshot(web_state(request), live_handoff(request), can_edit(request)))


async def export_left_messages(request: Request) -> Response:
    """``GET /staff/export/left-messages.csv``: the open left messages, contacts masked."""
    state, live = web_state(request), live_handoff(request)
    left = await run_in_threadpool(live.store.left)
    texts = state.texts["staff_live"]
    rows = ([shown_sender(m.sender_id), state.format_time(m.timestamp), mask_sensitive(m.contact), m.text,
             texts["out_of_hours"] if m.out_of_hours else ""] for m in left)
    return csv_download(to_csv(texts["csv_headers"], rows), "left-messages.csv")


async def conversation_json(request: Request) -> Response:
    """``GET /staff/api/live/conversation?sender_id=``."""
    state, live = web_state(request), live_handoff(request)
    sender_id = session_id_of(request.query_params.get("sender_id"), state)
    tracker = await from_rasa(state.rasa_client.tracker(sender_id), state, "tracker response")
    events = tracker.get("events") if isinstance(tracker.get("events"), list) else []
    handoff = await run_in_threadpool(live.store.latest, sender_id)
    return JSONResponse({"sender_id": sender_id, "shown": shown_sender(sender_id),
                         "messages": bubbles_from_tracker_events(events),
                         "handoff": handoff_json(handoff, time.time()) if handoff else None})


async def desk_stream(request: Request) -> Response:
    """``GET /staff/api/live/stream``."""
    state, live = web_state(request), live_handoff(request)
    me, _ = _me(request)
    editor = can_edit(request)

    async def events() -> AsyncIterator[dict[str, Any]]:
        async with live.desk_streams.slot(me) as accepted:
            if not accepted:  # too many desks of this staff member, or of this instance
                retry_ms = live.stream_retry_ms()
                yield {"event": "refused", "retry": retry_ms, "data": json.dumps(
                    {"message": state.texts["staff_live"]["streams_full"]}, ensure_ascii=False)}
                return
            async with aclosing(desk_events()) as events_of_the_desk:
                async for event in events_of_the_desk:
                    yield event

    async def desk_events() -> AsyncIterator[dict[str, str]]:
        tick = live.tick_seconds(STREAM_TICK_SECONDS)
        async with live.broker.subscribe(DESK_CHANNEL, QUEUE_CHANNEL) as subscription:
            yield {"event": "queue", "data": json.dumps(await queue_snapshot(state, live, editor), ensure_ascii=False)}
            alive_at = time.monotonic()
            while not await request.is_disconnected():
                event = await subscription.next(min(tick, SWEEP_SECONDS))
                await live.wechat.sweep(live)  # WeChat candidates write to Rasa, not here
                if time.monotonic() - alive_at >= tick:  # busy or idle, this desk is still open
                    alive_at = time.monotonic()
                    await run_in_threadpool(live.store.seen, me)
                    await live.release_stale()
                if event is None:
                    continue
                if event.get("type") == "message":
                    yield {"event": "message", "data": json.dumps(
                        {"sender_id": event.get("sender_id"), "bubble": event.get("bubble")}, ensure_ascii=False)}
                else:
                    yield {"event": "queue", "data": json.dumps(await queue_snapshot(state, live, editor),
                                                                ensure_ascii=False)}

    await run_in_threadpool(live.store.seen, me)
    return EventSourceResponse(events(), ping=int(STREAM_TICK_SECONDS))


async def _change(request: Request) -> tuple[WebState, LiveHandoff, dict[str, Any], str]:
    state, live = web_state(request), live_handoff(request)
    payload = await read_json_object(request, state)
    return state, live, payload, session_id_of(payload.get("sender_id"), state)


def conflict(state: WebState) -> ApiError:
    return ApiError(409, state.texts["staff_live"]["conflict"], "handoff_conflict")


async def claim(request: Request) -> Response:
    """``POST /staff/api/live/claim``."""
    state, live, _, sender_id = await _change(request)
    name, who = _me(request)
    try:
        handoff = await run_in_threadpool(live.store.claim, sender_id, name, who)
    except HandoffConflict as error:
        raise conflict(state) from error
    await live.announce(handoff)
    return JSONResponse({"handoff": handoff_json(handoff, time.time())})


def cleaned_sources(raw: Any) -> list[dict[str, str]]:
    """The sources of an inserted answer as the search gave them, only known text fields."""
    if not isinstance(raw, list):
        return []
    sources, seen = [], set()
    for item in raw[:MAX_SOURCES]:
        if isinstance(item, dict):
            source = {k: str(item[k])[:300] for k in SOURCE_FIELDS if isinstance(item.get(k), (str, int, float))}
            document = (source.get("title"), source.get("issuer"), source.get("date"))
            if source.get("title") and document not in seen:  # one source per document, as the assistant cites
                seen.add(document)
                sources.append(source)
    return sources


async def reply(request: Request) -> Response:
    """``POST /staff/api/live/reply``: only the holder writes to the candidate."""
    state, live, payload, sender_id = await _change(request)
    name, _ = _me(request)
    text = mask_sensitive(str(payload.get("text") or "")).strip()
    if not text:
        raise ApiError(400, state.texts["api"]["empty_message"], "empty_message")
    if len(text) > MAX_REPLY_CHARS:
        raise ApiError(413, state.texts["api"]["message_too_long"].format(limit=MAX_REPLY_CHARS), "too_long")
    handoff = await run_in_threadpool(live.store.active, sender_id)
    if handoff is None or handoff.state != "claimed" or handoff.staff != name:
        raise conflict(state)
    sources = cleaned_sources(payload.get("sources"))
    custom = {"kind": "staff_answer", "answer": text, "sources": sources} if sources else None
    bubble = await from_rasa(live.staff_message(state.rasa_client, sender_id, name, text, custom), state, "append")
    return JSONResponse({"bubble": bubble})


async def transfer(request: Request) -> Response:
    """``POST /staff/api/live/transfer``: to a colleague by name."""
    state, live, payload, sender_id = await _change(request)
    name, who = _me(request)
    to = " ".join(str(payload.get("to") or "").split())[:64]
    if not to:
        raise ApiError(400, state.texts["staff_live"]["transfer_to_missing"], "transfer_to_missing")
    try:
        handoff = await run_in_threadpool(live.store.transfer, sender_id, name, to, who)
    except HandoffConflict as error:
        raise conflict(state) from error
    await live.announce(handoff)
    return JSONResponse({"handoff": handoff_json(handoff, time.time())})


async def end(request: Request) -> Response:
    """``POST /staff/api/live/end``: the assistant answers again."""
    state, live, _, sender_id = await _change(request)
    _, who = _me(request)
    try:
        handoff = await run_in_threadpool(live.store.end, sender_id, who)
    except HandoffConflict as error:
        raise conflict(state) from error
    await from_rasa(live.resume(state.rasa_client, handoff), state, "resume")
    return JSONResponse({"handoff": handoff_json(handoff, time.time())})


async def left_done(request: Request) -> Response:
    """``POST /staff/api/live/left-done``: ``{id}``."""
    state, live = web_state(request), live_handoff(request)
    payload = await read_json_object(request, state)
    message_id = payload.get("id")
    if not isinstance(message_id, int):
        raise ApiError(400, state.texts["api"]["malformed_json"], "malformed_json")
    _, who = _me(request)
    try:
        await run_in_threadpool(live.store.mark_done, message_id, who)
    except HandoffConflict as error:
        raise conflict(state) from error
    await live.queue_changed("")
    return JSONResponse({"done": True})


desk_page = staff_only(desk_page)
queue_json = staff_only(queue_json)
conversation_json = staff_only(conversation_json)
desk_stream = staff_only(desk_stream)
export_left_messages = staff_only(export_left_messages)
claim, reply, transfer, end, left_done = (editor_only(h) for h in (claim, reply, transfer, end, left_done))
