"""Candidates' ratings of the assistant's answers: what one is.

One row per rated turn in the ``feedback`` table (:mod:`bot.web.storage.tables`), read and
written by :class:`bot.web.storage.store.ConsoleStore`: the turn is the conversation's
n-th question as :mod:`bot.web.storage.tracker_events` numbers them, so the chat page,
the staff log, the inbox and the dashboard agree on which answer was rated. A later
rating of the same turn replaces the earlier one. :mod:`bot.web.chat.feedback` takes
them in; :mod:`bot.web.chat.history` gives them back to the chat page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
