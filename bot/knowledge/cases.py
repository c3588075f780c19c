"""Regression cases (``tests/regression/*.yml``): the file format, loading, validation
and writing.

A case is what a candidate typed (one or more turns) and what the assistant must do
with the last one: answer with a given FAQ entry, fall back honestly, or compute a
deadline for a given procedure; optionally its reply must contain some facts. The
format is documented in ``docs/CONTRACTS.md`` and at the top of every case file. The
staff console writes cases from logged conversations; ``bot.quality.regression`` runs
them against the assistant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import yaml

from bot import PROJECT_ROOT, datafiles
from bot.knowledge.entries import load_entries

REGRESSION_DIR = PROJECT_ROOT / "tests" / "regression"
FALLBACK = "fallback"
DEADLINE_PREFIX = "deadline:"
CASE_KEYS = {"id", "turns", "expect", "contains", "today", "known_failure"}


class _CaseLoader(yaml.SafeLoader):
    """Safe YAML where dates stay text (``today: 2026-13-01`` is then a clear problem
    of that case, not a crash of the whole file)."""


_CaseLoader.yaml_implicit_resolvers = {
    first: [resolver for resolver in resolvers if resolver[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class CaseFileError(ValueError):
    """Every problem found in the case files, each naming its file and case."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the regression cases:\n{lines}")


@dataclass(frozen=True)
class Case:
    id: str
    file: str                       # file stem = the group in reports
    turns: tuple[str, ...]
    expect: str                     # entry id | "fallback" | "deadline:<procedure id>"
    contains: tuple[str, ...] = ()
    today: date | None = None
    known_failure: str | None = None

    @property
    def expect_kind(self) -> str:
        """entry | fallback | deadline."""
        if self.expect == FALLBACK:
            return "fallback"
        if self.expect.startswith(DEADLINE_PREFIX):
            return "deadline"
        return "entry"


# ---------------------------------------------------------------- loading


def known_entry_ids() -> dict[str, str]:
    """Entry id → topic of every FAQ entry (validated)."""
    return {entry.id: entry.topic for entry in load_entries()}


def known_procedures() -> set[str]:
    """The deadline procedure ids (those ``data/deadlines.yml`` names)."""
    return set(datafiles.deadline_texts()["procedures"])


def _text_items(value: Any, name: str, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{where}: '{name}' must be a list, e.g. {name}: [文字]")
        return ()
    items = []
    for n, item in enumerate(value, start=1):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)  # contains: [12] is meant as the text "12"
        if not isinstance(item, str) or not item.strip():
            problems.append(f"{where}: '{name}' item {n} is empty or not text")
        else:
            items.append(item.strip())
    return tuple(items)


def _parse_case(raw: Any, n: int, file: Path, entry_ids: set[str], procedures: set[str],
                problems: list[str]) -> Case | None:
    if not isinstance(raw, dict):
        problems.append(f"{file.name} case #{n}: must be a mapping with id, turns and expect")
        return None
    case_id = raw.get("id")
    named = isinstance(case_id, str) and case_id
    where = f"{file.name} case {case_id!r}" if named else f"{file.name} case #{n}"
    before = len(problems)
    if not isinstance(case_id, str) or not case_id.strip() or case_id != case_id.strip():
        problems.append(f"{where}: 'id' is missing or not a plain text id")
    unknown = set(raw) - CASE_KEYS
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))} "
                        f"(allowed: {', '.join(sorted(CASE_KEYS))})")
    raw_turns = raw.get("turns")
    if raw_turns is None or raw_turns == []:
        problems.append(f"{where}: 'turns' is missing or empty: give at least one message")
    turns = _text_items(raw_turns, "turns", where, problems)
    expect = raw.get("expect")
    if not isinstance(expect, str) or not expect.strip():
        problems.append(f"{where}: 'expect' is missing "
                        "(an entry id, fallback or deadline:<procedure>)")
        expect = ""
    elif expect.startswith(DEADLINE_PREFIX):
        if expect[len(DEADLINE_PREFIX):] not in procedures:
            problems.append(f"{where}: unknown deadline procedure {expect!r} "
                            f"(known: {', '.join(sorted(procedures))})")
    elif expect != FALLBACK and expect not in entry_ids:
        problems.append(f"{where}: unknown entry id {expect!r} in 'expect'")
    contains = _text_items(raw.get("contains"), "contains", where, problems)
    today = raw.get("today")
    if isinstance(today, str):
        try:
            today = date.fromisoformat(today)
        except ValueError:
            problems.append(f"{where}: 'today' must be a date YYYY-MM-DD, not {today!r}")
            today = None
    elif today is not None and not isinstance(today, date):
        problems.append(f"{where}: 'today' must be a date YYYY-MM-DD")
        today = None
    known_failure = raw.get("known_failure")
    if known_failure is not None and not (isinstance(known_failure, str) and known_failure.strip()):
        problems.append(f"{where}: 'known_failure' must say why the case fails")
    if len(problems) > before:
        return None
    return Case(id=case_id, file=file.stem, turns=turns, expect=expect, contains=contains,
                today=today, known_failure=known_failure.strip() if known_failure else None)


def load_case_file(path: Path, entry_ids: Iterable[str], procedures: Iterable[str],
                   problems: list[str]) -> list[Case]:
    """The cases of one file; problems are appended to ``problems``."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CaseLoader)  # noqa: S506 (safe)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as error:
        problems.append(f"{path.name}: cannot be read as YAML: {error}".replace("\n", " "))
        return []
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list) or not data["cases"]:
        problems.append(f"{path.name}: must be a mapping with a non-empty 'cases' list")
        return []
    entry_ids, procedures = set(entry_ids), set(procedures)
    cases = []
    for n, raw in enumerate(data["cases"], start=1):
        case = _parse_case(raw, n, path, entry_ids, procedures, problems)
        if case is not None:
            cases.append(case)
    return cases


def load_cases(directory: Path = REGRESSION_DIR, entry_ids: Iterable[str] | None = None,
               procedures: Iterable[str] | None = None) -> list[Case]:
    """Every case of ``directory/*.yml``, validated; raises one :class:`CaseFileError`
    listing every problem (unknown entry or procedure, duplicate id, empty turns …)."""
    entry_ids = known_entry_ids() if entry_ids is None else entry_ids
    procedures = known_procedures() if procedures is None else procedures
    problems: list[str] = []
    files = sorted(Path(directory).glob("*.yml"))
    if not files:
        raise CaseFileError([f"{directory}: no case files (*.yml)"])
    cases: list[Case] = []
    for path in files:
        cases.extend(load_case_file(path, entry_ids, procedures, problems))
    seen: dict[str, str] = {}
    for case in cases:
        if case.id in seen:
            problems.append(f"{case.file}.yml case {case.id!r}: duplicate id "
                            f"(also in {seen[case.id]}.yml)")
        seen.setdefault(case.id, case.file)
    days = sorted({case.today for case in cases if case.today})
    if len(days) > 1:
        problems.append("cases pin different dates with 'today' "
                        f"({', '.join(d.isoformat() for d in days)}): a run has one date")
    if problems:
        raise CaseFileError(problems)
    return cases


def pinned_today(cases: Iterable[Case]) -> date | None:
    """The one date the cases pin with ``today`` (the servers' ASSISTANT_TODAY), if any."""
    days = {case.today for case in cases if case.today}
    if len(days) > 1:
        raise CaseFileError([f"cases pin different dates: {sorted(days)}"])
    return next(iter(days), None)


# ---------------------------------------------------------------- the assistant's outcome


def received_label(custom: dict[str, Any]) -> str:
    """What the assistant did, in the vocabulary of ``expect``: an entry id,
    ``fallback``, ``deadline:<procedure>``, ``did_you_mean:<first candidate>`` or
    another kind (``smalltalk``, ``form_prompt`` …); ``none`` without structured data."""
    kind = custom.get("kind")
    if kind == "faq_answer":
        return str(custom.get("entry_id"))
    if kind == "deadline":
        return f"{DEADLINE_PREFIX}{custom.get('procedure')}"
    if kind == "did_you_mean":
        candidates = custom.get("candidates") or []
        return f"did_you_mean:{candidates[0]}" if candidates else "did_you_mean"
    return str(kind) if kind else "none"


# ---------------------------------------------------------------- writing a case


def case_yaml(case: dict[str, Any], comments: Iterable[str] = ()) -> str:
    """One case as YAML ready to paste under ``cases:`` (indented by two spaces),
    preceded by ``# comments``."""
    order = ("id", "turns", "expect", "contains", "today", "known_failure")
    fields = {key: case[key] for key in order if case.get(key) not in (None, [], ())}
    lines = [f"  # {line}" for comment in comments for line in comment.splitlines()]
    first = True
    for key, value in fields.items():
        many = isinstance(value, (list, tuple))
        rendered = yaml.safe_dump(list(value) if many else [value], allow_unicode=True,
                                  default_flow_style=True, width=10_000).strip()
        if not many:
            rendered = rendered[1:-1]  # the flow list's brackets: "[x]" → "x"
        lines.append(f"  {'- ' if first else '  '}{key}: {rendered}")
        first = False
    return "\n".join(lines) + "\n"


def expect_from_reply(custom: dict[str, Any]) -> str:
    """A first guess at ``expect`` from what the assistant answered (staff correct it):
    the entry or deadline it gave, the first entry it offered, else ``fallback``."""
    kind = custom.get("kind")
    if kind in ("faq_answer", "deadline"):
        return received_label(custom)
    if kind == "did_you_mean" and custom.get("candidates"):
        return str(custom["candidates"][0])
    return FALLBACK


def logged_case_id(sender_id: str, turn: int, day: date) -> str:
    """``logged-20250901-alice000-2``: date, sender (letters and digits), user turn."""
    sender = "".join(ch for ch in sender_id if ch.isascii() and ch.isalnum())[:8] or "sender"
    return f"logged-{day:%Y%m%d}-{sender.lower()}-{turn}"




# ---------------------------------------------------------------- conversation cases

CONVERSATIONS_DIR = REGRESSION_DIR / "conversations"
# What a turn may expect besides an entry, fallback and deadline:<procedure>: the kind of
# reply (custom.kind) of the renderer or the domain's responses.
REPLY_KINDS = ("clarify", "form_prompt", "smalltalk", "contacts", "cancelled")
CONVERSATION_KEYS = {"id", "turns", "today", "known_failure"}
TURN_KEYS = {"say", "expect", "contains"}


@dataclass(frozen=True)
class ConversationTurn:
    say: str
    expect: str                     # entry id | fallback | deadline:<procedure> | a reply kind
    contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conversation:
    id: str
    file: str
    turns: tuple[ConversationTurn, ...]
    today: date | None = None
    known_failure: str | None = None


def _parse_turn(raw: Any, where: str, entry_ids: set[str], procedures: set[str],
                problems: list[str]) -> ConversationTurn | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("say"), str):
        problems.append(f"{where}: a turn needs 'say' (text) and 'expect'")
        return None
    unknown = set(raw) - TURN_KEYS
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    expect = raw.get("expect")
    if not isinstance(expect, str) or not expect:
        problems.append(f"{where}: 'expect' is missing")
        return None
    if expect.startswith(DEADLINE_PREFIX):
        if expect[len(DEADLINE_PREFIX):] not in procedures:
            problems.append(f"{where}: unknown deadline procedure {expect!r}")
    elif expect not in (FALLBACK, *REPLY_KINDS) and expect not in entry_ids:
        problems.append(f"{where}: unknown expect {expect!r}")
    contains = _text_items(raw.get("contains"), "contains", where, problems)
    return ConversationTurn(raw["say"], expect, contains)


def load_conversations(directory: Path = CONVERSATIONS_DIR) -> list[Conversation]:
    """Every conversation case of ``directory/*.yml``, validated (one
    :class:`CaseFileError` lists every problem)."""
    entry_ids, procedures = set(known_entry_ids()), known_procedures()
    problems: list[str] = []
    conversations: list[Conversation] = []
    for path in sorted(Path(directory).glob("*.yml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CaseLoader)  # noqa: S506
        for n, raw in enumerate((data or {}).get("conversations") or [], start=1):
            where = f"{path.name} conversation {raw.get('id', f'#{n}') if isinstance(raw, dict) else n}"
            if not isinstance(raw, dict) or not isinstance(raw.get("turns"), list) or not raw["turns"]:
                problems.append(f"{where}: needs an id and a list of turns")
                continue
            unknown = set(raw) - CONVERSATION_KEYS
            if unknown:
                problems.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
            turns = [_parse_turn(t, f"{where} turn {i}", entry_ids, procedures, problems)
                     for i, t in enumerate(raw["turns"], start=1)]
            today = raw.get("today")
            try:
                today = date.fromisoformat(today) if isinstance(today, str) else today
            except ValueError:
                problems.append(f"{where}: 'today' must be YYYY-MM-DD")
                today = None
            if None not in turns:
                conversations.append(Conversation(str(raw.get("id")), path.stem, tuple(turns),
                                                  today, raw.get("known_failure")))
    ids = [c.id for c in conversations]
    problems += [f"conversation id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise CaseFileError(problems)
    return conversations


def expected_in(expect: str, custom: dict[str, Any]) -> bool:
    """Whether a reply (its ``custom``) is what a case expects: the entry (also one of a
    per-region answer's entries), the fallback, the deadline rule or the reply kind."""
    kind = custom.get("kind")
    if expect == FALLBACK:
        return kind == "fallback"
    if expect.startswith(DEADLINE_PREFIX):
        return kind == "deadline" and custom.get("procedure") == expect[len(DEADLINE_PREFIX):]
    if expect in REPLY_KINDS:
        return kind == expect
    return kind == "faq_answer" and (custom.get("entry_id") == expect
                                     or expect in (custom.get("entries") or ()))
