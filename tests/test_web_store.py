"""bot.web.storage.store.ConsoleStore on a throw-away SQLite file: a staff change and its
audit rows are written in one transaction, and an inbox status change is audited one way."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.web.storage.store import AuditEntry, ConsoleStore, DatabaseUnavailable
from bot.web.storage.tables import audit_log, own_tables, question_key


@pytest.fixture()
def store(tmp_path: Path) -> ConsoleStore:
    (tmp_path / "tracker.db").touch()  # Rasa creates the file; the store adds its tables
    return ConsoleStore(f"sqlite:///{tmp_path / 'tracker.db'}")


def audit_rows(store: ConsoleStore) -> list[tuple[str, str, str | None, str | None, str | None]]:
    with own_tables(store.database_url).connect() as connection:
        return [(r.who, r.action, r.target, r.before, r.after)
                for r in connection.execute(sa.select(audit_log).order_by(audit_log.c.id))]


def test_a_status_change_is_audited_with_the_statuses_before(store: ConsoleStore) -> None:
    store.set_status("王 (editor)", ["证书丢了怎么办？", "证书丢了怎么办"], "ignored")
    store.set_status("李 (editor)", ["证书丢了怎么办", "邮费多少"], "resolved")
    assert store.question_statuses() == {question_key("证书丢了怎么办"): "resolved",
                                         question_key("邮费多少"): "resolved"}
    assert audit_rows(store)[-1] == ("李 (editor)", "inbox_status", "证书丢了怎么办; 邮费多少",
                                     "证书丢了怎么办: ignored\n邮费多少: pending", "resolved")


def test_a_change_and_its_audit_rows_are_written_together_or_not_at_all(store: ConsoleStore) -> None:
    broken = AuditEntry(None, "entry", None, None)  # type: ignore[arg-type] # the audit row cannot be written
    with pytest.raises(DatabaseUnavailable):
        store.record("王 (editor)", [broken], ["证书丢了怎么办"], "resolved")
    assert store.question_statuses() == {} and audit_rows(store) == [], "nothing half-written"
    store.record("王 (editor)", [AuditEntry("paraphrases", "reissue", "a", "b")], ["证书丢了怎么办"], "resolved")
    assert [row[1] for row in audit_rows(store)] == ["paraphrases", "inbox_status"]
    with pytest.raises(ValueError):
        store.set_status("王 (editor)", ["证书丢了怎么办"], "done")


def test_a_missing_database_says_so(tmp_path: Path) -> None:
    store = ConsoleStore(f"sqlite:///{tmp_path / 'absent.db'}")
    for operation in (store.ensure_writable, store.question_statuses, lambda: store.ratings_of("x"),
                      lambda: store.set_status("王", ["问题"], "ignored")):
        with pytest.raises(DatabaseUnavailable):
            operation()
