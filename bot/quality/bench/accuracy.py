"""Accuracy: the held-out cases, each sent from a fresh sender, and how the last reply of
each system is scored (in scope: the expected entry; off topic: the fallback)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import yaml

from bot import PROJECT_ROOT
from bot.quality.bench.load import REQUEST_TIMEOUT_S, rasa_url, send_turn
from bot.rasa_client import RasaClient, RestReply

REST_QUESTIONS = PROJECT_ROOT / "tests" / "data" / "rest_questions.yml"
RETRIEVAL_DEV = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"
ACCURACY_WORKERS = 4
FALLBACK, DID_YOU_MEAN = "fallback", "did_you_mean"
Outcome = Callable[[RestReply], "str | None"]


def held_out_cases() -> list[dict]:
    """Held-out cases: {turns, expected (entry id or None), source}."""
    cases = []
    for case in yaml.safe_load(REST_QUESTIONS.read_text(encoding="utf-8"))["questions"]:
        turns = [str(t) for t in (case.get("turns") or [case["text"]])]
        cases.append({"turns": turns, "expected": case["expected"], "source": "rest_questions"})
    for case in yaml.safe_load(RETRIEVAL_DEV.read_text(encoding="utf-8"))["cases"]:
        cases.append({"turns": [str(case["text"])], "expected": case["expected"],
                      "source": "retrieval_dev"})
    return cases


def our_outcome(reply: RestReply) -> str | None:
    """Entry id our assistant answered with, "fallback", "did_you_mean", or None."""
    custom = reply.custom
    if custom.get("kind") == "faq_answer":
        return custom.get("entry_id")
    return custom.get("kind") if custom.get("kind") in (FALLBACK, DID_YOU_MEAN) else None


def baseline_outcome_reader() -> Outcome:
    """The baseline's answer is an entry's answer text verbatim (answers are unique)
    or the fallback text."""
    from bot.training.baseline import fallback_text
    from bot.knowledge.entries import load_entries

    by_text = {entry.answer.strip(): entry.id for entry in load_entries()}
    fallback = fallback_text()

    def outcome(reply: RestReply) -> str | None:
        for text in reversed([m.text.strip() for m in reply.messages]):
            if text == fallback:
                return FALLBACK
            if text in by_text:
                return by_text[text]
        return None

    return outcome


def _accuracy(chosen: list[tuple[dict, str | None]]) -> dict:
    """Share of in-scope cases answered with the expected entry, of off-topic ones sent
    to the fallback, and how many of each there were."""
    in_scope = [(c, o) for c, o in chosen if c["expected"]]
    off_topic = [o for c, o in chosen if not c["expected"]]
    right = sum(o == c["expected"] for c, o in in_scope)
    return {"in_scope": round(right / len(in_scope), 3) if in_scope else None,
            "in_scope_n": len(in_scope),
            "off_topic_fallback": (round(off_topic.count(FALLBACK) / len(off_topic), 3)
                                   if off_topic else None),
            "off_topic_n": len(off_topic)}


def _outcome_kind(outcome: str | None, expected: str | None) -> str:
    if outcome is None:
        return "other"
    if outcome in (FALLBACK, DID_YOU_MEAN):
        return outcome
    if expected is None:
        return "answered"
    return "right_entry" if outcome == expected else "wrong_entry"


def score_accuracy(cases: Sequence[dict], outcomes: Sequence[str | None]) -> tuple[dict, dict]:
    """(accuracy in the report's shape, details): in-scope cases are right when answered
    with the expected entry, off-topic ones when sent to the fallback. Details: the same
    per test set, and what the wrong outcomes were."""
    pairs = list(zip(cases, outcomes, strict=True))
    details = {"by_set": {source: _accuracy([(c, o) for c, o in pairs if c["source"] == source])
                          for source in sorted({c["source"] for c in cases})},
               "in_scope_outcomes": {}, "off_topic_outcomes": {}}
    for case, outcome in pairs:
        group = details["in_scope_outcomes" if case["expected"] else "off_topic_outcomes"]
        name = _outcome_kind(outcome, case["expected"])
        group[name] = group.get(name, 0) + 1
    return _accuracy(pairs), details


def measure_accuracy(port: int, cases: Sequence[dict], outcome: Outcome) -> tuple[dict, dict]:
    """Each case from a fresh sender; the outcome of its last turn is scored (none when
    that turn failed)."""
    def run_case(case: dict) -> str | None:
        sender = f"bench-accuracy-{uuid.uuid4().hex}"
        with RasaClient(rasa_url(port), timeout_seconds=REQUEST_TIMEOUT_S) as rasa:
            for text in case["turns"]:
                problem, reply = send_turn(rasa, sender, text)
        return None if problem else outcome(reply)

    with ThreadPoolExecutor(ACCURACY_WORKERS) as pool:
        return score_accuracy(cases, list(pool.map(run_case, cases)))
