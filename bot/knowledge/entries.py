"""FAQ entries (``data/faq/entries/<topic>.yml``): loading and validation.

Every problem found is collected, with the file and the entry id, and raised at the
end as one :class:`KnowledgeBaseError`, so that whoever writes entries sees all of
them at once. Softer findings (e.g. a paraphrase repeated inside one entry) are
returned as warnings and do not stop the build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot import datafiles
from bot.knowledge.corpus import Document, load_documents
from bot.lang.regions import rule_regions
from bot.lang.text import is_traditional, normalise

TOPICS = (
    "ask_direct_mail", "ask_application_deadline", "ask_fees", "ask_tracking",
    "ask_delivery_problem", "ask_paper_mailing", "ask_reissue", "ask_qualification_check",
    "ask_certificate_storage", "ask_ecert_basics", "ask_ecert_download", "ask_annotation",
    "ask_blank_page", "ask_rare_character", "ask_certificate_status", "ask_verification_scope",
)
MIN_PARAPHRASES = 8
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_ENTRY_KEYS = {"id", "region", "question", "paraphrases", "answer", "citations", "related",
               "after_deadline"}


@dataclass(frozen=True)
class Entry:
    id: str
    topic: str
    region: str
    question: str
    paraphrases: tuple[str, ...]
    answer: str
    citations: tuple[str, ...]          # passage ids, newest first
    related: tuple[str, ...] = ()
    source_file: str = ""               # file name the entry came from
    # the entry saying what to do once the time this entry states has passed
    # ("过了领证通知时限" after the collection notice)
    after_deadline: str | None = None


@dataclass(frozen=True)
class Issue:
    file: str
    entry_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}" + (f" [{self.entry_id}]" if self.entry_id else "")
        return f"{where}: {self.message}"


class KnowledgeBaseError(ValueError):
    """All validation errors of the entries, reported together."""

    def __init__(self, errors: list[Issue]):
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} problem(s) in the FAQ entries:\n{lines}")


@dataclass
class KnowledgeBase:
    entries: list[Entry]
    documents: dict[str, Document]
    warnings: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.entries}
        self.passages = {p.id: p for d in self.documents.values() for p in d.passages}

    def entry(self, entry_id: str) -> Entry:
        return self.by_id[entry_id]


def _text_list(value, file: str, entry_id: str, name: str, errors: list[Issue]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        errors.append(Issue(file, entry_id, f"'{name}' must be a list"))
        return ()
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            errors.append(Issue(file, entry_id, f"'{name}' item {i + 1} is empty or not text"))
        else:
            out.append(item.strip())
    return tuple(out)


def _parse_file(path: Path, errors: list[Issue]) -> list[Entry]:
    file = path.name
    try:
        data = datafiles.read_yaml(path)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        errors.append(Issue(file, None, f"cannot be read as YAML: {exc}".replace("\n", " ")))
        return []
    if not isinstance(data, dict):
        errors.append(Issue(file, None, "must be a mapping with 'topic' and 'entries'"))
        return []
    topic = data.get("topic")
    if topic not in TOPICS:
        errors.append(Issue(file, None, f"topic {topic!r} is not one of the allowed topics"))
    elif path.stem != topic:
        errors.append(Issue(file, None, f"file name must be the topic: {topic}.yml"))
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        errors.append(Issue(file, None, "'entries' must be a non-empty list"))
        return []
    entries = []
    for n, raw in enumerate(raw_entries, start=1):
        if not isinstance(raw, dict):
            errors.append(Issue(file, f"#{n}", "entry must be a mapping"))
            continue
        entry_id = raw.get("id")
        label = entry_id if isinstance(entry_id, str) and entry_id else f"#{n}"
        if not isinstance(entry_id, str) or not _ID.match(entry_id):
            errors.append(Issue(file, label, "id missing or not snake_case"))
        unknown = set(raw) - _ENTRY_KEYS
        if unknown:
            errors.append(Issue(file, label, f"unknown field(s): {', '.join(sorted(unknown))}"))
        scalars = {}
        for name in ("region", "question", "answer"):
            value = raw.get(name)
            if not isinstance(value, str) or not value.strip():
                errors.append(Issue(file, label, f"'{name}' is missing or empty"))
                value = ""
            scalars[name] = value.strip()
        regions = rule_regions()
        if scalars["region"] and scalars["region"] not in regions:
            errors.append(Issue(file, label, f"region {scalars['region']!r} is not one of {', '.join(regions)}"))
        paraphrases = _text_list(raw.get("paraphrases"), file, label, "paraphrases", errors)
        if len(paraphrases) < MIN_PARAPHRASES:
            errors.append(Issue(file, label, f"needs >= {MIN_PARAPHRASES} paraphrases, has {len(paraphrases)}"))
        citations = _text_list(raw.get("citations"), file, label, "citations", errors)
        if not citations:
            errors.append(Issue(file, label, "'citations' is missing or empty"))
        related = _text_list(raw.get("related"), file, label, "related", errors)
        after = raw.get("after_deadline")
        entries.append(Entry(
            id=label, topic=topic if isinstance(topic, str) else "", region=scalars["region"],
            question=scalars["question"], paraphrases=paraphrases, answer=scalars["answer"],
            citations=citations, related=related, source_file=file,
            after_deadline=str(after).strip() if after else None,
        ))
    return entries


def check(entries: list[Entry], documents: dict[str, Document]) -> tuple[list[Issue], list[Issue]]:
    """Cross-entry checks. Returns (errors, warnings)."""
    errors: list[Issue] = []
    warnings: list[Issue] = []
    passage_ids = {p.id for d in documents.values() for p in d.passages}
    seen_ids: dict[str, str] = {}
    for e in entries:
        if e.id in seen_ids:
            errors.append(Issue(e.source_file, e.id, f"duplicate id (also in {seen_ids[e.id]})"))
        else:
            seen_ids[e.id] = e.source_file
    questions: dict[str, Entry] = {}
    for e in entries:
        if not e.question:
            continue
        key = normalise(e.question)
        if key in questions:
            other = questions[key]
            errors.append(Issue(e.source_file, e.id, f"same question as {other.id} ({other.source_file})"))
        else:
            questions[key] = e
        if is_traditional(e.question):
            warnings.append(Issue(e.source_file, e.id, "canonical question should be in simplified script"))
    paraphrase_owner: dict[str, Entry] = {}
    for e in entries:
        own = set()
        for p in e.paraphrases:
            key = normalise(p)
            other = questions.get(key)
            if other is not None and other.id != e.id:
                errors.append(Issue(e.source_file, e.id, f"paraphrase {p!r} is the question of {other.id}"))
            if key in own:
                warnings.append(Issue(e.source_file, e.id, f"paraphrase {p!r} repeats another of this entry"))
            own.add(key)
            owner = paraphrase_owner.setdefault(key, e)
            if owner.id != e.id:
                warnings.append(Issue(e.source_file, e.id, f"paraphrase {p!r} also belongs to {owner.id}"))
        for c in e.citations:
            if c not in passage_ids:
                errors.append(Issue(e.source_file, e.id, f"citation {c!r} is not a passage id of the sources"))
        for r in e.related:
            if r == e.id:
                errors.append(Issue(e.source_file, e.id, "'related' lists the entry itself"))
            elif r not in seen_ids:
                errors.append(Issue(e.source_file, e.id, f"related id {r!r} does not exist"))
        if e.after_deadline and e.after_deadline not in seen_ids:
            errors.append(Issue(e.source_file, e.id,
                                f"after_deadline id {e.after_deadline!r} does not exist"))
    return errors, warnings


def load_knowledge_base(entries_dir: Path | None = None, sources_dir: Path | None = None,
                        documents: dict[str, Document] | None = None) -> KnowledgeBase:
    """Load and validate every ``*.yml`` in ``entries_dir``; raise one
    :class:`KnowledgeBaseError` listing all problems."""
    files = datafiles.paths()
    entries_dir = entries_dir or files.entries_dir
    sources_dir = sources_dir or files.sources_dir
    if documents is None:
        documents = load_documents(sources_dir)
    errors: list[Issue] = []
    entries: list[Entry] = []
    files = sorted(Path(entries_dir).glob("*.yml"))
    for path in files:
        entries.extend(_parse_file(path, errors))
    if not files:
        errors.append(Issue(str(entries_dir), None, "no entry files (*.yml) found"))
    more_errors, warnings = check(entries, documents)
    errors.extend(more_errors)
    if errors:
        raise KnowledgeBaseError(errors)
    return KnowledgeBase(entries=entries, documents=documents, warnings=warnings)


def load_entries(entries_dir: Path | None = None, sources_dir: Path | None = None) -> list[Entry]:
    """The validated entries only."""
    return load_knowledge_base(entries_dir, sources_dir).entries
