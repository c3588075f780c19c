"""Whether a publish must retrain Rasa: did anything Rasa learns from change, other than
the knowledge base?

Rasa's intents are topics; which entry of a topic answers is the index's job. So a
change of entries, paraphrases, sources or out-of-scope questions is served by a new index
alone, and Rasa is retrained only when its own inputs changed: the hand-written NLU data,
rules, stories, the domain, the pipeline, and the words and places the NLU export adds
(``data/faq/vocabulary.yml``, ``data/faq/regions.yml``). Their fingerprint is recorded
beside the model each publish deploys (``models/rasa/model.inputs.json``); a model with no
record (``make train``'s) counts as trained on every input older than it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from bot import PROJECT_ROOT
# bot.servers names the same file; the build layer may not import it (pyproject.toml)
RASA_MODEL = PROJECT_ROOT / "models" / "rasa" / "model.tar.gz"

INPUT_PATTERNS = ("domain.yml", "config.yml", "data/nlu/*.yml", "data/nlu/jieba/*.txt",
                  "data/rules/*.yml", "data/stories/*.yml", "data/faq/vocabulary.yml",
                  "data/faq/regions.yml")


def input_files(root: Path = PROJECT_ROOT) -> list[Path]:
    return sorted({path for pattern in INPUT_PATTERNS for path in root.glob(pattern) if path.is_file()})


def fingerprint(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    for path in input_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def record_path(model: Path = RASA_MODEL) -> Path:
    return model.with_name(model.name.replace(".tar.gz", "") + ".inputs.json")


def record(model: Path = RASA_MODEL, root: Path = PROJECT_ROOT, value: str | None = None) -> None:
    """Note what the model at ``model`` was trained on (written beside it, atomically)."""
    path = record_path(model)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"fingerprint": value or fingerprint(root)}), encoding="utf-8")
    os.replace(tmp, path)


def needs_training(model: Path = RASA_MODEL, root: Path = PROJECT_ROOT) -> tuple[bool, str]:
    """(retrain?, why) for the model served now."""
    if not model.exists():
        return True, "no model is served"
    try:
        recorded = json.loads(record_path(model).read_text(encoding="utf-8"))["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        trained_at = model.stat().st_mtime
        newer = [str(p.relative_to(root)) for p in input_files(root) if p.stat().st_mtime > trained_at]
        return bool(newer), ("changed since the model was trained: " + ", ".join(newer[:5])) if newer else ""
    if recorded != fingerprint(root):
        return True, "Rasa's training data or domain changed"
    return False, ""
