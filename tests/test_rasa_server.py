"""rasa_server/patches.py, run in the Rasa venv (Python 3.10) where Rasa is installed:
the patched Rasa accepts and rejects action server responses exactly as before, and
its SQLite connections use the write-ahead log."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from bot import PROJECT_ROOT

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
needs_rasa_venv = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the Rasa venv is made by `make install`")


def in_rasa_venv(code: str, *args: str) -> str:
    """What ``code`` prints, run by the Rasa venv's Python in the project (it must succeed)."""
    done = subprocess.run([str(RASA_PYTHON), "-c", code, *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]

CHECK = textwrap.dedent("""
    import json, sys
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig
    from rasa_server.patches import apply_all

    action = RemoteAction("action_answer_faq", EndpointConfig("http://127.0.0.1:1/webhook"))
    responses = json.loads(sys.argv[1])

    def outcomes():
        # True for an accepted response, else the message of the ValidationError
        found = {}
        for name, response in responses.items():
            try:
                found[name] = action._validate_action_result(response)
            except ValidationError as error:
                found[name] = error.message
        return found

    import rasa.server
    from rasa.server import ErrorResponse  # the 400 of POST .../tracker/events

    class Body:  # what validate_events_in_request_body reads of Sanic's request
        def __init__(self, json):
            self.json = json

    def events_outcomes():
        found = {}
        for name, body in json.loads(sys.argv[3]).items():
            try:
                rasa.server.validate_events_in_request_body(Body(body))
                found[name] = True
            except ErrorResponse as error:
                found[name] = [error.status, error.error_info["message"]]
        return found

    original, original_events = outcomes(), events_outcomes()
    apply_all()
    apply_all()  # applying twice changes nothing
    patched, patched_events = outcomes(), events_outcomes()

    import sqlalchemy
    from sqlalchemy import text
    engine = sqlalchemy.create_engine("sqlite:///" + sys.argv[2])
    memory = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection:
        modes = [connection.execute(text(f"PRAGMA {p}")).scalar()
                 for p in ("journal_mode", "synchronous")]
    print(json.dumps({"original": original, "patched": patched,
                      "events": [original_events, patched_events],
                      "events_reuses": getattr(rasa.server.validate_events_in_request_body,
                                               "reuses_validator", False),
                      "reuses": getattr(RemoteAction._validate_action_result, "reuses_validator", False),
                      "sqlite": modes,
                      "pools": [type(engine.pool).__name__, type(memory.pool).__name__]}))
""")

RESPONSES = {
    "answer": {"events": [{"event": "slot", "name": "last_topic", "value": "fees"}],
               "responses": [{"text": "邮费由考生本人承担", "buttons": [], "custom": {"kind": "faq_answer"}}]},
    "empty": {"events": [], "responses": []},
    "events_not_a_list": {"events": {"event": "slot"}, "responses": []},
    "unknown_event": {"events": [{"event": "no_such_event"}], "responses": []},
    "response_not_an_object": {"events": [], "responses": ["text"]},
}

EVENT_BODIES = {  # bodies of POST /conversations/<id>/tracker/events, as the live handoff sends them and worse
    "staff_message": [{"event": "bot", "text": "您好，我来帮您查", "timestamp": 1.5, "data": {},
                       "metadata": {"handoff_staff": "王老师"}}],
    "pause": {"event": "pause", "timestamp": 1.0},
    "unknown_event": [{"event": "no_such_event"}],
    "no_event_name": [{"text": "hello"}],
    "not_an_object": ["pause"],
}


@needs_rasa_venv
def test_patched_rasa_validates_action_responses_and_events_as_before_and_pools_sqlite_in_wal_mode(tmp_path):
    result = json.loads(in_rasa_venv(CHECK, json.dumps(RESPONSES), str(tmp_path / "t.db"), json.dumps(EVENT_BODIES)))
    assert result["reuses"] is True and result["events_reuses"] is True
    original_events, patched_events = result["events"]
    assert patched_events == original_events
    assert patched_events["staff_message"] is True and patched_events["pause"] is True
    for name in ("unknown_event", "no_event_name", "not_an_object"):
        assert patched_events[name][0] == 400 and "Failed to validate the events format" in patched_events[name][1]
    assert result["patched"] == result["original"]
    assert result["patched"]["answer"] is True and result["patched"]["empty"] is True
    for name in ("events_not_a_list", "unknown_event", "response_not_an_object"):
        assert "Failed to validate Action server response" in result["patched"][name]
    assert result["sqlite"] == ["wal", 1]  # 1 = NORMAL
    assert result["pools"] == ["QueuePool", "SingletonThreadPool"]  # in-memory ones untouched


# ------------------------------------------------------------------ against the real servers

@pytest.mark.servers
def test_stored_user_events_carry_no_embedding_and_a_short_ranking(servers):
    import sqlite3

    from bot.rasa_client import RasaClient

    with RasaClient(servers.rasa_url) as rasa:
        reply = rasa.send("stored-events", "电子证书在哪下载")
    assert reply.custom["entry_id"] == "ecert_where_download"
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = 'stored-events' "
                          "AND type_name = 'user'").fetchall()
    [(data,)] = rows
    parse_data = json.loads(data)["parse_data"]
    assert "text_embedding" not in parse_data and parse_data["intent"]["name"]
    assert 1 <= len(parse_data["intent_ranking"]) <= 5
    assert "电子证书" in data                       # stored as UTF-8, not \\uXXXX escapes
    stored = json.loads(data)
    assert "model_id" not in json.dumps(stored) and "text_tokens" not in parse_data
    assert stored["text"] == "电子证书在哪下载" and parse_data["text"] == "电子证书在哪下载"
    # read back by Rasa itself: the conversation goes on from the stored events
    with RasaClient(servers.rasa_url) as rasa:
        tracker = rasa.tracker("stored-events")
    assert tracker["latest_message"]["text"] == "电子证书在哪下载"
    assert tracker["slots"]["last_entry"] == "ecert_where_download"


@pytest.mark.servers
def test_a_long_conversation_goes_on_in_new_sessions_with_its_slots(servers):
    from bot.rasa_client import RasaClient

    sender = "long-conversation"
    questions = ["证书直邮怎么申请？", "电子证书在哪下载", "证书邮寄要多少钱", "加注是什么"]
    with RasaClient(servers.rasa_url) as rasa:
        first = rasa.send(sender, "河南的证书没领会保管多久")
        for n in range(24):  # 24 turns of about 9 events: more than one session's worth
            assert not rasa.send(sender, questions[n % len(questions)]).empty
        tracker = rasa.tracker(sender)
    assert first.custom["entry_id"] == "henan_storage_period"
    events = tracker["events"]
    starts = [i for i, e in enumerate(events) if e["event"] == "session_started"]
    assert len(starts) >= 2                                   # a new session began ...
    opening = []
    for event in events[starts[-1]:]:
        if event["event"] == "user":
            break
        opening.append(event)
    names = [e["name"] for e in opening if e["event"] == "slot"]
    assert "place" in names and len(names) == len(set(names))  # each slot carried over once
    assert tracker["slots"]["place"] == "河南"


@needs_rasa_venv
def test_rasa_finds_the_cluster_lock_store_the_endpoints_name() -> None:
    # Rasa loads the class named in endpoints.yml only when a cluster instance starts;
    # a missing module there stops both instances (redis is not reached at creation).
    from bot.servers import CLUSTER_LOCK_STORE

    code = textwrap.dedent("""
        import sys
        from rasa.core.lock_store import LockStore
        from rasa.utils.endpoints import EndpointConfig
        store = LockStore.create(EndpointConfig(url="127.0.0.1", type=sys.argv[1], port=1, db=0))
        print(type(store).__module__ + "." + type(store).__name__)
    """)
    assert in_rasa_venv(code, CLUSTER_LOCK_STORE) == CLUSTER_LOCK_STORE


FAILING_STORE = textwrap.dedent("""
    import asyncio
    from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa_server.patches import apply_all

    class Down(TrackerStore):
        async def retrieve(self, sender_id):
            raise ConnectionError("the database is down")
        async def retrieve_full_tracker(self, sender_id):
            raise ConnectionError("the database is down")
        async def save(self, tracker):
            raise ConnectionError("the database is down")

    def outcomes():
        store = FailSafeTrackerStore(Down(Domain.empty()))
        found = []
        for call in (lambda: store.retrieve("s"), lambda: store.retrieve_full_tracker("s"),
                     lambda: store.save(DialogueStateTracker("s", []))):
            try:
                asyncio.run(call())
                found.append("swallowed")
            except ConnectionError:
                found.append("raised")
        return found

    print(outcomes(), end=" ")
    apply_all()
    print(outcomes())
""")


@needs_rasa_venv
def test_a_tracker_store_that_is_down_fails_the_turn_instead_of_forgetting_it() -> None:
    before, after = in_rasa_venv(FAILING_STORE).split("] [")
    assert before.count("swallowed") == 3, "Rasa's own wrapper swallows the errors"
    assert after.count("raised") == 3
