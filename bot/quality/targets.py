"""The quality targets: every figure the project promises, its threshold and direction.

The report (``bot.quality.report``) marks each one met or not; the benchmark
(``bot.quality.bench``) copies the benchmark targets into ``reports/bench.json`` under
``targets``, so a report rendered from an older run shows the thresholds of that run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """One promise: ``key`` names it in JSON, ``value`` is the threshold."""

    key: str
    value: float | None                   # None: only the run that recorded it knows
    higher_is_better: bool
    label: str                            # what is measured, for people
    measured_by: str                      # the command that measures it
    unit: str = ""                        # how the benchmark's Markdown writes the value
    where: tuple[str, ...] = ()           # benchmark: the figure's path in a system's results

    @property
    def direction(self) -> str:
        return "≥" if self.higher_is_better else "≤"

    def measured_in(self, results: Any) -> Any:
        """The benchmark figure this target is about, in one system's results."""
        return figure_at(results, self.where)

    def met(self, measured: Any) -> bool | None:
        """Met (True), not met (False) or unknown (None: no number measured)."""
        return is_met(measured, self.value, self.higher_is_better)


def figure_at(data: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in nested mappings, or None where the path ends early."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_met(value: Any, threshold: Any, higher_is_better: bool = True) -> bool | None:
    """Met (True), not met (False), or unknown (None: no value or no threshold)."""
    if not is_number(value) or not is_number(threshold):
        return None
    return value >= threshold if higher_is_better else value <= threshold


# The quality targets (issue 6), checked by the report.
HIT_AT_1 = Target("hit_at_1", 0.92, True, "retrieval Hit@1 (dev set)", "make index")
OFF_TOPIC_REJECTION = Target("off_topic_rejection", 0.90, True, "off-topic rejection (dev set)",
                             "make index")
INTENT_MACRO_F1 = Target("intent_macro_f1", 0.95, True, "intent macro F1", "make report")
REGRESSION_PASS_RATE = Target("regression_pass_rate", 1.0, True, "regression pass rate",
                              "make eval")
QUALITY_TARGETS = (HIT_AT_1, OFF_TOPIC_REJECTION, INTENT_MACRO_F1, REGRESSION_PASS_RATE)

# The benchmark's targets for our assistant (make bench).
BENCH_TARGETS = (
    Target("p50_ms_1", 50, False, "p50 latency, 1 user", "make bench", " ms",
           ("load", "1", "p50_ms")),
    Target("p95_ms_1", 120, False, "p95 latency, 1 user", "make bench", " ms",
           ("load", "1", "p95_ms")),
    Target("turns_per_s_16", 30, True, "throughput, 16 users", "make bench", "/s",
           ("load", "16", "turns_per_s")),
    # issue 15: a question never seen before (no cache helps), one user through REST
    Target("never_seen_p50_ms", 50, False, "p50 latency, never-seen questions, 1 user", "make bench",
           " ms", ("never_seen", "p50_ms")),
    Target("never_seen_p95_ms", 120, False, "p95 latency, never-seen questions, 1 user",
           "make bench", " ms", ("never_seen", "p95_ms")),
    # issue 22: a ~200-character message costs at most 1.5x a ~20-character one (p50)
    Target("length_long_over_short", 1.5, False, "p50, ~200-character over ~20-character messages",
           "make bench", "x", ("length", "long_over_short_p50")),
    # issue 15: turn 200 of one conversation costs at most 1.2x turn 1
    Target("session_last_over_first", 1.2, False, "turns 191-200 over turns 1-10 (median)",
           "make bench", "x", ("session", "last_over_first")),
    Target("rss_mb_rasa", 1536, False, "resident memory, Rasa", "make bench", " MB",
           ("rss_mb", "rasa")),
    Target("rss_mb_actions", 500, False, "resident memory, action server", "make bench", " MB",
           ("rss_mb", "actions")),
)


def thresholds(targets: tuple[Target, ...]) -> dict[str, float]:
    """{key: threshold}, the shape the JSON reports keep under ``targets``."""
    return {target.key: target.value for target in targets}


_BENCH_KEY = re.compile(r"^(?P<metric>p50_ms|p95_ms|p99_ms|turns_per_s)_(?P<users>\d+)$"
                        r"|^rss_mb_(?P<server>.+)$")


def bench_target(key: str) -> Target | None:
    """The benchmark target a ``targets`` key of bench.json names; a key that is not in
    ``BENCH_TARGETS`` (a run with other targets) is read from its name: ``p95_ms_16`` →
    load/16/p95_ms (lower is better), ``turns_per_s_1`` → load/1/turns_per_s (higher),
    ``rss_mb_web`` → rss_mb/web (lower). None for a key of no known shape."""
    known = next((target for target in BENCH_TARGETS if target.key == key), None)
    if known is not None:
        return known
    shape = _BENCH_KEY.match(key)
    if shape is None:
        return None
    if shape["server"]:
        return Target(key, None, False, key, "make bench", " MB", ("rss_mb", shape["server"]))
    higher = shape["metric"] == "turns_per_s"
    return Target(key, None, higher, key, "make bench", "/s" if higher else " ms",
                  ("load", shape["users"], shape["metric"]))
