"""Output: the results' shape, ratios ours / baseline, whether each target is met, and
the two files: ``reports/bench.json`` (the shape the HTML report reads; ``details`` adds
the accuracy per test set and the kinds of wrong outcomes) and ``reports/bench.md``."""

from __future__ import annotations

import json
from pathlib import Path

from bot import PROJECT_ROOT
from bot.quality.bench.accuracy import DID_YOU_MEAN, FALLBACK
from bot.quality.targets import bench_target, is_met

SYSTEMS = ("assistant", "response_selector")
USERS = (1, 16)
REPORT_JSON = PROJECT_ROOT / "reports" / "bench.json"
OUTCOME_ORDER = ("right_entry", "wrong_entry", "answered", DID_YOU_MEAN, FALLBACK, "other")


def empty_result(system: str) -> dict:
    """One system's results before anything is measured (None: not measured)."""
    load = {str(u): dict.fromkeys(("turns", "errors", "p50_ms", "p95_ms", "p99_ms",
                                   "turns_per_s", "wall_s")) for u in USERS}
    rss = {"rasa": None, "actions": None, "web": None} if system == "assistant" else {"rasa": None}
    never_seen = dict.fromkeys(("turns", "errors", "p50_ms", "p95_ms", "p99_ms", "turns_per_s",
                                "wall_s"))
    session = dict.fromkeys(("turns", "answered", "first10_p50_ms", "last10_p50_ms",
                             "last_over_first", "stored_bytes_per_turn"))
    length = {"short": None, "long": None, "long_over_short_p50": None}
    return {"load": load, "never_seen": never_seen, "session": session, "length": length,
            "rss_mb": rss, "train_s": None, "load_s": None,
            "index_build_s": {"cold": None, "cached": None} if system == "assistant" else None,
            "accuracy": {"in_scope": None, "in_scope_n": 0,
                         "off_topic_fallback": None, "off_topic_n": 0}}


def ours_over_baseline(ours: float | None, baseline: float | None) -> float | None:
    """ours / baseline, or None when either is unknown or the baseline is zero."""
    if ours is None or baseline is None or baseline == 0:
        return None
    return round(ours / baseline, 3)


def ratios(systems: dict) -> dict:
    """The ratios ours / baseline that bench.json keeps under ``ratios``."""
    ours, base = systems["assistant"], systems["response_selector"]

    def load(system: dict, users: str, key: str) -> float | None:
        return system["load"][users][key]

    return {
        "p50_ms_1": ours_over_baseline(load(ours, "1", "p50_ms"), load(base, "1", "p50_ms")),
        "p95_ms_1": ours_over_baseline(load(ours, "1", "p95_ms"), load(base, "1", "p95_ms")),
        "p99_ms_1": ours_over_baseline(load(ours, "1", "p99_ms"), load(base, "1", "p99_ms")),
        "turns_per_s_16": ours_over_baseline(load(ours, "16", "turns_per_s"),
                                             load(base, "16", "turns_per_s")),
        "rss_mb_rasa": ours_over_baseline(ours["rss_mb"]["rasa"], base["rss_mb"]["rasa"]),
        "train_s": ours_over_baseline(ours["train_s"], base["train_s"]),
        "load_s": ours_over_baseline(ours["load_s"], base["load_s"]),
        "in_scope_accuracy": ours_over_baseline(ours["accuracy"]["in_scope"],
                                                base["accuracy"]["in_scope"]),
    }


def target_status(report: dict) -> dict[str, str]:
    """For each target of the report: "met", "not met" or "not measured" (our assistant)."""
    ours = report["systems"]["assistant"]
    status = {}
    for key, threshold in report["targets"].items():
        target = bench_target(key)
        met = (is_met(target.measured_in(ours), threshold, target.higher_is_better)
               if target else None)
        status[key] = {True: "met", False: "not met", None: "not measured"}[met]
    return status


def _fmt(value, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def _outcomes(counts: dict | None) -> str:
    if not counts:
        return "–"
    return ", ".join(f"{name} {counts[name]}" for name in OUTCOME_ORDER if counts.get(name))


def _acc(accuracy: dict, key: str) -> str:
    n = accuracy.get("in_scope_n" if key == "in_scope" else "off_topic_n")
    value = accuracy.get(key)
    return "–" if value is None else f"{value:.3f} (n={n})"


class Rows:
    """The Markdown table's rows: measure, assistant, baseline, ratio, target mark."""

    def __init__(self, report: dict):
        self.targets, self.status = report["targets"], target_status(report)
        self.rows: list[tuple[str, str, str, str, str]] = []

    def row(self, label: str, ours: str, base: str, ratio: float | None = None,
            target_key: str | None = None) -> None:
        mark = ""
        if target_key:
            target = bench_target(target_key)
            mark = (f"{target.direction} {self.targets[target_key]}{target.unit}"
                    f" — **{self.status[target_key]}**")
        self.rows.append((label, ours, base, _fmt(ratio, 2) if ratio is not None else "", mark))


def _load_rows(table: Rows, report: dict) -> None:
    ours, base = report["systems"]["assistant"], report["systems"]["response_selector"]
    for users in ("1", "16"):
        a, b = ours["load"][users], base["load"][users]
        for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
            target_key = f"{key}_{users}" if f"{key}_{users}" in table.targets else None
            table.row(f"{label} latency, {users} user(s) (ms)", _fmt(a[key]), _fmt(b[key]),
                      ours_over_baseline(a[key], b[key]), target_key)
        table.row(f"throughput, {users} user(s) (turns/s)", _fmt(a["turns_per_s"], 2),
                  _fmt(b["turns_per_s"], 2), ours_over_baseline(a["turns_per_s"], b["turns_per_s"]),
                  "turns_per_s_16" if users == "16" else None)
        table.row(f"errors / turns, {users} user(s)", f"{_fmt(a['errors'])} / {_fmt(a['turns'])}",
                  f"{_fmt(b['errors'])} / {_fmt(b['turns'])}")
    details = report.get("details", {})
    load_averages = [details.get(s, {}).get("load_average_1min", {}) for s in SYSTEMS]
    table.row("machine load average (1 min) during the 1 / 16-user load",
              *(f"{_fmt(la.get('1'), 2)} / {_fmt(la.get('16'), 2)}" for la in load_averages))


def _phase_rows(table: Rows, report: dict) -> None:
    """The never-seen questions and the 200-turn conversation (issue 15)."""
    ours, base = report["systems"]["assistant"], report["systems"]["response_selector"]
    a, b = ours.get("never_seen") or {}, base.get("never_seen") or {}
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95")):
        table.row(f"{label} latency, never-seen questions, 1 user (ms)", _fmt(a.get(key)),
                  _fmt(b.get(key)), ours_over_baseline(a.get(key), b.get(key)),
                  f"never_seen_{key}" if f"never_seen_{key}" in table.targets else None)
    a, b = ours.get("length") or {}, base.get("length") or {}

    def p50s(length: dict) -> str:
        return (f"{_fmt((length.get('short') or {}).get('p50_ms'))} / "
                f"{_fmt((length.get('long') or {}).get('p50_ms'))}")

    table.row("p50 latency, ~20 / ~200-character messages, 1 user (ms)", p50s(a), p50s(b))
    table.row("~200 over ~20 characters (p50)", _fmt(a.get("long_over_short_p50"), 2),
              _fmt(b.get("long_over_short_p50"), 2), None,
              "length_long_over_short" if "length_long_over_short" in table.targets else None)
    a, b = ours.get("session") or {}, base.get("session") or {}
    table.row("one conversation: turns 1-10 / 191-200, median (ms)",
              f"{_fmt(a.get('first10_p50_ms'))} / {_fmt(a.get('last10_p50_ms'))}",
              f"{_fmt(b.get('first10_p50_ms'))} / {_fmt(b.get('last10_p50_ms'))}")
    table.row("one conversation: last / first", _fmt(a.get("last_over_first"), 2),
              _fmt(b.get("last_over_first"), 2), None,
              "session_last_over_first" if "session_last_over_first" in table.targets else None)
    table.row("tracker bytes stored per turn", _fmt(a.get("stored_bytes_per_turn")),
              _fmt(b.get("stored_bytes_per_turn")),
              ours_over_baseline(a.get("stored_bytes_per_turn"), b.get("stored_bytes_per_turn")))


def _resource_rows(table: Rows, report: dict) -> None:
    ours, base = report["systems"]["assistant"], report["systems"]["response_selector"]
    r = report["ratios"]
    table.row("RSS Rasa server (MB)", _fmt(ours["rss_mb"].get("rasa"), 0),
              _fmt(base["rss_mb"].get("rasa"), 0), r["rss_mb_rasa"], "rss_mb_rasa")
    table.row("RSS action server (MB)", _fmt(ours["rss_mb"].get("actions"), 0), "none",
              None, "rss_mb_actions")
    table.row("RSS web front (MB)", _fmt(ours["rss_mb"].get("web"), 0), "none")
    table.row("Rasa training, cold (s)", _fmt(ours["train_s"], 0), _fmt(base["train_s"], 0),
              r["train_s"])
    table.row("Rasa load (s)", _fmt(ours["load_s"]), _fmt(base["load_s"]), r["load_s"])
    index = ours["index_build_s"] or {}
    table.row("index build, cold / cached (s)",
              f"{_fmt(index.get('cold'))} / {_fmt(index.get('cached'))}", "none")


def _accuracy_rows(table: Rows, report: dict) -> None:
    ours, base = report["systems"]["assistant"], report["systems"]["response_selector"]
    table.row("in-scope answered right", _acc(ours["accuracy"], "in_scope"),
              _acc(base["accuracy"], "in_scope"), report["ratios"]["in_scope_accuracy"])
    table.row("off-topic sent to fallback", _acc(ours["accuracy"], "off_topic_fallback"),
              _acc(base["accuracy"], "off_topic_fallback"),
              ours_over_baseline(ours["accuracy"]["off_topic_fallback"],
                                 base["accuracy"]["off_topic_fallback"]))
    details = report.get("details", {})
    accuracy_details = [details.get(s, {}).get("accuracy", {}) for s in SYSTEMS]
    for source in ("rest_questions", "retrieval_dev"):
        a, b = (d.get("by_set", {}).get(source, {}) for d in accuracy_details)
        table.row(f"  {source}: in-scope right / off-topic to fallback",
                  f"{_acc(a, 'in_scope')} / {_acc(a, 'off_topic_fallback')}",
                  f"{_acc(b, 'in_scope')} / {_acc(b, 'off_topic_fallback')}")
    for group, label in (("in_scope_outcomes", "in-scope outcomes"),
                         ("off_topic_outcomes", "off-topic outcomes")):
        a, b = (_outcomes(d.get(group)) for d in accuracy_details)
        table.row(f"  {label}", a, b)


def markdown(report: dict) -> str:
    """bench.md: one table of every measure, the assistant's targets marked."""
    table = Rows(report)
    _load_rows(table, report)
    _phase_rows(table, report)
    _resource_rows(table, report)
    _accuracy_rows(table, report)
    machine = report["machine"]
    lines = [
        f"# Benchmark: assistant vs Rasa ResponseSelector FAQ bot ({report['generated']})",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, Rasa {machine['rasa']}. "
        "The machine is shared with other work, so times are noisy; ratios from the same run "
        "are more telling than absolute figures. Ratio = assistant / baseline.",
        "",
        "| measure | assistant | ResponseSelector baseline | ratio | target (assistant) |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(cells)} |" for cells in table.rows),
        "",
        "Latency percentiles over successful turns; throughput = successful turns / wall time; "
        "errors = non-200, invalid JSON or a reply without text. RSS includes child processes, "
        "measured after the load. Training: `rasa train` into a temporary directory with an "
        "empty Rasa cache. Load: process start until `/status` reports the model (0.1 s polling).",
    ]
    for system in SYSTEMS:
        error = report["systems"][system].get("error")
        if error:
            lines += ["", f"**{system} failed:** `{error.splitlines()[0]}`"]
    return "\n".join(lines) + "\n"


def write_report(report: dict, out: Path) -> str:
    """Fill in the ratios, write the JSON and the Markdown beside it; the Markdown."""
    report["ratios"] = ratios(report["systems"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    text = markdown(report)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    return text
