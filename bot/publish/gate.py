"""The regression gate: the regression cases run against a real Rasa, and what a change
breaks. ``make eval`` (:mod:`bot.quality.eval`) runs the cases once; the publish job
(:mod:`bot.publish.job`) runs them before and after a change and refuses it when a case
that passed fails now.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Callable

from bot.knowledge.cases import DEADLINE_PREFIX, FALLBACK, Case, received_label
from bot.knowledge.outcomes import outcome
from bot.rasa_client import RasaBadResponse, RasaClient, RasaUnavailable, RestReply

REQUEST_TIMEOUT_SECONDS = 60  # a turn Rasa has not answered by then counts as unreachable
GATE_WORKERS = 4              # cases sent at once to the publish's temporary servers


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
        """right / safe_miss / wrong (:mod:`bot.knowledge.outcomes`)."""
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


# ---------------------------------------------------------------- the publish's gate


@dataclass(frozen=True)
class GateResult:
    passed: bool
    problem: str
    received: str


def run_cases(rasa_url: str, cases: list[Case], on_done: Callable[[int], None]) -> dict[str, GateResult]:
    """Every case against one Rasa, a few at a time (each under its own sender)."""
    results: dict[str, GateResult] = {}

    def one(case: Case) -> tuple[str, GateResult]:
        try:
            with RasaClient(rasa_url) as rasa:  # a client is one connection, for one thread
                result = run_case(rasa, case)
            return case.id, GateResult(result.passed, "" if result.passed else result.problem(), result.received)
        except (RasaUnavailable, RasaBadResponse, OSError, ValueError) as error:
            return case.id, GateResult(False, f"no reply: {type(error).__name__}: {error}", "none")

    with ThreadPoolExecutor(GATE_WORKERS) as pool:
        for case_id, result in pool.map(one, cases):
            results[case_id] = result
            on_done(len(results))
    return results


def broken_cases(cases: list[Case], before: dict[str, GateResult],
                 after: dict[str, GateResult]) -> list[dict[str, Any]]:
    """The cases that passed before and fail after, with what they received now."""
    return [{"id": case.id, "file": case.file, "turns": list(case.turns), "expect": case.expect,
             "received": after[case.id].received, "problem": after[case.id].problem}
            for case in cases if before[case.id].passed and not after[case.id].passed]


def still_failing(cases: list[Case], before: dict[str, GateResult], after: dict[str, GateResult]) -> list[str]:
    """Cases failing before and after that are not marked as known failures."""
    return [case.id for case in cases
            if not before[case.id].passed and not after[case.id].passed and not case.known_failure]
