"""The chat page's history: Rasa's tracker events as bubbles, each bot bubble with the
turn it answers and the rating the candidate gave it (``GET /api/history``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.web.app_state import WebState
from bot.web.chat.bubbles import bubbles_from_tracker_events
from bot.web.storage.ratings import Rating
from bot.web.storage.tracker_events import DATABASE_ERRORS



def current_turn(state: WebState, sender_id: str) -> int | None:
    """The number of the conversation's last question, which the reply just given
    answers, for the chat page to rate it; None when the tracker store cannot say."""
    try:
        return state.store.events.user_turns(sender_id) or None
    except DATABASE_ERRORS:
        return None


def history_ratings(state: WebState, sender_id: str, tracker_events: list[Any]) -> tuple[int, dict[int, Rating]]:
    """For the history: how many questions came before the tracker's events (none, unless
    Rasa left older ones out), and the conversation's ratings by turn; (0, {}) when the
    database cannot say (the history is shown without ratings rather than not at all)."""
    in_tracker = sum(1 for event in tracker_events if isinstance(event, dict) and event.get("event") == "user")
    try:
        stored = state.store.events.user_turns(sender_id)
        return max(0, stored - in_tracker), state.store.ratings_of(sender_id)
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
