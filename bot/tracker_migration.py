"""Move a single-machine install's conversations into the cluster's PostgreSQL.

``python -m bot.tracker_migration SOURCE_URL TARGET_URL`` copies every row of Rasa's
``events`` table (the SQL tracker store's only table) from ``SOURCE_URL`` (usually
``sqlite:///var/tracker.db``) to ``TARGET_URL`` (``postgresql://rasa@host:port/rasa``),
in the original order, creating the table when the target has none. It refuses a target
that already holds events of a conversation it would copy, so running it twice copies
nothing twice. Stop the servers first (``make stop``): nobody writes the source meanwhile.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import sqlalchemy as sa

BATCH = 1000


def events_table(metadata: sa.MetaData) -> sa.Table:
    """Rasa 3.6's ``events`` table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent)."""
    return sa.Table(
        "events", metadata,
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


class MigrationRefused(RuntimeError):
    """The target already holds conversations the source has."""


def migrate(source_url: str, target_url: str) -> Migrated:
    """Copy every event of ``source_url`` to ``target_url`` (see the module docstring)."""
    source, target = sa.create_engine(source_url), sa.create_engine(target_url)
    metadata = sa.MetaData()
    table = events_table(metadata)
    metadata.create_all(target, checkfirst=True)
    columns = [c for c in table.columns if c.name != "id"]
    with source.connect() as reading:
        senders = [row[0] for row in reading.execute(sa.select(table.c.sender_id).distinct())]
    with target.connect() as checking:
        taken = set(checking.execute(
            sa.select(table.c.sender_id).where(table.c.sender_id.in_(senders)).distinct()
        ).scalars()) if senders else set()
    if taken:
        raise MigrationRefused(f"the target already holds {len(taken)} of these conversations "
                               f"(e.g. {sorted(taken)[0]!r}); nothing copied")
    copied = 0
    with source.connect() as reading, target.begin() as writing:
        rows = reading.execution_options(stream_results=True).execute(
            sa.select(*columns).order_by(table.c.id))
        while batch := rows.fetchmany(BATCH):
            writing.execute(table.insert(), [row._asdict() for row in batch])
            copied += len(batch)
    return Migrated(conversations=len(senders), events=copied)


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
    print(f"copied {done.events} events of {done.conversations} conversations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
