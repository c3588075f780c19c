"""python -m bot.quality.nlu_dev_split topics: the held-out retrieval questions as an NLU
development set, under intents Rasa knows, and none of them a training example."""

from __future__ import annotations

import subprocess
import sys

import yaml

from bot import PROJECT_ROOT
from bot.training.nlu_export import topic_examples


def examples(path) -> dict[str, list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {block["intent"]: [line[2:] for line in block["examples"].splitlines()]
            for block in data["nlu"]}


def test_topics_writes_every_held_out_question_under_a_known_intent(tmp_path):
    out = tmp_path / "topics.yml"
    subprocess.run([sys.executable, "-m", "bot.quality.nlu_dev_split", "topics", str(out)],
                   cwd=PROJECT_ROOT, check=True, capture_output=True)
    written = examples(out)
    dev = yaml.safe_load((PROJECT_ROOT / "tests/data/retrieval_dev.yml").read_text(encoding="utf-8"))
    assert sum(map(len, written.values())) > len(dev["cases"])
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(written) <= set(domain["intents"]) and "out_of_scope" in written
    trained = {text for texts in topic_examples().values() for text in texts}
    assert not trained & {text for texts in written.values() for text in texts}
