"""Candidates' ratings of the assistant's answers, stored next to the tracker store.

One row per rated turn in the ``feedback`` table (``bot.web.storage.tables``): the turn is the
conversation's n-th question as :mod:`bot.web.storage.tracker_events` numbers them, so the chat
page, the staff log, the inbox and the dashboard agree on which answer was rated. A
later rating of the same turn replaces the earlier one. :mod:`bot.web.chat.feedback` takes
them in; the history gives them back to the chat page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bot.web.storage.tables import feedback, own_tables
from bot.web.chat.bubbles import bubbles_from_tracker_events
from bot.web.app_state import WebState
from bot.web.storage.tracker_events import DATABASE_ERRORS

RATINGS = ("up", "down")
REASONS = ("off_topic", "unclear", "outdated", "other")


@dataclass(frozen=True)
class Rating:
    """One candidate's verdict on the answer to one of their questions."""

    sender_id: str
    turn: int
    rating: str               # up | down
    reason: str | None        # down only: one of REASONS
    comment: str | None       # masked
    timestamp: float

    def as_json(self) -> dict[str, Any]:
        """What the chat page gets back (the comment stays with staff)."""
        return {"turn": self.turn, "rating": self.rating, "reason": self.reason}


def save_rating(database_url: str, rating: Rating) -> None:
    """Store ``rating``, replacing the turn's earlier one (two at once: the later wins)."""
    row = {"sender_id": rating.sender_id, "turn": rating.turn, "rating": rating.rating,
           "reason": rating.reason, "comment": rating.comment, "timestamp": rating.timestamp}
    same_turn = (feedback.c.sender_id == rating.sender_id) & (feedback.c.turn == rating.turn)
    engine = own_tables(database_url)
    for attempt in (1, 2):
        try:
            with engine.begin() as connection:
                connection.execute(feedback.delete().where(same_turn))
                connection.execute(feedback.insert().values(**row))
            return
        except sa.exc.IntegrityError:  # another rating of the turn was inserted meanwhile
            if attempt == 2:
                raise


def _rating(row: Any) -> Rating:
    return Rating(row.sender_id, int(row.turn), row.rating, row.reason, row.comment, float(row.timestamp))


def ratings_of(database_url: str, sender_id: str) -> dict[int, Rating]:
    """The ratings of one conversation by turn."""
    query = sa.select(feedback).where(feedback.c.sender_id == sender_id)
    with own_tables(database_url).connect() as connection:
        return {int(row.turn): _rating(row) for row in connection.execute(query)}


def ratings_between(database_url: str, start: float | None = None, end: float | None = None,
                    rating: str | None = None) -> list[Rating]:
    """Ratings given from ``start`` until before ``end`` (open ends: None), optionally
    only ``up`` or ``down`` ones, oldest first."""
    query = sa.select(feedback).order_by(feedback.c.timestamp)
    if start is not None:
        query = query.where(feedback.c.timestamp >= start)
    if end is not None:
        query = query.where(feedback.c.timestamp < end)
    if rating is not None:
        query = query.where(feedback.c.rating == rating)
    with own_tables(database_url).connect() as connection:
        return [_rating(row) for row in connection.execute(query)]


# --------------------------------------------------------------------------- the chat page


def current_turn(state: WebState, sender_id: str) -> int | None:
    """The number of the conversation's last question, which the reply just given
    answers, for the chat page to rate it; None when the tracker store cannot say."""
    try:
        return state.tracker_log.user_turns(sender_id) or None
    except DATABASE_ERRORS:
        return None


def history_ratings(state: WebState, sender_id: str, tracker_events: list[Any]) -> tuple[int, dict[int, Rating]]:
    """For the history: how many questions came before the tracker's events (none, unless
    Rasa left older ones out), and the conversation's ratings by turn; (0, {}) when the
    database cannot say (the history is shown without ratings rather than not at all)."""
    in_tracker = sum(1 for event in tracker_events if isinstance(event, dict) and event.get("event") == "user")
    try:
        stored = state.tracker_log.user_turns(sender_id)
        return max(0, stored - in_tracker), ratings_of(state.settings.tracker_db_url, sender_id)
    except DATABASE_ERRORS:
        return 0, {}


def rated_bubbles(tracker_events: Iterable[Any], turns_before: int, ratings: dict[int, Rating]
                  ) -> list[dict[str, Any]]:
    """The tracker's events as the chat page's bubbles (:mod:`bot.web.chat.bubbles`), each bot
    bubble with the ``turn`` it answers (None before the first question) and that turn's
    ``rating`` (None when not rated). Turns count the user events from ``turns_before``."""
    bubbles, turn = [], turns_before
    for event in tracker_events:
        if isinstance(event, dict) and event.get("event") == "user":
            turn += 1
        for bubble in bubbles_from_tracker_events([event]):
            if bubble["role"] == "bot":
                rating = ratings.get(turn)
                bubble = {**bubble, "turn": turn or None, "rating": rating.as_json() if rating else None}
            bubbles.append(bubble)
    return bubbles
