"""The command line of the quality report: ``python -m bot.quality.report [--help]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bot.quality.report as package
from bot.quality.report.figures import (DEFAULT_DEV, DEFAULT_NLU, DEFAULT_REPORTS, build_figures,
                                        write_report)
from bot.quality.report.inputs import display_path


def headline_line(row: dict) -> str:
    """One target of the headline as the terminal shows it."""
    mark = {True: "met", False: "NOT met", None: f"not run yet ({row['run']})"}[row["met"]]
    value = "-" if row["value"] is None else (f"{row['value']:.3f}" if isinstance(row["value"], float)
                                              else row["value"])
    target = "" if row["target"] is None else f" (target {row['direction']} {row['target']})"
    return f"  {row['name']:34} {value}{target}: {mark}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bot.quality.report",
                                 description=package.__doc__.splitlines()[0])
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
        print(headline_line(row))
    print(f"quality report: {display_path(html_path)} (figures: {display_path(json_path)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
