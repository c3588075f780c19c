"""Run every regression case (tests/regression/*.yml) through the real assistant.

    .venv/bin/python scripts/eval_regression.py                 # starts its own servers
    .venv/bin/python scripts/eval_regression.py --rasa-url http://127.0.0.1:5005
    .venv/bin/python scripts/eval_regression.py -k deadline      # ids/files containing "deadline"

Without ``--rasa-url`` the action server and Rasa are started on free ports with a
throw-away SQLite tracker store and ASSISTANT_TODAY set to the date the cases pin.
Prints one row per case and a summary per group and per expected topic, writes
reports/eval.json (shape in docs/CONTRACTS.md). Exit status: 0 when every case passes
or is a known failure that still fails; 1 when a case fails or a known failure now
passes (remove its marker); 2 when the case files are invalid or the servers fail.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import PROJECT_ROOT  # noqa: E402
from bot.quality.regression import (REGRESSION_DIR, CaseFileError, CaseResult, Table,  # noqa: E402
                            expected_topic, known_entry_ids, known_procedures, load_cases,
                            pinned_today, results_json, run_case)

REPORT = PROJECT_ROOT / "reports" / "eval.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def verdict(result: CaseResult) -> str:
    if result.known_failure:
        return "XPASS" if result.passed else "xfail"
    return "pass" if result.passed else "FAIL"


def print_report(results: list[CaseResult], topics: dict[str, str]) -> None:
    table = Table(["id", "expect", "received", "result", "score", "ms"])
    for r in results:
        table.rows.append([r.id, r.expect, r.received, verdict(r),
                           "" if r.score is None else f"{r.score:.3f}", f"{r.latency_ms:.0f}"])
    print(table.render())
    for title, key in (("group", lambda r: r.file),
                       ("expected topic", lambda r: expected_topic(r.expect, topics))):
        groups: dict[str, list[CaseResult]] = {}
        for r in results:
            groups.setdefault(key(r), []).append(r)
        summary = Table([title, "cases", "passed", "rate"])
        for name, members in sorted(groups.items()):
            passed = sum(m.passed for m in members)
            rate = f"{passed / len(members):.0%}"
            summary.rows.append([name, str(len(members)), str(passed), rate])
        print()
        print(summary.render())
    problems = [r for r in results if r.passed == bool(r.known_failure)]
    if problems:
        print("\nProblems:")
        for r in problems:
            if r.known_failure:
                print(f"  XPASS {r.id}: passes now; remove its known_failure ({r.known_failure})")
            else:
                print(f"  FAIL  {r.id} [{r.file}] {' / '.join(r.turns)}: {r.problem()}")
    known = [r for r in results if r.known_failure and not r.passed]
    if known:
        print("\nKnown failures (still failing):")
        for r in known:
            print(f"  {r.id}: {r.problem()} — {r.known_failure}")
    passed = sum(r.passed for r in results)
    print(f"\n{passed}/{len(results)} passed ({passed / len(results):.1%}); "
          f"{len(known)} known failure(s), {len(problems)} problem(s)")


def run(rasa_url: str, cases, progress: bool) -> list[CaseResult]:
    results = []
    for n, case in enumerate(cases, start=1):
        result = run_case(rasa_url, case)
        results.append(result)
        if progress:
            print(f"[{n}/{len(cases)}] {verdict(result):5} {case.id}", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rasa-url", help="use a running Rasa server instead of starting one")
    parser.add_argument("--cases", type=Path, default=REGRESSION_DIR, help="folder of case files")
    parser.add_argument("--out", type=Path, default=REPORT,
                        help="JSON report (default reports/eval.json)")
    parser.add_argument("-k", dest="only",
                        help="run only cases whose id or file contains this text")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-case progress on stderr")
    args = parser.parse_args(argv)

    try:
        topics = known_entry_ids()
        cases = load_cases(args.cases, topics, known_procedures())
        today = pinned_today(cases)
    except CaseFileError as error:
        print(error, file=sys.stderr)
        return 2
    if args.only:
        cases = [c for c in cases if args.only in c.id or args.only in c.file]
        if not cases:
            print(f"no case id or file contains {args.only!r}", file=sys.stderr)
            return 2

    # `kill` must still stop the servers this script started (the finally below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    processes = {}
    rasa_url = args.rasa_url.rstrip("/") if args.rasa_url else None
    with tempfile.TemporaryDirectory(prefix="eval-tracker-") as tracker_dir:
        try:
            if rasa_url is None:
                from bot.servers import RASA_MODEL, Ports, start_all, stop_processes

                if not RASA_MODEL.exists():
                    print(f"{RASA_MODEL} is missing: run `make train`", file=sys.stderr)
                    return 2
                ports = Ports(actions=free_port(), rasa=free_port(), web=free_port())
                print(f"starting the action server and Rasa (ASSISTANT_TODAY={today}) …",
                      file=sys.stderr, flush=True)
                pin = {"ASSISTANT_TODAY": today.isoformat()} if today else None
                try:
                    processes = start_all(ports, run_dir=None, names=("actions", "rasa"),
                                          tracker_db_url=f"sqlite:///{tracker_dir}/tracker.db",
                                          extra_env=pin)
                except RuntimeError as error:
                    print(error, file=sys.stderr)
                    return 2
                rasa_url = f"http://127.0.0.1:{ports.rasa}"
                today = today or date.today()  # what the servers count deadlines against
            elif today:
                print(f"note: cases pin today={today}; the server at {rasa_url} must run with "
                      f"ASSISTANT_TODAY={today}", file=sys.stderr)
            try:
                results = run(rasa_url, cases, progress=not args.quiet)
            except OSError as error:
                print(f"cannot reach Rasa at {rasa_url}: {error}", file=sys.stderr)
                return 2
        finally:
            if processes:
                stop_processes(processes.values())

    print_report(results, topics)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    args.out.write_text(json.dumps(results_json(results, today, topics, generated),
                                   ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"report: {args.out}")
    failing = [r for r in results if r.passed == bool(r.known_failure)]
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
