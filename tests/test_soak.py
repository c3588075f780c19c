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


def _stored(*texts_answered, outage=()):
    import json as _json
    rows = []
    for text in texts_answered:
        kind = "unavailable" if text in outage else "faq_answer"
        rows += [("user", _json.dumps({"text": text})),
                 ("bot", _json.dumps({"data": {"custom": {"kind": kind}}}))]
    return rows


def test_the_tracker_check_aligns_turns_in_order():
    from bot.quality.soak.load import LoadResult, _compare

    def turn(text, kinds=("faq_answer",), status=200):
        return {"text": text, "kinds": list(kinds), "status": status}

    # "b" first got the web front's outage reply (never stored), then was sent again and
    # stored; "c" was sent while the web front was down. Nothing is lost or doubled.
    sent = [turn("a"), turn("b", ["unavailable"]), turn("x"), turn("b"), turn("c", [], 0)]
    result = LoadResult(1, 1)
    _compare("s", sent, _stored("a", "x", "b"), result)
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # the candidate retried at once after an outage reply: one stored event, the retry's
    result = LoadResult(1, 1)
    _compare("s", [turn("a", ["unavailable"]), turn("a"), turn("b")], _stored("a", "b"), result)
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # an outage reply first (not stored), other turns, then the same text answered later
    result = LoadResult(1, 1)
    _compare("s", [turn("q", ["unavailable"]), turn("r", ["unavailable"]), turn("q"), turn("s")],
             _stored("q", "s"), result)
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # Rasa's own outage reply is stored: it matches
    result = LoadResult(1, 1)
    _compare("s", [turn("q", ["unavailable"]), turn("s")], _stored("q", "s", outage=("q",)), result)
    assert (result.lost, result.duplicated) == (0, 0), result.examples
    # a turn answered but missing, and one handled twice, are both seen
    result = LoadResult(1, 1)
    _compare("s", [turn("a"), turn("x"), turn("b")], _stored("a", "b", "b"), result)
    assert (result.lost, result.duplicated) == (1, 1), result.examples
