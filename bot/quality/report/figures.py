"""The report's figures as one document (``reports/quality.json``): every section, the
headline of targets met or not, the weakest areas; and writing it with its page."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bot import PROJECT_ROOT
from bot.quality.report.inputs import missing
from bot.quality.report.nlu import nlu_section
from bot.quality.report.retrieval import retrieval_section
from bot.quality.report.runs import bench_section, regression_section
from bot.quality.targets import (HIT_AT_1, INTENT_MACRO_F1, OFF_TOPIC_REJECTION, QUALITY_TARGETS,
                                 REGRESSION_PASS_RATE, figure_at, thresholds)

DEFAULT_DEV = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"
DEFAULT_NLU = PROJECT_ROOT / "results" / "nlu"
DEFAULT_REPORTS = PROJECT_ROOT / "reports"
WEAKEST_N = 3


def headline(figures: dict) -> list[dict]:
    """One row per target: value, target, direction and met (None: not measured)."""
    r, n, g, b = (figures.get(k) or {} for k in ("retrieval", "nlu", "regression", "bench"))

    def ok(section: dict) -> bool:
        return section.get("status") == "ok"

    measured = [
        (HIT_AT_1, figure_at(r, ("overall", "hit_at_1")) if ok(r) else None),
        (OFF_TOPIC_REJECTION, figure_at(r, ("off_topic", "rejection")) if ok(r) else None),
        (INTENT_MACRO_F1, n.get("macro_f1") if ok(n) else None),
        (REGRESSION_PASS_RATE, g.get("pass_rate") if ok(g) else None),
    ]
    out = [{"name": target.label, "value": value, "target": target.value,
            "direction": target.direction, "met": target.met(value), "unit": "rate",
            "run": target.measured_by}
           for target, value in measured]
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
    """The ``n`` topics with the lowest Hit@1, intents with the lowest F1, worst confusions."""
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


def build_figures(dev_file: Path = DEFAULT_DEV, nlu_dir: Path = DEFAULT_NLU,
                  eval_file: Path | None = None, bench_file: Path | None = None,
                  engine=None, skip_retrieval: bool = False) -> dict:
    """Every section from its input (a missing one says what to run), then the headline."""
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
    figures["targets"] = thresholds(QUALITY_TARGETS)
    figures["headline"] = headline(figures)
    figures["weakest"] = weakest(figures)
    return figures


def write_report(figures: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write quality.json and the self-contained quality.html; returns both paths."""
    from bot.quality.report.page import render_html

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_text, notes = render_html(figures)
    figures = {**figures, "notes": notes}
    json_path, html_path = out_dir / "quality.json", out_dir / "quality.html"
    json_path.write_text(json.dumps(figures, ensure_ascii=False, indent=1, default=str) + "\n",
                         encoding="utf-8")
    html_path.write_text(html_text, encoding="utf-8")
    return html_path, json_path
