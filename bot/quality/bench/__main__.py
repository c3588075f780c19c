"""Orchestration of ``python -m bot.quality.bench``: build, start, measure side by side,
write the report (what is measured: the package's docstring)."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import bot.quality.bench as package
from bot.quality.bench import systems as servers
from bot.quality.bench.accuracy import baseline_outcome_reader, held_out_cases, measure_accuracy
from bot.quality.bench.accuracy import our_outcome
from bot.quality.bench.load import (SEED, LoadRun, length_pairs, make_sessions,
                                   never_seen_questions, play, play_long_conversation,
                                   session_figures, split_blocks, stored_bytes)
from bot.quality.bench.output import REPORT_JSON, SYSTEMS, USERS, empty_result, write_report
from bot.quality.targets import BENCH_TARGETS, thresholds

WARM_UP_TURNS = 5
SESSION_TURNS = 200   # issue 15: turn 200 against turn 1
ONE_USER_BLOCKS = 5  # the 1-user phase alternates between the systems in blocks


@dataclass
class Running:
    processes: servers.Processes
    port: int


class Measurement:
    """The systems measured side by side, so that the others' work on this shared machine
    weighs on both alike: the 1-user phase alternates between the systems in blocks, the
    16-user phases follow one another, then memory and accuracy. A system that fails
    gets an ``error`` and leaves the run; ``save`` after each stage."""

    def __init__(self, report: dict, cases: list[dict], save: Callable[[], object]):
        self.results, self.details = report["systems"], report["details"]
        self.cases, self.save = cases, save
        self.running: dict[str, Running] = {}

    def fail(self, system: str, stage: str, exc: Exception) -> None:
        traceback.print_exc()
        self.results[system]["error"] = "; ".join(
            filter(None, [self.results[system].get("error"), f"{stage}: {exc}"]))
        if system in self.running:
            servers.stop(self.running.pop(system).processes)

    def start(self, system: str, tracker_dir: Path) -> None:
        print(f"  starting the {system} servers ...", flush=True)
        try:
            processes, port, load_s = servers.STARTERS[system](
                f"sqlite:///{tracker_dir / system}.db")
        except Exception as exc:  # noqa: BLE001 - recorded; the others go on
            self.fail(system, "start", exc)
            return
        self.running[system] = Running(processes, port)
        self.results[system]["load_s"] = round(load_s, 2)
        print(f"  {system}: Rasa loaded in {load_s:.1f} s", flush=True)

    def warm_up(self) -> None:
        for server in self.running.values():
            play(server.port, make_sessions(self.cases, WARM_UP_TURNS, seed=SEED - 1), 1)

    def note_load_average(self, system: str, users: int) -> None:
        samples = self.details[system].setdefault("_load_samples", {}).setdefault(str(users), [])
        samples.append(os.getloadavg()[0])  # others' work on this machine
        self.details[system].setdefault("load_average_1min", {})[str(users)] = round(
            sum(samples) / len(samples), 2)

    def load(self, users: int, turns: int) -> None:
        sessions = make_sessions(self.cases, turns, seed=SEED + users)
        blocks = split_blocks(sessions, ONE_USER_BLOCKS if users == 1 else 1)
        print(f"  load: {turns} turns, {users} user(s), {len(blocks)} block(s) "
              f"per system ...", flush=True)
        runs = {system: LoadRun() for system in self.running}
        for block in blocks:
            for system in list(self.running):
                try:
                    runs[system].add(play(self.running[system].port, block, users))
                    self.note_load_average(system, users)
                except Exception as exc:  # noqa: BLE001
                    self.fail(system, f"load {users}", exc)
        for system in self.running:
            self.results[system]["load"][str(users)] = runs[system].summary()
            print(f"    {system}: {self.results[system]['load'][str(users)]}", flush=True)
        self.save()

    def never_seen(self) -> None:
        """Each never-seen question once to each system, alternating question by
        question, one user, a new sender each."""
        texts = never_seen_questions()
        print(f"  never-seen questions: {len(texts)}, 1 user, alternating ...", flush=True)
        runs = {system: LoadRun() for system in self.running}
        for text in texts:
            for system in list(self.running):
                runs[system].add(play(self.running[system].port, [[text]], 1))
        for system, run in runs.items():
            self.results[system]["never_seen"] = run.summary()
            print(f"    {system}: {self.results[system]['never_seen']}", flush=True)
        self.save()

    def message_length(self) -> None:
        """Short questions (~20 characters) and the same questions after a candidate's
        story (~200), one user, a new sender each, alternating short, long and system by
        system: what a long message costs over a short one (p50)."""
        pairs = length_pairs()
        print(f"  message length: {len(pairs)} questions, ~20 and ~200 characters ...",
              flush=True)
        runs = {system: (LoadRun(), LoadRun()) for system in self.running}
        for short, long in pairs:
            for system in list(self.running):
                runs[system][0].add(play(self.running[system].port, [[short]], 1))
                runs[system][1].add(play(self.running[system].port, [[long]], 1))
        for system, (short_run, long_run) in runs.items():
            short_figures, long_figures = short_run.summary(), long_run.summary()
            over = (round(long_figures["p50_ms"] / short_figures["p50_ms"], 2)
                    if short_figures["p50_ms"] and long_figures["p50_ms"] else None)
            self.results[system]["length"] = {"short": short_figures, "long": long_figures,
                                              "long_over_short_p50": over}
            print(f"    {system}: p50 {short_figures['p50_ms']} -> {long_figures['p50_ms']} ms "
                  f"({over}x)", flush=True)
        self.save()

    def session_length(self, tracker_dir: Path, turns: int = SESSION_TURNS) -> None:
        """One conversation of ``turns`` turns per system: turn cost at the start and at
        the end, and the tracker bytes stored per turn."""
        texts = [t for case in self.cases for t in case["turns"]]
        texts = (texts * (turns // max(1, len(texts)) + 1))[:turns]
        print(f"  session length: one conversation of {turns} turns per system ...", flush=True)
        for system in list(self.running):
            sender, latencies = play_long_conversation(self.running[system].port, texts)
            size = stored_bytes(f"sqlite:///{tracker_dir / system}.db", sender)
            self.results[system]["session"] = session_figures(latencies, size, turns)
            print(f"    {system}: {self.results[system]['session']}", flush=True)
        self.save()

    def memory(self) -> None:
        for system, server in self.running.items():
            self.results[system]["rss_mb"] = {name: servers.rss_mb(process)
                                              for name, process in server.processes.items()}
            print(f"  {system}: resident memory (MB) {self.results[system]['rss_mb']}",
                  flush=True)

    def accuracy(self) -> None:
        for system in list(self.running):
            print(f"  {system}: accuracy over {len(self.cases)} held-out cases ...", flush=True)
            outcome = our_outcome if system == "assistant" else baseline_outcome_reader()
            try:
                self.results[system]["accuracy"], self.details[system]["accuracy"] = \
                    measure_accuracy(self.running[system].port, self.cases, outcome)
            except Exception as exc:  # noqa: BLE001
                self.fail(system, "accuracy", exc)
                continue
            print(f"    {self.results[system]['accuracy']}", flush=True)
            self.save()

    def run(self, chosen: list[str], turns: int) -> None:
        with tempfile.TemporaryDirectory(prefix="bench-trackers-") as tmp:
            try:
                for system in chosen:
                    self.start(system, Path(tmp))
                self.warm_up()
                self.never_seen()
                self.message_length()
                for users in USERS:
                    self.load(users, turns)
                self.session_length(Path(tmp))
                self.memory()
                self.accuracy()
            finally:
                for server in self.running.values():
                    servers.stop(server.processes)
                for system in chosen:
                    self.details[system].pop("_load_samples", None)


def new_report() -> dict:
    return {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "rasa": servers.rasa_version()},
        "targets": thresholds(BENCH_TARGETS),
        "systems": {system: empty_result(system) for system in SYSTEMS},
        "ratios": {},
        "details": {system: {} for system in SYSTEMS},  # beyond the shared shape: Markdown only
    }


def build(report: dict, chosen: Iterable[str], skip_train: bool) -> None:
    """Train (timed unless skipped) and, for ours, time the index build."""
    for system in chosen:
        print(f"[{system}] building", flush=True)
        result = report["systems"][system]
        try:
            result["train_s"] = servers.train(system, skip_train)
            if system == "assistant":
                result["index_build_s"] = servers.time_index_build()
        except Exception as exc:  # noqa: BLE001 - recorded; the other system still runs
            traceback.print_exc()
            result["error"] = f"build: {exc}"


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.quality.bench",
                                     description=package.__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500, help="turns per load phase (default 500)")
    parser.add_argument("--skip-train", action="store_true",
                        help="reuse the trained models; training time is reported as not measured")
    parser.add_argument("--only", choices=("assistant", "baseline"), default=None)
    parser.add_argument("--out", type=Path, default=REPORT_JSON,
                        help="JSON report path (the .md goes beside it)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    chosen = {"assistant": ("assistant",), "baseline": ("response_selector",)}.get(
        args.only, SYSTEMS)

    report = new_report()
    cases = held_out_cases()
    build(report, chosen, args.skip_train)
    ready = [system for system in chosen if servers.MODELS[system].exists()]
    print(f"[{', '.join(ready)}] measuring", flush=True)
    Measurement(report, cases, lambda: write_report(report, args.out)).run(ready, args.turns)

    text = write_report(report, args.out)
    print()
    print(text)
    print(f"written: {args.out} and {args.out.with_suffix('.md')}")
    return 1 if any("error" in report["systems"][s] for s in chosen) else 0


if __name__ == "__main__":
    sys.exit(main())
