"""NLU experiments without touching the held-out tests/test_nlu.yml.

Three commands over the Rasa NLU training data (data/nlu/**/*.yml, after
``python -m bot.training.nlu_export``):

  split DIR   carve a stratified dev split (about 1 in 6 examples of every intent)
              and write DIR/train/nlu.yml (the rest, plus lookup tables) and
              DIR/dev.yml, for ``rasa train nlu --nlu DIR/train`` and
              ``rasa test nlu --nlu DIR/dev.yml``. Examples that are the same
              sentence in the other script (traditional/simplified twins) always
              land on the same side, so the dev split does not test on a twin of a
              training sentence. ``--extra FILE`` examples only ever go to train.
  proxy       5-fold grouped cross-validation of a fast stand-in classifier (jieba
              words with the domain dictionary + character 1-3-grams, logistic
              regression); prints per-intent F1 and the most frequent confusions.
              A quick guide for where the data overlaps, not a substitute for the Rasa pipeline.

  topics FILE the held-out retrieval questions (tests/data/retrieval_dev.yml and the
              one-turn tests/data/rest_questions.yml) as an NLU test file, each under its
              entry's topic intent or out_of_scope, for ``rasa test nlu --nlu FILE``.
              None of them is training data and, unlike the split, none has a
              paraphrase twin in training: this is the set the intent classifier
              (config.yml, rasa_server/blended_classifier.py) was chosen on.

Run with .venv (it needs opencc, jieba and scikit-learn):
  .venv/bin/python -m bot.quality.nlu_dev_split split /tmp/nlu-split [--extra data/nlu/contrast.yml]
  .venv/bin/python -m bot.quality.nlu_dev_split proxy
  .venv/bin/python -m bot.quality.nlu_dev_split topics /tmp/nlu-topics.yml
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from bot import PROJECT_ROOT
from bot.lang.text import to_simplified

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
JIEBA_DICT = NLU_DIR / "jieba" / "domain_terms.txt"
_ENTITY = re.compile(r"\[([^\]]+)\]\([^)]*\)")
SEED = 2024


def plain(line: str) -> str:
    """An example line without entity markup."""
    return _ENTITY.sub(r"\1", line)


def load(paths: list[Path]) -> tuple[list[tuple[str, str]], list[dict]]:
    """(intent, raw example line) pairs and the lookup-table blocks of the files."""
    examples: list[tuple[str, str]] = []
    lookups: list[dict] = []
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if "intent" not in block:
                lookups.append(block)
                continue
            for line in str(block.get("examples") or "").splitlines():
                text = line.strip().removeprefix("- ").strip()
                if text:
                    examples.append((block["intent"], text))
    return examples, lookups


def training_files(exclude: set[Path] = frozenset()) -> list[Path]:
    return sorted(p for p in NLU_DIR.rglob("*.yml") if p.resolve() not in exclude)


def group_key(text: str) -> str:
    return re.sub(r"[\s，。？！?!,.、~～]", "", to_simplified(plain(text)).lower())


def _dump(examples: list[tuple[str, str]], lookups: list[dict]) -> str:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for intent, text in examples:
        by_intent[intent].append(text)
    nlu = [{"intent": i, "examples": "".join(f"- {t}\n" for t in ts)} for i, ts in sorted(by_intent.items())]
    return yaml.safe_dump({"version": "3.1", "nlu": nlu + lookups}, allow_unicode=True, sort_keys=False)


def split(out_dir: Path, extra: list[Path], dev_share: float = 1 / 6) -> None:
    extra_set = {p.resolve() for p in extra}
    examples, lookups = load(training_files(extra_set))
    extra_examples, extra_lookups = load(extra)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for intent, text in examples:
        groups[(intent, group_key(text))].append((intent, text))
    rng = random.Random(SEED)
    train, dev = [], []
    by_intent: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in sorted(groups):
        by_intent[key[0]].append(key)
    for intent, keys in sorted(by_intent.items()):
        rng.shuffle(keys)
        n_dev = max(1, round(len(keys) * dev_share)) if len(keys) >= 4 else 0
        for i, key in enumerate(keys):
            (dev if i < n_dev else train).extend(groups[key])
    dev_keys = {group_key(t) for _, t in dev}
    leaked = [t for _, t in extra_examples if group_key(t) in dev_keys]
    if leaked:
        print(f"warning: {len(leaked)} extra examples equal a dev example: {leaked[:5]}", file=sys.stderr)
    (out_dir / "train").mkdir(parents=True, exist_ok=True)
    (out_dir / "train" / "nlu.yml").write_text(
        _dump(train + extra_examples, lookups + extra_lookups), encoding="utf-8")
    (out_dir / "dev.yml").write_text(_dump(dev, []), encoding="utf-8")
    print(f"train {len(train)} (+{len(extra_examples)} extra), dev {len(dev)} -> {out_dir}")


def topics(out_file: Path) -> None:
    from bot.knowledge.entries import load_entries

    topic_of = {entry.id: entry.topic for entry in load_entries()}
    dev = yaml.safe_load((PROJECT_ROOT / "tests" / "data" / "retrieval_dev.yml").read_text(encoding="utf-8"))
    rest = yaml.safe_load((PROJECT_ROOT / "tests" / "data" / "rest_questions.yml").read_text(encoding="utf-8"))
    cases = dev["cases"] + [q for q in rest["questions"] if "turns" not in q]
    examples = [(topic_of[c["expected"]] if c["expected"] else "out_of_scope",
                 c["text"].translate(str.maketrans("[]{}", "「」（）"))) for c in cases]
    out_file.write_text(_dump(examples, []), encoding="utf-8")
    print(f"{len(examples)} questions -> {out_file}")


def proxy(folds: int = 5) -> None:
    import jieba
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import classification_report, f1_score
    from sklearn.model_selection import StratifiedGroupKFold

    jieba.setLogLevel(60)
    jieba.load_userdict(str(JIEBA_DICT))
    examples, _ = load(training_files())
    texts = [plain(t) for _, t in examples]
    labels = np.array([i for i, _ in examples])
    groups = np.array([group_key(t) for t in texts])
    tokens = [" ".join(w for w in jieba.lcut(t) if w.strip()) for t in texts]
    predicted = np.empty_like(labels)
    for train_idx, test_idx in StratifiedGroupKFold(folds, shuffle=True, random_state=SEED).split(
            texts, labels, groups):
        word = CountVectorizer(token_pattern=r"[^ ]+", lowercase=True)
        char = CountVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=True)
        x_train = hstack([word.fit_transform([tokens[i] for i in train_idx]),
                          char.fit_transform([tokens[i] for i in train_idx])]).tocsr()
        x_test = hstack([word.transform([tokens[i] for i in test_idx]),
                         char.transform([tokens[i] for i in test_idx])]).tocsr()
        model = LogisticRegression(max_iter=2000, C=10).fit(x_train, labels[train_idx])
        predicted[test_idx] = model.predict(x_test)
    print(classification_report(labels, predicted, digits=3, zero_division=0))
    print(f"macro F1 {f1_score(labels, predicted, average='macro'):.3f}")
    confusions = Counter((t, p) for t, p in zip(labels, predicted) if t != p)
    print("most frequent confusions (true -> predicted):")
    for (t, p), n in confusions.most_common(25):
        print(f"  {n:3d}  {t} -> {p}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.quality.nlu_dev_split", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("split")
    s.add_argument("out_dir", type=Path)
    s.add_argument("--extra", type=Path, action="append", default=[],
                   help="NLU file whose examples only ever go to train")
    sub.add_parser("proxy")
    sub.add_parser("topics").add_argument("out_file", type=Path)
    args = parser.parse_args(argv)
    if args.command == "split":
        split(args.out_dir, args.extra)
    elif args.command == "topics":
        topics(args.out_file)
    else:
        proxy()


if __name__ == "__main__":
    main()
