"""Which province a candidate is talking about, and whether a rule applies there.

The documents cover Guangdong (with Guangzhou specifics), Henan and national rules
(the rule regions of ``data/faq/regions.yml``); every other province gets an honest note
naming where the rule comes from. Place names are matched on normalised text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot import datafiles


@dataclass(frozen=True)
class Place:
    """A place named in a message: its display name and the province it belongs to."""

    name: str
    province: str
    covered: bool


def _data() -> dict[str, Any]:
    return datafiles.region_data()


def nationwide() -> str:
    """The region name of rules that apply everywhere (全国)."""
    return str(_data()["nationwide"])


def rule_regions() -> tuple[str, ...]:
    """The regions the documents' rules are written for."""
    return tuple(_data()["rule_regions"])


def _aliases() -> dict[str, str]:
    """Every place name → its province (covered provinces first, then the others)."""
    data = _data()
    alias_to_province: dict[str, str] = {}
    for province, aliases in data["covered"].items():
        for alias in aliases:
            alias_to_province[alias] = province
    for other in data["other_provinces"]:
        alias_to_province.setdefault(other, other)
    return alias_to_province


def covered_provinces() -> list[str]:
    """Provinces the documents have rules for."""
    return sorted(_data()["covered"])


def all_place_names() -> list[str]:
    """Every place name we recognise (for Rasa's lookup table)."""
    return sorted(_aliases(), key=lambda name: (-len(name), name))


def find_place(normalised: str) -> Place | None:
    """The first place named in normalised text, longest name first (广州市 before 广州);
    one-character abbreviations (粤, 豫) are too ambiguous to count."""
    alias_to_province = _aliases()
    hits = [(normalised.find(name), -len(name), name) for name in alias_to_province
            if len(name) > 1 and name in normalised]
    if not hits:
        return None
    _, _, name = min(hits)
    province = alias_to_province[name]
    return Place(name=name, province=province, covered=province in _data()["covered"])


def _mentions(normalised: str) -> list[tuple[int, int, str]]:
    """Every place name in normalised text as (start, end, name), left to right, the
    longest name where names overlap (广州市 over 广州)."""
    found: list[tuple[int, int, str]] = []
    for name in sorted(_aliases(), key=len, reverse=True):
        if len(name) < 2:
            continue
        start = normalised.find(name)
        while start >= 0:
            end = start + len(name)
            if all(end <= s or start >= e for s, e, _ in found):
                found.append((start, end, name))
            start = normalised.find(name, end)
    return sorted(found)


def _lived_in(normalised: str, start: int, end: int) -> bool:
    """The place at [start, end) is named as where the candidate lives or works."""
    words = _data().get("place_context") or {}
    if any(normalised[:start].endswith(w) for w in words.get("before", ())):
        return True
    after = normalised[end:]
    for filler in words.get("fillers", ()):
        if after.startswith(filler):
            after = after[len(filler):]
            break
    return any(after.startswith(w) for w in words.get("after", ()))


def places_named(normalised: str, clause_bounds: list[tuple[int, int]]
                 ) -> tuple[Place | None, list[tuple[int, int]]]:
    """The place a message's rules are of, and the spans of the places it names only as
    where the candidate lives or works (context: "我在深圳上班，去年在河南考的证" is about
    Henan). Among the other places, one in a clause with exam words (考, 证 …) comes
    first ("人在北京，广州考区的证书" is Guangzhou's), then the first named.
    ``clause_bounds``: the (start, end) of each clause of the text."""
    mentions = _mentions(normalised)
    context = [(s, e) for s, e, _ in mentions if _lived_in(normalised, s, e)]
    rest = [(s, e, name) for s, e, name in mentions if (s, e) not in context]
    if not rest:
        return None, context
    exam = _data().get("exam_words") or ()

    def clause_of(start: int) -> str:
        return next((normalised[a:b] for a, b in clause_bounds if a <= start < b), normalised)

    _, _, name = min(rest, key=lambda m: (not any(w in clause_of(m[0]) for w in exam), m[0]))
    province = _aliases()[name]
    return Place(name=name, province=province, covered=province in _data()["covered"]), context


def rule_region_named(normalised: str) -> str | None:
    """The rule region normalised text names, for choosing between deadline rules: a
    city with rules of its own (广州, 穗) wins, then the first covered province named
    (abbreviations such as 豫 count here), then the nationwide words; else None."""
    data = _data()
    for city, aliases in (data.get("cities") or {}).items():
        if any(alias in normalised for alias in aliases):
            return city
    mentions = [(normalised.find(alias), province) for province, aliases in data["covered"].items()
                for alias in aliases if alias in normalised]
    if mentions:
        return min(mentions)[1]
    if any(word in normalised for word in data.get("nationwide_words") or []):
        return nationwide()
    return None


def rule_region_of(place: Place) -> str:
    """The most specific rule region a place has: its city's (广州 → 广东省广州市) when the
    documents have rules for that city, else its province."""
    for city, aliases in (_data().get("cities") or {}).items():
        if place.name in aliases:
            return city
    return place.province


def province_of(name: str | None) -> str | None:
    """Province for a place name (entity value or slot), or None if unknown."""
    if not name:
        return None
    place = find_place(name)
    return place.province if place else None


def applies_to(rule_region: str, province: str | None) -> bool:
    """True when a rule written for ``rule_region`` covers ``province`` (or no
    province was named). ``广东省广州市`` rules apply within 广东省 only to Guangzhou,
    which the reply's source line states."""
    if province is None or rule_region == nationwide():
        return True
    return rule_region.startswith(province)


def within(region: str, rule_region: str) -> bool:
    """True when ``region`` is ``rule_region`` or part of it (广东省广州市 within 广东省)."""
    return region == rule_region or (rule_region != nationwide() and region.startswith(rule_region))
