"""Print per-intent F1 from `rasa test nlu` and fail below a minimum macro F1 (every
intent counts the same, as in the quality report)."""

import argparse
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("report", help="results/nlu/intent_report.json")
    parser.add_argument("--min-f1", type=float, default=0.95)
    args = parser.parse_args()
    report = json.load(open(args.report, encoding="utf-8"))
    rows = [(k, v) for k, v in report.items() if isinstance(v, dict) and "f1-score" in v
            and k not in ("macro avg", "weighted avg", "micro avg")]
    for intent, scores in sorted(rows, key=lambda kv: kv[1]["f1-score"]):
        print(f"{intent:28} f1={scores['f1-score']:.3f} support={scores['support']}")
    macro = report["macro avg"]["f1-score"]
    weighted = report["weighted avg"]["f1-score"]
    print(f"intent F1: macro = {macro:.4f}, weighted = {weighted:.4f}, accuracy = {report.get('accuracy', 0):.4f}")
    if macro < args.min_f1:
        print(f"FAIL: macro intent F1 {macro:.4f} < {args.min_f1}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
