"""Changes support staff make to the knowledge, checked and written like a developer would.

Three kinds, all from the staff console's inbox: questions attached to an entry as
paraphrases, a new entry whose answer is assembled from passages of the source documents
(staff choose passages; they never type a fact), and questions marked out of scope. A
change is validated the way ``make test`` validates the data (the whole knowledge base
loaded from a copy with the change: schema, duplicate questions and paraphrases across
entries, citations that exist), then written to the same YAML files atomically (a temp
file renamed over the old one; round-trip YAML, so the diff shows only the change), noted
with who and when in ``data/faq/staff_changes.yml``, and turned into regression cases in
``tests/regression/staff.yml`` so the next publish keeps it right.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from bot import PROJECT_ROOT, datafiles
from bot.knowledge.cases import REGRESSION_DIR, case_yaml
from bot.knowledge.entries import TOPICS, KnowledgeBaseError, load_knowledge_base
from bot.lang.text import normalise

CHANGELOG = datafiles.FAQ_DIR / "staff_changes.yml"
STAFF_CASES = REGRESSION_DIR / "staff.yml"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class ChangeRefused(ValueError):
    """The change would leave the knowledge base invalid: every problem, in words."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class Change:
    """A change of one data file: its text before and after, and what it was."""

    kind: str                       # paraphrases | new_entry | out_of_scope
    path: Path
    before: str
    after: str
    summary: str
    cases: list[dict[str, Any]] = field(default_factory=list)  # regression cases it adds

    def diff(self) -> str:
        import difflib

        return "".join(difflib.unified_diff(
            self.before.splitlines(True), self.after.splitlines(True),
            fromfile=str(self.path.relative_to(PROJECT_ROOT)),
            tofile=str(self.path.relative_to(PROJECT_ROOT))))


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and block answers kept
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    return yaml


def _dump(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _clean_questions(questions: list[str]) -> list[str]:
    cleaned = [" ".join(str(q).split()) for q in questions]
    return list(dict.fromkeys(q for q in cleaned if q))


def entry_file(entry_id: str, entries_dir: Path | None = None) -> Path:
    """The topic file an entry lives in."""
    for entry in load_knowledge_base(entries_dir).entries:
        if entry.id == entry_id:
            return Path(entries_dir or datafiles.paths().entries_dir) / entry.source_file
    raise ChangeRefused([f"no entry {entry_id!r}"])


def add_paraphrases(entry_id: str, questions: list[str], entries_dir: Path | None = None
                    ) -> Change:
    """Attach candidates' questions to an entry as paraphrases."""
    questions = _clean_questions(questions)
    if not questions:
        raise ChangeRefused(["no question to add"])
    path = entry_file(entry_id, entries_dir)
    before = path.read_text(encoding="utf-8")
    data = _yaml().load(before)
    entry = next(e for e in data["entries"] if e["id"] == entry_id)
    known = {normalise(p) for p in entry["paraphrases"]} | {normalise(entry["question"])}
    added = [q for q in questions if normalise(q) not in known]
    if not added:
        raise ChangeRefused(["every question is already a paraphrase of this entry"])
    entry["paraphrases"].extend(added)
    cases = [{"turns": [q], "expect": entry_id} for q in added]
    return Change("paraphrases", path, before, _dump(data),
                  f"{len(added)} paraphrase(s) for {entry_id}", cases)


def new_entry(topic: str, entry_id: str, region: str, question: str, paraphrases: list[str],
              passage_ids: list[str], related: list[str] | None = None,
              entries_dir: Path | None = None) -> Change:
    """A new entry in ``topic``'s file, its answer the chosen passages' text (newest
    first as listed), citing exactly those passages."""
    problems = []
    if topic not in TOPICS:
        problems.append(f"unknown topic {topic!r}")
    if not _ID.match(entry_id or ""):
        problems.append("the entry id must be lower-case letters, digits and underscores")
    kb = load_knowledge_base(entries_dir)
    passages = [kb.passages.get(pid) for pid in passage_ids]
    if not passage_ids or None in passages:
        problems.append("choose at least one passage of the source documents")
    if problems:
        raise ChangeRefused(problems)
    path = Path(entries_dir or datafiles.paths().entries_dir) / f"{topic}.yml"
    before = path.read_text(encoding="utf-8")
    data = _yaml().load(before)
    from ruamel.yaml.scalarstring import LiteralScalarString

    answer = "\n".join(p.text_simplified.strip() for p in passages) + "\n"
    data["entries"].append({
        "id": entry_id, "region": region, "question": " ".join(question.split()),
        "paraphrases": _clean_questions(paraphrases), "answer": LiteralScalarString(answer),
        "citations": list(passage_ids), **({"related": list(related)} if related else {}),
    })
    cases = [{"turns": [q], "expect": entry_id} for q in _clean_questions([question, *paraphrases])[:3]]
    return Change("new_entry", path, before, _dump(data), f"new entry {entry_id} in {topic}", cases)


def add_out_of_scope(questions: list[str], group: str = "from_the_inbox") -> Change:
    """Questions the documents do not answer, for the classifier's "none" class and Rasa's
    ``out_of_scope``."""
    questions = _clean_questions(questions)
    if not questions:
        raise ChangeRefused(["no question to add"])
    path = datafiles.paths().out_of_scope
    before = path.read_text(encoding="utf-8")
    data = _yaml().load(before)
    groups = data["questions"]
    existing = {normalise(q) for qs in groups.values() for q in qs or []}
    added = [q for q in questions if normalise(q) not in existing]
    if not added:
        raise ChangeRefused(["every question is already out of scope"])
    groups.setdefault(group, [])
    groups[group].extend(added)
    cases = [{"turns": [q], "expect": "fallback"} for q in added]
    return Change("out_of_scope", path, before, _dump(data),
                  f"{len(added)} question(s) out of scope", cases)


def validate(change: Change) -> None:
    """Load the whole knowledge base with the change applied to a copy; raise
    :class:`ChangeRefused` with every problem (errors, and a paraphrase that would also
    belong to another entry)."""
    files = datafiles.paths()
    with tempfile.TemporaryDirectory(prefix="kb-change-") as tmp:
        entries = Path(tmp) / "entries"
        shutil.copytree(files.entries_dir, entries)
        if change.path.parent == files.entries_dir:
            (entries / change.path.name).write_text(change.after, encoding="utf-8")
        try:
            kb = load_knowledge_base(entries, files.sources_dir)
        except KnowledgeBaseError as error:
            raise ChangeRefused([str(issue) for issue in error.errors]) from None
    if change.kind == "out_of_scope":
        if not isinstance(_yaml().load(change.after).get("questions"), dict):
            raise ChangeRefused(["out_of_scope.yml must keep its questions mapping"])
        known = {normalise(t) for e in kb.entries for t in (e.question, *e.paraphrases)}
        clash = [q for c in change.cases for q in c["turns"] if normalise(q) in known]
        if clash:
            raise ChangeRefused([f"{q!r} is a question of an entry" for q in clash])
    shared = [str(w) for w in kb.warnings if "also belongs to" in str(w)]
    if shared:
        raise ChangeRefused(shared)


def _write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                     prefix=f".{path.name}.", suffix=".tmp") as out:
        out.write(text)
    os.replace(out.name, path)


def apply(change: Change, who: str, when: datetime | None = None) -> None:
    """Validate, write the data file atomically, note it in the changelog and add its
    regression cases."""
    validate(change)
    when = when or datetime.now(timezone.utc)
    _write_atomically(change.path, change.after)
    log = CHANGELOG.read_text(encoding="utf-8") if CHANGELOG.exists() else (
        "# Changes staff made in the console (bot/knowledge/editing.py), newest last.\nchanges:\n")
    note = {"when": when.isoformat(timespec="seconds"), "who": who, "kind": change.kind,
            "file": str(change.path.relative_to(PROJECT_ROOT)), "summary": change.summary}
    _write_atomically(CHANGELOG, log + _dump([note]))
    if change.cases:
        _add_cases(change, when)


def _add_cases(change: Change, when: datetime) -> None:
    header = ("# Regression cases added by staff in the console (bot/knowledge/editing.py):\n"
              "# every question they attached, drafted or marked out of scope keeps its answer.\n"
              "cases:\n")
    text = STAFF_CASES.read_text(encoding="utf-8") if STAFF_CASES.exists() else header
    taken = set(re.findall(r"- id: (\S+)", text))
    for n, case in enumerate(change.cases, start=1):
        case_id = f"staff-{when:%Y%m%d%H%M%S}-{n}"
        while case_id in taken:
            case_id += "x"
        taken.add(case_id)
        text += case_yaml({"id": case_id, **case}, [change.summary])
    _write_atomically(STAFF_CASES, text)
