"""Retrieval figures of the report: the engine on ``models/index`` over the dev set
(tests/data/retrieval_dev.yml), without a topic hint; Hit@1, MRR and the decision mix
overall, per topic and per kind of question, score distributions and the worst cases."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.quality.report.inputs import display_path, missing
from bot.stats import fraction

DECISIONS = ("answer", "did_you_mean", "no_answer")
WORST_CASES = 10


@dataclass(frozen=True)
class RetrievalCase:
    """One dev-set question and how retrieval ranked every entry for it."""
    text: str
    kind: str                        # colloquial | traditional | typo | short | long | offtopic
    expected: str | None             # entry id; None: the FAQ must not answer
    topic: str | None                # the expected entry's topic
    ranked: tuple[str, ...]          # every entry id, best first (empty: no words)
    top_score: float | None
    decision: str                    # answer | did_you_mean | no_answer

    @property
    def rank(self) -> int | None:
        """1-based rank of the expected entry, None if absent."""
        return rank_of(self.expected, self.ranked)

    @property
    def right_first(self) -> bool:
        return self.expected is not None and bool(self.ranked) and self.ranked[0] == self.expected

    @property
    def hit(self) -> bool:
        """Right entry first and not rejected (the Hit@1 the targets use)."""
        return self.right_first and self.decision != "no_answer"


def rank_of(expected: str | None, ranked) -> int | None:
    if expected is None:
        return None
    for i, entry_id in enumerate(ranked, 1):
        if entry_id == expected:
            return i
    return None


def reciprocal_rank(expected: str | None, ranked) -> float:
    rank = rank_of(expected, ranked)
    return 1.0 / rank if rank else 0.0


def summarise_cases(cases: list[RetrievalCase]) -> dict:
    """Hit@1 (right first, not rejected), ranking Hit@1, MRR and the decision mix."""
    n = len(cases)
    decisions = Counter(c.decision for c in cases)
    return {
        "n": n,
        "hit_at_1": fraction(sum(c.hit for c in cases), n),
        "rank_hit_at_1": fraction(sum(c.right_first for c in cases), n),
        "mrr": fraction(sum(reciprocal_rank(c.expected, c.ranked) for c in cases), n),
        "decisions": {d: decisions.get(d, 0) for d in DECISIONS},
        "decision_rates": {d: fraction(decisions.get(d, 0), n) for d in DECISIONS},
    }


def _case_row(c: RetrievalCase) -> dict:
    return {"text": c.text, "kind": c.kind, "expected": c.expected, "topic": c.topic,
            "got": c.ranked[0] if c.ranked else None, "score": c.top_score,
            "decision": c.decision, "rank": c.rank}


def summarise_retrieval(cases: list[RetrievalCase], thresholds: dict, problems=()) -> dict:
    """Figures over in-scope and off-topic cases, per topic and per kind."""
    in_scope = [c for c in cases if c.expected is not None]
    off_topic = [c for c in cases if c.expected is None]
    by_topic: dict[str, list] = {}
    by_kind: dict[str, list] = {}
    for c in in_scope:
        by_topic.setdefault(c.topic or "(unknown entry)", []).append(c)
        by_kind.setdefault(c.kind, []).append(c)
    off = summarise_cases(off_topic)
    wrong = sorted((c for c in in_scope if not c.right_first),
                   key=lambda c: -(c.top_score or 0.0))
    rejected_in_scope = [c for c in in_scope if c.right_first and c.decision == "no_answer"]
    let_through = sorted((c for c in off_topic if c.decision != "no_answer"),
                         key=lambda c: -(c.top_score or 0.0))
    return {
        "status": "ok",
        "thresholds": thresholds,
        "overall": summarise_cases(in_scope),
        "by_topic": {t: summarise_cases(cs) for t, cs in sorted(by_topic.items())},
        "by_kind": {k: summarise_cases(cs) for k, cs in sorted(by_kind.items())},
        "off_topic": {"n": off["n"], "decisions": off["decisions"],
                      "rejection": off["decision_rates"]["no_answer"]},
        "fallback": {"off_topic_no_answer": off["decision_rates"]["no_answer"],
                     "in_scope_no_answer": fraction(sum(c.decision == "no_answer" for c in in_scope),
                                                 len(in_scope))},
        "scores": {"right_first": _scores(c for c in in_scope if c.right_first),
                   "wrong_first": _scores(c for c in in_scope if not c.right_first),
                   "off_topic": _scores(off_topic)},
        "worst": {"wrong_first": [_case_row(c) for c in wrong[:WORST_CASES]],
                  "right_but_rejected": [_case_row(c) for c in rejected_in_scope[:WORST_CASES]],
                  "off_topic_answered": [_case_row(c) for c in let_through[:WORST_CASES]]},
        "problems": list(problems),
    }


def _scores(cases) -> list[float]:
    return [c.top_score for c in cases if c.top_score is not None]


def load_dev_cases(path: Path) -> tuple[list[dict], list[str]]:
    """The dev cases and the problems found (bad cases are skipped, not fatal)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    raw = data.get("cases") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of cases under `cases:`")
    cases, problems = [], []
    for i, case in enumerate(raw, 1):
        if not isinstance(case, dict) or not isinstance(case.get("text"), str):
            problems.append(f"case {i}: no text, skipped")
            continue
        expected = case.get("expected")
        cases.append({"text": case["text"], "expected": str(expected) if expected else None,
                      "kind": str(case.get("kind") or ("offtopic" if not expected else "unknown"))})
    return cases, problems


def run_retrieval(engine, cases: list[dict]) -> tuple[list[RetrievalCase], list[str]]:
    """Rank every entry for each case with the engine (no topic hint) and take the same
    decision ``engine.answer`` takes on the best score. The questions are embedded ahead
    in one batch into the engine's query cache; ranking and decision are the engine's own."""
    from bot.retrieval.engine import decide

    queries = [engine.prepare(c["text"]) for c in cases]
    engine.prefetch(queries)
    s = engine.settings
    n_entries = len(engine.kb.entries)
    out, problems = [], []
    for case, query in zip(cases, queries, strict=True):
        expected = case["expected"]
        topic = None
        if expected is not None:
            try:
                topic = engine.kb.entry(expected).topic
            except KeyError:
                problems.append(f"expected entry {expected!r} does not exist ({case['text']!r})")
        hits = engine.search_query(query, k=n_entries, kinds=("entry",))
        top = hits[0].score if hits else None
        decision = decide(top, s.answer_threshold, s.floor) if hits else "no_answer"
        out.append(RetrievalCase(text=case["text"], kind=case["kind"], expected=expected, topic=topic,
                                 ranked=tuple(h.id for h in hits), top_score=top, decision=decision))
    return out, problems


def retrieval_section(dev_file: Path, engine=None) -> dict:
    """Load the engine (unless given) and evaluate the dev set; never raises."""
    if not Path(dev_file).exists():
        return missing("retrieval", f"not run yet: {dev_file} does not exist")
    try:
        cases, problems = load_dev_cases(dev_file)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return {"status": "error", "message": f"cannot read the dev set: {exc}"}
    if engine is None:
        from bot.retrieval.index import IndexUnusableError
        from bot.knowledge.entries import KnowledgeBaseError
        from bot.retrieval.engine import load_engine
        try:
            engine = load_engine()
        except (IndexUnusableError, KnowledgeBaseError) as exc:
            return missing("retrieval", f"not run yet: the index is not usable "
                                        f"({str(exc).splitlines()[0]}); run `make index`")
        except Exception as exc:    # the report goes on without this part
            return {"status": "error", "message": f"cannot load the retrieval engine: {exc}"}
    try:
        ranked, run_problems = run_retrieval(engine, cases)
    except Exception as exc:
        return {"status": "error", "message": f"retrieval failed on the dev set: {exc}"}
    s = engine.settings
    thresholds = {"answer_threshold": s.answer_threshold, "floor": s.floor,
                  "hinted_answer_threshold": s.hinted_answer_threshold, "topic_boost": s.topic_boost}
    figures = summarise_retrieval(ranked, thresholds, problems + run_problems)
    figures["dev_file"] = display_path(dev_file)
    return figures
