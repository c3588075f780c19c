"""Changes support staff make to the knowledge, checked and written like a developer would.

Four kinds, all from the staff console: questions attached to an entry as paraphrases, a
new entry whose answer is assembled from passages of the source documents (staff choose
passages; they never type a fact), questions marked out of scope, and regression cases
saved from a batch hit test. A change is built from the file as it is now, validated the
way ``make test`` validates the data (the whole knowledge base and every regression case
loaded from a copy with the change: schema, duplicate questions and paraphrases across
entries, citations that exist, case ids and expectations), then written atomically (a
temp file renamed over the old one, its permissions kept; round-trip YAML, so the diff
shows only the change), noted with who and when in ``data/faq/staff_changes.yml``, and
turned into regression cases in ``tests/regression/staff.yml`` so the next publish keeps
it right. Writing is serialised (one lock for every process of this data set) and a file
that changed after the change was built refuses it instead of losing the other edit.
Nothing here is served until a publish rebuilds the index and the Rasa model.
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import io
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from bot import PROJECT_ROOT, datafiles
from bot.knowledge.cases import (REGRESSION_DIR, CaseFileError, case_yaml, known_procedures,
                                 load_cases)
from bot.knowledge.entries import TOPICS, KnowledgeBase, KnowledgeBaseError, load_knowledge_base
from bot.lang.text import normalise

CHANGELOG = datafiles.FAQ_DIR / "staff_changes.yml"
STAFF_CASES = REGRESSION_DIR / "staff.yml"
KINDS = ("paraphrases", "new_entry", "out_of_scope", "cases",
         # a new edition (bot.knowledge.edition_updates)
         "source", "update_entry", "keep_entry", "retire_entry",
         # a holiday schedule staff entered (bot.lang.holiday_schedules)
         "holidays")
_ENTRY_KINDS = ("paraphrases", "new_entry", "update_entry", "keep_entry", "retire_entry")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_CHANGELOG_HEADER = "# Changes staff made in the console (bot/knowledge/editing.py), newest last.\nchanges:\n"
_CASES_HEADER = ("# Regression cases added by staff in the console (bot/knowledge/editing.py):\n"
                 "# every question they attached, drafted or marked out of scope keeps its answer.\n"
                 "cases:\n")


def refusal(key: str, **fields: Any) -> str:
    """A reason to refuse a change, in Chinese (``data/faq/editions.yml``'s ``change_errors``)."""
    return str(datafiles.edition_texts()["change_errors"][key]).format(**fields)


def staff_problem(problem: str) -> str:
    """A check of the knowledge base (English, for developers) as staff read it, in
    Chinese from ``issue_messages``; the entry it concerns kept in front."""
    where, _, text = str(problem).rpartition(": ")
    entry = re.search(r"\[([^\]]+)\]", where)
    for rule in datafiles.edition_texts().get("issue_messages") or []:
        found = re.search(rule["match"], text)
        if found:
            message = str(rule["message"]).format(**found.groupdict())
            return f"{entry.group(1)}：{message}" if entry else message
    return str(problem)


class ChangeRefused(ValueError):
    """The change would leave the knowledge base invalid: every problem, in words."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass
class Change:
    """A change of one data file: its text before and after, what it was, and the part
    that changed (``excerpt_before`` / ``excerpt_after``, YAML, for the audit log)."""

    kind: str                       # paraphrases | new_entry | out_of_scope | cases
    path: Path                      # the data file changed (the case file for "cases")
    before: str
    after: str
    summary: str
    target: str                     # the entry id, or the file's name
    entries_dir: Path               # the entries the change is validated with
    cases: list[dict[str, Any]] = field(default_factory=list)  # regression cases it adds
    excerpt_before: str | None = None
    excerpt_after: str | None = None

    def diff(self) -> str:
        """A unified diff of the data file (empty for a change that only adds cases)."""
        name = _display_path(self.path)
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True),
                                            fromfile=name, tofile=name))


def _display_path(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def round_trip_yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and block answers kept
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    return yaml


def round_trip_dump(data: Any) -> str:
    out = io.StringIO()
    round_trip_yaml().dump(data, out)
    return out.getvalue()


def clean_questions(questions: list[str]) -> list[str]:
    """Questions with their whitespace collapsed, empty ones dropped, each once."""
    cleaned = [" ".join(str(q).split()) for q in questions]
    return list(dict.fromkeys(q for q in cleaned if q))


def entries_directory(entries_dir: Path | None) -> Path:
    return Path(entries_dir or datafiles.paths().entries_dir)


def entry_file(entry_id: str, entries_dir: Path | None = None) -> Path:
    """The topic file an entry lives in."""
    for entry in load_knowledge_base(entries_dir).entries:
        if entry.id == entry_id:
            return entries_directory(entries_dir) / entry.source_file
    raise ChangeRefused([refusal("no_entry", id=entry_id)])


def entry_excerpt(entry: Any) -> str:
    return round_trip_dump([entry])


def add_paraphrases(entry_id: str, questions: list[str], entries_dir: Path | None = None) -> Change:
    """Attach candidates' questions to an entry as paraphrases."""
    questions = clean_questions(questions)
    if not questions:
        raise ChangeRefused([refusal("no_question")])
    path = entry_file(entry_id, entries_dir)
    before = path.read_text(encoding="utf-8")
    data = round_trip_yaml().load(before)
    entry = next(e for e in data["entries"] if e["id"] == entry_id)
    excerpt_before = entry_excerpt(entry)
    known = {normalise(p) for p in entry["paraphrases"]} | {normalise(entry["question"])}
    added = [q for q in questions if normalise(q) not in known]
    if not added:
        raise ChangeRefused([refusal("already_paraphrase")])
    entry["paraphrases"].extend(added)
    cases = [{"turns": [q], "expect": entry_id} for q in added]
    return Change("paraphrases", path, before, round_trip_dump(data), f"{len(added)} paraphrase(s) for {entry_id}",
                  entry_id, entries_directory(entries_dir), cases, excerpt_before, entry_excerpt(entry))


def passage_answer(kb: KnowledgeBase, passage_ids: list[str]) -> tuple[str, list[str]]:
    """A new entry's answer and citations from chosen passages: the passages' own text
    (simplified script), newest document first, each passage once; nothing else."""
    chosen = [kb.passages[pid] for pid in dict.fromkeys(passage_ids) if pid in kb.passages]
    order = {pid: n for n, pid in enumerate(p.id for d in kb.documents.values() for p in d.passages)}

    def newest_first(passage: Any) -> tuple[int, int]:
        published = kb.documents[passage.document_id].published or date.min
        return (-published.toordinal(), order[passage.id])

    chosen.sort(key=newest_first)
    return "\n".join(p.text_simplified.strip() for p in chosen) + "\n", [p.id for p in chosen]


def new_entry(topic: str, entry_id: str, region: str, question: str, paraphrases: list[str],
              passage_ids: list[str], related: list[str] | None = None,
              entries_dir: Path | None = None) -> Change:
    """A new entry in ``topic``'s file: its answer the chosen passages' text, citing
    exactly those passages (see :func:`passage_answer`). Staff type questions, never facts."""
    problems = []
    if topic not in TOPICS:
        problems.append(refusal("unknown_topic", topic=topic))
    if not _ID.match(entry_id or ""):
        problems.append(refusal("bad_entry_id"))
    question = " ".join((question or "").split())
    if not question:
        problems.append(refusal("needs_question"))
    kb = load_knowledge_base(entries_dir)
    unknown = [pid for pid in passage_ids if pid not in kb.passages]
    if not passage_ids or unknown:
        problems.append(refusal("choose_passage")
                        + (refusal("unknown_passages", ids=", ".join(unknown)) if unknown else ""))
    if problems:
        raise ChangeRefused(problems)
    path = entries_directory(entries_dir) / f"{topic}.yml"
    before = path.read_text(encoding="utf-8")
    data = round_trip_yaml().load(before)
    answer, citations = passage_answer(kb, passage_ids)
    own = normalise(question)
    paraphrases = [p for p in clean_questions(paraphrases) if normalise(p) != own]
    entry = {"id": entry_id, "region": region, "question": question, "paraphrases": paraphrases,
             "answer": LiteralScalarString(answer), "citations": citations,
             **({"related": list(related)} if related else {})}
    data["entries"].append(entry)
    cases = [{"turns": [q], "expect": entry_id} for q in [question, *paraphrases][:3]]
    return Change("new_entry", path, before, round_trip_dump(data), f"new entry {entry_id} in {topic}", entry_id,
                  entries_directory(entries_dir), cases, None, entry_excerpt(data["entries"][-1]))


def add_out_of_scope(questions: list[str], group: str = "from_the_inbox",
                     path: Path | None = None, entries_dir: Path | None = None) -> Change:
    """Questions the documents do not answer, for the classifier's "none" class and Rasa's
    ``out_of_scope``."""
    questions = clean_questions(questions)
    if not questions:
        raise ChangeRefused([refusal("no_question")])
    path = Path(path or datafiles.paths().out_of_scope)
    before = path.read_text(encoding="utf-8")
    data = round_trip_yaml().load(before)
    groups = data["questions"]
    existing = {normalise(q) for qs in groups.values() for q in qs or []}
    added = [q for q in questions if normalise(q) not in existing]
    if not added:
        raise ChangeRefused([refusal("already_out_of_scope")])
    excerpt_before = round_trip_dump({group: list(groups.get(group) or [])})
    if groups.get(group) is None:
        groups[group] = []
    groups[group].extend(added)
    cases = [{"turns": [q], "expect": "fallback"} for q in added]
    return Change("out_of_scope", path, before, round_trip_dump(data), f"{len(added)} question(s) out of scope",
                  path.name, entries_directory(entries_dir), cases, excerpt_before,
                  round_trip_dump({group: list(groups[group])}))


def regression_cases(cases: list[dict[str, Any]], summary: str, cases_file: Path | None = None,
                     entries_dir: Path | None = None) -> Change:
    """Cases staff saved (``{turns, expect}`` each), for ``tests/regression/staff.yml``."""
    cases = [{"turns": clean_questions(case.get("turns") or []), "expect": str(case.get("expect") or "")}
             for case in cases]
    cases = [case for case in cases if case["turns"]]
    if not cases:
        raise ChangeRefused([refusal("no_case")])
    path = Path(cases_file or STAFF_CASES)
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    return Change("cases", path, before, before, summary, path.name, entries_directory(entries_dir), cases,
                  None, round_trip_dump(cases))


# ---------------------------------------------------------------- validating


def validate(change: Change, cases_file: Path | None = None) -> None:
    """Load the whole knowledge base and every regression case with the change applied
    to a copy; raise :class:`ChangeRefused` with every problem (errors, a paraphrase
    that would also belong to another entry, an out-of-scope question that is an
    entry's, a case that would not load)."""
    files = datafiles.paths()
    cases_file = Path(cases_file or STAFF_CASES)
    with tempfile.TemporaryDirectory(prefix="kb-change-") as tmp:
        entries = Path(tmp) / "entries"
        shutil.copytree(change.entries_dir, entries)
        if change.kind in _ENTRY_KINDS:
            (entries / change.path.name).write_text(change.after, encoding="utf-8")
        sources = files.sources_dir
        if change.kind == "source":
            sources = Path(tmp) / "sources"
            shutil.copytree(files.sources_dir, sources)
            (sources / change.path.name).write_text(change.after, encoding="utf-8")
        try:
            kb = load_knowledge_base(entries, sources)
        except KnowledgeBaseError as error:
            raise ChangeRefused([staff_problem(str(issue)) for issue in error.errors]) from None
        if change.kind == "out_of_scope":
            _check_out_of_scope(change, kb, Path(tmp) / change.path.name)
        shared = [staff_problem(str(w)) for w in kb.warnings if "also belongs to" in str(w)]
        if shared:
            raise ChangeRefused(shared)
        _check_cases(change, kb, cases_file, Path(tmp) / "cases")


def _check_out_of_scope(change: Change, kb: KnowledgeBase, copy: Path) -> None:
    copy.write_text(change.after, encoding="utf-8")
    try:
        datafiles.question_groups(copy)
    except ValueError as error:
        raise ChangeRefused([str(error)]) from None
    known = {normalise(t) for e in kb.entries for t in (e.question, *e.paraphrases)}
    clash = [q for c in change.cases for q in c["turns"] if normalise(q) in known]
    if clash:
        raise ChangeRefused([refusal("question_of_entry", question=q) for q in clash])


def _cases_text(before: str, cases: list[dict[str, Any]], summary: str, when: datetime) -> str:
    text = before or _CASES_HEADER
    if not text.endswith("\n"):
        text += "\n"
    taken = set(re.findall(r"- id: (\S+)", text))
    for n, case in enumerate(cases, start=1):
        case_id = f"staff-{when:%Y%m%d%H%M%S}-{n}"
        while case_id in taken:
            case_id += "x"
        taken.add(case_id)
        text += case_yaml({"id": case_id, **case}, [summary])
    return text


def _check_cases(change: Change, kb: KnowledgeBase, cases_file: Path, folder: Path) -> None:
    """Every regression case still loads with the change's cases added (their entries
    exist after the change, ids stay unique)."""
    if not change.cases and change.kind != "retire_entry":  # a retired entry's cases must go first
        return
    folder.mkdir()
    for path in cases_file.parent.glob("*.yml"):
        shutil.copy2(path, folder / path.name)
    if change.cases:
        before = cases_file.read_text(encoding="utf-8") if cases_file.exists() else ""
        when = datetime.now(timezone.utc)
        (folder / cases_file.name).write_text(_cases_text(before, change.cases, change.summary, when),
                                              encoding="utf-8")
    try:
        load_cases(folder, {e.id for e in kb.entries}, known_procedures())
    except CaseFileError as error:
        raise ChangeRefused([staff_problem(p) for p in error.problems]) from None


# ---------------------------------------------------------------- writing


_thread_lock = threading.Lock()


@contextmanager
def _writing(lock_key: Path) -> Iterator[None]:
    """One writer at a time for this data set, across threads and processes."""
    digest = hashlib.sha256(str(Path(lock_key).resolve()).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"certificate-faq-edit-{digest}.lock"
    with _thread_lock, open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    """``text`` into ``path`` all at once: written and synced to a temp file beside it,
    with the old file's permissions, then renamed over it."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                     prefix=f".{path.name}.", suffix=".tmp") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(out.name, mode)
    os.replace(out.name, path)


def apply(change: Change, who: str, when: datetime | None = None, changelog: Path | None = None,
          cases_file: Path | None = None) -> None:
    """Validate, write the data file atomically, note it in the changelog and add its
    regression cases. Refused (nothing written) when the change is invalid or its file
    changed since the change was built."""
    changelog = Path(changelog or CHANGELOG)
    cases_file = Path(cases_file or STAFF_CASES)
    with _writing(changelog):
        current = change.path.read_text(encoding="utf-8") if change.path.exists() else ""
        if current != change.before:
            raise ChangeRefused([refusal("changed_meanwhile", file=change.path.name)])
        validate(change, cases_file)
        when = when or datetime.now(timezone.utc)
        if change.kind != "cases":
            _write_atomically(change.path, change.after)
        log = changelog.read_text(encoding="utf-8") if changelog.exists() else _CHANGELOG_HEADER
        note = {"when": when.isoformat(timespec="seconds"), "who": who, "kind": change.kind,
                "file": _display_path(change.path), "summary": change.summary}
        _write_atomically(changelog, log + round_trip_dump([note]))
        if change.cases:
            before = cases_file.read_text(encoding="utf-8") if cases_file.exists() else ""
            _write_atomically(cases_file, _cases_text(before, change.cases, change.summary, when))
