"""The data files: where each one is, and the one function that reads it.

Everything the assistant knows or says comes from ``data/``. Each file has exactly one
reader here; the modules that give a file its meaning (``bot.knowledge.entries`` for the
entries, ``bot.lang.regions`` for the places …) build on these readers and never open the
file themselves. A file is parsed once per process and again only when its modification
time or size changes, so an edit by staff is picked up without a restart; the parsed value
is shared, so callers must not change it.

Environment variables point a process at another data set (tests, the CLI):
``BOT_ENTRIES_DIR``, ``BOT_SOURCES_DIR``, ``BOT_RETRIEVAL_CONFIG``, ``BOT_MESSAGES``,
``BOT_CONTACTS``, ``BOT_OUT_OF_SCOPE``, ``BOT_HOLIDAYS``. This is the bottom of the package: it imports
nothing else of ``bot``.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data"
FAQ_DIR = DATA_DIR / "faq"


@dataclass(frozen=True)
class DataPaths:
    """Where each data file is, after the environment's overrides."""

    entries_dir: Path           # FAQ entries, one file per topic
    sources_dir: Path           # the cleaned source documents
    import_rules: Path          # how raw seed pages are cleaned into sources
    retrieval_config: Path      # thresholds, encoder and classifier settings
    out_of_scope: Path          # questions the documents do not answer (training)
    calibration_offtopic: Path  # held-out off-topic questions (calibration only)
    contacts: Path              # help contacts named in the documents
    regions: Path               # places and the regions rules are written for
    replies: Path               # reply wording for every channel
    deadlines: Path             # deadline rules' wording and keywords
    vocabulary: Path            # candidates' words and noise → the documents' words
    cli_texts: Path             # the command line's own texts
    ui_texts: Path              # the web pages' texts
    channel_texts: Path         # the WeChat channels' texts and plain-text replies
    handoff: Path               # asking for a person, staff hours, handoff timeouts
    edition_texts: Path         # importing a new edition: messages, fact kinds, notes
    holidays: Path              # holiday schedules staff entered (years the calendar lacks)


def _path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else default


def paths() -> DataPaths:
    """The data files of this process (read from the environment on every call)."""
    return DataPaths(
        entries_dir=_path("BOT_ENTRIES_DIR", FAQ_DIR / "entries"),
        sources_dir=_path("BOT_SOURCES_DIR", FAQ_DIR / "sources"),
        import_rules=FAQ_DIR / "import.yml",
        retrieval_config=_path("BOT_RETRIEVAL_CONFIG", FAQ_DIR / "retrieval.yml"),
        out_of_scope=_path("BOT_OUT_OF_SCOPE", FAQ_DIR / "out_of_scope.yml"),
        calibration_offtopic=FAQ_DIR / "calibration_offtopic.yml",
        contacts=_path("BOT_CONTACTS", FAQ_DIR / "contacts.yml"),
        regions=FAQ_DIR / "regions.yml",
        replies=FAQ_DIR / "replies.yml",
        deadlines=DATA_DIR / "deadlines.yml",
        vocabulary=FAQ_DIR / "vocabulary.yml",
        cli_texts=_path("BOT_MESSAGES", FAQ_DIR / "messages.yml"),
        ui_texts=DATA_DIR / "web" / "ui.yml",
        channel_texts=DATA_DIR / "channels.yml",
        handoff=DATA_DIR / "handoff" / "handoff.yml",
        edition_texts=FAQ_DIR / "editions.yml",
        holidays=_path("BOT_HOLIDAYS", DATA_DIR / "holidays.yml"),
    )


_parsed: dict[Path, tuple[tuple[int, int], Any]] = {}
_parsed_lock = threading.Lock()


def read_yaml(path: Path) -> Any:
    """The parsed YAML file, cached while its modification time and size stay the same
    (shared: do not change it). Raises OSError when the file cannot be read."""
    path = Path(path).resolve()
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _parsed_lock:
        cached = _parsed.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, yaml.safe_load(path.read_text(encoding="utf-8")))
        with _parsed_lock:
            _parsed[path] = cached
    return cached[1]


def _mapping(path: Path) -> dict[str, Any]:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a mapping")
    return data


def reply_texts() -> dict[str, Any]:
    """``data/faq/replies.yml``: the wording of every reply, in simplified script."""
    return _mapping(paths().replies)


def deadline_texts() -> dict[str, Any]:
    """``data/deadlines.yml``: the deadline rules' names, templates and keywords."""
    return _mapping(paths().deadlines)


def region_data() -> dict[str, Any]:
    """``data/faq/regions.yml``: places, the provinces they belong to, rule regions."""
    return _mapping(paths().regions)


def vocabulary() -> dict[str, Any]:
    """``data/faq/vocabulary.yml``: candidates' words and the noise around a question."""
    return _mapping(paths().vocabulary)


def cli_texts() -> dict[str, Any]:
    """``data/faq/messages.yml``: what the command line prints besides replies."""
    return _mapping(paths().cli_texts)


def ui_texts() -> dict[str, Any]:
    """``data/web/ui.yml``: the chat page's, the staff console's and the API's texts."""
    return _mapping(paths().ui_texts)


def channel_texts() -> dict[str, Any]:
    """``data/channels.yml``: the WeChat channels' texts, replies as plain text."""
    return _mapping(paths().channel_texts)


def handoff_settings() -> dict[str, Any]:
    """``data/handoff/handoff.yml``: what asks for a person, staff hours, timeouts."""
    return _mapping(paths().handoff)


def edition_texts() -> dict[str, Any]:
    """``data/faq/editions.yml``: what staff see when they import a new edition."""
    return _mapping(paths().edition_texts)


def holiday_schedules() -> dict[str, Any]:
    """``data/holidays.yml``: the holiday schedules staff entered (empty when absent)."""
    path = paths().holidays
    return (read_yaml(path) or {}) if path.exists() else {}


def retrieval_config() -> dict[str, Any]:
    """``data/faq/retrieval.yml`` (empty when absent: the defaults apply)."""
    path = paths().retrieval_config
    return (read_yaml(path) or {}) if path.exists() else {}


def contacts() -> list[dict[str, Any]]:
    """``data/faq/contacts.yml``: the help contacts the documents name ([] when absent).
    The file is a list, or a mapping with a ``contacts`` list; items need a ``name``."""
    path = paths().contacts
    if not path.exists():
        return []
    data = read_yaml(path) or []
    if isinstance(data, dict):
        data = data.get("contacts") or []
    return [item for item in data if isinstance(item, dict) and item.get("name")]


def question_groups(path: Path) -> dict[str, list[Any]]:
    """A file of grouped questions (``out_of_scope.yml``: ``questions`` maps a group to its
    questions); raises ValueError when it is not shaped so."""
    data = read_yaml(path) or {}
    groups = data.get("questions") if isinstance(data, dict) else None
    if groups is None:
        return {}
    if not isinstance(groups, dict):
        raise ValueError(f"{path}: 'questions' must map group names to lists of questions")
    return {str(group): list(questions or []) for group, questions in groups.items()}


def out_of_scope_questions() -> list[str]:
    """``data/faq/out_of_scope.yml``: every question as written, in file order, once."""
    path = paths().out_of_scope
    out: list[str] = []
    for group, questions in question_groups(path).items():
        for question in questions:
            if not isinstance(question, str):
                raise ValueError(f"{path}: group {group}: {question!r} is not text (quote it)")
            if question not in out:
                out.append(question)
    return out


def nlu_examples(nlu_dir: Path | None = None) -> dict[str, list[str]]:
    """The hand-written Rasa NLU files (``data/nlu/*.yml``): the examples of each block
    without entity markup, in file order; intents by name, other blocks as
    ``lookup:<name>``, ``synonym:<name>`` and ``regex:<name>``."""
    blocks: dict[str, list[str]] = {}
    for path in sorted(Path(nlu_dir or DATA_DIR / "nlu").glob("*.yml")):
        for block in (read_yaml(path) or {}).get("nlu") or []:
            kind = next((k for k in ("intent", "lookup", "synonym", "regex") if k in block), None)
            if kind is None:
                continue
            name = str(block[kind]) if kind == "intent" else f"{kind}:{block[kind]}"
            examples = blocks.setdefault(name, [])
            for line in str(block.get("examples") or "").splitlines():
                text = _ENTITY_MARKUP.sub(r"\1", line.strip().removeprefix("- "))
                if text:
                    examples.append(text)
    return blocks


_ENTITY_MARKUP = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def calibration_offtopic() -> list[dict[str, Any]]:
    """``data/faq/calibration_offtopic.yml``: held-out off-topic questions ``{text, …}``."""
    data = read_yaml(paths().calibration_offtopic) or {}
    return list(data.get("questions") or [])
