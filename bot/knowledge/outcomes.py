"""Right, safe miss or wrong: how every evaluation that scores the assistant counts a reply.

A *safe miss* costs the candidate a step (the fallback with the contacts, a did-you-mean,
a clarifying question, the deadline form asking for its date, small talk); a *wrong*
reply is a defect: an answer with another entry, or a deadline computed that the case
does not expect (a date the candidate gave for another reason treated as the rule's
start). Wrong must stay 0; a safe miss is counted beside the pass rate.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

RIGHT, SAFE_MISS, WRONG = "right", "safe_miss", "wrong"
OUTCOMES = (RIGHT, SAFE_MISS, WRONG)
# Reply kinds that state a fact of the documents or a computed date.
ASSERTING_KINDS = ("faq_answer", "deadline")


def outcome(right: bool, custom: dict[str, Any] | None) -> str:
    """The outcome of one scored reply: ``right`` when it is what the case expects,
    otherwise ``wrong`` when it asserts something (an answer, a deadline) and ``safe_miss``
    when it does not."""
    if right:
        return RIGHT
    return WRONG if (custom or {}).get("kind") in ASSERTING_KINDS else SAFE_MISS


def tally(outcomes: Iterable[str]) -> dict[str, Any]:
    """{right, safe_miss, wrong, total, right_rate} of some outcomes."""
    counts = Counter(outcomes)
    total = sum(counts.values())
    row: dict[str, Any] = {name: counts.get(name, 0) for name in OUTCOMES}
    row["total"] = total
    row["right_rate"] = round(row[RIGHT] / total, 4) if total else None
    return row


def describe(row: dict[str, Any]) -> str:
    """"150 right / 20 safe miss / 4 wrong of 174 (86.2 %)"."""
    rate = f" ({row['right_rate']:.1%})" if row.get("right_rate") is not None else ""
    return (f"{row[RIGHT]} right / {row[SAFE_MISS]} safe miss / {row[WRONG]} wrong "
            f"of {row['total']}{rate}")
