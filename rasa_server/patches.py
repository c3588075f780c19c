"""Fixes for Rasa 3.6.21, applied in the server process before Rasa starts.

(Over 400 lines on purpose: every patch of Rasa's internals sits in this one module, so
that what the project changes in Rasa is read, and checked against a Rasa upgrade, in
one place.)

Speed: each of these keeps Rasa's behaviour and replaces only how it is computed.

``RemoteAction._validate_action_result`` checks every action server response with the
one-shot ``jsonschema.validate``, which first re-checks the (constant) response schema
against the JSON Schema meta-schema. On these machines that costs about 25 ms per custom
action, most of Rasa's CPU time per FAQ turn. The fix compiles the validator once; a
response that fails goes through Rasa's own method, so the error and its message are
Rasa's. ``POST /conversations/<id>/tracker/events`` (how the live handoff stores a staff
member's message, a pause, a resume) checks its body the same one-shot way: 18 of its
25 ms of Rasa's CPU; the same fix.

The SQL tracker store commits every saved turn; SQLite's default rollback journal syncs
the file to disk several times per commit (about 4 ms of each turn here, more when the
disk is busy). In write-ahead-log mode with ``synchronous=NORMAL`` a commit is one append
to the log, synced at checkpoints: a crash of the server loses nothing, a power cut may
lose the last turns. Readers (the staff console) no longer wait for writers either.
SQLAlchemy 1.4 opens a new SQLite connection for every session (``NullPool``), twice per
turn; connections to a SQLite file are now pooled, as SQLAlchemy 2.0 does by default.
PostgreSQL connections are checked before use (``pool_pre_ping``), so a database restart
costs the turns while it is down, not a restart of Rasa.

Resilience and a flat cost per turn (each built on Rasa's own mechanisms):

* a custom action that fails (the action server is down, too slow past
  ``ACTION_TIMEOUT_SECONDS`` or answers an error) utters the assistant's "briefly
  unavailable" reply instead of nothing (Rasa logs the error and loses the events);
* a user message that no action answered gets the honest fallback, so every message
  has a reply on every channel;
* the message's embedding (``text_embedding``, docs/CONTRACTS.md) travels to the action
  server with the latest message but is not stored with the event, nor is the intent
  ranking beyond its top entries; the action server gets the current turn's events
  (what rasa_sdk's forms read), not the whole session;
* a session also ends after ``MAX_SESSION_EVENTS`` events (outside a form), so a long
  conversation does not cost more per turn: Rasa starts a new session and carries the
  slots over (``session_config`` in domain.yml), each slot's value once;
* a tracker store that does not answer fails the turn (the channel's "briefly
  unavailable" reply) instead of Rasa answering from a blank tracker kept in memory.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

# How long Rasa waits for a custom action (Rasa's default is five minutes); ours answer in
# tens of milliseconds, so a longer wait means the action server is stuck.
ACTION_TIMEOUT_SECONDS = float(os.environ.get("ACTION_TIMEOUT_SECONDS", "5"))
# A session longer than this starts afresh (slots carried over): about twenty turns.
MAX_SESSION_EVENTS = int(os.environ.get("MAX_SESSION_EVENTS", "150"))
# How much of the intent ranking a stored user event keeps.
STORED_INTENT_RANKING = 5
TEXT_EMBEDDING_KEY = "text_embedding"  # bot.retrieval.embedding.TEXT_EMBEDDING_KEY


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


def reuse_events_validator() -> None:
    """``rasa.server.validate_events_in_request_body`` with the events schema compiled once;
    a body that fails goes through Rasa's own check, so the 400 and its message are Rasa's."""
    import rasa.server
    from jsonschema import validators
    from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

    rasa_validate = rasa.server.validate_events_in_request_body
    if getattr(rasa_validate, "reuses_validator", False):
        return
    validator_class = validators.validator_for(EVENTS_SCHEMA)
    validator_class.check_schema(EVENTS_SCHEMA)
    validator = validator_class(EVENTS_SCHEMA)

    def validate_events_in_request_body(request: Any) -> None:
        body = request.json
        if not validator.is_valid(body if isinstance(body, list) else [body]):
            rasa_validate(request)

    validate_events_in_request_body.reuses_validator = True  # type: ignore[attr-defined]
    rasa.server.validate_events_in_request_body = validate_events_in_request_body


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
        if parsed.get_backend_name() == "postgresql":
            # a pooled connection that died with a database restart is replaced before use,
            # so Rasa recovers without a restart of its own
            kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, *args, **kwargs)

    create_engine_pooling_sqlite.pools_sqlite = True  # type: ignore[attr-defined]
    sqlalchemy.create_engine = create_engine_pooling_sqlite


def _bot_utterance(reply: Any, tracker: Any) -> Any:
    """A reply of the one renderer (bot.dialogue.replies) as Rasa's bot event, in the
    script of the candidate's latest message."""
    from rasa.core.actions.action import create_bot_utterance

    from bot.lang.text import is_traditional

    message = tracker.latest_message.text if tracker.latest_message else ""
    reply = reply.in_script(is_traditional(message or ""))
    return create_bot_utterance({"text": reply.text, "custom": reply.custom})


def _this_turn(tracker: Any) -> list[Any]:
    """The events since the latest user message, that message included."""
    from rasa.shared.core.events import UserUttered

    turn = []
    for event in reversed(tracker.events):
        turn.append(event)
        if isinstance(event, UserUttered):
            break
    return turn[::-1]


def answer_when_the_action_server_fails() -> None:
    """A failed custom action utters the "briefly unavailable" reply (once per turn)."""
    from rasa.core.actions import action as actions_module
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import BotUttered

    if getattr(RemoteAction.run, "answers_failures", False):
        return
    actions_module.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS
    rasa_run = RemoteAction.run

    async def run(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any,
                  domain: Any) -> list[Any]:
        try:
            return await rasa_run(self, output_channel, nlg, tracker, domain)
        except actions_module.ActionExecutionRejection:
            raise  # a form's way of saying "not me": Rasa handles it
        except Exception as error:  # noqa: BLE001 - refused, timed out, 5xx, invalid answer
            logger.error("custom action %s failed, answering 'unavailable': %s", self.name(), error)
            said = [e for e in _this_turn(tracker) if isinstance(e, BotUttered)
                    and (e.data or {}).get("custom", {}).get("kind") == "unavailable"]
            if said:
                return []
            from bot.dialogue.replies import unavailable_reply

            return [_bot_utterance(unavailable_reply(), tracker)]

    run.answers_failures = True  # type: ignore[attr-defined]
    RemoteAction.run = run


def never_silent() -> None:
    """A user message that no action answered gets the honest fallback, unless a person
    has the conversation (paused by the live handoff: staff answer it)."""
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import BotUttered, UserUttered

    if getattr(MessageProcessor._run_prediction_loop, "never_silent", False):
        return
    rasa_loop = MessageProcessor._run_prediction_loop

    async def _run_prediction_loop(self: MessageProcessor, output_channel: Any,
                                   tracker: Any) -> None:
        await rasa_loop(self, output_channel, tracker)
        turn = _this_turn(tracker)
        if (turn and not tracker.is_paused() and isinstance(turn[0], UserUttered) and (turn[0].text or "").strip()
                and not any(isinstance(e, BotUttered) for e in turn)):
            from bot.dialogue.replies import fallback_reply

            event = _bot_utterance(fallback_reply(), tracker)
            tracker.update(event)
            await self._send_bot_messages([event], tracker, output_channel)

    _run_prediction_loop.never_silent = True  # type: ignore[attr-defined]
    MessageProcessor._run_prediction_loop = _run_prediction_loop


def store_events_without_embeddings() -> None:
    """A user event as stored (and as sent in an event list) has no embedding and only
    the top of its intent ranking; ``latest_message`` keeps both for the action server."""
    from rasa.shared.core.events import UserUttered

    if getattr(UserUttered.as_dict, "trimmed", False):
        return
    rasa_as_dict = UserUttered.as_dict

    def as_dict(self: UserUttered) -> dict[str, Any]:
        data = rasa_as_dict(self)
        parse_data = data.get("parse_data")
        if isinstance(parse_data, dict):
            parse_data = {k: v for k, v in parse_data.items() if k != TEXT_EMBEDDING_KEY}
            ranking = parse_data.get("intent_ranking")
            if isinstance(ranking, list):
                parse_data["intent_ranking"] = ranking[:STORED_INTENT_RANKING]
            data["parse_data"] = parse_data
        return data

    as_dict.trimmed = True  # type: ignore[attr-defined]
    UserUttered.as_dict = as_dict


def send_the_action_server_the_turn() -> None:
    """The action server gets the tracker's state with the current turn's events only
    (rasa_sdk reads the latest message, the slots and the turn's slot events)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.trackers import EventVerbosity

    if getattr(RemoteAction._action_call_format, "sends_the_turn", False):
        return
    rasa_format = RemoteAction._action_call_format

    def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> dict[str, Any]:
        body = rasa_format(self, _StateOfTheTurn(tracker, EventVerbosity), domain)
        return body

    _action_call_format.sends_the_turn = True  # type: ignore[attr-defined]
    RemoteAction._action_call_format = _action_call_format


class _StateOfTheTurn:
    """A tracker whose ``current_state`` lists only the current turn's events."""

    def __init__(self, tracker: Any, verbosity: Any) -> None:
        self._tracker = tracker
        self._verbosity = verbosity

    def current_state(self, event_verbosity: Any = None) -> dict[str, Any]:
        state = self._tracker.current_state(self._verbosity.NONE)
        state["events"] = [event.as_dict() for event in _this_turn(self._tracker)]
        return state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracker, name)


def bounded_sessions() -> None:
    """A session with more than ``MAX_SESSION_EVENTS`` events has expired (unless a form
    is active), so Rasa starts a new one and carries the slots over."""
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor._has_session_expired, "bounded", False):
        return
    rasa_expired = MessageProcessor._has_session_expired

    def _has_session_expired(self: MessageProcessor, tracker: Any) -> bool:
        if rasa_expired(self, tracker):
            return True
        too_long = (len(tracker.events) > MAX_SESSION_EVENTS and not tracker.active_loop_name
                    and self.domain.session_config.are_sessions_enabled())
        if too_long:
            logger.debug("session of %s ends after %d events", tracker.sender_id,
                         len(tracker.events))
        return too_long

    _has_session_expired.bounded = True  # type: ignore[attr-defined]
    MessageProcessor._has_session_expired = _has_session_expired


def carry_over_slot_values() -> None:
    """A new session carries over each slot's value once. Rasa 3.6 copies every SlotSet
    event of the old session, so a session starts with all the slot events of the ones
    before it and grows with the conversation."""
    from rasa.core.actions.action import ActionSessionStart
    from rasa.shared.core.events import SlotSet

    if getattr(ActionSessionStart._slot_set_events_from_tracker, "values_only", False):
        return

    def _slot_set_events_from_tracker(tracker: Any) -> list[Any]:
        latest: dict[str, Any] = {}
        for event in tracker.applied_events():
            if isinstance(event, SlotSet):
                latest[event.key] = event  # the last value of each slot wins, as when applied
        return [SlotSet(key=e.key, value=e.value, metadata=e.metadata) for e in latest.values()]

    _slot_set_events_from_tracker.values_only = True  # type: ignore[attr-defined]
    ActionSessionStart._slot_set_events_from_tracker = staticmethod(_slot_set_events_from_tracker)


# Rasa stamps every event with the model and assistant ids (about 110 bytes each, eight
# events a turn); nothing reads them back from the store here. The parse result repeats
# the message id and carries the token offsets, both unused once the turn is over.
UNSTORED_METADATA = ("model_id", "assistant_id")
UNSTORED_PARSE_DATA = ("text_tokens", "message_id")


def stored_event(data: Any) -> Any:
    """An event's dict as the SQL store keeps it: the same event, without what nothing
    reads back (every event is still stored, so Rasa's count of stored events holds)."""
    if not isinstance(data, dict) or "event" not in data:
        return data
    data = dict(data)
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        metadata = {k: v for k, v in metadata.items() if k not in UNSTORED_METADATA}
        if metadata:
            data["metadata"] = metadata
        else:
            data.pop("metadata")
    parse_data = data.get("parse_data")
    if isinstance(parse_data, dict):
        data["parse_data"] = {k: v for k, v in parse_data.items() if k not in UNSTORED_PARSE_DATA}
    return data


class _CompactJson:
    """``json`` as the SQL tracker store writes events: UTF-8 text instead of ``\\uXXXX``
    escapes (half the bytes for Chinese), no padding, and :func:`stored_event`; reads
    as before."""

    loads = staticmethod(__import__("json").loads)

    @staticmethod
    def dumps(value: Any, **kwargs: Any) -> str:
        import json

        return json.dumps(stored_event(value), ensure_ascii=False, separators=(",", ":"), **kwargs)


def store_compact_json() -> None:
    """The SQL tracker store writes each event as compact UTF-8 JSON."""
    from rasa.core import tracker_store

    tracker_store.json = _CompactJson  # type: ignore[assignment]


def tracker_store_errors_are_outages() -> None:
    """A tracker store that fails makes the turn fail, instead of Rasa's fail-safe
    wrapper answering from a blank tracker and keeping the turn in memory only: that
    answer ignores the conversation so far and its record is lost when the process ends
    (with PostgreSQL stopped for 5 s, 40 turns were answered and none stored). Failing,
    the turn gets the channel's "briefly unavailable" reply, and the candidate sends it
    again once the store is back."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    if getattr(FailSafeTrackerStore.save, "raises", False):
        return

    async def retrieve(self: FailSafeTrackerStore, sender_id: str) -> Any:
        return await self._tracker_store.retrieve(sender_id)

    async def retrieve_full_tracker(self: FailSafeTrackerStore, sender_id: str) -> Any:
        return await self._tracker_store.retrieve_full_tracker(sender_id)

    async def save(self: FailSafeTrackerStore, tracker: Any) -> None:
        await self._tracker_store.save(tracker)

    save.raises = True  # type: ignore[attr-defined]
    FailSafeTrackerStore.retrieve = retrieve
    FailSafeTrackerStore.retrieve_full_tracker = retrieve_full_tracker
    FailSafeTrackerStore.save = save


def apply_all() -> None:
    from rasa_server.exactly_once import handle_each_message_once

    handle_each_message_once()
    reuse_action_response_validator()
    reuse_events_validator()
    sqlite_write_ahead_log()
    pool_sqlite_connections()
    answer_when_the_action_server_fails()
    never_silent()
    store_events_without_embeddings()
    send_the_action_server_the_turn()
    bounded_sessions()
    carry_over_slot_values()
    store_compact_json()
    tracker_store_errors_are_outages()
