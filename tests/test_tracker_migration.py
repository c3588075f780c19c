"""bot.tracker_migration: a single-machine install's SQLite tracker store moved into
PostgreSQL. Between SQLite files here (fast, in `make test`); for real with --cluster
(`make test-cluster`): a single-profile install chats, stops, and its tracker goes into
the running cluster's PostgreSQL, where Rasa and the web front read the conversation
back and go on with it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from bot import PROJECT_ROOT
from bot.rasa_client import RasaClient
from bot.tracker_migration import MigrationRefused, events_table, migrate
from tests.conftest import RunningServers, supervised_servers


def write_tracker(path: Path, senders: dict[str, list[str]]) -> None:
    """A tracker in Rasa's schema with the texts each sender said, and a table of the web
    front's (feedback) next to it."""
    engine = sa.create_engine(f"sqlite:///{path}")
    metadata = sa.MetaData()
    events = events_table(metadata)
    feedback = sa.Table("feedback", metadata,
                        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                        sa.Column("sender_id", sa.String(255), nullable=False),
                        sa.Column("rating", sa.String(8), nullable=False))
    metadata.create_all(engine)
    with engine.begin() as db:
        for n, (sender, texts) in enumerate(senders.items()):
            for k, text in enumerate(texts):
                db.execute(events.insert().values(sender_id=sender, type_name="user",
                                                  timestamp=1000 + 10 * k + n,
                                                  data=json.dumps({"event": "user", "text": text})))
            db.execute(feedback.insert().values(sender_id=sender, rating="up"))
    engine.dispose()


def rows(url: str, query: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as db:
        found = [tuple(row) for row in db.execute(sa.text(query))]
    engine.dispose()
    return found


def test_events_and_the_other_tables_are_copied_in_order(tmp_path):
    write_tracker(tmp_path / "single.db", {"alice-0001": ["一", "二", "三"], "bob-00001": ["四"]})
    target = f"sqlite:///{tmp_path / 'cluster.db'}"
    done = migrate(f"sqlite:///{tmp_path / 'single.db'}", target)
    assert (done.conversations, done.events, done.other_rows) == (2, 4, {"feedback": 2})
    stored = rows(target, "SELECT sender_id, data FROM events ORDER BY id")
    assert [(s, json.loads(d)["text"]) for s, d in stored if s == "alice-0001"] == [
        ("alice-0001", "一"), ("alice-0001", "二"), ("alice-0001", "三")]
    assert sorted(rows(target, "SELECT sender_id, rating FROM feedback")) == [
        ("alice-0001", "up"), ("bob-00001", "up")]


def test_a_second_run_copies_nothing(tmp_path):
    write_tracker(tmp_path / "single.db", {"alice-0001": ["一"]})
    source, target = f"sqlite:///{tmp_path / 'single.db'}", f"sqlite:///{tmp_path / 'cluster.db'}"
    migrate(source, target)
    with pytest.raises(MigrationRefused, match="already holds 1 of these conversations"):
        migrate(source, target)
    assert rows(target, "SELECT count(*) FROM events") == [(1,)]


def test_the_command_line_says_what_it_did_and_refuses_a_missing_source(tmp_path):
    write_tracker(tmp_path / "single.db", {"alice-0001": ["一", "二"]})

    def run(*urls: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.tracker_migration", *urls],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)

    done = run(f"sqlite:///{tmp_path / 'single.db'}", f"sqlite:///{tmp_path / 'cluster.db'}")
    assert done.returncode == 0, done.stderr
    assert "copied 2 events of 1 conversations; 1 rows of feedback" in done.stdout
    absent = tmp_path / "absent.db"
    refused = run(f"sqlite:///{absent}", f"sqlite:///{tmp_path / 'other.db'}")
    assert refused.returncode == 1 and "no tracker database at" in refused.stderr
    assert not absent.exists()


# ------------------------------------------------------------------ for real


@pytest.mark.cluster
def test_a_single_install_moves_into_the_running_cluster(servers: RunningServers, tmp_path_factory):
    """The single profile's own SQLite tracker, written by its Rasa, copied with the
    command into the cluster's PostgreSQL: the cluster's Rasa has the conversation (its
    slots too), the web front shows it, and the candidate goes on where they were."""
    assert servers.cluster
    sender = f"migrated-{uuid.uuid4().hex[:12]}"
    single = supervised_servers(tmp_path_factory.mktemp("single-install"))
    try:
        with httpx.Client(base_url=single.web_url, timeout=120, trust_env=False) as web:
            first = web.post("/api/chat", json={"session_id": sender,
                                                "message": "河南的证书没领会保管多久"}).json()
    finally:
        single.supervisor.stop()
    assert first["messages"][0]["custom"]["entry_id"] == "henan_storage_period"

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.tracker_migration",
                               single.tracker_db_url, servers.tracker_db_url],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)

    done = run()
    assert done.returncode == 0, done.stderr
    assert "copied" in done.stdout
    again = run()
    assert again.returncode == 1 and "already holds" in again.stderr

    servers.supervisor.wait_until_up(timeout=300)
    with RasaClient(servers.rasa_url, timeout_seconds=120) as rasa:
        tracker = rasa.tracker(sender)
        assert tracker["slots"]["place"] == "河南"
        assert "河南的证书没领会保管多久" in [e.get("text") for e in tracker["events"]]
        follow_up = rasa.send(sender, "电子证书在哪下载")
    assert not follow_up.empty
    with httpx.Client(base_url=servers.web_url, timeout=120, trust_env=False) as web:
        history = web.get("/api/history", params={"session_id": sender}).json()["messages"]
    texts = [message["text"] for message in history]
    assert texts[0] == "河南的证书没领会保管多久" and "电子证书在哪下载" in texts
