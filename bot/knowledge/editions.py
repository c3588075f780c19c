"""What changed between two editions of a document, and which answers rest on it.

Passages are aligned by heading (the numbering of a question may move, so it is taken out),
then the rest by text; each pair is unchanged (same text once spacing and script are set
aside), changed (with the characters that changed marked) or the passage is new or
removed. Facts a reader checks first (dates, numbers of days, phone numbers, fees,
addresses, names of systems) are compared on their own, so a changed landline stands out
in a passage that otherwise reads the same. An entry is affected when it cites a changed
or removed passage, or its answer states a fact the new edition changed or dropped.
Pure functions: documents and entries in, the comparison out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from bot.knowledge.corpus import Document, Passage
from bot.knowledge.entries import Entry
from bot.lang.text import to_simplified

# Order matters: a phone number is not a count of days, a date not a fee.
FACT_PATTERNS: dict[str, re.Pattern] = {
    "url": re.compile(r"https?://[A-Za-z0-9./?=&_%#:~+-]+|www\.[A-Za-z0-9.-]+\.[a-z]{2,}[A-Za-z0-9/?=&_%#.-]*"),
    "phone": re.compile(r"(?<![\d-])(?:0\d{2,3}-\d{7,8}|1[3-9]\d{9}|400-?\d{3}-?\d{4}|12333)(?![\d-])"),
    "date": re.compile(r"\d{4}年\d{1,2}月(?:\d{1,2}日)?|(?<!\d)\d{1,2}月\d{1,2}日|每月\d{1,2}日[前后]?"
                       r"|每月最后一周|\d{4}-\d{1,2}-\d{1,2}"),
    "days": re.compile(r"(?<![\d月])\d+个?(?:工作日|自然日|天|周|个月)"),
    "fee": re.compile(r"\d+(?:\.\d+)?元"),
    "system": re.compile(r"“([^“”]{2,40}?(?:系统|平台|网站|公众号|专栏|APP|小程序))”"),
}
MIN_TEXT_SIMILARITY = 0.5
_NUMBERING = re.compile(r"^[(（]?[一二三四五六七八九十\d]+[)）、.．]\s*")


@dataclass(frozen=True)
class Segment:
    op: str      # equal | insert | delete
    text: str


@dataclass(frozen=True)
class FactChange:
    kind: str               # a key of FACT_PATTERNS
    old: str | None         # None: the new edition adds it
    new: str | None         # None: the new edition drops it
    old_passage: str | None
    new_passage: str | None


@dataclass(frozen=True)
class PassageChange:
    kind: str                           # new | changed | removed | unchanged
    old: Passage | None
    new: Passage | None
    segments: tuple[Segment, ...] = ()
    facts: tuple[FactChange, ...] = ()


@dataclass
class EditionDiff:
    old: Document
    new: Document
    passages: list[PassageChange]

    @property
    def facts(self) -> list[FactChange]:
        return [fact for change in self.passages for fact in change.facts]

    def of_kind(self, kind: str) -> list[PassageChange]:
        return [c for c in self.passages if c.kind == kind]

    def successor(self) -> dict[str, str]:
        """Old passage id → the new passage it became (changed or unchanged)."""
        return {c.old.id: c.new.id for c in self.passages if c.old and c.new}

    def touched(self) -> dict[str, PassageChange]:
        """Old passage ids that changed or were removed, with their change."""
        return {c.old.id: c for c in self.passages if c.old and c.kind in ("changed", "removed")}


@dataclass
class AffectedEntry:
    entry: Entry
    changes: list[PassageChange] = field(default_factory=list)   # the passages it rests on
    facts: list[FactChange] = field(default_factory=list)        # facts its answer states


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", to_simplified(text))


def _bare_heading(heading: str) -> str:
    return " › ".join(_NUMBERING.sub("", part.strip()) for part in to_simplified(heading).split("›"))


def facts_of(text: str) -> dict[str, list[str]]:
    """Every fact of a passage by kind, in order, each once (simplified script)."""
    text = to_simplified(text)
    found: dict[str, list[str]] = {}
    taken: list[tuple[int, int]] = []
    for kind, pattern in FACT_PATTERNS.items():
        for match in pattern.finditer(text):
            span = match.span()
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue    # inside an address or a number already taken
            taken.append(span)
            value = match.group(1) if pattern.groups else match.group(0)
            values = found.setdefault(kind, [])
            if value not in values:
                values.append(value)
    return found


def fact_changes(old: Passage | None, new: Passage | None) -> tuple[FactChange, ...]:
    """Facts of one kind the old passage states and the new one does not (and the other
    way); one out and one in of a kind are paired as a replacement."""
    before = facts_of(old.text_simplified) if old else {}
    after = facts_of(new.text_simplified) if new else {}
    out = []
    for kind in FACT_PATTERNS:
        gone = [v for v in before.get(kind, []) if v not in after.get(kind, [])]
        came = [v for v in after.get(kind, []) if v not in before.get(kind, [])]
        pairs = list(zip(gone, came)) if len(gone) == len(came) else []
        if pairs:
            out.extend(FactChange(kind, a, b, old.id, new.id) for a, b in pairs)
            continue
        out.extend(FactChange(kind, v, None, old.id if old else None, new.id if new else None) for v in gone)
        out.extend(FactChange(kind, None, v, old.id if old else None, new.id if new else None) for v in came)
    return tuple(out)


_TOKEN = re.compile(r"[A-Za-z0-9]+|\s+|.", re.S)


def char_segments(old: str, new: str) -> tuple[Segment, ...]:
    """The new text against the old, character by character (simplified script); a run
    of digits or Latin letters counts as one, so a changed number shows whole."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    out: list[Segment] = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            out.append(Segment("equal", "".join(a[a1:a2])))
            continue
        if a2 > a1:
            out.append(Segment("delete", "".join(a[a1:a2])))
        if b2 > b1:
            out.append(Segment("insert", "".join(b[b1:b2])))
    return tuple(out)


def _align(old: tuple[Passage, ...], new: tuple[Passage, ...]) -> list[tuple[Passage | None, Passage | None]]:
    pairs: dict[int, int] = {}          # old index → new index
    used: set[int] = set()
    for i, o in enumerate(old):         # the same heading, in order
        key = _bare_heading(o.heading)
        j = next((j for j, n in enumerate(new) if j not in used and _bare_heading(n.heading) == key), None)
        if j is not None:
            pairs[i] = j
            used.add(j)
    scored = sorted(((SequenceMatcher(None, _flat(o.text_simplified), _flat(n.text_simplified),
                                      autojunk=False).ratio(), i, j)
                     for i, o in enumerate(old) if i not in pairs
                     for j, n in enumerate(new) if j not in used), reverse=True)
    for score, i, j in scored:          # then the closest text
        if score >= MIN_TEXT_SIMILARITY and i not in pairs and j not in used:
            pairs[i] = j
            used.add(j)
    out: list[tuple[Passage | None, Passage | None]] = [(old[i], new[j]) for i, j in pairs.items()]
    out += [(o, None) for i, o in enumerate(old) if i not in pairs]
    out += [(None, n) for j, n in enumerate(new) if j not in used]
    order = {p.id: k for k, p in enumerate(new)}
    return sorted(out, key=lambda pair: (order[pair[1].id] if pair[1] else
                                         order.get(_next_new(pair[0], pairs, old, new), len(new)) - 0.5))


def _next_new(passage: Passage, pairs: dict[int, int], old, new) -> str | None:
    """Where a removed passage stands in the new edition: before its old successor."""
    i = old.index(passage)
    for k in range(i + 1, len(old)):
        if k in pairs:
            return new[pairs[k]].id
    return None


def compare(old: Document, new: Document) -> EditionDiff:
    """The passages of ``new`` against those of ``old``, in the new edition's order."""
    changes = []
    for o, n in _align(old.passages, new.passages):
        if o is None:
            changes.append(PassageChange("new", None, n, (Segment("insert", n.text_simplified),),
                                         fact_changes(None, n)))
        elif n is None:
            changes.append(PassageChange("removed", o, None, (Segment("delete", o.text_simplified),),
                                         fact_changes(o, None)))
        elif _flat(o.text_simplified) == _flat(n.text_simplified):
            changes.append(PassageChange("unchanged", o, n, (Segment("equal", n.text_simplified),)))
        else:
            changes.append(PassageChange("changed", o, n, char_segments(o.text_simplified, n.text_simplified),
                                         fact_changes(o, n)))
    return EditionDiff(old, new, changes)


def affected_entries(diff: EditionDiff, entries: list[Entry]) -> list[AffectedEntry]:
    """Entries whose citations include a changed or removed passage of the old edition, or
    whose answer states a fact the new edition changed or dropped."""
    touched = diff.touched()
    dropped = [f for f in diff.facts if f.old]
    out = []
    for entry in entries:
        changes = [touched[c] for c in entry.citations if c in touched]
        answer = to_simplified(entry.answer)
        # an answer that already cites the new passage may name the old fact to say it changed
        facts = [f for f in dropped if f.old in answer and f.new_passage not in entry.citations]
        if not changes and facts:
            changes = [c for c in diff.passages if c.old and c.old.id in {f.old_passage for f in facts}]
        if changes or facts:
            out.append(AffectedEntry(entry, changes, facts))
    return out


def new_without_entry(diff: EditionDiff, entries: list[Entry]) -> list[Passage]:
    """New passages of the new edition that no entry's answer could rest on yet (offered
    to the annotate page)."""
    cited = {c for e in entries for c in e.citations}
    return [c.new for c in diff.of_kind("new") if c.new.id not in cited]
