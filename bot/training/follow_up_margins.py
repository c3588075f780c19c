"""Build step: choose the follow-up decision's margins on development pairs.

``python -m bot.training.follow_up_margins [--write]`` reads ``tests/data/follow_up_dev.yml``
(an answered question, then a message leaning on it), answers every pair with every
combination of margins on a grid, and prints the accuracy of each; ``--write`` stores the
best (ties: the smaller margins) as ``follow_up`` in ``data/faq/retrieval.yml``. The
conversation regression cases are never read here.
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

from bot import PROJECT_ROOT, datafiles
from bot.dialogue.faq import answer_turn
from bot.dialogue.follow_up import Margins
from bot.dialogue.message import read_message
from bot.dialogue.state import DialogueState
from bot.retrieval.engine import load_engine

DEV_FILE = PROJECT_ROOT / "tests" / "data" / "follow_up_dev.yml"
GRID = {"over_alone": (0.0, 0.05, 0.1, 0.2), "same_entry": (0.0, 0.1, 0.2, 0.3, 0.5),
        "in_topic": (0.2, 0.3, 0.4, 1.01), "clarify_floor": (0.1, 0.2, 0.3, 1.01)}


def outcome(custom: dict) -> str:
    """An entry id, or the kind of reply (clarify, fallback, did_you_mean …)."""
    return custom.get("entry_id") if custom.get("kind") == "faq_answer" else str(custom.get("kind"))


def first_turns(engine, pairs: list[dict]) -> list[DialogueState]:
    """The state each pair's first question leaves."""
    states = []
    for pair in pairs:
        turn = answer_turn(read_message(pair["first"]), DialogueState(), engine)
        states.append(DialogueState(**{k: v for k, v in turn.slots.items()
                                       if k in DialogueState.__dataclass_fields__}))
    return states


def accuracy(engine, pairs: list[dict], states: list[DialogueState], limits: Margins) -> float:
    right = 0
    for pair, state in zip(pairs, states, strict=True):
        turn = answer_turn(read_message(pair["then"]), state, engine, limits)
        right += outcome(turn.reply.custom) == pair["expected"]
    return right / len(pairs)


def write_margins(limits: Margins, score: float, path: Path) -> None:
    """Replace the ``follow_up`` block of retrieval.yml (kept last in the file)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\n# Follow-up margins.*\Z", "", text, flags=re.S).rstrip("\n")
    block = (f"\n# Follow-up margins (bot/dialogue/follow_up.py), chosen by "
             f"`python -m bot.training.follow_up_margins --write` on tests/data/follow_up_dev.yml: "
             f"accuracy {score:.1%}.\nfollow_up:\n"
             f"  over_alone: {limits.over_alone}\n  same_entry: {limits.same_entry}\n"
             f"  in_topic: {limits.in_topic}\n  clarify_floor: {limits.clarify_floor}\n")
    path.write_text(text + "\n" + block, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.training.follow_up_margins",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the best in retrieval.yml")
    args = parser.parse_args(argv)
    pairs = datafiles.read_yaml(DEV_FILE)["pairs"]
    engine = load_engine()
    states = first_turns(engine, pairs)
    results = []
    for values in itertools.product(*GRID.values()):
        limits = Margins(**dict(zip(GRID, values, strict=True)))
        results.append((accuracy(engine, pairs, states, limits), limits))
    results.sort(key=lambda r: (-r[0], r[1].over_alone, r[1].same_entry, r[1].clarify_floor))
    for score, limits in results[:10]:
        print(f"{score:.1%}  {limits}")
    best_score, best = results[0]
    print(f"current margins: {accuracy(engine, pairs, states, Margins()):.1%} with defaults")
    if args.write:
        write_margins(best, best_score, datafiles.paths().retrieval_config)
        print(f"written: {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
