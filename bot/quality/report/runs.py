"""The report's summaries of what other commands ran: the regression suite
(``reports/eval.json`` from ``make eval``) and the benchmark (``reports/bench.json`` from
``make bench``, with its targets as that run recorded them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.quality.report.inputs import json_section
from bot.stats import fraction, nearest_rank_percentile
from bot.quality.targets import bench_target, figure_at, is_met, is_number

SLOWEST_N = 10


# -- regression (make eval) --------------------------------------------------

def regression_summary(data: dict) -> dict:
    summary = data["summary"]
    cases = data.get("cases") or []
    failing = [c for c in cases if not c.get("passed")]
    timed = [c for c in cases if is_number(c.get("latency_ms"))]
    fallbacks = [c for c in cases if c.get("kind") == "fallback"]
    return {
        "status": "ok",
        "generated": data.get("generated"),
        "today": data.get("today"),
        "cases": summary.get("cases", len(cases)),
        "passed": summary.get("passed", len(cases) - len(failing)),
        "pass_rate": summary.get("pass_rate", fraction(len(cases) - len(failing), len(cases))),
        "known_failures": summary.get("known_failures", sum(bool(c.get("known_failure")) for c in cases)),
        # every by_* breakdown eval.json gives (by_group, by_expect_kind, by_topic, ...)
        "breakdowns": {key[3:]: _group_table(value) for key, value in summary.items()
                       if key.startswith("by_") and isinstance(value, dict)},
        "fallback_rate": fraction(len(fallbacks), len(cases)),
        "failing": [_regression_row(c) for c in failing],
        "slowest": [_regression_row(c) for c in sorted(timed, key=lambda c: -c["latency_ms"])[:SLOWEST_N]],
        "latency_ms": _latency([c["latency_ms"] for c in timed]),
        "scores": {"passed": [c["score"] for c in cases if c.get("passed") and is_number(c.get("score"))],
                   "failed": [c["score"] for c in failing if is_number(c.get("score"))]},
        "conversations": _conversations(data.get("conversations")),
        "outcomes": summary.get("outcomes"),
        "real_messages": _real_messages(data.get("real_messages")),
    }


def _real_messages(data: Any) -> dict | None:
    """The held-out real-style set's right / safe miss / wrong, overall and per class, and
    the messages not answered right (None when eval ran without the set)."""
    if not isinstance(data, dict) or not isinstance(data.get("summary"), dict):
        return None
    missed = [{"id": r.get("id"), "kind": r.get("kind"), "turns": r.get("turns"),
               "expect": r.get("expect"), "received": r.get("received"),
               "outcome": r.get("outcome")}
              for r in data.get("results") or [] if r.get("outcome") != "right"]
    return {"overall": data["summary"], "by_class": data["summary"].get("by_class") or {},
            "missed": missed}


def _conversations(data: Any) -> dict | None:
    """Turn and conversation pass rates per file, and the failing turns, from eval.json's
    ``conversations`` (None when eval ran without them)."""
    if not isinstance(data, dict) or not isinstance(data.get("summary"), dict):
        return None
    summary = data["summary"]
    rows = {name: v for name, v in (summary.get("by_file") or {}).items() if isinstance(v, dict)}
    failing = [{"id": r.get("id"), "say": t.get("say"), "expect": t.get("expect"),
                "received": t.get("received"), "known_failure": r.get("known_failure"),
                "reply": (t.get("reply") or "")[:200]}
               for r in data.get("results") or [] for t in r.get("turns") or [] if not t.get("passed")]
    return {"overall": summary, "by_file": rows, "failing_turns": failing}


def _group_table(groups: Any) -> dict[str, dict]:
    """{group: {cases, passed, pass_rate}} from eval.json's ``by_group``-like maps."""
    out = {}
    for name, v in (groups or {}).items():
        cases, passed = v.get("cases"), v.get("passed")
        rate = passed / cases if is_number(cases) and is_number(passed) and cases else None
        out[str(name)] = {"cases": cases, "passed": passed, "pass_rate": rate}
    return out


def _regression_row(c: dict) -> dict:
    return {key: c.get(key) for key in ("id", "file", "turns", "expect", "received", "kind", "entry_id",
                                         "score", "intent", "intent_confidence", "passed",
                                         "known_failure", "missing", "latency_ms", "reply")}


def _latency(values: list[float]) -> dict:
    """p50, p95 (nearest rank: a latency some case really took), max and count."""
    if not values:
        return {}
    return {"p50": nearest_rank_percentile(values, 50), "p95": nearest_rank_percentile(values, 95),
            "max": max(values), "n": len(values)}


def regression_section(path: Path) -> dict:
    return json_section(path, "regression", regression_summary)


# -- benchmarks (make bench) -------------------------------------------------

BENCH_ROWS = (   # (label, path inside a system, higher is better)
    ("p50 latency, 1 user (ms)", ("load", "1", "p50_ms"), False),
    ("p95 latency, 1 user (ms)", ("load", "1", "p95_ms"), False),
    ("p99 latency, 1 user (ms)", ("load", "1", "p99_ms"), False),
    ("p50 latency, 16 users (ms)", ("load", "16", "p50_ms"), False),
    ("p95 latency, 16 users (ms)", ("load", "16", "p95_ms"), False),
    ("throughput, 1 user (turns/s)", ("load", "1", "turns_per_s"), True),
    ("throughput, 16 users (turns/s)", ("load", "16", "turns_per_s"), True),
    ("errors, 16 users", ("load", "16", "errors"), False),
    ("memory, Rasa (MB)", ("rss_mb", "rasa"), False),
    ("memory, action server (MB)", ("rss_mb", "actions"), False),
    ("memory, web front (MB)", ("rss_mb", "web"), False),
    ("training (s)", ("train_s",), False),
    ("model load (s)", ("load_s",), False),
    ("index build, cold (s)", ("index_build_s", "cold"), False),
    ("index build, cached (s)", ("index_build_s", "cached"), False),
    ("accuracy, in-scope", ("accuracy", "in_scope"), True),
    ("off-topic → fallback", ("accuracy", "off_topic_fallback"), True),
)
OURS, BASELINE = "assistant", "response_selector"


def bench_target_checks(bench: dict) -> list[dict]:
    """Each target bench.json recorded, with the threshold of that run, against what
    that run measured for our assistant (an unknown key is never met or missed)."""
    ours = figure_at(bench, ("systems", OURS)) or {}
    checks = []
    for name, threshold in (bench.get("targets") or {}).items():
        target = bench_target(name)
        value = target.measured_in(ours) if target else None
        checks.append({"name": name, "value": value, "target": threshold,
                       "direction": target.direction if target else "≥",
                       "met": is_met(value, threshold, target.higher_is_better) if target else None})
    return checks


def bench_summary(bench: dict) -> dict:
    systems = bench["systems"]
    if not isinstance(systems, dict) or OURS not in systems:
        raise KeyError(f"systems.{OURS}")
    baseline = systems.get(BASELINE) or {}
    rows = []
    for label, path, higher in BENCH_ROWS:
        ours, base = figure_at(systems[OURS], path), figure_at(baseline, path)
        if ours is None and base is None:
            continue
        both = is_number(ours) and is_number(base) and base != 0
        rows.append({"label": label, "ours": ours, "baseline": base,
                     "ratio": ours / base if both else None, "higher_is_better": higher,
                     "better": (ours >= base if higher else ours <= base) if both else None})
    latency = {}
    for system, figures in systems.items():
        for level, load in (figure_at(figures, ("load",)) or {}).items():
            users = f"{level} user" + ("" if str(level) == "1" else "s")
            latency[f"{system}, {users}"] = {p: load.get(f"{p}_ms") for p in ("p50", "p95", "p99")}
    machine, ratios = bench.get("machine") or {}, bench.get("ratios") or {}
    return {"status": "ok", "generated": bench.get("generated"),
            "machine": machine if isinstance(machine, dict) else {"machine": machine},
            "rows": rows, "targets": bench_target_checks(bench),
            "ratios": ratios if isinstance(ratios, dict) else {"ratios": ratios},
            "latency": latency, "systems": list(systems)}


def bench_section(path: Path) -> dict:
    return json_section(path, "bench", bench_summary)
