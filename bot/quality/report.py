"""Quality report: retrieval, NLU, regression and benchmark figures in one place.

``python -m bot.quality.report`` writes ``reports/quality.html`` (self-contained: plots are
embedded PNGs) and ``reports/quality.json`` (the figures). Inputs:

* retrieval — computed here over ``tests/data/retrieval_dev.yml`` with the engine on
  ``models/index`` (no topic hint);
* NLU — ``results/nlu/intent_report.json``, ``intent_errors.json`` and, if present,
  ``intent_successes.json`` from ``rasa test nlu --successes``;
* regression — ``reports/eval.json`` from ``make eval``;
* benchmarks — ``reports/bench.json`` from ``make bench``.

An input that is missing or unreadable becomes a "not run yet" section with the
command to run; it never stops the report. Everything below except
``run_retrieval`` is a pure function of plain data (no Rasa, no model, no plotting);
plots and HTML live in ``bot.quality.report_pages``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bot import PROJECT_ROOT

# The quality targets (issue 6). Benchmark targets come from bench.json itself.
TARGETS = {
    "hit_at_1": 0.92,               # dev set: right entry first and not rejected
    "off_topic_rejection": 0.90,    # dev set: off-topic questions → no_answer
    "intent_macro_f1": 0.95,        # rasa test nlu on tests/test_nlu.yml
    "regression_pass_rate": 1.0,    # make eval
}
DECISIONS = ("answer", "did_you_mean", "no_answer")
NLU_SUMMARY_KEYS = ("micro avg", "macro avg", "weighted avg", "accuracy")
WORST_N, SLOWEST_N, WEAKEST_N = 10, 10, 3

DEFAULT_DEV = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"
DEFAULT_NLU = PROJECT_ROOT / "results" / "nlu"
DEFAULT_REPORTS = PROJECT_ROOT / "reports"

NOT_RUN = {
    "retrieval": "not run yet: run `make index` (the dev set is tests/data/retrieval_dev.yml)",
    "nlu": "not run yet: run `make report` (it runs `rasa test nlu`) or `make test`",
    "regression": "not run yet: run `make eval`",
    "bench": "not run yet: run `make bench`",
}


# -- small helpers -----------------------------------------------------------

def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def check_target(value: float | None, target: float | None, higher_is_better: bool = True) -> bool | None:
    """Met (True), not met (False), or unknown (None: no value or no target)."""
    if not _is_number(value) or not _is_number(target):
        return None
    return value >= target if higher_is_better else value <= target


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def missing(section: str, message: str | None = None) -> dict:
    return {"status": "missing", "message": message or NOT_RUN[section]}


def load_json(path: Path, section: str) -> tuple[Any, dict | None]:
    """(data, None) or (None, a missing/error section)."""
    path = Path(path)
    if not path.exists():
        return None, missing(section)
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, {"status": "error", "message": f"{path} is not readable JSON ({exc}); "
                                                    f"{NOT_RUN[section].replace('not run yet: ', '')}"}


def _guard(section: str, build, *args) -> dict:
    """Run a summary builder; a wrong input shape becomes an error section."""
    try:
        return build(*args)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return {"status": "error",
                "message": f"unexpected shape of the {section} input ({type(exc).__name__}: {exc}); "
                           f"{NOT_RUN[section].replace('not run yet: ', 're-')}"}


# -- retrieval ---------------------------------------------------------------

@dataclass(frozen=True)
class RetrievalCase:
    """One dev-set question and how retrieval ranked every entry for it."""
    text: str
    kind: str                        # colloquial | traditional | typo | short | long | offtopic
    expected: str | None             # entry id; None: the FAQ must not answer
    topic: str | None                # the expected entry's topic
    ranked: tuple[str, ...]          # every entry id, best first (empty: no words)
    top_score: float | None
    decision: str                    # answer | did_you_mean | no_answer

    @property
    def rank(self) -> int | None:
        """1-based rank of the expected entry, None if absent."""
        return rank_of(self.expected, self.ranked)

    @property
    def right_first(self) -> bool:
        return self.expected is not None and bool(self.ranked) and self.ranked[0] == self.expected

    @property
    def hit(self) -> bool:
        """Right entry first and not rejected (the Hit@1 the targets use)."""
        return self.right_first and self.decision != "no_answer"


def rank_of(expected: str | None, ranked) -> int | None:
    if expected is None:
        return None
    for i, entry_id in enumerate(ranked, 1):
        if entry_id == expected:
            return i
    return None


def reciprocal_rank(expected: str | None, ranked) -> float:
    rank = rank_of(expected, ranked)
    return 1.0 / rank if rank else 0.0


def summarise_cases(cases: list[RetrievalCase]) -> dict:
    """Hit@1 (right first, not rejected), ranking Hit@1, MRR and the decision mix."""
    n = len(cases)
    decisions = Counter(c.decision for c in cases)
    return {
        "n": n,
        "hit_at_1": ratio(sum(c.hit for c in cases), n),
        "rank_hit_at_1": ratio(sum(c.right_first for c in cases), n),
        "mrr": ratio(sum(reciprocal_rank(c.expected, c.ranked) for c in cases), n),
        "decisions": {d: decisions.get(d, 0) for d in DECISIONS},
        "decision_rates": {d: ratio(decisions.get(d, 0), n) for d in DECISIONS},
    }


def _case_row(c: RetrievalCase) -> dict:
    return {"text": c.text, "kind": c.kind, "expected": c.expected, "topic": c.topic,
            "got": c.ranked[0] if c.ranked else None, "score": c.top_score,
            "decision": c.decision, "rank": c.rank}


def summarise_retrieval(cases: list[RetrievalCase], thresholds: dict, problems=()) -> dict:
    """Figures over in-scope and off-topic cases, per topic and per kind."""
    in_scope = [c for c in cases if c.expected is not None]
    off_topic = [c for c in cases if c.expected is None]
    by_topic: dict[str, list] = {}
    by_kind: dict[str, list] = {}
    for c in in_scope:
        by_topic.setdefault(c.topic or "(unknown entry)", []).append(c)
        by_kind.setdefault(c.kind, []).append(c)
    off = summarise_cases(off_topic)
    wrong = sorted((c for c in in_scope if not c.right_first),
                   key=lambda c: -(c.top_score or 0.0))
    rejected_in_scope = [c for c in in_scope if c.right_first and c.decision == "no_answer"]
    let_through = sorted((c for c in off_topic if c.decision != "no_answer"),
                         key=lambda c: -(c.top_score or 0.0))
    return {
        "status": "ok",
        "thresholds": thresholds,
        "overall": summarise_cases(in_scope),
        "by_topic": {t: summarise_cases(cs) for t, cs in sorted(by_topic.items())},
        "by_kind": {k: summarise_cases(cs) for k, cs in sorted(by_kind.items())},
        "off_topic": {"n": off["n"], "decisions": off["decisions"],
                      "rejection": off["decision_rates"]["no_answer"]},
        "fallback": {"off_topic_no_answer": off["decision_rates"]["no_answer"],
                     "in_scope_no_answer": ratio(sum(c.decision == "no_answer" for c in in_scope),
                                                 len(in_scope))},
        "scores": {"right_first": _scores(c for c in in_scope if c.right_first),
                   "wrong_first": _scores(c for c in in_scope if not c.right_first),
                   "off_topic": _scores(off_topic)},
        "worst": {"wrong_first": [_case_row(c) for c in wrong[:WORST_N]],
                  "right_but_rejected": [_case_row(c) for c in rejected_in_scope[:WORST_N]],
                  "off_topic_answered": [_case_row(c) for c in let_through[:WORST_N]]},
        "problems": list(problems),
    }


def _scores(cases) -> list[float]:
    return [c.top_score for c in cases if c.top_score is not None]


def load_dev_cases(path: Path) -> tuple[list[dict], list[str]]:
    """The dev cases and the problems found (bad cases are skipped, not fatal)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    raw = data.get("cases") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of cases under `cases:`")
    cases, problems = [], []
    for i, case in enumerate(raw, 1):
        if not isinstance(case, dict) or not isinstance(case.get("text"), str):
            problems.append(f"case {i}: no text, skipped")
            continue
        expected = case.get("expected")
        cases.append({"text": case["text"], "expected": str(expected) if expected else None,
                      "kind": str(case.get("kind") or ("offtopic" if not expected else "unknown"))})
    return cases, problems


class PrimedEncoder:
    """Wraps an encoder so that texts encoded ahead, in batches, are served from
    memory (one batched call is several times faster than one call per question)."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id = inner.model_id
        self._vectors: dict[str, Any] = {}

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def config(self) -> dict:
        from bot.retrieval.embedding import encoder_config

        return encoder_config(self.inner)

    def prime(self, texts: list[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if todo:
            self._vectors.update(zip(todo, self.inner.encode(todo), strict=True))

    def encode(self, texts: list[str]):
        import numpy as np

        texts = list(texts)
        self.prime(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])


def run_retrieval(engine, cases: list[dict]) -> tuple[list[RetrievalCase], list[str]]:
    """Rank every entry for each case with ``engine.search`` (no topic hint) and take
    the same decision ``engine.answer`` takes on the best score. The questions are
    embedded ahead in one batch; ranking and decision are the engine's own."""
    from bot.retrieval.engine import Engine, decide
    from bot.lang.text import has_words

    primed = PrimedEncoder(engine.encoder)
    primed.prime([q for q in (engine.prepare(c["text"]) for c in cases) if has_words(q)])
    engine = Engine(engine.index, engine.kb, primed, engine.settings)
    s = engine.settings
    n_entries = len(engine.kb.entries)
    out, problems = [], []
    for case in cases:
        expected = case["expected"]
        topic = None
        if expected is not None:
            try:
                topic = engine.kb.entry(expected).topic
            except KeyError:
                problems.append(f"expected entry {expected!r} does not exist ({case['text']!r})")
        hits = engine.search(case["text"], k=n_entries, kinds=("entry",))
        top = hits[0].score if hits else None
        decision = decide(top, s.answer_threshold, s.floor) if hits else "no_answer"
        out.append(RetrievalCase(text=case["text"], kind=case["kind"], expected=expected, topic=topic,
                                 ranked=tuple(h.id for h in hits), top_score=top, decision=decision))
    return out, problems


def retrieval_section(dev_file: Path, engine=None) -> dict:
    """Load the engine (unless given) and evaluate the dev set; never raises."""
    if not Path(dev_file).exists():
        return missing("retrieval", f"not run yet: {dev_file} does not exist")
    try:
        cases, problems = load_dev_cases(dev_file)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return {"status": "error", "message": f"cannot read the dev set: {exc}"}
    if engine is None:
        from bot.retrieval.index import IndexUnusableError
        from bot.knowledge.entries import KnowledgeBaseError
        from bot.retrieval.engine import load_engine
        try:
            engine = load_engine()
        except (IndexUnusableError, KnowledgeBaseError) as exc:
            return missing("retrieval", f"not run yet: the index is not usable "
                                        f"({str(exc).splitlines()[0]}); run `make index`")
        except Exception as exc:    # the report goes on without this part
            return {"status": "error", "message": f"cannot load the retrieval engine: {exc}"}
    try:
        ranked, run_problems = run_retrieval(engine, cases)
    except Exception as exc:
        return {"status": "error", "message": f"retrieval failed on the dev set: {exc}"}
    s = engine.settings
    thresholds = {"answer_threshold": s.answer_threshold, "floor": s.floor,
                  "hinted_answer_threshold": s.hinted_answer_threshold, "topic_boost": s.topic_boost}
    figures = summarise_retrieval(ranked, thresholds, problems + run_problems)
    figures["dev_file"] = _display_path(dev_file)
    return figures


# -- NLU ---------------------------------------------------------------------

def _prediction(item: dict) -> tuple[str, str, float | None]:
    pred = item.get("intent_prediction") or {}
    return str(item["intent"]), str(pred.get("name")), pred.get("confidence")


def confusion_matrix(errors: list[dict], successes: list[dict] | None = None,
                     support: dict[str, int] | None = None) -> tuple[list[str], list[list[int]]]:
    """Rows: true intent, columns: predicted intent (``rasa test nlu`` output items
    ``{text, intent, intent_prediction: {name, confidence}}``). Without ``successes``
    the diagonal is ``support`` minus the errors of that intent."""
    counts: Counter = Counter()
    for item in errors:
        true, pred, _ = _prediction(item)
        counts[(true, pred)] += 1
    if successes is not None:
        for item in successes:
            true, pred, _ = _prediction(item)
            counts[(true, pred)] += 1
    elif support:
        wrong: Counter = Counter()
        for (true, pred), n in counts.items():
            if true != pred:
                wrong[true] += n
        for intent, n in support.items():
            if n - wrong[intent] > 0:
                counts[(intent, intent)] += n - wrong[intent]
    labels = sorted({t for t, _ in counts} | {p for _, p in counts} | set(support or ()))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for (true, pred), n in counts.items():
        matrix[index[true]][index[pred]] += n
    return labels, matrix


def top_confusions(labels: list[str], matrix: list[list[int]], n: int = WORST_N) -> list[dict]:
    pairs = [{"intent": labels[i], "predicted": labels[j], "count": matrix[i][j]}
             for i in range(len(labels)) for j in range(len(labels)) if i != j and matrix[i][j]]
    return sorted(pairs, key=lambda p: (-p["count"], p["intent"], p["predicted"]))[:n]


def nlu_summary(report: dict, errors: list[dict] | None, successes: list[dict] | None) -> dict:
    """Per-intent table, averages, confusion matrix and the errors of ``rasa test nlu``."""
    intents = {name: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"],
                      "support": int(v["support"])}
               for name, v in report.items()
               if name not in NLU_SUMMARY_KEYS and isinstance(v, dict) and "f1-score" in v}
    if not intents:
        raise ValueError("intent_report.json has no per-intent rows")
    errors = errors or []
    support = {name: row["support"] for name, row in intents.items()}
    labels, matrix = confusion_matrix(errors, successes, support)
    error_rows = sorted(({"text": str(e.get("text", "")), "intent": t, "predicted": p, "confidence": c}
                         for e in errors for t, p, c in [_prediction(e)]),
                        key=lambda r: -(r["confidence"] or 0.0))
    return {
        "status": "ok",
        "intents": dict(sorted(intents.items(), key=lambda kv: (kv[1]["f1"], kv[0]))),
        "macro_f1": report.get("macro avg", {}).get("f1-score"),
        "weighted_f1": report.get("weighted avg", {}).get("f1-score"),
        "accuracy": report.get("accuracy"),
        "examples": sum(support.values()),
        "confusion": {"labels": labels, "matrix": matrix},
        "top_confusions": top_confusions(labels, matrix),
        "errors": error_rows,
        "confidence": {
            "right": [c for _, _, c in map(_prediction, successes or []) if _is_number(c)],
            "wrong": [r["confidence"] for r in error_rows if _is_number(r["confidence"])],
        },
        "has_successes": successes is not None,
    }


def nlu_section(nlu_dir: Path) -> dict:
    nlu_dir = Path(nlu_dir)
    report, problem = load_json(nlu_dir / "intent_report.json", "nlu")
    if problem:
        return problem
    errors, problem = load_json(nlu_dir / "intent_errors.json", "nlu")
    if problem and problem["status"] == "error":
        return problem
    errors = errors or []       # no file: nothing failed (or written without errors)
    successes = None
    succ_path, report_path = nlu_dir / "intent_successes.json", nlu_dir / "intent_report.json"
    # successes of an older run (`rasa test` without --successes since) would not match the
    # report: use them only if written by the same run (the files are seconds apart)
    if succ_path.exists() and succ_path.stat().st_mtime >= report_path.stat().st_mtime - 60:
        successes, problem = load_json(succ_path, "nlu")
    section = _guard("nlu", nlu_summary, report, errors, successes)
    if section.get("status") == "ok":
        section["results_dir"] = _display_path(nlu_dir)
        section["generated"] = _mtime(nlu_dir / "intent_report.json")
    return section


# -- regression (make eval) --------------------------------------------------

def regression_summary(data: dict) -> dict:
    summary = data["summary"]
    cases = data.get("cases") or []
    failing = [c for c in cases if not c.get("passed")]
    timed = [c for c in cases if _is_number(c.get("latency_ms"))]
    fallbacks = [c for c in cases if c.get("kind") == "fallback"]
    return {
        "status": "ok",
        "generated": data.get("generated"),
        "today": data.get("today"),
        "cases": summary.get("cases", len(cases)),
        "passed": summary.get("passed", len(cases) - len(failing)),
        "pass_rate": summary.get("pass_rate", ratio(len(cases) - len(failing), len(cases))),
        "known_failures": summary.get("known_failures", sum(bool(c.get("known_failure")) for c in cases)),
        # every by_* breakdown eval.json gives (by_group, by_expect_kind, by_topic, ...)
        "breakdowns": {key[3:]: _group_table(value) for key, value in summary.items()
                       if key.startswith("by_") and isinstance(value, dict)},
        "fallback_rate": ratio(len(fallbacks), len(cases)),
        "failing": [_regression_row(c) for c in failing],
        "slowest": [_regression_row(c) for c in sorted(timed, key=lambda c: -c["latency_ms"])[:SLOWEST_N]],
        "latency_ms": _percentiles([c["latency_ms"] for c in timed]),
        "scores": {"passed": [c["score"] for c in cases if c.get("passed") and _is_number(c.get("score"))],
                   "failed": [c["score"] for c in failing if _is_number(c.get("score"))]},
    }


def _group_table(groups: Any) -> dict[str, dict]:
    """{group: {cases, passed, pass_rate}} from eval.json's ``by_group``-like maps."""
    out = {}
    for name, v in (groups or {}).items():
        cases, passed = v.get("cases"), v.get("passed")
        rate = passed / cases if _is_number(cases) and _is_number(passed) and cases else None
        out[str(name)] = {"cases": cases, "passed": passed, "pass_rate": rate}
    return out


def _regression_row(c: dict) -> dict:
    return {key: c.get(key) for key in ("id", "file", "turns", "expect", "received", "kind", "entry_id",
                                         "score", "intent", "intent_confidence", "passed",
                                         "known_failure", "missing", "latency_ms", "reply")}


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)

    def pct(p: float) -> float:    # nearest-rank percentile
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
    return {"p50": pct(50), "p95": pct(95), "max": ordered[-1], "n": len(ordered)}


def _json_section(path: Path, name: str, summarise) -> dict:
    """A report section summarised from one JSON input file (or why it is missing)."""
    data, problem = load_json(path, name)
    if problem:
        return problem
    section = _guard(name, summarise, data)
    if section.get("status") == "ok":
        section["file"] = _display_path(path)
    return section


def regression_section(path: Path) -> dict:
    return _json_section(path, "regression", regression_summary)


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


def dig(data: Any, path) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def bench_target_path(name: str) -> tuple[tuple[str, ...], bool] | None:
    """Where a ``targets`` key of bench.json is measured and whether higher is better:
    ``p95_ms_1`` → load/1/p95_ms (lower), ``turns_per_s_16`` → load/16/turns_per_s
    (higher), ``rss_mb_rasa`` → rss_mb/rasa (lower). None for an unknown key."""
    for metric, higher in (("p50_ms", False), ("p95_ms", False), ("p99_ms", False),
                           ("turns_per_s", True)):
        prefix = metric + "_"
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return ("load", name[len(prefix):], metric), higher
    if name.startswith("rss_mb_") and len(name) > len("rss_mb_"):
        return ("rss_mb", name[len("rss_mb_"):]), False
    return None


def bench_target_checks(bench: dict) -> list[dict]:
    ours = dig(bench, ("systems", OURS)) or {}
    checks = []
    for name, target in (bench.get("targets") or {}).items():
        where = bench_target_path(name)
        value = dig(ours, where[0]) if where else None
        higher = where[1] if where else True
        checks.append({"name": name, "value": value, "target": target,
                       "direction": "≥" if higher else "≤",
                       "met": check_target(value, target, higher) if where else None})
    return checks


def bench_summary(bench: dict) -> dict:
    systems = bench["systems"]
    if not isinstance(systems, dict) or OURS not in systems:
        raise KeyError(f"systems.{OURS}")
    baseline = systems.get(BASELINE) or {}
    rows = []
    for label, path, higher in BENCH_ROWS:
        ours, base = dig(systems[OURS], path), dig(baseline, path)
        if ours is None and base is None:
            continue
        both = _is_number(ours) and _is_number(base) and base != 0
        rows.append({"label": label, "ours": ours, "baseline": base,
                     "ratio": ours / base if both else None, "higher_is_better": higher,
                     "better": (ours >= base if higher else ours <= base) if both else None})
    latency = {}
    for system, figures in systems.items():
        for level, load in (dig(figures, ("load",)) or {}).items():
            users = f"{level} user" + ("" if str(level) == "1" else "s")
            latency[f"{system}, {users}"] = {p: load.get(f"{p}_ms") for p in ("p50", "p95", "p99")}
    machine, ratios = bench.get("machine") or {}, bench.get("ratios") or {}
    return {"status": "ok", "generated": bench.get("generated"),
            "machine": machine if isinstance(machine, dict) else {"machine": machine},
            "rows": rows, "targets": bench_target_checks(bench),
            "ratios": ratios if isinstance(ratios, dict) else {"ratios": ratios},
            "latency": latency, "systems": list(systems)}


def bench_section(path: Path) -> dict:
    return _json_section(path, "bench", bench_summary)


# -- headline ----------------------------------------------------------------

def headline(figures: dict) -> list[dict]:
    """One row per target: value, target, direction and met (None: not measured)."""
    r, n, g, b = (figures.get(k) or {} for k in ("retrieval", "nlu", "regression", "bench"))
    ok = lambda section: section.get("status") == "ok"  # noqa: E731
    rows = [
        ("retrieval Hit@1 (dev set)", dig(r, ("overall", "hit_at_1")) if ok(r) else None,
         TARGETS["hit_at_1"], True, "make index"),
        ("off-topic rejection (dev set)", dig(r, ("off_topic", "rejection")) if ok(r) else None,
         TARGETS["off_topic_rejection"], True, "make index"),
        ("intent macro F1", n.get("macro_f1") if ok(n) else None,
         TARGETS["intent_macro_f1"], True, "make report"),
        ("regression pass rate", g.get("pass_rate") if ok(g) else None,
         TARGETS["regression_pass_rate"], True, "make eval"),
    ]
    out = [{"name": name, "value": value, "target": target, "direction": "≥" if higher else "≤",
            "met": check_target(value, target, higher), "unit": "rate", "run": run}
           for name, value, target, higher, run in rows]
    if ok(b):
        for t in b["targets"]:
            out.append({"name": f"bench {t['name']}", "value": t["value"], "target": t["target"],
                        "direction": t["direction"], "met": t["met"], "unit": "number",
                        "run": "make bench"})
    else:
        out.append({"name": "bench p50 / p95 latency", "value": None, "target": None, "direction": "≤",
                    "met": None, "unit": "number", "run": "make bench"})
    return out


def weakest(figures: dict, n: int = WEAKEST_N) -> dict:
    r, nlu = figures.get("retrieval") or {}, figures.get("nlu") or {}
    topics, intents, confusions = [], [], []
    if r.get("status") == "ok":
        ranked = sorted(r["by_topic"].items(), key=lambda kv: (kv[1]["hit_at_1"] or 0.0, kv[0]))
        topics = [{"topic": t, "hit_at_1": v["hit_at_1"], "mrr": v["mrr"], "n": v["n"]}
                  for t, v in ranked[:n]]
    if nlu.get("status") == "ok":
        intents = [{"intent": i, "f1": v["f1"], "support": v["support"]}
                   for i, v in list(nlu["intents"].items())[:n]]
        confusions = nlu["top_confusions"][:n]
    return {"topics": topics, "intents": intents, "confusions": confusions}


# -- the whole report --------------------------------------------------------

def build_figures(dev_file: Path = DEFAULT_DEV, nlu_dir: Path = DEFAULT_NLU,
                  eval_file: Path | None = None, bench_file: Path | None = None,
                  engine=None, skip_retrieval: bool = False) -> dict:
    eval_file = eval_file or DEFAULT_REPORTS / "eval.json"
    bench_file = bench_file or DEFAULT_REPORTS / "bench.json"
    figures = {
        "generated": datetime.now().isoformat(timespec="seconds"),
        "retrieval": (missing("retrieval", "skipped (--skip-retrieval)") if skip_retrieval
                      else retrieval_section(dev_file, engine)),
        "nlu": nlu_section(nlu_dir),
        "regression": regression_section(eval_file),
        "bench": bench_section(bench_file),
    }
    figures["targets"] = dict(TARGETS)
    figures["headline"] = headline(figures)
    figures["weakest"] = weakest(figures)
    return figures


def write_report(figures: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write quality.json and the self-contained quality.html; returns both paths."""
    from bot.quality.report_pages import render_html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_text, notes = render_html(figures)
    figures = {**figures, "notes": notes}
    json_path, html_path = out_dir / "quality.json", out_dir / "quality.html"
    json_path.write_text(json.dumps(figures, ensure_ascii=False, indent=1, default=str) + "\n",
                         encoding="utf-8")
    html_path.write_text(html_text, encoding="utf-8")
    return html_path, json_path


def _display_path(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(Path(path).stat().st_mtime).isoformat(timespec="seconds")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot.quality.report", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_REPORTS, help="output directory (reports/)")
    ap.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="retrieval dev set")
    ap.add_argument("--nlu", type=Path, default=DEFAULT_NLU, help="rasa test nlu output directory")
    ap.add_argument("--eval", type=Path, default=None, help="make eval output (reports/eval.json)")
    ap.add_argument("--bench", type=Path, default=None, help="make bench output (reports/bench.json)")
    ap.add_argument("--skip-retrieval", action="store_true", help="do not load the index")
    args = ap.parse_args(argv)
    figures = build_figures(args.dev, args.nlu, args.eval or args.out / "eval.json",
                            args.bench or args.out / "bench.json", skip_retrieval=args.skip_retrieval)
    html_path, json_path = write_report(figures, args.out)
    for row in figures["headline"]:
        mark = {True: "met", False: "NOT met", None: f"not run yet ({row['run']})"}[row["met"]]
        value = "-" if row["value"] is None else (f"{row['value']:.3f}" if isinstance(row["value"], float)
                                                  else row["value"])
        target = "" if row["target"] is None else f" (target {row['direction']} {row['target']})"
        print(f"  {row['name']:34} {value}{target}: {mark}")
    print(f"quality report: {_display_path(html_path)} (figures: {_display_path(json_path)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
