"""The web front's SQL database: Rasa's tracker store (read) and the console's own tables.

One database for both, as Rasa's ``TRACKER_DB_URL`` names it: a SQLite file for one
machine, PostgreSQL for the cluster profile. The web front only reads Rasa's ``events``
table; it writes its own tables next to it, created on first use: candidates' thumbs up
and down (``feedback``), the inbox's group statuses (``inbox_status``) and every staff
change (``audit_log``). :class:`bot.web.storage.store.ConsoleStore` is the one way in.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from bot import PROJECT_ROOT
from bot.lang.text import normalise

metadata = sa.MetaData()

# Rasa's own table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent), read only
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)
OWN_TABLES = ("feedback", "inbox_status", "audit_log")

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("turn", sa.Integer, nullable=False),          # the user turn answered (1-based)
    sa.Column("rating", sa.String(8), nullable=False),      # up | down
    sa.Column("reason", sa.String(32)),                     # for down: off_topic | unclear | outdated | other
    sa.Column("comment", sa.Text),                          # masked
    sa.Column("timestamp", sa.Float, nullable=False, index=True),
    sa.UniqueConstraint("sender_id", "turn", name="one_rating_per_turn"),
)

inbox_status = sa.Table(
    "inbox_status", metadata,
    sa.Column("question", sa.String(500), primary_key=True),  # the question's grouping form
    sa.Column("status", sa.String(16), nullable=False),       # pending | resolved | ignored
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("note", sa.Text),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("timestamp", sa.Float, nullable=False, index=True),
    sa.Column("who", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(255)),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
)


@dataclass(frozen=True)
class AuditEntry:
    """One change for the audit log: what was done to what, before and after."""

    action: str                  # paraphrases | new_entry | inbox_status | … (data/web/ui.yml audit.actions)
    target: str | None
    before: str | None
    after: str | None


def write_audit(connection: sa.Connection, who: str, entries: list[AuditEntry], when: float) -> None:
    """The one writer of audit rows, inside the caller's transaction (with the change)."""
    if entries:
        connection.execute(audit_log.insert(), [
            {"timestamp": when, "who": who[:64], "action": entry.action,
             "target": None if entry.target is None else entry.target[:255],
             "before": entry.before, "after": entry.after} for entry in entries])


class DatabaseUnavailable(Exception):
    """The database is missing or unreachable."""


def resolved_url(url: str) -> str:
    """A SQLite URL with a relative path made absolute (from the project root)."""
    match = re.fullmatch(r"(sqlite(?:\+\w+)?:///)(.+)", url)
    if match and not Path(match.group(2)).is_absolute():
        return f"{match.group(1)}{PROJECT_ROOT / match.group(2)}"
    return url


@lru_cache(maxsize=8)
def engine_for(url: str) -> sa.Engine:
    """One engine per database URL (SQLite waits up to 5 s for Rasa's writes; a
    PostgreSQL connection is checked before use, so a restart costs no restart here)."""
    url = resolved_url(url)
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": 5.0, "check_same_thread": False})
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


@lru_cache(maxsize=8)
def read_only_engine(url: str) -> sa.Engine:
    """An engine that cannot write: SQLite opened ``mode=ro``, PostgreSQL transactions
    read only. The console reads Rasa's events through it."""
    path = sqlite_file(url)
    if path is not None:
        return sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true",
                                connect_args={"timeout": 5.0, "check_same_thread": False})
    return sa.create_engine(resolved_url(url), pool_pre_ping=True, pool_size=5, max_overflow=5,
                            connect_args={"options": "-c default_transaction_read_only=on"})


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, None for another database."""
    match = re.fullmatch(r"sqlite(?:\+\w+)?:///(.+)", resolved_url(url))
    return Path(match.group(1)) if match else None


_created: set[str] = set()
_created_lock = threading.Lock()


def own_tables(url: str) -> sa.Engine:
    """The engine, with the web front's own tables created if they are missing (the
    SQLite file must exist: Rasa creates it)."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise DatabaseUnavailable(f"no tracker database at {path}")
    engine = engine_for(url)
    with _created_lock:
        if url not in _created:
            try:
                metadata.create_all(engine, tables=[metadata.tables[t] for t in OWN_TABLES])
            except sa.exc.SQLAlchemyError as error:
                raise DatabaseUnavailable(str(error)) from error
            _created.add(url)
    return engine


INBOX_STATUSES = ("pending", "resolved", "ignored")


def question_key(question: str) -> str:
    """The form an inbox question is grouped and given a status by (normalised, so the
    same question typed twice is one, its closing punctuation aside), at most the
    column's 500 characters."""
    return normalise(question).rstrip("?？!！。.~～ ")[:500]
