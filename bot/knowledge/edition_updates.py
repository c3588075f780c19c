"""Staff's decisions on a new edition, as changes ``bot.knowledge.editing`` validates and
writes: the document saved into ``data/faq/sources/``, and for each affected entry an
update (the new edition's passages cited first, the answer staff reviewed), a keep (with a
reason, noted in the changelog) or a retirement (the entry removed).

The proposed update changes only what the new edition changed: a passage the answer quotes
whole becomes the new passage, each fact the old edition stated and the new one replaced is
replaced in the answer, and a note from
``data/faq/editions.yml`` says what changed ("2025版起，…改为…"), so a candidate who read
the old edition is told it no longer holds. Staff read it before it is saved.
"""

from __future__ import annotations

from pathlib import Path

from bot import datafiles
from bot.knowledge.corpus import dump_yaml
from bot.knowledge.editing import (Change, ChangeRefused, entries_directory, entry_excerpt,
                                   entry_file, round_trip_dump, round_trip_yaml)
from bot.knowledge.editions import AffectedEntry, EditionDiff
from bot.knowledge.entries import load_knowledge_base
from bot.lang.text import to_simplified
from ruamel.yaml.scalarstring import LiteralScalarString


def _texts() -> dict:
    return datafiles.edition_texts()


def save_document(document: dict, sources_dir: Path | None = None,
                  entries_dir: Path | None = None) -> Change:
    """The new source file; refused by ``apply`` if a file of that id appeared meanwhile."""
    path = Path(sources_dir or datafiles.paths().sources_dir) / f"{document['id']}.yml"
    return Change("source", path, path.read_text(encoding="utf-8") if path.exists() else "",
                  dump_yaml(document), f"new document {document['id']}"
                  + (f" (supersedes {document['supersedes']})" if document.get("supersedes") else ""),
                  document["id"], entries_directory(entries_dir))


def proposed_citations(affected: AffectedEntry, diff: EditionDiff) -> list[str]:
    """The entry's citations with the old edition's passages replaced by what they became
    (dropped when removed), the new edition's first."""
    successor = diff.successor()
    old_ids = {p.id for p in diff.old.passages}
    new_ones, others = [], []
    for cited in affected.entry.citations:
        if cited in old_ids:
            if cited in successor:
                new_ones.append(successor[cited])
            continue
        (new_ones if cited.startswith(f"{diff.new.id}/") else others).append(cited)
    return list(dict.fromkeys(new_ones + others))


def change_notes(affected: AffectedEntry, diff: EditionDiff) -> list[str]:
    """One sentence per fact of the answer that the new edition changed or dropped."""
    notes = _texts()["change_notes"]
    edition = diff.new.edition or diff.new.title
    old_edition = diff.old.edition or diff.old.title
    out = []
    for fact in affected.facts:
        template = notes["replaced"] if fact.new else notes["removed"]
        out.append(template.format(edition=edition, old_edition=old_edition, old=fact.old, new=fact.new))
    return list(dict.fromkeys(out))


def proposed_answer(affected: AffectedEntry, diff: EditionDiff) -> str:
    """The answer with an old passage it quotes whole replaced by the new one, each
    replaced fact replaced, then the notes of what changed."""
    answer = to_simplified(affected.entry.answer).rstrip("\n")
    for change in affected.changes:
        if change.new and change.old.text_simplified.strip() in answer:
            answer = answer.replace(change.old.text_simplified.strip(), change.new.text_simplified.strip())
    for fact in affected.facts:
        if fact.new:
            answer = answer.replace(fact.old, fact.new)
    notes = change_notes(affected, diff)
    return "\n".join([answer, *notes]) + "\n"


def _load(entry_id: str, entries_dir: Path | None):
    path = entry_file(entry_id, entries_dir)
    before = path.read_text(encoding="utf-8")
    data = round_trip_yaml().load(before)
    entry = next(e for e in data["entries"] if e["id"] == entry_id)
    return path, before, data, entry


def update_entry(entry_id: str, answer: str, citations: list[str],
                 entries_dir: Path | None = None) -> Change:
    """The entry answered with ``answer`` (as staff reviewed it) citing ``citations``."""
    texts = _texts()["decisions"]
    answer = "\n".join(line.rstrip() for line in (answer or "").replace("\r", "").strip().split("\n"))
    if not answer:
        raise ChangeRefused([texts["empty_answer"]])
    citations = [c for c in dict.fromkeys(citations) if c]
    if not citations:
        raise ChangeRefused([texts["update_needs_citation"]])
    passages = load_knowledge_base(entries_dir).passages
    unknown = [c for c in citations if c not in passages]
    if unknown:
        raise ChangeRefused([texts["unknown_passage"].format(id=c) for c in unknown])
    path, before, data, entry = _load(entry_id, entries_dir)
    excerpt_before = entry_excerpt(entry)
    entry["answer"] = LiteralScalarString(answer + "\n")
    entry["citations"] = citations
    return Change("update_entry", path, before, round_trip_dump(data), f"{entry_id} updated to a new edition",
                  entry_id, entries_directory(entries_dir), [], excerpt_before, entry_excerpt(entry))


def keep_entry(entry_id: str, reason: str, entries_dir: Path | None = None) -> Change:
    """The entry kept as it is; the reason goes to the changelog."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ChangeRefused([_texts()["decisions"]["keep_needs_reason"]])
    path, before, _, entry = _load(entry_id, entries_dir)
    return Change("keep_entry", path, before, before, f"{entry_id} kept: {reason}", entry_id,
                  entries_directory(entries_dir), [], entry_excerpt(entry), entry_excerpt(entry))


def retire_entry(entry_id: str, entries_dir: Path | None = None) -> Change:
    """The entry removed, and from the related questions of its topic's other entries;
    refused while an entry of another topic lists it, or a regression case expects it."""
    kb = load_knowledge_base(entries_dir)
    path, before, data, entry = _load(entry_id, entries_dir)
    others = [e.id for e in kb.entries if entry_id in e.related and e.source_file != path.name]
    if others:
        raise ChangeRefused([_texts()["decisions"]["retire_blocked"].format(id=entry_id,
                                                                            others="、".join(others))])
    excerpt_before = entry_excerpt(entry)
    data["entries"] = [e for e in data["entries"] if e["id"] != entry_id]
    for other in data["entries"]:
        if entry_id in (other.get("related") or []):
            other["related"] = [r for r in other["related"] if r != entry_id]
            if not other["related"]:
                del other["related"]
    return Change("retire_entry", path, before, round_trip_dump(data), f"{entry_id} retired", entry_id,
                  entries_directory(entries_dir), [], excerpt_before, None)


def save_holidays(year: int, spec: dict, path: Path | None = None,
                  entries_dir: Path | None = None) -> Change:
    """One year's holiday schedule into ``data/holidays.yml``, checked first (see
    :func:`bot.lang.holiday_schedules.check_year`); only years the calendar package lacks."""
    from bot.lang import holiday_schedules, workdays

    first_open = (workdays.first_covered_year() or 0)
    while workdays.package_covers(first_open):
        first_open += 1
    if year < first_open:
        raise ChangeRefused([holiday_schedules.message("bad_year", year=year, first=first_open)])
    schedule, problems = holiday_schedules.check_year(year, spec)
    if schedule is None:
        raise ChangeRefused(problems)
    path = Path(path or datafiles.paths().holidays)
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    data = round_trip_yaml().load(before) if before else None
    data = data if isinstance(data, dict) else {}
    years = data.get("years") or {}
    years[year] = {
        "notice": schedule.notice,
        "holidays": [{"name": h["name"].strip(), "first": holiday_schedules.as_date(h["first"]),
                      "last": holiday_schedules.as_date(h.get("last") or h["first"])}
                     for h in spec["holidays"]],
        "makeup_workdays": [{"date": day, "name": name} for day, name in sorted(schedule.makeup_workdays.items())],
    }
    data["years"] = years
    text = round_trip_dump(data)
    if not before:
        text = "# Holiday schedules staff entered (bot/lang/holiday_schedules.py).\n" + text
    return Change("holidays", path, before, text, f"holiday schedule {year}", str(year),
                  entries_directory(entries_dir), [], None, round_trip_dump({year: years[year]}))
