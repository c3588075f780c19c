"""The live handoff's own records: who waits for a person, who holds which conversation,
and the messages candidates left for staff.

One :class:`HandoffStore` per web front, on the web front's database (the SQLite tracker
file in the single profile, PostgreSQL in the cluster), so every instance of the cluster
sees the same queue. Each method is one whole operation in one transaction; a claim,
transfer, end or release writes its audit row (:data:`bot.web.storage.tables.audit_log`) in
that same transaction, so no change goes unrecorded. A state change is a conditional
``UPDATE … WHERE state = …``: two staff claiming at once, one wins.

What Rasa holds (the messages, ``ConversationPaused`` / ``ConversationResumed``) is not
here: :mod:`bot.web.chat.live` and :mod:`bot.web.console.live` write that through
Rasa's HTTP API after the store said yes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from bot.web.storage import tables as database

ACTIVE = ("queued", "claimed")
metadata = sa.MetaData()

handoffs = sa.Table(
    "handoffs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),  # queued | claimed | ended | left
    sa.Column("reason", sa.String(16), nullable=False),             # asked | offered
    sa.Column("requested_at", sa.Float, nullable=False),
    sa.Column("first_claimed_at", sa.Float),
    sa.Column("staff", sa.String(64)),                               # who holds it now
    sa.Column("staff_seen_at", sa.Float),                            # that desk's last sign of life
    sa.Column("ended_at", sa.Float),
    sa.Column("ended_by", sa.String(64)),
)

left_messages = sa.Table(
    "left_messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("timestamp", sa.Float, nullable=False, index=True),
    sa.Column("contact", sa.String(255), nullable=False),   # masked
    sa.Column("text", sa.Text, nullable=False),             # masked
    sa.Column("out_of_hours", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),     # open | done
    sa.Column("handled_by", sa.String(64)),
    sa.Column("handled_at", sa.Float),
)


class HandoffConflict(Exception):
    """The operation does not fit the handoff's state (claimed by another, already ended)."""


@dataclass(frozen=True)
class Handoff:
    id: int
    sender_id: str
    state: str
    reason: str
    requested_at: float
    first_claimed_at: float | None
    staff: str | None
    ended_at: float | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


@dataclass(frozen=True)
class LeftMessage:
    id: int
    sender_id: str
    timestamp: float
    contact: str
    text: str
    out_of_hours: bool
    status: str
    handled_by: str | None


def _handoff(row: sa.Row) -> Handoff:
    return Handoff(row.id, row.sender_id, row.state, row.reason, row.requested_at,
                   row.first_claimed_at, row.staff, row.ended_at)


class HandoffStore:
    """Whole operations on the queue, the claims and the left messages."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._ready = False
        self._lock = threading.Lock()

    def _engine(self) -> sa.Engine:
        engine = database.own_tables(self.url)
        with self._lock:
            if not self._ready:
                metadata.create_all(engine)
                self._ready = True
        return engine

    @staticmethod
    def _audit(connection: sa.Connection, who: str, action: str, target: str, before: str | None,
               after: str | None, when: float) -> None:
        database.write_audit(connection, who, [database.AuditEntry(action, target, before, after)], when)

    # ------------------------------------------------------------------ reading

    def active(self, sender_id: str) -> Handoff | None:
        """The conversation's queued or claimed handoff, if any."""
        query = (sa.select(handoffs).where(handoffs.c.sender_id == sender_id, handoffs.c.state.in_(ACTIVE))
                 .order_by(handoffs.c.id.desc()).limit(1))
        with self._engine().connect() as connection:
            row = connection.execute(query).first()
        return _handoff(row) if row else None

    def latest(self, sender_id: str) -> Handoff | None:
        """The conversation's last handoff, whatever its state."""
        query = sa.select(handoffs).where(handoffs.c.sender_id == sender_id).order_by(handoffs.c.id.desc()).limit(1)
        with self._engine().connect() as connection:
            row = connection.execute(query).first()
        return _handoff(row) if row else None

    def position(self, handoff: Handoff) -> int:
        """1 for the first in the queue; 0 once claimed or over."""
        if handoff.state != "queued":
            return 0
        query = sa.select(sa.func.count()).select_from(handoffs).where(
            handoffs.c.state == "queued", handoffs.c.id <= handoff.id)
        with self._engine().connect() as connection:
            return int(connection.execute(query).scalar_one())

    def queue(self) -> list[Handoff]:
        """Every queued and claimed handoff, oldest request first."""
        query = sa.select(handoffs).where(handoffs.c.state.in_(ACTIVE)).order_by(handoffs.c.id)
        with self._engine().connect() as connection:
            return [_handoff(row) for row in connection.execute(query)]

    def between(self, since: float, until: float) -> list[Handoff]:
        """The handoffs requested in ``[since, until)`` (the dashboard's figures)."""
        query = sa.select(handoffs).where(handoffs.c.requested_at >= since, handoffs.c.requested_at < until)
        with self._engine().connect() as connection:
            return [_handoff(row) for row in connection.execute(query)]

    def left_between(self, since: float, until: float) -> list[LeftMessage]:
        """The messages left in ``[since, until)``, whatever their status (the dashboard)."""
        query = sa.select(left_messages).where(left_messages.c.timestamp >= since, left_messages.c.timestamp < until)
        with self._engine().connect() as connection:
            return [LeftMessage(r.id, r.sender_id, r.timestamp, r.contact, r.text, r.out_of_hours, r.status,
                                r.handled_by) for r in connection.execute(query)]

    def channel_events(self, prefixes: tuple[str, ...], after_id: int | None, since: float,
                       limit: int = 500) -> list[tuple[int, str, str, float, str]]:
        """Rasa's ``user``, ``pause`` and ``resume`` events of the conversations whose sender starts
        with one of ``prefixes`` (the WeChat channels), oldest first: those after the row
        ``after_id``, or on a first look those since ``since``; (id, sender, type,
        timestamp, data)."""
        found = sa.or_(*(database.events.c.sender_id.startswith(p, autoescape=True) for p in prefixes))
        where = [database.events.c.type_name.in_(("user", "pause", "resume")), found]
        where.append(database.events.c.id > after_id if after_id is not None
                     else database.events.c.timestamp >= since)
        query = (sa.select(database.events.c.id, database.events.c.sender_id, database.events.c.type_name,
                           database.events.c.timestamp, database.events.c.data)
                 .where(*where).order_by(database.events.c.id).limit(limit))
        with database.read_only_engine(self.url).connect() as connection:
            return [tuple(row) for row in connection.execute(query)]

    def last_event_id(self) -> int:
        """The newest row of Rasa's ``events`` table (0 when there is none)."""
        with database.read_only_engine(self.url).connect() as connection:
            return int(connection.execute(sa.select(sa.func.max(database.events.c.id))).scalar() or 0)

    def left(self, status: str = "open", limit: int = 200) -> list[LeftMessage]:
        """Messages candidates left, newest first."""
        query = (sa.select(left_messages).where(left_messages.c.status == status)
                 .order_by(left_messages.c.id.desc()).limit(limit))
        with self._engine().connect() as connection:
            return [LeftMessage(r.id, r.sender_id, r.timestamp, r.contact, r.text, r.out_of_hours, r.status,
                                r.handled_by) for r in connection.execute(query)]

    # ------------------------------------------------------------------ changing

    def request(self, sender_id: str, reason: str, now: float | None = None) -> tuple[Handoff, bool]:
        """The conversation joins the queue (or stays where it is); True when it is new."""
        now = time.time() if now is None else now
        with self._engine().begin() as connection:
            row = connection.execute(sa.select(handoffs).where(
                handoffs.c.sender_id == sender_id, handoffs.c.state.in_(ACTIVE))).first()
            if row is not None:
                return _handoff(row), False
            new_id = connection.execute(handoffs.insert().values(
                sender_id=sender_id, state="queued", reason=reason, requested_at=now)).inserted_primary_key[0]
            row = connection.execute(sa.select(handoffs).where(handoffs.c.id == new_id)).one()
        return _handoff(row), True

    def _change(self, sender_id: str, who: str, action: str, allowed: tuple[str, ...],
                values: dict, holder: str | None = None, after: str | None = None,
                now: float | None = None) -> Handoff:
        now = time.time() if now is None else now
        with self._engine().begin() as connection:
            condition = [handoffs.c.sender_id == sender_id, handoffs.c.state.in_(allowed)]
            if holder is not None:
                condition.append(handoffs.c.staff == holder)
            row = connection.execute(sa.select(handoffs).where(*condition)
                                     .order_by(handoffs.c.id.desc()).limit(1)).first()
            if row is None:
                raise HandoffConflict(action)
            done = connection.execute(handoffs.update().where(handoffs.c.id == row.id, handoffs.c.state == row.state)
                                      .values(**values)).rowcount
            if done != 1:
                raise HandoffConflict(action)
            self._audit(connection, who, action, sender_id, row.staff or row.state, after, now)
            return _handoff(connection.execute(sa.select(handoffs).where(handoffs.c.id == row.id)).one())

    def claim(self, sender_id: str, staff: str, who: str, now: float | None = None) -> Handoff:
        """``staff`` takes a queued conversation (``who``: as the audit log names them)."""
        now = time.time() if now is None else now
        current = self.active(sender_id)
        first = current.first_claimed_at if current and current.first_claimed_at else now
        return self._change(sender_id, who, "handoff_claim", ("queued",),
                            {"state": "claimed", "staff": staff[:64], "staff_seen_at": now,
                             "first_claimed_at": first}, after=staff, now=now)

    def transfer(self, sender_id: str, staff: str, to: str, who: str, now: float | None = None) -> Handoff:
        """The holder hands the conversation to a colleague."""
        now = time.time() if now is None else now
        return self._change(sender_id, who, "handoff_transfer", ("claimed",),
                            {"staff": to[:64], "staff_seen_at": now}, holder=staff, after=to, now=now)

    def end(self, sender_id: str, who: str, now: float | None = None) -> Handoff:
        """The handoff is over: the assistant answers again."""
        now = time.time() if now is None else now
        return self._change(sender_id, who, "handoff_end", ACTIVE,
                            {"state": "ended", "ended_at": now, "ended_by": who[:64]}, after="ended", now=now)

    def seen(self, who: str, now: float | None = None) -> None:
        """``who``'s desk is still open."""
        now = time.time() if now is None else now
        with self._engine().begin() as connection:
            connection.execute(handoffs.update().where(handoffs.c.state == "claimed", handoffs.c.staff == who)
                               .values(staff_seen_at=now))

    def release_stale(self, seconds: float, now: float | None = None) -> list[Handoff]:
        """Back to the queue: conversations whose holder's desk was not seen for ``seconds``."""
        now = time.time() if now is None else now
        released = []
        with self._engine().begin() as connection:
            rows = connection.execute(sa.select(handoffs).where(
                handoffs.c.state == "claimed", handoffs.c.staff_seen_at < now - seconds)).all()
            for row in rows:
                done = connection.execute(handoffs.update().where(
                    handoffs.c.id == row.id, handoffs.c.state == "claimed", handoffs.c.staff == row.staff)
                    .values(state="queued", staff=None, staff_seen_at=None)).rowcount
                if done == 1:
                    self._audit(connection, "system", "handoff_release", row.sender_id, row.staff, "queued", now)
                    released.append(_handoff(row))
        return released

    def leave_message(self, sender_id: str, contact: str, text: str, out_of_hours: bool,
                      now: float | None = None) -> Handoff | None:
        """Keep a candidate's message for staff; a queued handoff of the conversation is
        over (returned, so the caller resumes the conversation)."""
        now = time.time() if now is None else now
        with self._engine().begin() as connection:
            connection.execute(left_messages.insert().values(
                sender_id=sender_id, timestamp=now, contact=contact[:255], text=text,
                out_of_hours=out_of_hours, status="open"))
            row = connection.execute(sa.select(handoffs).where(
                handoffs.c.sender_id == sender_id, handoffs.c.state == "queued")).first()
            if row is None:
                return None
            connection.execute(handoffs.update().where(handoffs.c.id == row.id, handoffs.c.state == "queued")
                               .values(state="left", ended_at=now, ended_by="candidate"))
        return _handoff(row)

    def mark_done(self, message_id: int, who: str, now: float | None = None) -> None:
        """A left message was answered."""
        now = time.time() if now is None else now
        with self._engine().begin() as connection:
            done = connection.execute(left_messages.update().where(
                left_messages.c.id == message_id, left_messages.c.status == "open")
                .values(status="done", handled_by=who[:64], handled_at=now)).rowcount
            if done != 1:
                raise HandoffConflict("left_message_done")
            self._audit(connection, who, "left_message_done", str(message_id), "open", "done", now)
