"""The console's data in one place, made once in the app state (as datasette's ``Database``).

A :class:`ConsoleStore` owns the engines of the one database Rasa's ``TRACKER_DB_URL``
names, the web front's own tables (``feedback``, ``inbox_status``, ``audit_log``:
:mod:`bot.web.storage.tables`) and the read-only view of Rasa's events (``events``:
:class:`bot.web.storage.tracker_events.TrackerLog`). Handlers ask it for whole
operations: a staff change is written with its audit row in one transaction
(:meth:`ConsoleStore.record`), and an inbox status change is written one way whichever
page makes it (:meth:`ConsoleStore.set_status`). Every failure to reach the database
raises :class:`DatabaseUnavailable`, so a page says so instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timezone as fixed_timezone, tzinfo
from typing import Any

import sqlalchemy as sa

from bot.web.storage.ratings import Rating
from bot.web.storage.tables import (INBOX_STATUSES, AuditEntry, DatabaseUnavailable, audit_log, feedback,
                                    inbox_status, own_tables, question_key, write_audit)
from bot.web.storage.tracker_events import TrackerLog

__all__ = ["AuditEntry", "ConsoleStore", "DatabaseUnavailable", "Page"]


@dataclass(frozen=True)
class Page:
    """One page of a long list: its rows, its number, how many pages and rows in all."""

    rows: tuple[Any, ...]
    page: int                    # from 1
    pages: int                   # at least 1, even for an empty list
    total: int                   # rows on every page

    @property
    def previous_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


class ConsoleStore:
    """The feedback, inbox statuses and audit log of one database, and its Rasa events."""

    def __init__(self, database_url: str, timezone: tzinfo = fixed_timezone.utc) -> None:
        self.database_url = database_url
        self.events = TrackerLog(database_url, timezone)   # Rasa's events, read only

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sa.Connection]:
        """A connection to the console's tables (one transaction when ``write``)."""
        try:
            engine = own_tables(self.database_url)
            with (engine.begin() if write else engine.connect()) as connection:
                yield connection
        except sa.exc.SQLAlchemyError as error:
            raise DatabaseUnavailable(str(error).splitlines()[0]) from error

    def ensure_writable(self) -> None:
        """Raise :class:`DatabaseUnavailable` when nothing could be recorded now (checked
        before a change to the data files, so no change goes unrecorded)."""
        with self._transaction(write=False):
            pass

    # ------------------------------------------------------------------ staff changes

    def record(self, who: str, entries: Iterable[AuditEntry], questions: Iterable[str] = (),
               status: str | None = None, when: float | None = None) -> None:
        """Staff changes and, with ``status``, the inbox status of ``questions``, in one
        transaction: either all are written or none is."""
        if status is not None and status not in INBOX_STATUSES:
            raise ValueError(f"unknown inbox status {status!r}")
        when = time.time() if when is None else when
        who = who[:64]
        with self._transaction(write=True) as connection:
            rows = list(entries)
            if status is not None:
                keys = sorted({question_key(q) for q in questions if q.strip()})
                before = dict(connection.execute(sa.select(inbox_status.c.question, inbox_status.c.status)
                                                 .where(inbox_status.c.question.in_(keys))).all())
                connection.execute(inbox_status.delete().where(inbox_status.c.question.in_(keys)))
                if keys:
                    connection.execute(inbox_status.insert(), [
                        {"question": key, "status": status, "updated_by": who, "updated_at": when, "note": None}
                        for key in keys])
                shown = [q for q in questions if q.strip()]
                previous = "\n".join(f"{q}: {before.get(question_key(q), 'pending')}" for q in shown)
                rows.append(AuditEntry("inbox_status", "; ".join(shown), previous, status))
            write_audit(connection, who, rows, when)

    def set_status(self, who: str, questions: Iterable[str], status: str, when: float | None = None) -> None:
        """Give inbox questions a status (an inbox group is as resolved as its questions),
        recorded in the audit log with the statuses they had."""
        self.record(who, (), questions, status, when)

    def question_statuses(self) -> dict[str, str]:
        """Every inbox question's status by its :func:`question_key` (absent: pending)."""
        with self._transaction(write=False) as connection:
            return dict(connection.execute(sa.select(inbox_status.c.question, inbox_status.c.status)).all())

    def is_recorded(self, action: str, target: str) -> bool:
        """Whether the audit log already holds ``action`` on ``target``."""
        query = (sa.select(sa.func.count()).select_from(audit_log)
                 .where(audit_log.c.action == action, audit_log.c.target == target))
        with self._transaction(write=False) as connection:
            return bool(connection.execute(query).scalar_one())

    def audit_rows(self, page: int, size: int) -> Page:
        """The ``page``-th page of the audit log, newest first (past the last: the last)."""
        with self._transaction(write=False) as connection:
            total = connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
            pages = max(1, -(-total // size))
            page = min(page, pages)
            rows = connection.execute(sa.select(audit_log).order_by(audit_log.c.timestamp.desc(), audit_log.c.id.desc())
                                      .limit(size).offset((page - 1) * size)).all()
        return Page(tuple(rows), page, pages, total)

    # ------------------------------------------------------------------ candidates' ratings

    def save_rating(self, rating: Rating) -> None:
        """Store ``rating``, replacing the turn's earlier one (two at once: the later wins)."""
        row = {"sender_id": rating.sender_id, "turn": rating.turn, "rating": rating.rating,
               "reason": rating.reason, "comment": rating.comment, "timestamp": rating.timestamp}
        same_turn = (feedback.c.sender_id == rating.sender_id) & (feedback.c.turn == rating.turn)
        for attempt in (1, 2):
            try:
                with self._transaction(write=True) as connection:
                    connection.execute(feedback.delete().where(same_turn))
                    connection.execute(feedback.insert().values(**row))
                return
            except DatabaseUnavailable as error:  # another rating of the turn was inserted meanwhile
                if attempt == 2 or not isinstance(error.__cause__, sa.exc.IntegrityError):
                    raise

    def ratings_of(self, sender_id: str) -> dict[int, Rating]:
        """The ratings of one conversation by turn."""
        query = sa.select(feedback).where(feedback.c.sender_id == sender_id)
        with self._transaction(write=False) as connection:
            return {int(row.turn): _rating(row) for row in connection.execute(query)}

    def ratings_between(self, start: float | None = None, end: float | None = None,
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
        with self._transaction(write=False) as connection:
            return [_rating(row) for row in connection.execute(query)]


def _rating(row: Any) -> Rating:
    return Rating(row.sender_id, int(row.turn), row.rating, row.reason, row.comment, float(row.timestamp))
