"""Run every regression case (tests/regression/*.yml) and every conversation case
(tests/regression/conversations/*.yml) through the real assistant.

    .venv/bin/python -m bot.quality.eval                 # starts its own servers
    .venv/bin/python -m bot.quality.eval --rasa-url http://127.0.0.1:5005
    .venv/bin/python -m bot.quality.eval -k deadline      # ids/files containing "deadline"

Without ``--rasa-url`` the action server and Rasa are started on free ports with a
throw-away SQLite tracker store and ASSISTANT_TODAY set to the date the cases pin.
Prints one row per case and a summary per group and per expected topic, the turn and
conversation pass rates per file of conversations, writes
reports/eval.json (shape in docs/CONTRACTS.md). Exit status: 0 when every case passes
or is a known failure that still fails; 1 when a case fails or a known failure now
passes (remove its marker); 2 when the case files are invalid or the servers fail.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from bot import PROJECT_ROOT
from bot.knowledge.cases import (REGRESSION_DIR, Case, CaseFileError, Conversation, known_entry_ids,
                                 load_conversations,
                                 known_procedures, load_cases, pinned_today)
from bot.publish.gate import REQUEST_TIMEOUT_SECONDS, CaseResult, run_case
from bot.quality.regression import expected_topic, results_json
from bot.quality.conversations import (ConversationResult, conversation_summary,
                                       run_conversation)
from bot.knowledge.outcomes import describe, tally
from bot.quality import real_messages
from bot.rasa_client import RasaBadResponse, RasaClient, RasaUnavailable

REPORT = PROJECT_ROOT / "reports" / "eval.json"


@dataclass
class Table:
    """A plain-text table with aligned columns (CJK characters count double)."""

    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    @staticmethod
    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    def render(self) -> str:
        widths = [max([self.width(h)] + [self.width(r[i]) for r in self.rows])
                  for i, h in enumerate(self.headers)]

        def line(cells: list[str]) -> str:
            return "  ".join(c + " " * (w - self.width(c)) for c, w in zip(cells, widths)).rstrip()
        return "\n".join([line(self.headers), line(["-" * w for w in widths])]
                         + [line(r) for r in self.rows])


def verdict(result: CaseResult) -> str:
    if result.known_failure:
        return "XPASS" if result.passed else "xfail"
    return "pass" if result.passed else "FAIL"


def is_problem(result: CaseResult) -> bool:
    """A failing case, or a known failure that passes now."""
    return result.passed == bool(result.known_failure)


def print_tables(results: list[CaseResult], topics: dict[str, str]) -> None:
    """One row per case, then the pass rate per group and per expected topic."""
    table = Table(["id", "expect", "received", "result", "score", "ms"])
    for r in results:
        table.rows.append([r.id, r.expect, r.received, verdict(r),
                           "" if r.score is None else f"{r.score:.3f}", f"{r.latency_ms:.0f}"])
    print(table.render())
    keys: tuple[tuple[str, Callable[[CaseResult], str]], ...] = (
        ("group", lambda r: r.file),
        ("expected topic", lambda r: expected_topic(r.expect, topics)))
    for title, key in keys:
        groups: dict[str, list[CaseResult]] = {}
        for r in results:
            groups.setdefault(key(r), []).append(r)
        summary = Table([title, "cases", "passed", "rate"])
        for name, members in sorted(groups.items()):
            passed = sum(m.passed for m in members)
            summary.rows.append([name, str(len(members)), str(passed),
                                 f"{passed / len(members):.0%}"])
        print()
        print(summary.render())


def print_problems(results: list[CaseResult]) -> None:
    """What needs attention, the known failures, and the totals."""
    problems = [r for r in results if is_problem(r)]
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
    print(f"outcomes: {describe(tally(r.outcome for r in results))}")


def run_conversations(rasa_url: str, conversations: list[Conversation], progress: bool
                      ) -> list[ConversationResult]:
    """Every conversation case, each under its own sender."""
    results = []
    with RasaClient(rasa_url, timeout_seconds=REQUEST_TIMEOUT_SECONDS) as rasa:
        for n, conversation in enumerate(conversations, start=1):
            result = run_conversation(rasa, conversation)
            results.append(result)
            if progress:
                mark = ("XPASS" if result.passed else "xfail") if result.known_failure else (
                    "pass" if result.passed else "FAIL")
                print(f"[{n}/{len(conversations)}] {mark:5} {conversation.id}", file=sys.stderr,
                      flush=True)
    return results


def print_conversations(results: list[ConversationResult]) -> list[ConversationResult]:
    """Per-file turn and conversation pass rates; the conversations that need attention
    (failing, or a known failure that passes now) are returned."""
    summary = conversation_summary(results)
    table = Table(["conversations", "conversations passed", "turns", "turns passed", "turn rate"])
    for name, v in [*summary["by_file"].items(), ("all", summary)]:
        table.rows.append([f"{name} ({v['conversations']})", str(v["conversations_passed"]),
                           str(v["turns"]), str(v["turns_passed"]), f"{v['turn_pass_rate']:.1%}"])
    print()
    print(table.render())
    print(f"turn outcomes: {describe(summary['outcomes'])}")
    problems = [r for r in results if r.passed == bool(r.known_failure)]
    for r in problems:
        what = "passes now; remove its known_failure" if r.known_failure else r.problem()
        print(f"  {'XPASS' if r.known_failure else 'FAIL '} {r.id}: {what}")
    return problems


def run(rasa_url: str, cases: list[Case], progress: bool) -> list[CaseResult]:
    """Every case, one after another, over one kept-alive connection."""
    results = []
    with RasaClient(rasa_url, timeout_seconds=REQUEST_TIMEOUT_SECONDS) as rasa:
        for n, case in enumerate(cases, start=1):
            result = run_case(rasa, case)
            results.append(result)
            if progress:
                print(f"[{n}/{len(cases)}] {verdict(result):5} {case.id}", file=sys.stderr,
                      flush=True)
    return results


class CannotStart(Exception):
    """The servers this command would start cannot run."""


@contextmanager
def assistant(today: date | None) -> Iterator[str]:
    """The servers under their own supervisord on free ports, with a throw-away tracker
    store and ASSISTANT_TODAY pinned to ``today``; yields Rasa's URL, stops them afterwards."""
    from bot.servers import RASA_MODEL, Ports, Supervisor

    if not RASA_MODEL.exists():
        raise CannotStart(f"{RASA_MODEL} is missing: run `make train`")
    print(f"starting the servers (ASSISTANT_TODAY={today}) …", file=sys.stderr, flush=True)
    pin = {"ASSISTANT_TODAY": today.isoformat()} if today else {}
    with tempfile.TemporaryDirectory(prefix="eval-servers-") as var:
        supervisor = Supervisor(Ports.free(), var_dir=Path(var),
                                tracker_db_url=f"sqlite:///{var}/tracker.db", extra_env=pin)
        try:
            supervisor.start()
        except RuntimeError as error:
            raise CannotStart(str(error)) from error
        try:
            yield f"http://127.0.0.1:{supervisor.ports.rasa}"
        finally:
            supervisor.stop()


def run_real_messages(rasa_url: str, today: date | None, args: argparse.Namespace
                      ) -> list[real_messages.RealResult]:
    """The held-out real-style set (tests/real_messages/heldout.yml) when the whole
    default case folder runs and the set reads its relative dates against the same day."""
    if args.only or args.cases != REGRESSION_DIR:
        return []
    pinned, cases = real_messages.load_set(real_messages.SETS_DIR / "heldout.yml")
    if today and pinned and pinned != today:
        print(f"note: held-out set skipped: it pins {pinned}, the servers run on {today}",
              file=sys.stderr)
        return []
    return real_messages.run_set(rasa_url, cases, progress=not args.quiet)


def main(argv: list[str] | None = None) -> int:
    """The command line (over 60 lines: its options, then one run printed in order)."""
    parser = argparse.ArgumentParser(prog="python -m bot.quality.eval",
                                     description=__doc__.split("\n\n")[0])
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
    try:
        conversations = load_conversations() if args.cases == REGRESSION_DIR else []
    except CaseFileError as error:
        print(error, file=sys.stderr)
        return 2
    if args.only:
        cases = [c for c in cases if args.only in c.id or args.only in c.file]
        conversations = [c for c in conversations if args.only in c.id or args.only in c.file]
        if not cases and not conversations:
            print(f"no case id or file contains {args.only!r}", file=sys.stderr)
            return 2
    # `kill` must still stop the servers this command started (the context's finally).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    rasa_url = args.rasa_url.rstrip("/") if args.rasa_url else None
    try:
        if rasa_url is None:
            with assistant(today) as rasa_url:
                results = run(rasa_url, cases, progress=not args.quiet)
                talks = run_conversations(rasa_url, conversations, progress=not args.quiet)
                real = run_real_messages(rasa_url, today, args)
            today = today or date.today()  # what the servers counted deadlines against
        else:
            if today:
                print(f"note: cases pin today={today}; the server at {rasa_url} must run with "
                      f"ASSISTANT_TODAY={today}", file=sys.stderr)
            results = run(rasa_url, cases, progress=not args.quiet)
            talks = run_conversations(rasa_url, conversations, progress=not args.quiet)
            real = run_real_messages(rasa_url, today, args)
    except CannotStart as error:
        print(error, file=sys.stderr)
        return 2
    except (RasaUnavailable, RasaBadResponse) as error:
        print(f"cannot reach Rasa at {rasa_url}: {error}", file=sys.stderr)
        return 2

    problems = [r for r in results if is_problem(r)]
    if results:
        print_tables(results, topics)
        print_problems(results)
    if talks:
        problems += print_conversations(talks)
    if real:
        real_messages.print_set(real, "held-out real-style messages")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = results_json(results, today, topics, generated)
    if talks:
        report["conversations"] = {"summary": conversation_summary(talks),
                                   "results": [r.to_json() for r in talks]}
    if real:
        report["real_messages"] = {"summary": real_messages.set_summary(real),
                                   "results": [r.to_json() for r in real]}
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"report: {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
