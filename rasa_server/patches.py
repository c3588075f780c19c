"""Speed fixes for Rasa 3.6.21, applied in the server process before Rasa starts.

Each fix keeps Rasa's behaviour and replaces only how it is computed.

``RemoteAction._validate_action_result`` checks every action server response with the
one-shot ``jsonschema.validate``, which first re-checks the (constant) response schema
against the JSON Schema meta-schema. On these machines that costs about 25 ms per custom
action, most of Rasa's CPU time per FAQ turn. The fix compiles the validator once; a
response that fails goes through Rasa's own method, so the error and its message are
Rasa's.

The SQL tracker store commits every saved turn; SQLite's default rollback journal syncs
the file to disk several times per commit (about 4 ms of each turn here, more when the
disk is busy). In write-ahead-log mode with ``synchronous=NORMAL`` a commit is one append
to the log, synced at checkpoints: a crash of the server loses nothing, a power cut may
lose the last turns. Readers (the staff console) no longer wait for writers either.
SQLAlchemy 1.4 opens a new SQLite connection for every session (``NullPool``), twice per
turn; connections to a SQLite file are now pooled, as SQLAlchemy 2.0 does by default.
"""

from __future__ import annotations

from typing import Any


def compiled_action_response_validator() -> Any:
    """A validator for Rasa's action server response schema, checked and built once."""
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def reuse_action_response_validator() -> None:
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction._validate_action_result, "reuses_validator", False):
        return
    validator = compiled_action_response_validator()
    rasa_validate = RemoteAction._validate_action_result

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if (type(self).action_response_format_spec is RemoteAction.action_response_format_spec
                and validator.is_valid(result)):
            return True
        return rasa_validate(self, result)  # raises Rasa's ValidationError with its message

    _validate_action_result.reuses_validator = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = _validate_action_result


def sqlite_write_ahead_log() -> None:
    """Every SQLite connection the Rasa process opens uses WAL and ``synchronous=NORMAL``."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if getattr(sqlite_write_ahead_log, "listening", False):
        return

    @event.listens_for(Engine, "connect")
    def _pragmas(dbapi_connection: Any, connection_record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    sqlite_write_ahead_log.listening = True  # type: ignore[attr-defined]


def pool_sqlite_connections() -> None:
    """``sqlalchemy.create_engine`` pools connections to a SQLite file (``QueuePool``,
    usable from any thread) unless the caller chose a pool."""
    import sqlalchemy
    from sqlalchemy.pool import QueuePool

    create_engine = sqlalchemy.create_engine
    if getattr(create_engine, "pools_sqlite", False):
        return

    def create_engine_pooling_sqlite(url: Any, *args: Any, **kwargs: Any) -> Any:
        parsed = sqlalchemy.engine.make_url(url)
        if (parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
                and "poolclass" not in kwargs):
            kwargs["poolclass"] = QueuePool
            kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        return create_engine(url, *args, **kwargs)

    create_engine_pooling_sqlite.pools_sqlite = True  # type: ignore[attr-defined]
    sqlalchemy.create_engine = create_engine_pooling_sqlite


def apply_all() -> None:
    reuse_action_response_validator()
    sqlite_write_ahead_log()
    pool_sqlite_connections()
