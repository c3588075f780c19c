"""Running the regression cases against the real assistant: sending each case's turns,
checking the last reply and summarising the results (``make eval``, ``make test``)."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Iterable

from bot.knowledge.cases import DEADLINE_PREFIX, FALLBACK, Case, received_label
from bot.quality.outcomes import outcome, tally
from bot.rasa_client import RasaClient, RestReply

REQUEST_TIMEOUT_SECONDS = 60  # a turn Rasa has not answered by then counts as unreachable


@dataclass
class CaseResult:
    """One case run against the assistant; the shape of a case in reports/eval.json."""

    id: str
    file: str
    turns: list[str]
    expect: str
    received: str
    kind: str | None
    entry_id: str | None
    score: float | None
    topic: str | None
    intent: str | None
    intent_confidence: float | None
    passed: bool
    known_failure: str | None
    missing: list[str]
    latency_ms: float
    reply: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.outcome}

    @property
    def outcome(self) -> str:
        """right / safe_miss / wrong (:mod:`bot.quality.outcomes`)."""
        return outcome(self.passed, {"kind": self.kind})

    def problem(self) -> str:
        """Expected vs received, for a failing case."""
        score = "" if self.score is None else f" (score {self.score:.3f})"
        text = f"expected {self.expect}, received {self.kind or 'no reply'} {self.received}{score}"
        if self.received == self.expect and self.missing:
            text = f"{self.expect} answered, but the reply lacks {self.missing}"
        return text


# ---------------------------------------------------------------- checking


def check_reply(case: Case, text: str, custom: dict[str, Any]) -> tuple[bool, list[str]]:
    """(passed, missing facts) for the last reply of a case."""
    kind = custom.get("kind")
    if case.expect == FALLBACK:
        right = kind == "fallback"
    elif case.expect.startswith(DEADLINE_PREFIX):
        right = kind == "deadline" and custom.get("procedure") == case.expect[len(DEADLINE_PREFIX):]
    else:
        right = kind == "faq_answer" and custom.get("entry_id") == case.expect
    missing = [fact for fact in case.contains if fact not in text]
    return right and not missing, missing


# ---------------------------------------------------------------- running over REST


def latest_intent(rasa: RasaClient, sender: str) -> tuple[str | None, float | None]:
    """Rasa's intent for the sender's last message (``latest_message`` of the tracker)."""
    intent = (rasa.tracker(sender).get("latest_message") or {}).get("intent") or {}
    confidence = intent.get("confidence")
    return intent.get("name"), (round(float(confidence), 4) if confidence is not None else None)


def run_case(rasa: RasaClient, case: Case) -> CaseResult:
    """Send every turn with a fresh sender and check the last reply. Raises
    ``RasaUnavailable`` / ``RasaBadResponse`` when Rasa does not answer as it should."""
    sender = f"regression-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    reply = RestReply()
    for turn in case.turns:
        reply = rasa.send(sender, turn)
    latency_ms = (time.perf_counter() - started) * 1000 / len(case.turns)
    intent, confidence = latest_intent(rasa, sender)
    text, custom = reply.text, reply.custom
    passed, missing = check_reply(case, text, custom)
    score = custom.get("score")
    return CaseResult(
        id=case.id, file=case.file, turns=list(case.turns), expect=case.expect,
        received=received_label(custom), kind=custom.get("kind"), entry_id=custom.get("entry_id"),
        score=round(float(score), 4) if isinstance(score, (int, float)) else None,
        topic=custom.get("topic"), intent=intent, intent_confidence=confidence, passed=passed,
        known_failure=case.known_failure, missing=missing, latency_ms=round(latency_ms, 1),
        reply=text,
    )


# ---------------------------------------------------------------- summary


def _tally(results: Iterable[CaseResult], key) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for result in results:
        row = table.setdefault(key(result), {"cases": 0, "passed": 0})
        row["cases"] += 1
        row["passed"] += int(result.passed)
    return dict(sorted(table.items()))


def expect_kind(expect: str) -> str:
    if expect == FALLBACK:
        return "fallback"
    return "deadline" if expect.startswith(DEADLINE_PREFIX) else "entry"


def expected_topic(expect: str, topics: dict[str, str]) -> str:
    """The FAQ topic of an expected entry; ``fallback`` / ``deadline`` otherwise."""
    kind = expect_kind(expect)
    return topics.get(expect, "?") if kind == "entry" else kind


def summary(results: list[CaseResult], topics: dict[str, str] | None = None) -> dict[str, Any]:
    """Counts for reports/eval.json (``by_topic`` keyed by the expected topic)."""
    passed = sum(result.passed for result in results)
    out: dict[str, Any] = {
        "cases": len(results), "passed": passed,
        "pass_rate": round(passed / len(results), 4) if results else 0.0,
        "known_failures": sum(1 for result in results if result.known_failure),
        "outcomes": tally(result.outcome for result in results),
        "by_group": _tally(results, lambda r: r.file),
        "by_expect_kind": _tally(results, lambda r: expect_kind(r.expect)),
    }
    if topics is not None:
        out["by_topic"] = _tally(results, lambda r: expected_topic(r.expect, topics))
    return out


def results_json(results: list[CaseResult], today: date | None, topics: dict[str, str] | None,
                 generated: str) -> dict[str, Any]:
    """The whole reports/eval.json document."""
    return {"generated": generated, "today": today.isoformat() if today else None,
            "summary": summary(results, topics), "cases": [r.to_json() for r in results]}
