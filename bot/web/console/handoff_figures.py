"""The live handoff's figures on the dashboard, over a range of days: how many
conversations asked for a person, how many a person took within N minutes
(``answered_within_minutes`` in ``data/handoff/handoff.yml``), the median wait until the
first claim and the median handling time (first claim to end), and the messages left out
of hours. Nothing here reads a database: :func:`read_handoff_figures` passes the rows in.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from bot.datafiles import handoff_settings
from bot.web.storage.handoff import Handoff, HandoffStore, LeftMessage


@dataclass(frozen=True)
class HandoffFigures:
    requests: int
    within_minutes: int          # the N of "answered within N minutes"
    answered_within: int
    median_wait_seconds: float | None
    median_handling_seconds: float | None
    left_out_of_hours: int
    left_unclaimed: int


def handoff_figures(handoffs: list[Handoff], left: list[LeftMessage], within_minutes: int) -> HandoffFigures:
    waits = [h.first_claimed_at - h.requested_at for h in handoffs if h.first_claimed_at is not None]
    handled = [h.ended_at - h.first_claimed_at for h in handoffs
               if h.first_claimed_at is not None and h.ended_at is not None and h.state == "ended"]
    return HandoffFigures(
        requests=len(handoffs),
        within_minutes=within_minutes,
        answered_within=sum(wait <= within_minutes * 60 for wait in waits),
        median_wait_seconds=median(waits) if waits else None,
        median_handling_seconds=median(handled) if handled else None,
        left_out_of_hours=sum(m.out_of_hours for m in left),
        left_unclaimed=sum(not m.out_of_hours for m in left),
    )


def read_handoff_figures(store: HandoffStore, start: float | None, end: float | None) -> HandoffFigures:
    """The figures of the handoffs requested, and messages left, in ``[start, end)`` (blocking)."""
    start = start or 0.0
    end = end or float("inf")
    within = int(handoff_settings().get("answered_within_minutes", 3))
    return handoff_figures(store.between(start, end), store.left_between(start, end), within)
