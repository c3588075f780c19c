"""The conversation log (``GET /staff/log``, ``/staff/log/{sender_id}``) and a logged
question as a regression case (``GET /staff/api/regression-case``, :func:`regression_case_yaml`). Every handler is
:func:`bot.web.staff_identity.staff_only`. (What the assistant did not serve well is the
inbox's: :mod:`bot.web.console.inbox`.)

The log is Rasa's tracker store, read-only (:class:`bot.web.storage.tracker_events.TrackerLog`),
read a page at a time; its queries and the retrieval engine block, so they run in a
worker thread.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.knowledge.cases import case_yaml, expect_from_reply, logged_case_id, received_label
from bot.lang.privacy import shown_sender
from bot.web.app_state import format_time
from bot.web.errors import ApiError, log_unavailable
from bot.web.console.log_filters import log_filters
from bot.web.console.paging import page_of, paging, requested_page
from bot.web.storage.ratings import Rating
from bot.web.staff_identity import staff_only
from bot.web.app_state import WebState, web_state
from bot.web.storage.conversations import Conversation, ConversationPage, LogMessage
from bot.web.storage.tracker_events import TrackerLogUnavailable

logger = logging.getLogger(__name__)

LOG_PAGE_SIZE = 50            # conversations per page of the log
CONVERSATION_PAGE_SIZE = 100  # messages per page of one conversation


# --------------------------------------------------------------------------- a logged question as a case


def reply_custom(reply: LogMessage) -> dict[str, Any]:
    """The parts of a logged reply's ``custom`` that say what the assistant did."""
    return {"kind": reply.kind, "entry_id": reply.entry_id, "procedure": reply.procedure,
            "candidates": list(reply.candidates)}


def regression_case_yaml(conversation: Conversation, turn: int, case_texts: dict[str, str],
                         timezone: tzinfo) -> str | None:
    """The ``turn``-th question of a logged conversation as a regression case, YAML ready
    to paste under ``cases:``, with ``expect`` guessed from the assistant's reply and
    comments telling staff to check it; None when the conversation has no such turn."""
    exchange = conversation.exchange(turn)
    if exchange is None:
        return None
    question, replies, earlier = exchange
    answered = [reply for reply in replies if reply.kind]
    custom = reply_custom(answered[-1]) if answered else {}
    comments = [
        case_texts["header"].format(sender_id=shown_sender(conversation.sender_id), turn=turn,
                                    time=format_time(question.timestamp, timezone)),
        case_texts["answered"].format(received=received_label(custom)),
        case_texts["instructions"].strip(),
    ]
    if earlier:
        comments.append(case_texts["earlier_turns"].format(
            turns=case_texts["turn_separator"].join(message.text for message in earlier)))
    asked = datetime.fromtimestamp(question.timestamp, timezone).date()
    case = {"id": logged_case_id(conversation.sender_id, turn, asked), "turns": [question.text],
            "expect": expect_from_reply(custom)}
    return case_yaml(case, comments)


# --------------------------------------------------------------------------- log


@staff_only
async def log_page(request: Request) -> Response:
    """``GET /staff/log?q=&date_from=&date_to=&page=``: conversations, most recent first,
    :data:`LOG_PAGE_SIZE` a page, each with its first messages."""
    state = web_state(request)
    filters = log_filters(request)
    number = requested_page(request)
    conversations, total, failure = [], 0, filters.failure
    if failure is None:
        try:
            conversations, total = await run_in_threadpool(
                state.store.events.conversations, filters.query, filters.date_from, filters.date_to,
                (number - 1) * LOG_PAGE_SIZE, LOG_PAGE_SIZE)
        except TrackerLogUnavailable as error:
            failure = log_unavailable(request, error)
    return state.render(request, "staff_log.html", {
        "query": filters.query,
        "date_from": request.query_params.get("date_from", ""),
        "date_to": request.query_params.get("date_to", ""),
        "conversations": conversations,
        "paging": paging(request, LOG_PAGE_SIZE, total, number),
        "failure": failure,
        "active": "log",
        "export_query": request.url.query,
    })


def read_conversation_page(state: WebState, sender_id: str, number: int | None, turn: int | None
                           ) -> tuple[ConversationPage | None, int, dict[int, Rating]]:
    """Page ``number`` of a conversation, or the page showing its ``turn``-th question
    (the first page when neither is given), that page's number, and the ratings."""
    if number is None:
        offset = state.store.events.message_offset(sender_id, turn) if turn else None
        number = page_of(offset, CONVERSATION_PAGE_SIZE) if offset is not None else 1
    page = state.store.events.conversation_page(sender_id, (number - 1) * CONVERSATION_PAGE_SIZE,
                                               CONVERSATION_PAGE_SIZE)
    try:
        ratings = state.store.ratings_of(sender_id) if page else {}
    except Exception:  # noqa: BLE001 - the messages matter more than their ratings
        logger.exception("ratings of %s not read", sender_id)
        ratings = {}
    return page, number, ratings


@staff_only
async def conversation_page(request: Request) -> Response:
    """``GET /staff/log/{sender_id}?page=`` (or ``?turn=``: the page showing that
    question): :data:`CONVERSATION_PAGE_SIZE` messages of one conversation with the
    candidate's ratings (404 when there is none)."""
    state = web_state(request)
    sender_id = state.sender_links.sender(request.path_params["sender_id"]) or ""
    turn_text = request.query_params.get("turn", "")
    turn = int(turn_text) if turn_text.isascii() and turn_text.isdigit() else None
    number = requested_page(request) if "page" in request.query_params or not turn else None
    page, ratings, failure = None, {}, None
    try:
        page, number, ratings = await run_in_threadpool(read_conversation_page, state, sender_id, number, turn)
    except TrackerLogUnavailable as error:
        failure = log_unavailable(request, error)
    status_code = 404 if page is None and failure is None else 200
    return state.render(request, "staff_conversation.html", {
        "sender_id": sender_id,
        "conversation": page,
        "ratings": ratings,
        "paging": paging(request, CONVERSATION_PAGE_SIZE, page.total if page else 0, number or 1),
        "failure": failure,
        "active": "log",
    }, status_code=status_code)


# --------------------------------------------------------------------------- regression case


def case_request(request: Request, state: WebState) -> tuple[str, int]:
    """``?sender_id=&turn=``: a conversation and a user turn from 1."""
    sender_id = state.sender_links.sender(request.query_params.get("sender_id", "").strip()) or ""
    turn_text = request.query_params.get("turn", "").strip()
    turn = int(turn_text) if turn_text.isascii() and turn_text.isdigit() else 0
    if not sender_id or turn < 1:
        raise ApiError(400, state.texts["staff"]["regression_case"]["bad_request"], "bad_request")
    return sender_id, turn


@staff_only
async def regression_case(request: Request) -> Response:
    """``GET /staff/api/regression-case?sender_id=&turn=``: one logged question as a
    regression case (YAML for tests/regression/, as plain text)."""
    state = web_state(request)
    case_texts = state.texts["staff"]["regression_case"]
    sender_id, turn = case_request(request, state)
    try:
        conversation = await run_in_threadpool(state.store.events.conversation, sender_id)
    except TrackerLogUnavailable as error:
        raise ApiError(503, log_unavailable(request, error), "log_unavailable") from error
    case = regression_case_yaml(conversation, turn, case_texts, state.timezone) if conversation else None
    if case is None:
        raise ApiError(404, case_texts["not_found"], "not_found")
    return PlainTextResponse(case)
