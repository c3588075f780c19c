"""The NLU gate of ``make test``: per-intent F1 from ``rasa test nlu``, and failure below
the minimum macro F1 (every intent counts the same, as in the quality report).

    .venv/bin/python -m bot.quality.nlu_gate results/nlu/intent_report.json [--min-f1 0.95]

The default minimum is the target ``intent_macro_f1`` (``bot.quality.targets``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.quality.targets import INTENT_MACRO_F1

NLU_SUMMARY_KEYS = ("micro avg", "macro avg", "weighted avg", "accuracy")


def intent_rows(report: dict) -> dict[str, dict]:
    """The per-intent rows of ``intent_report.json`` (not the averages)."""
    return {name: scores for name, scores in report.items()
            if name not in NLU_SUMMARY_KEYS and isinstance(scores, dict) and "f1-score" in scores}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.quality.nlu_gate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="results/nlu/intent_report.json")
    parser.add_argument("--min-f1", type=float, default=INTENT_MACRO_F1.value)
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text(encoding="utf-8"))
    for intent, scores in sorted(intent_rows(report).items(), key=lambda kv: kv[1]["f1-score"]):
        print(f"{intent:28} f1={scores['f1-score']:.3f} support={scores['support']}")
    macro = report["macro avg"]["f1-score"]
    weighted = report["weighted avg"]["f1-score"]
    print(f"intent F1: macro = {macro:.4f}, weighted = {weighted:.4f}, "
          f"accuracy = {report.get('accuracy', 0):.4f}")
    if macro < args.min_f1:
        print(f"FAIL: macro intent F1 {macro:.4f} < {args.min_f1}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
