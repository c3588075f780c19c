"""Calibrate the entry classifier's thresholds (and optionally its settings).

Measures, with the configured encoder and classifier settings:
  (a) k-fold cross-validation over the classifier's own training data — the entries'
      questions and paraphrases and the out-of-scope questions
      (``data/faq/out_of_scope.yml``): every text is scored by a model that did not
      see it, which is how new in-scope questions and near misses score;
  (b) the held-out off-topic list ``data/faq/calibration_offtopic.yml`` (never
      trained on), scored by the model trained on everything.
Chooses
  floor            = lowest value that rejects >= --reject (0.93) of both the
                     cross-validated out-of-scope questions and the held-out list;
  answer_threshold = lowest value >= floor where cross-validated answers are right
                     >= --precision (0.95) and <= --leak (0.02) of out-of-scope reach it;
  hinted_answer_threshold = the same with the right topic as hint (Rasa confident);
  topic_boost      = maximises 0.85·Hit@1 with the right hint + 0.15·with a wrong one.
``--tune`` first picks the classifier's C and vector weight by cross-validated
Hit@1 at the 95 % rejection floor. With ``--write`` it rewrites
data/faq/retrieval.yml with the figures as comments. The figures on
tests/data/retrieval_dev.yml are reported too (never used for choosing).

Usage: .venv/bin/python -m bot.training.calibrate [--tune] [--write]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import date

import numpy as np
import yaml

from bot import PROJECT_ROOT
from bot.datafiles import calibration_offtopic
from bot.knowledge.entries import load_knowledge_base
from bot.lang.vocabulary import matching_form
from bot.retrieval import ranker
from bot.retrieval.embedding import get_encoder
from bot.retrieval.engine import rank_by_confidence
from bot.retrieval.index import cached_encode, collect_rows, entry_texts
from bot.retrieval.settings import load_settings

DEV_FILE = PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml"
CACHE_DIR = PROJECT_ROOT / "models" / "calibration-cache"
BOOSTS = (0.0, 0.05, 0.1, 0.2, 0.3)
GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
TUNE_C = (10.0, 20.0, 50.0)
TUNE_WEIGHT = (3.0, 4.0, 6.0)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


class Data:
    """Texts, labels and vectors of the training set and the held-out lists."""

    def __init__(self, settings, encoder):
        kb = load_knowledge_base(settings.entries_dir, settings.sources_dir)
        rows = [r for r in collect_rows(kb) if r.is_entry]
        self.topic_of = {e.id: e.topic for e in kb.entries}
        negatives = ranker.read_out_of_scope(settings.out_of_scope_file)
        self.texts = [r.text for r in rows] + negatives
        self.labels = [r.ref for r in rows] + [ranker.NONE] * len(negatives)
        # An entry text is indexed in two forms (matching form, and as written): both stay
        # in one fold, or a question would be tested against its own twin.
        origin = {(entry.id, form): f"{entry.id}/{n}" for entry in kb.entries
                  for n, text in enumerate([entry.question, *entry.paraphrases])
                  for form in reversed(entry_texts(text))}
        self.groups = [origin.get((r.ref, r.text), f"{r.ref}/{r.text}") for r in rows]
        self.groups += [f"none/{n}" for n in range(len(negatives))]
        # held-out questions read as the assistant reads a message (bot.lang.vocabulary)
        self.held_texts = [matching_form(q["text"])[: settings.max_query_chars]
                           for q in calibration_offtopic()]
        dev = yaml.safe_load(DEV_FILE.read_text(encoding="utf-8"))["cases"] if DEV_FILE.exists() else []
        self.dev_texts = [matching_form(str(c["text"]))[: settings.max_query_chars] for c in dev]
        self.dev_expected = [c.get("expected") for c in dev]
        everything = self.texts + self.held_texts + self.dev_texts
        vectors, _ = cached_encode(encoder, everything, CACHE_DIR)
        n, h = len(self.texts), len(self.held_texts)
        self.vectors, self.held_vectors, self.dev_vectors = vectors[:n], vectors[n:n + h], vectors[n + h:]


def out_of_fold(data: Data, settings: ranker.ClassifierSettings, folds: int, seed: int = 0):
    """Entry confidences (n, entries) of every training text from a model that did not
    see it, and the entry ids in column order."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels = np.array(data.labels)
    entry_ids = sorted(set(data.labels) - {ranker.NONE})
    proba = np.zeros((len(labels), len(entry_ids)))
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(labels, labels, groups=data.groups):
        model = ranker.train([data.texts[i] for i in train_idx], list(labels[train_idx]),
                             data.vectors[train_idx], settings)
        assert model.entry_ids == entry_ids
        proba[test_idx] = model.probabilities([data.texts[i] for i in test_idx],
                                              data.vectors[test_idx])[:, :-1]
    return proba, entry_ids


def ranked_best(proba, entry_ids, topics, hints, boost):
    """(best entry id, its confidence) per row, ranking with the given topic hints."""
    out = []
    for row, hint in zip(proba, hints):
        i = rank_by_confidence(row, topics, hint, boost)[0]
        out.append((entry_ids[i], float(row[i])))
    return out


def lowest(grid, ok) -> float | None:
    for value in grid:
        if ok(value):
            return float(value)
    return None


def evaluate(best, expected, floor, answer):
    """Hit@1 (right and not rejected), answered share, answer precision, rejected share."""
    right = np.array([b == e for (b, _), e in zip(best, expected)])
    conf = np.array([c for _, c in best])
    answered = conf >= answer
    return dict(hit=float(np.mean(right & (conf >= floor))), answered=float(answered.mean()),
                precision=float(right[answered].mean()) if answered.any() else 1.0,
                rejected=float(np.mean(conf < floor)))


def choose(data: Data, settings, classifier: ranker.ClassifierSettings, args, verbose=True):
    proba, entry_ids = out_of_fold(data, classifier, args.folds)
    topics = [data.topic_of[i] for i in entry_ids]
    labels = data.labels
    ins = [i for i, label in enumerate(labels) if label != ranker.NONE]
    neg = [i for i, label in enumerate(labels) if label == ranker.NONE]
    expected = [labels[i] for i in ins]
    plain_in = ranked_best(proba[ins], entry_ids, topics, [None] * len(ins), 0.0)
    neg_conf = np.array([c for _, c in ranked_best(proba[neg], entry_ids, topics, [None] * len(neg), 0.0)])
    full = ranker.train(data.texts, labels, data.vectors, classifier)
    held_conf = full.probabilities(data.held_texts, data.held_vectors)[:, :-1].max(1)
    floor = lowest(GRID, lambda f: np.mean(neg_conf < f) >= args.reject and np.mean(held_conf < f) >= args.reject)
    if floor is None:
        floor = float(GRID[-1])
    rank1 = float(np.mean([b == e for (b, _), e in zip(plain_in, expected)]))
    hit_at_floor = evaluate(plain_in, expected, floor, 1.0)["hit"]
    if verbose:
        print(f"  C={classifier.c} w={classifier.vector_weight}: CV rank@1 {pct(rank1)}, floor {floor:.2f} "
              f"→ Hit@1 {pct(hit_at_floor)}")
    result = dict(proba=proba, entry_ids=entry_ids, topics=topics, ins=ins, neg=neg, expected=expected,
                  plain_in=plain_in, neg_conf=neg_conf, held_conf=held_conf, full=full, floor=floor,
                  rank1=rank1, hit_at_floor=hit_at_floor)
    return result


def tune(data: Data, settings, classifier: ranker.ClassifierSettings, args):
    """The classifier settings (C, vector weight) with the best cross-validated Hit@1 at
    the rejection floor, and the table of every candidate tried."""
    print("tuning the classifier (cross-validated Hit@1 at the rejection floor):")
    tuning = []
    for c in TUNE_C:
        for w in TUNE_WEIGHT:
            candidate = replace(classifier, c=c, vector_weight=w)
            r = choose(data, settings, candidate, args)
            tuning.append((c, w, r["rank1"], r["floor"], r["hit_at_floor"]))
    c, w = max(tuning, key=lambda t: (round(t[4], 3), round(t[2], 3)))[:2]
    print(f"  using C={c}, vector weight {w}")
    return replace(classifier, c=c, vector_weight=w), tuning


def precise(threshold: float, best, expected, neg_conf, args) -> bool:
    """Answers from ``threshold`` up are right often enough and few out-of-scope reach it."""
    conf = np.array([c for _, c in best])
    ok = np.array([b == e for (b, _), e in zip(best, expected)])
    answered = conf >= threshold
    return ((not answered.any() or ok[answered].mean() >= args.precision)
            and np.mean(neg_conf >= threshold) <= args.leak)


def lowest_precise(best, r: dict, floor: float, args) -> float | None:
    """The lowest threshold from ``floor`` up at which ``best`` is precise enough."""
    return lowest([g for g in GRID if g >= floor],
                  lambda t: precise(t, best, r["expected"], r["neg_conf"], args))


def boost_table(data: Data, r: dict, floor: float) -> list[tuple]:
    """(boost, Hit@1 with the right topic as hint, with a wrong one, the hinted ranking)
    for every boost tried."""
    rng = np.random.default_rng(0)
    all_topics = sorted(set(r["topics"]))
    true_hints = [data.topic_of[e] for e in r["expected"]]
    wrong_hints = [rng.choice([t for t in all_topics if t != h]) for h in true_hints]
    table = []
    for b in BOOSTS:
        with_true = ranked_best(r["proba"][r["ins"]], r["entry_ids"], r["topics"], true_hints, b)
        with_wrong = ranked_best(r["proba"][r["ins"]], r["entry_ids"], r["topics"], wrong_hints, b)
        table.append((b, evaluate(with_true, r["expected"], floor, 1.0)["hit"],
                      evaluate(with_wrong, r["expected"], floor, 1.0)["hit"], with_true))
    return table


def hinted_threshold(data: Data, r: dict, hinted, floor: float, answer: float, args) -> float:
    """The answer threshold when Rasa's intent names the best entry's topic (never above
    the plain one); an answer outside the hinted topic does not count as answered."""
    true_hints = [data.topic_of[e] for e in r["expected"]]
    in_topic = [(b, c) if data.topic_of.get(b) == h else (b, 0.0)
                for (b, c), h in zip(hinted, true_hints)]
    return min(lowest_precise(in_topic, r, floor, args) or answer, answer)


def print_choice(r: dict, chosen: dict, floor: float, answer: float, hinted_answer: float,
                 boost: float, boosts: list[tuple]) -> None:
    plain_in, expected, neg_conf = r["plain_in"], r["expected"], r["neg_conf"]
    ins_conf = np.array([c for _, c in plain_in])
    right = np.array([b == e for (b, _), e in zip(plain_in, expected)])
    held_rejected = float(np.mean(r["held_conf"] < floor))
    print(f"cross-validated: rank@1 {pct(r['rank1'])}; confidence of right answers median "
          f"{np.median(ins_conf[right]):.2f}, of out-of-scope p95 {np.quantile(neg_conf, 0.95):.2f}")
    print(f"chosen floor {floor:.2f}, answer {answer:.2f}, hinted answer {hinted_answer:.2f}, boost {boost}")
    print(f"  CV Hit@1 {pct(chosen['hit'])}, answered {pct(chosen['answered'])} "
          f"(precision {pct(chosen['precision'])}); out-of-scope rejected {pct(np.mean(neg_conf < floor))}, "
          f"answered {pct(np.mean(neg_conf >= answer))}; held-out off-topic rejected {pct(held_rejected)}")
    for b, right_h, wrong_h, _ in boosts:
        print(f"  boost {b:.2f}: Hit@1 with right hint {pct(right_h)}, wrong hint {pct(wrong_h)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.training.calibrate",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--reject", type=float, default=0.93)
    parser.add_argument("--precision", type=float, default=0.95)
    parser.add_argument("--leak", type=float, default=0.02)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tune", action="store_true", help="also choose C and the vector weight")
    parser.add_argument("--write", action="store_true", help="rewrite data/faq/retrieval.yml")
    args = parser.parse_args(argv)

    settings = load_settings()
    encoder = get_encoder(settings)
    data = Data(settings, encoder)
    n_in = sum(label != ranker.NONE for label in data.labels)
    print(f"{n_in} entry texts, {len(data.labels) - n_in} out-of-scope, "
          f"{len(data.held_texts)} held-out off-topic, {len(data.dev_texts)} dev cases")
    classifier, tuning = settings.classifier, []
    if args.tune:
        classifier, tuning = tune(data, settings, classifier, args)
    r = choose(data, settings, classifier, args)
    floor, neg_conf = r["floor"], r["neg_conf"]
    answer = lowest_precise(r["plain_in"], r, floor, args) or float(GRID[-1])
    boosts = boost_table(data, r, floor)
    boost, _, _, hinted = max(boosts, key=lambda t: (round(0.85 * t[1] + 0.15 * t[2], 3), -t[0]))
    hinted_answer = hinted_threshold(data, r, hinted, floor, answer, args)
    chosen = evaluate(r["plain_in"], r["expected"], floor, answer)
    print_choice(r, chosen, floor, answer, hinted_answer, boost, boosts)
    dev_line = dev_figures(data, r["full"], floor, answer)
    if dev_line:
        print(dev_line)
    if args.write:
        write_config(settings, classifier, floor, answer, hinted_answer, boost, dict(
            date=date.today().isoformat(), model=encoder.model_id, n_in=n_in, n_neg=len(r["neg"]),
            n_held=len(data.held_texts), rank1=r["rank1"], chosen=chosen,
            held=float(np.mean(r["held_conf"] < floor)),
            neg_rej=float(np.mean(neg_conf < floor)), neg_ans=float(np.mean(neg_conf >= answer)),
            boosts=[t[:3] for t in boosts], tuning=tuning, args=args, dev=dev_line))
        print(f"wrote {settings.retrieval_config}")
    return 0


def dev_figures(data: Data, model, floor: float, answer: float) -> str:
    if not data.dev_texts:
        return ""
    conf = model.probabilities(data.dev_texts, data.dev_vectors)[:, :-1]
    best = [model.entry_ids[i] for i in conf.argmax(1)]
    top = conf.max(1)
    ins = [i for i, e in enumerate(data.dev_expected) if e]
    off = [i for i, e in enumerate(data.dev_expected) if not e]
    hit = np.mean([best[i] == data.dev_expected[i] and top[i] >= floor for i in ins])
    answered = np.mean([top[i] >= answer for i in ins])
    rejected = np.mean([top[i] < floor for i in off])
    return (f"dev set ({len(ins)} in-scope, {len(off)} off-topic): Hit@1 {pct(hit)}, answered directly "
            f"{pct(answered)}, off-topic no_answer {pct(rejected)}")


def write_config(settings, classifier, floor, answer, hinted, boost, m) -> None:
    a = m["args"]
    c = m["chosen"]
    lines = [
        "# Retrieval settings (read by bot/retrieval/settings.py).",
        "# Written by python -m bot.training.calibrate --write; edit the choice rules there, not here.",
        "#",
        f"# Calibration of {m['date']} with {m['model']}; entry classifier (bot/retrieval/ranker.py):",
        f"#  {a.folds}-fold cross-validation over {m['n_in']} entry questions/paraphrases and {m['n_neg']}",
        f"#  out-of-scope questions; held-out off-topic list: {m['n_held']} questions.",
        f"#  Cross-validated rank@1 (best entry right, before thresholds): {pct(m['rank1'])}.",
        f"# Choice: floor = lowest confidence rejecting ≥ {a.reject:.0%} of the cross-validated out-of-scope",
        f"#   questions and of the held-out list; answer_threshold = lowest ≥ floor with answers ≥ {a.precision:.0%}",
        f"#   right and ≤ {a.leak:.0%} of out-of-scope reaching it; hinted_answer_threshold: the same when Rasa's",
        "#   intent (confidence ≥ 0.8) names the best entry's topic.",
        f"# With these: CV Hit@1 (right, not rejected) {pct(c['hit'])}; answered directly {pct(c['answered'])}"
        f" (precision {pct(c['precision'])});",
        f"#   out-of-scope rejected {pct(m['neg_rej'])}, answered {pct(m['neg_ans'])}; held-out off-topic "
        f"rejected {pct(m['held'])}.",
        "# Topic boost (ranking only): CV Hit@1 with the right intent as hint / with a wrong one;",
        "#   chosen to maximise 0.85·right + 0.15·wrong:",
    ]
    for b, right, wrong in m["boosts"]:
        lines.append(f"#   {b:.2f}: {pct(right)} / {pct(wrong)}")
    if m["tuning"]:
        lines.append("# Classifier tuning (C, vector weight: CV rank@1, floor, Hit@1 at floor):")
        for cc, w, r1, fl, h in m["tuning"]:
            lines.append(f"#   C={cc:g}, w={w:g}: {pct(r1)}, {fl:.2f}, {pct(h)}")
    if m["dev"]:
        lines.append(f"# {m['dev']} (reported, not used for the choice)")
    enc = settings.encoder
    config = {
        "classifier": classifier.as_dict(),
        "thresholds": {"answer_threshold": answer, "hinted_answer_threshold": hinted, "floor": floor,
                       "topic_boost": boost},
        "query": {"max_query_chars": settings.max_query_chars, "max_input_chars": settings.max_input_chars,
                  "did_you_mean_k": settings.did_you_mean_k, "suggestion_min": settings.suggestion_min},
        "encoder": {"backend": enc.backend, "model_dir": str(enc.model_dir) if enc.model_dir else None,
                    "query_prefix": enc.query_prefix},
    }
    body = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    settings.retrieval_config.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
