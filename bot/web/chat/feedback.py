"""Candidates' thumbs up and down on the assistant's answers: ``POST /api/feedback``.

``{session_id, turn, rating: "up" | "down", reason?, comment?}`` rates the answer to the
conversation's ``turn``-th question (as :mod:`bot.web.storage.tracker_events` numbers them); a thumbs
down may say why (:data:`bot.web.storage.ratings.REASONS`) and add a comment, masked like the
messages (:func:`bot.lang.privacy.mask_sensitive`). Ratings are stored by
:class:`bot.web.storage.store.ConsoleStore`, one per turn: a later rating of the same turn replaces it.
Requests are rate-limited per session and per client address; anything malformed
answers a 4xx in the API's error shape (``bot.web.errors``), never a 500.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.lang.privacy import mask_sensitive
from bot.lang.text import strip_control
from bot.web.chat.requests import session_id_of, without_surrogates
from bot.web.errors import ApiError, error_response
from bot.web.storage.ratings import RATINGS, REASONS, Rating
from bot.web.app_state import WebState, web_state
from bot.web.security import SlidingWindowLimiter, client_address
from bot.web.storage.tracker_events import DATABASE_ERRORS

MAX_COMMENT_CHARS = 500
MAX_BODY_BYTES = 8 * 1024


# --------------------------------------------------------------------------- rate limits


@dataclass
class FeedbackLimits:
    """How often one conversation and one client address may send ratings: a candidate
    changes their mind a few times, a school's network has many candidates."""

    per_session: SlidingWindowLimiter = field(default_factory=lambda: SlidingWindowLimiter(30, 600))
    per_client: SlidingWindowLimiter = field(default_factory=lambda: SlidingWindowLimiter(120, 600))

    def wait_seconds(self, session_id: str, client: str, now: float | None = None) -> int:
        """0 when this rating may be stored, else how long to wait (counted once for each)."""
        now = time.monotonic() if now is None else now
        return self.per_client.take(client, now) or self.per_session.take(session_id, now)


def feedback_limits(request: Request) -> FeedbackLimits:
    """The application's limits (``app.state.feedback_limits``, set in ``create_app``)."""
    return request.app.state.feedback_limits


# --------------------------------------------------------------------------- the API


def refused(state: WebState, status_code: int, code: str, **values: Any) -> ApiError:
    """An error of this API, its message from ``feedback.errors`` in data/web/ui.yml."""
    message = state.texts["feedback"]["errors"][code]
    return ApiError(status_code, message.format(**values) if values else message, code)  # some hold braces


async def feedback_request(request: Request, state: WebState) -> dict[str, Any]:
    """The body as a JSON object (an oversized one refused unread)."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise refused(state, 413, "too_large")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        payload = None
    if not isinstance(payload, dict):
        raise refused(state, 400, "malformed_json")
    return payload


def rating_of(payload: dict[str, Any], session_id: str, state: WebState) -> Rating:
    """The rating a well-formed payload gives (its turn not yet checked against the log)."""
    turn = payload.get("turn")
    if isinstance(turn, bool) or not isinstance(turn, int) or turn < 1:
        raise refused(state, 400, "bad_turn")
    rating = payload.get("rating")
    if rating not in RATINGS:
        raise refused(state, 400, "bad_rating")
    reason, comment = payload.get("reason"), payload.get("comment")
    if reason is not None and (rating != "down" or reason not in REASONS):
        raise refused(state, 400, "bad_reason")
    if comment is not None and not isinstance(comment, str):
        raise refused(state, 400, "comment_not_text")
    comment = strip_control(without_surrogates(comment or "")).strip()
    if comment and rating != "down":
        raise refused(state, 400, "bad_reason")
    if len(comment) > MAX_COMMENT_CHARS:
        raise refused(state, 413, "comment_too_long", limit=MAX_COMMENT_CHARS)
    return Rating(session_id, turn, rating, reason, mask_sensitive(comment) or None, time.time())


def check_and_save(state: WebState, rating: Rating) -> None:
    """Store ``rating`` if its conversation has that turn (blocking: a worker thread)."""
    asked = state.store.events.user_turns(rating.sender_id)
    if asked == 0:
        raise refused(state, 404, "unknown_session")
    if rating.turn > asked:
        raise refused(state, 400, "turn_out_of_range", turns=asked)
    state.store.save_rating(rating)


async def give_feedback(request: Request) -> Response:
    """``POST /api/feedback``: ``{session_id, turn, rating, reason?, comment?}`` → the
    rating as stored (without the comment)."""
    state = web_state(request)
    payload = await feedback_request(request, state)
    session_id = session_id_of(payload.get("session_id"), state)
    wait = feedback_limits(request).wait_seconds(session_id, client_address(request))
    if wait:
        error = refused(state, 429, "rate_limited", minutes=max(1, (wait + 59) // 60))
        response = error_response(error.status_code, error.message, error.code)
        response.headers["Retry-After"] = str(wait)
        return response
    rating = rating_of(payload, session_id, state)
    try:
        await run_in_threadpool(check_and_save, state, rating)
    except DATABASE_ERRORS as error:
        raise refused(state, 503, "unavailable") from error
    return JSONResponse({"session_id": session_id, **rating.as_json()})


