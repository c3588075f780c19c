"""The short soak (issue 15) in `make test`: fuzz of the web front and the REST channel,
one minute of 16 users while each server is killed with -9 in turn and the SQLite
tracker is held locked, then every sent turn checked in the tracker store. Real servers
of its own (bot.quality.soak starts them); the figures go to the report, the pass
conditions (no 5xx, no empty reply, no turn lost or duplicated, every fault recovered,
polite replies meanwhile) are asserted here. `make soak` runs the full version."""

from __future__ import annotations

import json

from bot.quality.soak.__main__ import main


def test_the_short_soak_passes(tmp_path):
    report_file = tmp_path / "soak.json"
    code = main(["--quick", "--out", str(report_file)])
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["failed"] == [] and code == 0, report["failed"]
    assert report["load"]["turns"] > 0 and all(f["requests"] > 0 for f in report["fuzz"])
    assert {f["name"] for f in report["faults"]} >= {"kill -9 actions", "kill -9 rasa", "kill -9 web"}


def _stored(*stored, outage=()):
    """Tracker rows for (text, time stored) pairs, each answered."""
    import json as _json
    rows = []
    for text, at in stored:
        kind = "unavailable" if text in outage else "faq_answer"
        rows += [("user", _json.dumps({"text": text}), at),
                 ("bot", _json.dumps({"data": {"custom": {"kind": kind}}}), at + 0.1)]
    return rows


def test_the_tracker_check_aligns_turns_in_order():
    from bot.quality.soak.load import LoadResult, _compare

    def turns(*sent):
        """(text, kinds, status) sent one a second from time 0."""
        return [{"text": text, "kinds": list(kinds), "status": status, "sent": float(at)}
                for at, (text, kinds, status) in enumerate(sent)]

    ok, outage, offline = ["faq_answer"], ["unavailable"], []

    def compare(sent, stored, **kwargs):
        result = LoadResult(1, 1)
        _compare("s", sent, _stored(*stored, **kwargs), result)
        return result

    # "b" first got the web front's outage reply (never stored), then was sent again and
    # stored; "c" was sent while the web front was down. Nothing is lost or doubled.
    result = compare(turns(("a", ok, 200), ("b", outage, 200), ("x", ok, 200), ("b", ok, 200), ("c", offline, 0)),
                     [("a", 0.1), ("x", 2.1), ("b", 3.1)])
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # the candidate retried at once after an outage reply: one stored event, the retry's
    result = compare(turns(("a", outage, 200), ("a", ok, 200), ("b", ok, 200)), [("a", 1.1), ("b", 2.1)])
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # an outage reply first (not stored), other turns, then the same text answered later
    result = compare(turns(("q", outage, 200), ("r", outage, 200), ("q", ok, 200), ("s", ok, 200)),
                     [("q", 2.1), ("s", 3.1)])
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # Rasa's own outage reply is stored: it matches
    result = compare(turns(("q", outage, 200), ("s", ok, 200)), [("q", 0.1), ("s", 1.1)], outage=("q",))
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # the web front died while Rasa handled the turn: stored though the widget saw no
    # reply; the candidate's retry of it later is stored again, and nothing is lost
    result = compare(turns(("q", offline, 0), ("r", offline, 0), ("s", ok, 200), ("q", ok, 200)),
                     [("q", 0.2), ("s", 2.1), ("q", 3.1)])
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # a turn answered but missing, and one handled twice, are both seen
    result = compare(turns(("a", ok, 200), ("x", ok, 200), ("b", ok, 200)), [("a", 0.1), ("b", 2.1), ("b", 2.2)])
    assert (result.lost, result.duplicated) == (1, 1), result.examples


def test_the_tracker_check_counts_turns_by_message_id():
    """With ids, the same words asked twice are two turns, and a retry stored twice is
    a duplicate even though the candidate did ask the same words next."""
    import json as _json

    from bot.quality.soak.load import LoadResult, _compare

    def compare(sent, stored):
        rows = []
        for message_id, text, at in stored:
            rows += [("user", _json.dumps({"text": text, "message_id": message_id}), at),
                     ("bot", _json.dumps({"data": {"custom": {"kind": "faq_answer"}}}), at + 0.1)]
        turns = [{"message_id": m, "text": t, "kinds": list(k), "status": s, "sent": float(n)}
                 for n, (m, t, k, s) in enumerate(sent)]
        result = LoadResult(1, 1)
        _compare("s", turns, rows, result)
        return result

    ok, outage = ["faq_answer"], ["unavailable"]
    result = compare([("1", "a", ok, 200), ("2", "a", ok, 200), ("3", "b", outage, 200)],
                     [("1", "a", 0.1), ("2", "a", 1.1)])
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    result = compare([("1", "a", ok, 200), ("2", "a", ok, 200)], [("1", "a", 0.1), ("1", "a", 0.2)])
    assert (result.lost, result.duplicated) == (1, 1), result.examples
    result = compare([("1", "a", ok, 200)], [("1", "a", 0.1), ("9", "z", 0.5)])
    assert (result.lost, result.duplicated) == (0, 1), result.examples
