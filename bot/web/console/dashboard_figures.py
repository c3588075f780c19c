"""The staff dashboard's figures, computed from the logged turns and the ratings.

Per day of a date range (in the display time zone): conversations (distinct senders who
asked something that day) and questions; how many were answered (an FAQ answer or a
computed deadline), met with a did-you-mean or with the fallback; thumbs up and down
given; and the 95th percentile of the answer latency, a bot event's timestamp minus its
question's (both stamped by Rasa). Over the range: the topics asked about most. Nothing
here reads a database: :mod:`bot.web.console.dashboard` passes the turns and ratings in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.stats import nearest_rank_percentile
from bot.web.storage.ratings import Rating
from bot.web.storage.conversations import LoggedTurn

ANSWERED_KINDS = ("faq_answer", "deadline")
TOP_TOPICS = 8


@dataclass(frozen=True)
class DayFigures:
    """One day's figures."""

    day: date
    conversations: int = 0
    turns: int = 0
    answered: int = 0
    did_you_mean: int = 0
    fallback: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    p95_latency_ms: float | None = None  # None: no answered question that day

    def share(self, count: int) -> float | None:
        """``count`` as a share of the day's questions (None on a day without any)."""
        return count / self.turns if self.turns else None


@dataclass(frozen=True)
class DashboardFigures:
    """Every day of the range (oldest first, quiet days included) and the top topics."""

    date_from: date
    date_to: date
    days: tuple[DayFigures, ...]
    conversations: int                        # distinct over the whole range
    top_topics: tuple[tuple[str, int], ...]   # (topic id, questions), most asked first
    p95_latency_ms: float | None              # over the whole range

    @property
    def turns(self) -> int:
        return sum(day.turns for day in self.days)

    def total(self, name: str) -> int:
        """The sum of one daily count (``answered``, ``thumbs_up`` …) over the range."""
        return sum(getattr(day, name) for day in self.days)

    def share(self, name: str) -> float | None:
        """A daily count over the range as a share of all questions."""
        return self.total(name) / self.turns if self.turns else None


def day_of(timestamp: float, timezone: tzinfo) -> date:
    return datetime.fromtimestamp(timestamp, timezone).date()


def dashboard_figures(turns: Iterable[LoggedTurn], ratings: Iterable[Rating], date_from: date, date_to: date,
                      timezone: tzinfo, top_topics: int = TOP_TOPICS) -> DashboardFigures:
    """The figures of the questions in ``turns`` and the ``ratings`` given, per day from
    ``date_from`` to ``date_to`` (anything outside the range is left out)."""
    senders: dict[date, set[str]] = {}
    counts: dict[date, Counter[str]] = {}
    latencies: dict[date, list[float]] = {}
    everyone: set[str] = set()
    topics: Counter[str] = Counter()
    for turn in turns:
        day = day_of(turn.question.timestamp, timezone)
        if not date_from <= day <= date_to:
            continue
        senders.setdefault(day, set()).add(turn.sender_id)
        everyone.add(turn.sender_id)
        count = counts.setdefault(day, Counter())
        count["turns"] += 1
        kind = turn.kind
        if kind in ANSWERED_KINDS:
            count["answered"] += 1
        elif kind in ("did_you_mean", "fallback"):
            count[kind] += 1
        if turn.latency is not None and turn.replies:
            latencies.setdefault(day, []).append(turn.latency * 1000)
        if turn.topic:
            topics[turn.topic] += 1
    for rating in ratings:
        day = day_of(rating.timestamp, timezone)
        if date_from <= day <= date_to:
            counts.setdefault(day, Counter())["thumbs_" + rating.rating] += 1
    days = []
    for offset in range((date_to - date_from).days + 1):
        day = date_from + timedelta(days=offset)
        count = counts.get(day, Counter())
        days.append(DayFigures(day, len(senders.get(day, ())), count["turns"], count["answered"],
                               count["did_you_mean"], count["fallback"], count["thumbs_up"],
                               count["thumbs_down"], nearest_rank_percentile(latencies.get(day, []), 95)))
    every_latency = [latency for values in latencies.values() for latency in values]
    return DashboardFigures(date_from, date_to, tuple(days), len(everyone),
                            tuple(topics.most_common(top_topics)), nearest_rank_percentile(every_latency, 95))
