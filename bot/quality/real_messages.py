"""The real-style message sets (``tests/real_messages/``, issue 22) run through the real
assistant and scored right / safe miss / wrong, overall and per class of message.

    .venv/bin/python -m bot.quality.real_messages                  # held-out set, own servers
    .venv/bin/python -m bot.quality.real_messages --set dev        # the development set
    .venv/bin/python -m bot.quality.real_messages --rasa-url http://127.0.0.1:5005

``heldout.yml`` measures; ``dev.yml`` is the one to tune on. `make eval` runs the held-out
set too (``real_messages`` in reports/eval.json). Writes reports/real_messages[-dev].json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bot import PROJECT_ROOT
from bot.knowledge.cases import (FALLBACK, REPLY_KINDS, expected_in, known_entry_ids,
                                 known_procedures, received_label)
from bot.knowledge.outcomes import describe, outcome, tally
from bot.rasa_client import RasaClient

SETS_DIR = PROJECT_ROOT / "tests" / "real_messages"
CLASSES = ("long", "multi", "follow_up", "dates", "mixed", "instruction", "repeated", "everyday")
REQUEST_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class RealCase:
    id: str
    kind: str                   # the class of message
    turns: tuple[str, ...]
    expect: tuple[str, ...]     # any of these is right


@dataclass
class RealResult:
    id: str
    kind: str
    turns: list[str]
    expect: list[str]
    received: str
    outcome: str
    latency_ms: float
    reply: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load_set(path: Path) -> tuple[date | None, list[RealCase]]:
    """(the day the set is read against, its cases); ValueError naming every problem."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries, procedures = set(known_entry_ids()), known_procedures()
    allowed = entries | {FALLBACK, *REPLY_KINDS} | {f"deadline:{p}" for p in procedures}
    problems, cases, seen = [], [], set()
    for n, item in enumerate(raw.get("cases") or [], start=1):
        case_id = item.get("id") if isinstance(item, dict) else None
        where = f"{Path(path).name} case {case_id or n}"
        if not isinstance(item, dict) or not case_id or case_id in seen:
            problems.append(f"{where}: needs a unique id")
            continue
        seen.add(case_id)
        turns, expect = item.get("turns") or [], item.get("expect") or []
        if item.get("class") not in CLASSES:
            problems.append(f"{where}: class must be one of {', '.join(CLASSES)}")
        if not turns or not all(isinstance(t, str) and t.strip() for t in turns):
            problems.append(f"{where}: turns must be a list of messages")
        unknown = [e for e in expect if e not in allowed]
        if not expect or unknown:
            problems.append(f"{where}: expect must list known outcomes (unknown: {unknown})")
        cases.append(RealCase(case_id, item.get("class"), tuple(turns), tuple(expect)))
    if problems:
        raise ValueError("\n".join(problems))
    today = raw.get("today")
    return (date.fromisoformat(str(today)) if today else None), cases


def run_case(client: RasaClient, case: RealCase) -> RealResult:
    """Every turn under a fresh sender; the last reply scored."""
    sender = f"real-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    reply = None
    for turn in case.turns:
        reply = client.send(sender, turn)
    latency = (time.perf_counter() - started) * 1000 / len(case.turns)
    custom = reply.custom if reply else {}
    messages = [m.custom for m in reply.messages if m.custom] if reply else []
    right = any(expected_in(e, c) for e in case.expect for c in messages or [custom])
    return RealResult(case.id, case.kind, list(case.turns), list(case.expect),
                      received_label(custom), outcome(right, custom), round(latency, 1),
                      reply.text if reply else "")


def run_set(rasa_url: str, cases: list[RealCase], progress: bool = False) -> list[RealResult]:
    results = []
    with RasaClient(rasa_url, timeout_seconds=REQUEST_TIMEOUT_SECONDS) as client:
        for n, case in enumerate(cases, start=1):
            results.append(run_case(client, case))
            if progress:
                print(f"[{n}/{len(cases)}] {results[-1].outcome:9} {case.id}", file=sys.stderr,
                      flush=True)
    return results


def set_summary(results: list[RealResult]) -> dict[str, Any]:
    """Overall and per-class right / safe miss / wrong."""
    return {**tally(r.outcome for r in results),
            "by_class": {kind: tally(r.outcome for r in results if r.kind == kind)
                         for kind in CLASSES if any(r.kind == kind for r in results)}}


def print_set(results: list[RealResult], title: str) -> None:
    summary = set_summary(results)
    print(f"\n{title}: {describe(summary)}")
    for kind, row in summary["by_class"].items():
        print(f"  {kind:12} {describe(row)}")
    for r in results:
        if r.outcome != "right":
            print(f"  {r.outcome.upper():9} {r.id}: {' / '.join(r.turns)} → {r.received} "
                  f"(expected {', '.join(r.expect)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.quality.real_messages",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="heldout", help="heldout | dev | a path to a set file")
    parser.add_argument("--rasa-url", help="use a running Rasa server instead of starting one")
    parser.add_argument("--out", type=Path, help="JSON report (default reports/real_messages…)")
    args = parser.parse_args(argv)
    path = Path(args.set) if args.set.endswith(".yml") else SETS_DIR / f"{args.set}.yml"
    try:
        today, cases = load_set(path)
    except (OSError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    if args.rasa_url:
        results = run_set(args.rasa_url.rstrip("/"), cases, progress=True)
    else:
        from bot.quality.eval import assistant

        with assistant(today) as url:
            results = run_set(url, cases, progress=True)
    print_set(results, path.stem)
    suffix = "" if path.stem == "heldout" else f"-{path.stem}"
    out = args.out or PROJECT_ROOT / "reports" / f"real_messages{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"set": path.stem, "summary": set_summary(results),
                               "cases": [r.to_json() for r in results]},
                              ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
