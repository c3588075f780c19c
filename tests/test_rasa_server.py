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

    original = outcomes()
    apply_all()
    apply_all()  # applying twice changes nothing
    patched = outcomes()

    import sqlalchemy
    from sqlalchemy import text
    engine = sqlalchemy.create_engine("sqlite:///" + sys.argv[2])
    memory = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection:
        modes = [connection.execute(text(f"PRAGMA {p}")).scalar()
                 for p in ("journal_mode", "synchronous")]
    print(json.dumps({"original": original, "patched": patched,
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


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the Rasa venv is made by `make install`")
def test_patched_rasa_validates_action_responses_as_before_and_pools_sqlite_in_wal_mode(tmp_path):
    done = subprocess.run([str(RASA_PYTHON), "-c", CHECK, json.dumps(RESPONSES), str(tmp_path / "t.db")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["reuses"] is True
    assert result["patched"] == result["original"]
    assert result["patched"]["answer"] is True and result["patched"]["empty"] is True
    for name in ("events_not_a_list", "unknown_event", "response_not_an_object"):
        assert "Failed to validate Action server response" in result["patched"][name]
    assert result["sqlite"] == ["wal", 1]  # 1 = NORMAL
    assert result["pools"] == ["QueuePool", "SingletonThreadPool"]  # in-memory ones untouched
