"""Intent figures of the report, from ``rasa test nlu --successes`` (``results/nlu/``):
per-intent precision, recall and F1, the confusion matrix, the worst confusions and the
errors with their confidence."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.quality.nlu_gate import intent_rows
from bot.quality.report.inputs import display_path, guard, load_json, mtime
from bot.quality.targets import is_number

TOP_CONFUSIONS = 10


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


def top_confusions(labels: list[str], matrix: list[list[int]], n: int = TOP_CONFUSIONS) -> list[dict]:
    pairs = [{"intent": labels[i], "predicted": labels[j], "count": matrix[i][j]}
             for i in range(len(labels)) for j in range(len(labels)) if i != j and matrix[i][j]]
    return sorted(pairs, key=lambda p: (-p["count"], p["intent"], p["predicted"]))[:n]


def nlu_summary(report: dict, errors: list[dict] | None, successes: list[dict] | None) -> dict:
    """Per-intent table, averages, confusion matrix and the errors of ``rasa test nlu``."""
    intents = {name: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"],
                      "support": int(v["support"])}
               for name, v in intent_rows(report).items()}
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
            "right": [c for _, _, c in map(_prediction, successes or []) if is_number(c)],
            "wrong": [r["confidence"] for r in error_rows if is_number(r["confidence"])],
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
    section = guard("nlu", nlu_summary, report, errors, successes)
    if section.get("status") == "ok":
        section["results_dir"] = display_path(nlu_dir)
        section["generated"] = mtime(nlu_dir / "intent_report.json")
    return section
