"""Which province a candidate is talking about, and whether a rule applies there.

The documents cover Guangdong (with Guangzhou specifics), Henan and national rules;
every other province gets an honest note naming where the rule comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot import PROJECT_ROOT
from bot.lang.text import normalise

REGIONS_FILE = PROJECT_ROOT / "data" / "faq" / "regions.yml"
NATIONWIDE = "全国"


@dataclass(frozen=True)
class Place:
    """A place named in a message: its display name and the province it belongs to."""

    name: str
    province: str
    covered: bool


@lru_cache(maxsize=1)
def _table(path: Path = REGIONS_FILE) -> tuple[dict[str, str], list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    alias_to_province: dict[str, str] = {}
    for province, aliases in data["covered"].items():
        for alias in aliases:
            alias_to_province[alias] = province
    others = [p for p in data["other_provinces"]]
    for other in others:
        alias_to_province.setdefault(other, other)
    return alias_to_province, sorted(data["covered"])


def covered_provinces() -> list[str]:
    """Provinces the documents have rules for."""
    return _table()[1]


def all_place_names() -> list[str]:
    """Every place name we recognise (for Rasa's lookup table)."""
    return sorted(_table()[0], key=lambda name: (-len(name), name))


def find_place(text: str) -> Place | None:
    """The first place named in the text, longest name first (广州市 before 广州)."""
    normalised = normalise(text)
    alias_to_province, covered = _table()
    hits = [(normalised.find(name), -len(name), name) for name in alias_to_province
            if len(name) > 1 and name in normalised]
    if not hits:
        return None
    _, _, name = min(hits)
    province = alias_to_province[name]
    return Place(name=name, province=province, covered=province in covered)


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
    if province is None or rule_region == NATIONWIDE:
        return True
    return rule_region.startswith(province)
