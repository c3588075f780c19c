"""Build step: write Rasa NLU training data from the FAQ entries.

The entries' canonical questions and paraphrases are the single source of truth
for FAQ intents, and ``data/faq/out_of_scope.yml`` adds examples to ``out_of_scope``
(the same questions the entry classifier learns "none of them" from); this writes
them, with the region lookup table, to ``data/nlu/generated/`` (git-ignored) before
``rasa train``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot import PROJECT_ROOT, datafiles
from bot.datafiles import question_groups
from bot.knowledge.corpus import dump_yaml
from bot.knowledge.entries import Entry, load_entries
from bot.lang.regions import all_place_names
from bot.lang.text import to_simplified, to_traditional
from bot.lang.vocabulary import dictionary_words

HAND_WRITTEN_DIR = PROJECT_ROOT / "data" / "nlu"
GENERATED_DIR = PROJECT_ROOT / "data" / "nlu" / "generated"
JIEBA_DIR = PROJECT_ROOT / "data" / "nlu" / "jieba"
COLLOQUIAL_VARIANTS = 3        # per entry: enough to teach the words, not to outweigh it
VOCABULARY_FREQUENCY = 300
_MARKUP = str.maketrans({"[": "「", "]": "」", "{": "（", "}": "）"})


def training_example(text: str) -> str:
    """One line, no characters Rasa reads as entity markup."""
    return re.sub(r"\s+", " ", text).strip().translate(_MARKUP)


def entry_examples(entry: Entry) -> list[str]:
    """Training texts of one entry: its question in both scripts, every paraphrase
    and its simplified form (may repeat; callers deduplicate)."""
    texts = [entry.question, to_traditional(entry.question)]
    for paraphrase in entry.paraphrases:
        texts += [paraphrase, to_simplified(paraphrase)]
    return [text for text in map(training_example, texts) if text]


def colloquial_variants(entry: Entry, limit: int = COLLOQUIAL_VARIANTS) -> list[str]:
    """The entry's question and paraphrases as candidates also write them: one of the
    documents' words replaced by a candidate's word of data/faq/vocabulary.yml
    (邮费 → 运费), at most ``limit`` of them."""
    variants: list[str] = []
    for text in (entry.question, *entry.paraphrases):
        for word, aliases in (datafiles.vocabulary().get("synonyms") or {}).items():
            alias = next((a for a in aliases or () if len(a) > 1), None)
            if alias and word in text and len(variants) < limit:
                variants.append(training_example(text.replace(word, alias, 1)))
    return variants


def topic_examples(entries_dir: Path | None = None) -> dict[str, list[str]]:
    """Examples per topic intent: every question and paraphrase, the other script of
    canonical questions and colloquial variants, each example kept in one intent only."""
    seen: set[str] = set()
    by_topic: dict[str, list[str]] = {}
    for entry in load_entries(entries_dir):
        examples = by_topic.setdefault(entry.topic, [])
        for text in entry_examples(entry) + colloquial_variants(entry):
            if text not in seen:
                seen.add(text)
                examples.append(text)
    return by_topic


def write_jieba_dictionary(out_dir: Path = GENERATED_DIR / "jieba") -> Path:
    """jieba's user dictionary: the hand-written domain terms (data/nlu/jieba/) and the
    words of data/faq/vocabulary.yml (a frequency that keeps them whole, not above the
    domain terms)."""
    lines = []
    for path in sorted(JIEBA_DIR.glob("*.txt")):
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    known = {line.split()[0] for line in lines}
    lines += [f"{word} {VOCABULARY_FREQUENCY} n" for word in dictionary_words() if word not in known]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "domain_terms.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hand_written_examples(nlu_dir: Path = HAND_WRITTEN_DIR) -> set[str]:
    """Examples already in the hand-written NLU files (without entity markup)."""
    return {text for examples in datafiles.nlu_examples(nlu_dir).values() for text in examples}


def out_of_scope_examples(path: Path | None = None, skip: set[str] = frozenset()) -> list[str]:
    """The out-of-scope questions (as written) not already an example elsewhere."""
    out: list[str] = []
    for questions in question_groups(path or datafiles.paths().out_of_scope).values():
        for text in map(training_example, map(str, questions)):
            if text and text not in skip and text not in out:
                out.append(text)
    return out


def _block(lines: list[str]) -> str:
    return "".join(f"- {line}\n" for line in lines)


def export(out_dir: Path = GENERATED_DIR, entries_dir: Path | None = None,
           out_of_scope: Path | None = None) -> Path:
    """Write ``faq.yml`` (topic intents, more out_of_scope examples and the place
    lookup) and return its path."""
    by_topic = topic_examples(entries_dir)
    nlu = [{"intent": topic, "examples": _block(examples)} for topic, examples in sorted(by_topic.items())]
    taken = hand_written_examples() | {e for examples in by_topic.values() for e in examples}
    negatives = out_of_scope_examples(out_of_scope, taken)
    if negatives:
        nlu.append({"intent": "out_of_scope", "examples": _block(negatives)})
    nlu.append({"lookup": "place", "examples": _block(all_place_names())})
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "faq.yml"
    header = ("# Generated by `python -m bot.training.nlu_export` from data/faq/entries and "
              "data/faq/out_of_scope.yml; do not edit.\n")
    path.write_text(header + dump_yaml({"version": "3.1", "nlu": nlu}), encoding="utf-8")
    write_jieba_dictionary(out_dir / "jieba")
    return path


if __name__ == "__main__":
    print(f"NLU examples written to {export()}")
