"""Summarising the regression cases' results (``make eval``, ``make test``); running them
against the real assistant is :mod:`bot.publish.gate`'s."""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from bot.knowledge.cases import DEADLINE_PREFIX, FALLBACK
from bot.publish.gate import CaseResult
from bot.knowledge.outcomes import tally


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
