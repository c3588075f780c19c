"""Move a single-machine install's conversations into the cluster's PostgreSQL.

``python -m bot.tracker_migration SOURCE_URL TARGET_URL`` copies every row of Rasa's
``events`` table (the SQL tracker store's) from ``SOURCE_URL`` (usually
``sqlite:///var/tracker.db``) to ``TARGET_URL`` (``postgresql://rasa@host:port/rasa``),
in the original order (Rasa reads a conversation back by row id), creating the table
when the target has none. The other tables of the source database, the web front's own
(outage turns, feedback, inbox statuses, the audit log), are copied too, each created in
the target from the source's definition when missing; their row ids are the target's.

Everything is copied in one transaction, or nothing. It refuses a target that already
holds events of a conversation it would copy, or rows in one of those other tables, so
running it twice copies nothing twice. Stop the servers first (``make stop``): nobody
writes the source meanwhile.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

BATCH = 1000
EVENTS = "events"


def events_table(metadata: sa.MetaData) -> sa.Table:
    """Rasa 3.6's ``events`` table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent)."""
    return sa.Table(
        EVENTS, metadata,
        sa.Column("id", sa.Integer, sa.Sequence("events_seq", optional=True), primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False, index=True),
        sa.Column("type_name", sa.String(255), nullable=False),
        sa.Column("timestamp", sa.Float),
        sa.Column("intent_name", sa.String(255)),
        sa.Column("action_name", sa.String(255)),
        sa.Column("data", sa.Text),
    )


@dataclass(frozen=True)
class Migrated:
    conversations: int
    events: int
    other_rows: dict[str, int] = field(default_factory=dict)   # table -> rows copied


class MigrationRefused(RuntimeError):
    """The source is missing, or the target already holds what would be copied."""


def migrate(source_url: str, target_url: str) -> Migrated:
    """Copy the tracker store of ``source_url`` to ``target_url`` (see the module
    docstring)."""
    missing = _missing_sqlite_file(source_url)
    if missing is not None:
        raise MigrationRefused(f"no tracker database at {missing}")
    source, target = sa.create_engine(source_url), sa.create_engine(target_url)
    try:
        return _copy(source, target)
    finally:
        source.dispose()
        target.dispose()


def _missing_sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL when it does not exist (SQLAlchemy would create
    an empty one)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.is_file() else path


def _chunks(items: list[str], size: int = BATCH) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _copy(source: sa.Engine, target: sa.Engine) -> Migrated:
    events = events_table(sa.MetaData())
    others = sa.MetaData()
    others.reflect(source, only=lambda name, _: name != EVENTS)
    with source.connect() as reading:
        if not sa.inspect(reading).has_table(EVENTS):
            raise MigrationRefused("the source has no events table: not a Rasa tracker store")
        senders = list(reading.execute(sa.select(events.c.sender_id).distinct()).scalars())
        counts = {name: reading.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                  for name, table in others.tables.items()}
    _refuse_what_the_target_holds(target, events, senders, others, counts)
    copied: dict[str, int] = {}
    with source.connect() as reading, target.begin() as writing:  # all or nothing
        events.metadata.create_all(writing, checkfirst=True)
        others.create_all(writing, checkfirst=True)
        copied[EVENTS] = _copy_rows(reading, writing, events, events)
        for name, table in others.tables.items():
            copied[name] = _copy_rows(reading, writing, table, table)
    return Migrated(conversations=len(senders), events=copied.pop(EVENTS), other_rows=copied)


def _refuse_what_the_target_holds(target: sa.Engine, events: sa.Table, senders: list[str],
                                  others: sa.MetaData, counts: dict[str, int]) -> None:
    with target.connect() as checking:
        inspector = sa.inspect(checking)
        if inspector.has_table(EVENTS):
            taken = {sender for chunk in _chunks(senders) for sender in checking.execute(
                sa.select(events.c.sender_id).where(events.c.sender_id.in_(chunk)).distinct()
            ).scalars()}
            if taken:
                raise MigrationRefused(
                    f"the target already holds {len(taken)} of these conversations "
                    f"(e.g. {sorted(taken)[0]!r}); nothing copied")
        for name, table in others.tables.items():
            if counts[name] and inspector.has_table(name) and checking.execute(
                    sa.select(sa.func.count()).select_from(table)).scalar_one():
                raise MigrationRefused(f"the target's {name} table already has rows; "
                                       f"nothing copied")


def _copy_rows(reading: sa.Connection, writing: sa.Connection, table: sa.Table,
               into: sa.Table) -> int:
    """Every row of ``table`` in primary-key order; an integer id of its own (the row
    number) is left to the target, which numbers the rows it receives."""
    key = list(table.primary_key.columns)
    generated = {c.name for c in key if len(key) == 1 and isinstance(c.type, sa.Integer)}
    columns = [c for c in table.columns if c.name not in generated]
    rows = reading.execution_options(stream_results=True).execute(
        sa.select(*columns).order_by(*key))
    copied = 0
    while batch := rows.fetchmany(BATCH):
        writing.execute(into.insert(), [row._asdict() for row in batch])
        copied += len(batch)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.tracker_migration",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("source", help="SQLAlchemy URL of the tracker to copy (sqlite:///…)")
    parser.add_argument("target", help="SQLAlchemy URL of the cluster's tracker (postgresql://…)")
    args = parser.parse_args(argv)
    try:
        done = migrate(args.source, args.target)
    except (MigrationRefused, sa.exc.SQLAlchemyError) as error:
        print(f"not migrated: {error}", file=sys.stderr)
        return 1
    others = ", ".join(f"{rows} rows of {name}" for name, rows in done.other_rows.items())
    print(f"copied {done.events} events of {done.conversations} conversations"
          + (f"; {others}" if others else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
