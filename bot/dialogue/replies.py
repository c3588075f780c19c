"""Turn a retrieval decision into the reply every channel shows.

One place decides the wording (templates in ``data/faq/replies.yml``), the source
line, the region note, the quick replies and the script (traditional in,
traditional out). The result follows the message contract in ``docs/CONTRACTS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot import PROJECT_ROOT
from bot.lang.regions import NATIONWIDE, Place, applies_to
from bot.retrieval.settings import load_settings
from bot.lang.text import has_words, in_script_of, strip_control

REPLIES_FILE = PROJECT_ROOT / "data" / "faq" / "replies.yml"
CONTACTS_FILE = PROJECT_ROOT / "data" / "faq" / "contacts.yml"
MAX_BUTTONS = 3
MAX_FALLBACK_CONTACTS = 5
# Among hits this close to the best one (in confidence), a hit for the candidate's own
# province wins.
REGION_PREFERENCE_MARGIN = 0.2


@dataclass
class Reply:
    """What the assistant says: text for any channel, quick replies, structured data."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=1)
def templates(path: Path = REPLIES_FILE) -> dict[str, str]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def contacts(path: Path = CONTACTS_FILE) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return data.get("contacts", []) if isinstance(data, dict) else data


def _how(contact: dict[str, Any]) -> str:
    """Phone, web address or WeChat account, whichever the document gives."""
    if contact.get("phone"):
        return str(contact["phone"])
    if contact.get("url"):
        return str(contact["url"])
    return templates()["wechat_item"].format(account=contact["wechat"])


def reachable_contacts() -> list[dict[str, Any]]:
    """Contacts the documents give a phone, address or WeChat account for."""
    return [c for c in contacts() if c.get("phone") or c.get("url") or c.get("wechat")]


@lru_cache(maxsize=1)
def _input_limit() -> int:
    """One length limit for CLI, actions and web (``max_input_chars`` in retrieval.yml)."""
    return load_settings().max_input_chars


def check_question(text: str | None) -> Reply | None:
    """A reply for input that is not a question (empty, symbols only, too long),
    or None when the text can go to retrieval."""
    t = templates()
    cleaned = strip_control(text or "").strip()
    if not cleaned:
        return Reply(t["empty_input"], custom={"kind": "invalid_input", "reason": "empty"})
    limit = _input_limit()
    if len(cleaned) > limit:
        return Reply(t["too_long"].format(length=len(cleaned), limit=limit),
                     custom={"kind": "invalid_input", "reason": "too_long"})
    if not has_words(cleaned):
        return Reply(t["no_words"], custom={"kind": "invalid_input", "reason": "no_words"})
    return None


def format_date(value: date | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else templates()["undated"]


def _sources(hit: Any) -> list[dict[str, Any]]:
    """One source per document, in citation order (newest edition first)."""
    seen, sources = set(), []
    for citation in hit.citations:
        if citation.document_id in seen:
            continue
        seen.add(citation.document_id)
        sources.append({
            "title": citation.title, "issuer": citation.issuer,
            "date": format_date(citation.published), "region": hit.region,
            "passage_id": citation.passage_id, "url": citation.source_url,
        })
    return sources


def choose_hit(hits: list[Any], province: str | None) -> Any:
    """The best hit, or a nearly-as-good one that applies to the candidate's province."""
    best = hits[0]
    if province is None or applies_to(best.region, province):
        return best
    for hit in hits[1:]:
        if best.score - hit.score > REGION_PREFERENCE_MARGIN:
            break
        if hit.region != NATIONWIDE and applies_to(hit.region, province):
            return hit
    return best


def region_note(rule_region: str, place: Place | None) -> str | None:
    """Say where a rule comes from when the candidate asked about somewhere else."""
    if place is None or applies_to(rule_region, place.province):
        return None
    key = "region_note_other" if not place.covered else "region_note_missing"
    return templates()[key].format(place=place.name, region=rule_region)


def _buttons(questions: list[str]) -> list[dict[str, str]]:
    return [{"title": q, "payload": q} for q in questions[:MAX_BUTTONS]]


def answer_reply(hit: Any, related_questions: list[str], place: Place | None,
                 user_text: str) -> Reply:
    """The answer, its source line and region, and follow-up quick replies."""
    t = templates()
    sources = _sources(hit)
    note = region_note(hit.region, place)
    source_text = t["source_line"].format(sources="；".join(
        t["source_item"].format(**s) for s in sources))
    lines = [hit.answer.strip(), "", source_text, t["applies_line"].format(region=hit.region)]
    if note:
        lines += ["", note]
    custom = {
        "kind": "faq_answer", "entry_id": hit.id, "score": round(float(hit.score), 4),
        "topic": hit.topic, "answer": in_script_of(user_text, hit.answer.strip()),
        "sources": sources, "region": hit.region,
        "region_note": in_script_of(user_text, note) if note else None,
    }
    text = in_script_of(user_text, "\n".join(lines))
    return Reply(text, _buttons([in_script_of(user_text, q) for q in related_questions]), custom)


def did_you_mean_reply(hits: list[Any], user_text: str) -> Reply:
    """Close candidates as quick replies when no entry is a confident match."""
    t = templates()
    questions = [in_script_of(user_text, h.question) for h in hits[:MAX_BUTTONS]]
    lines = [t["did_you_mean"]] + [f"{i}. {q}" for i, q in enumerate(questions, 1)]
    lines.append(t["did_you_mean_hint"])
    custom = {"kind": "did_you_mean", "entry_id": None,
              "score": round(float(hits[0].score), 4) if hits else None,
              "topic": hits[0].topic if hits else None,
              "candidates": [h.id for h in hits[:MAX_BUTTONS]], "sources": []}
    return Reply(in_script_of(user_text, "\n".join(lines)), _buttons(questions), custom)


def fallback_reply(user_text: str, best_score: float | None = None) -> Reply:
    """The honest fallback: what the assistant covers and where to get help."""
    t = templates()
    lines = [t["fallback"].strip()]
    people = reachable_contacts()[:MAX_FALLBACK_CONTACTS]
    if people:
        lines.append(t["fallback_contacts_heading"])
        lines += [t["contact_item"].format(name=c["name"], how=_how(c)) for c in people]
    custom = {"kind": "fallback", "entry_id": None,
              "score": round(float(best_score), 4) if best_score is not None else None,
              "topic": None, "sources": []}
    return Reply(in_script_of(user_text, "\n".join(lines)), [], custom)


def decision_reply(decision: Any, user_text: str, place: Place | None,
                   related: dict[str, str]) -> Reply:
    """Reply for a retrieval decision; ``related`` maps entry id → question."""
    if decision.kind == "answer":
        hit = choose_hit(decision.hits, place.province if place else None)
        questions = [related[i] for i in hit.related if i in related]
        questions += [h.question for h in decision.hits if h.id != hit.id and h.question not in questions]
        return answer_reply(hit, questions, place, user_text)
    if decision.kind == "did_you_mean":
        return did_you_mean_reply(decision.hits, user_text)
    best = decision.hits[0].score if decision.hits else None
    return fallback_reply(user_text, best)


def contacts_reply(user_text: str) -> Reply:
    """Who to contact, for "转人工" and similar."""
    t = templates()
    lines = [t["fallback_contacts_heading"]]
    for contact in reachable_contacts():
        line = t["contact_item"].format(name=contact["name"], how=_how(contact))
        when = contact.get("when")
        lines.append(t["contact_when"].format(line=line, when=when) if when else line)
    lines.append(t["contacts_footer"])
    return Reply(in_script_of(user_text, "\n".join(lines)), [], {"kind": "contacts", "sources": []})
