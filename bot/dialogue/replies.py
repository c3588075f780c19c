"""The one renderer: every reply every channel shows (Rasa actions, web, CLI, staff).

Wording comes from ``data/faq/replies.yml``; this module decides what a reply holds (the
answer, its sources, the region note, quick replies) and shapes it as the message
contract of ``docs/CONTRACTS.md``. Citations and dates are formatted here and nowhere
else. Replies are built in simplified script; :meth:`Reply.in_script` puts a finished
reply into the candidate's script, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Iterable

from bot import datafiles
from bot.knowledge.corpus import Citation
from bot.lang.regions import Place, applies_to, nationwide
from bot.lang.text import has_words, strip_control, to_traditional

MAX_BUTTONS = 3
MAX_FALLBACK_CONTACTS = 5
# Among hits this close to the best one (in confidence), a hit for the candidate's own
# province wins.
REGION_PREFERENCE_MARGIN = 0.2
# The parts of ``custom`` that are text for the candidate (converted with the reply).
SCRIPTED_CUSTOM_KEYS = ("answer", "region_note", "details")


@dataclass(frozen=True)
class Reply:
    """What the assistant says: text for any channel, quick replies, structured data."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)

    def in_script(self, traditional: bool) -> Reply:
        """This reply in traditional script when the candidate writes traditional (text,
        quick replies and the texts of ``custom``); unchanged otherwise."""
        if not traditional:
            return self
        custom = {key: _traditional(value) if key in SCRIPTED_CUSTOM_KEYS and value else value
                  for key, value in self.custom.items()}
        buttons = [{"title": to_traditional(b["title"]), "payload": to_traditional(b["payload"])}
                   for b in self.buttons]
        return replace(self, text=to_traditional(self.text), buttons=buttons, custom=custom)


def _traditional(value: Any) -> Any:
    """Text, or the texts inside a list or mapping, in traditional script."""
    if isinstance(value, str):
        return to_traditional(value)
    if isinstance(value, list):
        return [_traditional(v) for v in value]
    if isinstance(value, dict):
        return {k: _traditional(v) for k, v in value.items()}
    return value


def texts() -> dict[str, Any]:
    """The reply wording (``data/faq/replies.yml``)."""
    return datafiles.reply_texts()


# ---------------------------------------------------------------- dates and citations

def format_date(day: date | None, weekday: bool = False) -> str:
    """``2024年10月18日``, with ``weekday`` ``2024年10月18日（星期五）``; the "undated" text
    for a document without a date."""
    t = texts()
    if day is None:
        return t["undated"]
    text = t["date"].format(year=day.year, month=day.month, day=day.day)
    return t["date_with_weekday"].format(date=text, weekday=t["weekdays"][day.weekday()]) \
        if weekday else text


def sources_of(citations: Iterable[Citation], region: str) -> list[dict[str, Any]]:
    """One source per document, in citation order (newest edition first), each with its
    first cited passage: the ``sources`` of the message contract."""
    seen: set[str] = set()
    sources = []
    for citation in citations:
        if citation.document_id in seen:
            continue
        seen.add(citation.document_id)
        sources.append({"title": citation.title, "issuer": citation.issuer,
                        "date": format_date(citation.published), "region": region,
                        "passage_id": citation.passage_id, "url": citation.source_url})
    return sources


def citation_text(source: dict[str, Any]) -> str:
    """One source as candidates read it: 《title》（issuer，date）."""
    return texts()["source_item"].format(**source)


def cited_documents(sources: Iterable[dict[str, Any]]) -> str:
    """The sources' citations joined into one line's worth of text."""
    return texts()["source_separator"].join(citation_text(source) for source in sources)


# ---------------------------------------------------------------- input

def check_question(text: str | None, limit: int) -> Reply | None:
    """A reply for input that is not a question (empty, symbols only, longer than
    ``limit``), or None when the text can go to retrieval."""
    t = texts()
    cleaned = strip_control(text or "").strip()
    if not cleaned:
        return Reply(t["empty_input"], custom={"kind": "invalid_input", "reason": "empty"})
    if len(cleaned) > limit:
        return Reply(t["too_long"].format(length=len(cleaned), limit=limit),
                     custom={"kind": "invalid_input", "reason": "too_long"})
    if not has_words(cleaned):
        return Reply(t["no_words"], custom={"kind": "invalid_input", "reason": "no_words"})
    return None


# ---------------------------------------------------------------- answers

def choose_hit(hits: list[Any], province: str | None) -> Any:
    """The best hit, or a nearly-as-good one that applies to the candidate's province."""
    best = hits[0]
    if province is None or applies_to(best.region, province):
        return best
    for hit in hits[1:]:
        if best.score - hit.score > REGION_PREFERENCE_MARGIN:
            break
        if hit.region != nationwide() and applies_to(hit.region, province):
            return hit
    return best


def region_note(rule_region: str, place: Place | None) -> str | None:
    """Say where a rule comes from when the candidate asked about somewhere else."""
    if place is None or applies_to(rule_region, place.province):
        return None
    key = "region_note_other" if not place.covered else "region_note_missing"
    return texts()[key].format(place=place.name, region=rule_region)


def _buttons(questions: list[str]) -> list[dict[str, str]]:
    return [{"title": q, "payload": q} for q in questions[:MAX_BUTTONS]]


def answer_reply(hit: Any, related_questions: list[str], place: Place | None) -> Reply:
    """The answer, its source line and region, and follow-up quick replies."""
    t = texts()
    sources = sources_of(hit.citations, hit.region)
    note = region_note(hit.region, place)
    lines = [hit.answer.strip(), "", t["source_line"].format(sources=cited_documents(sources)),
             t["applies_line"].format(region=hit.region)]
    if note:
        lines += ["", note]
    custom = {
        "kind": "faq_answer", "entry_id": hit.id, "score": round(float(hit.score), 4),
        "topic": hit.topic, "answer": hit.answer.strip(), "sources": sources,
        "region": hit.region, "region_note": note,
    }
    return Reply("\n".join(lines), _buttons(related_questions), custom)


def did_you_mean_reply(hits: list[Any]) -> Reply:
    """Close candidates as quick replies when no entry is a confident match."""
    t = texts()
    questions = [h.question for h in hits[:MAX_BUTTONS]]
    lines = [t["did_you_mean"]] + [f"{i}. {q}" for i, q in enumerate(questions, 1)]
    lines.append(t["did_you_mean_hint"])
    custom = {"kind": "did_you_mean", "entry_id": None,
              "score": round(float(hits[0].score), 4) if hits else None,
              "topic": hits[0].topic if hits else None,
              "candidates": [h.id for h in hits[:MAX_BUTTONS]], "sources": []}
    return Reply("\n".join(lines), _buttons(questions), custom)


def regional_hits(decision: Any, answer_threshold: float) -> list[Any]:
    """When no entry is a confident match only because the documents answer the same
    question per region ("寄证书收费不": Guangdong's direct mail, Guangzhou, Henan), those
    entries, one per region, best first; else []."""
    if decision.kind != "did_you_mean" or not decision.hits:
        return []
    topic = decision.hits[0].topic
    regional: dict[str, Any] = {}
    for hit in decision.hits:
        if hit.topic == topic and hit.region != nationwide() and hit.region not in regional:
            regional[hit.region] = hit
    hits = list(regional.values())
    return hits if len(hits) > 1 and sum(h.score for h in hits) >= answer_threshold else []


def regional_reply(hits: list[Any]) -> Reply:
    """The same question answered for each region, each in the first sentence of its
    entry's answer, with every source; quick replies open each region's full answer."""
    t = texts()
    lines = [t["regional_heading"]]
    lines += [t["regional_item"].format(region=h.region, answer=_first_sentence(h.answer))
              for h in hits]
    lines.append(t["regional_hint"])
    sources = [source for h in hits for source in sources_of(h.citations, h.region)]
    body = "\n".join(lines)
    custom = {"kind": "faq_answer", "entry_id": hits[0].id, "entries": [h.id for h in hits],
              "score": round(float(hits[0].score), 4), "topic": hits[0].topic, "answer": body,
              "sources": sources, "region": t["regional_region"]}
    text = "\n".join([body, "", t["source_line"].format(sources=cited_documents(sources))])
    return Reply(text, _buttons([h.question for h in hits]), custom)


def _first_sentence(answer: str) -> str:
    """An answer's first sentence (up to its first 。), which states the rule."""
    first = answer.strip().split("\n")[0]
    end = first.find("。")
    return first[: end + 1] if end >= 0 else first


def reachable_contacts() -> list[dict[str, Any]]:
    """Contacts the documents give a phone, address or WeChat account for."""
    return [c for c in datafiles.contacts() if c.get("phone") or c.get("url") or c.get("wechat")]


def contact_line(contact: dict[str, Any], with_when: bool = False) -> str:
    """``· name：phone`` (or web address, or WeChat account), optionally with when to use it."""
    t = texts()
    if contact.get("phone"):
        how = str(contact["phone"])
    elif contact.get("url"):
        how = str(contact["url"])
    else:
        how = t["wechat_item"].format(account=contact["wechat"])
    line = t["contact_item"].format(name=contact["name"], how=how)
    when = contact.get("when")
    return t["contact_when"].format(line=line, when=when) if with_when and when else line


def fallback_reply(best_score: float | None = None) -> Reply:
    """The honest fallback: what the assistant covers and where to get help."""
    t = texts()
    lines = [t["fallback"].strip()]
    people = reachable_contacts()[:MAX_FALLBACK_CONTACTS]
    if people:
        lines.append(t["fallback_contacts_heading"])
        lines += [contact_line(c) for c in people]
    custom = {"kind": "fallback", "entry_id": None,
              "score": round(float(best_score), 4) if best_score is not None else None,
              "topic": None, "sources": []}
    return Reply("\n".join(lines), [], custom)


def unavailable_reply() -> Reply:
    """The polite reply when the assistant cannot answer right now (a server is down or
    too slow): what happened, what to do, and the help contacts."""
    t = texts()
    lines = [t["unavailable"].strip(), t["fallback_contacts_heading"]]
    lines += [contact_line(c) for c in reachable_contacts()[:MAX_FALLBACK_CONTACTS]]
    return Reply("\n".join(lines), [], {"kind": "unavailable", "retry": True, "sources": []})


def decision_reply(decision: Any, place: Place | None, related: dict[str, str]) -> Reply:
    """Reply for a retrieval decision; ``related`` maps entry id → question."""
    if decision.kind == "answer":
        hit = choose_hit(decision.hits, place.province if place else None)
        questions = [related[i] for i in hit.related if i in related]
        questions += [h.question for h in decision.hits
                      if h.id != hit.id and h.question not in questions]
        return answer_reply(hit, questions, place)
    if decision.kind == "did_you_mean":
        return did_you_mean_reply(decision.hits)
    best = decision.hits[0].score if decision.hits else None
    return fallback_reply(best)


def contacts_reply() -> Reply:
    """Who to contact, for "转人工" and similar."""
    t = texts()
    lines = [t["fallback_contacts_heading"]]
    lines += [contact_line(contact, with_when=True) for contact in reachable_contacts()]
    lines.append(t["contacts_footer"])
    return Reply("\n".join(lines), [], {"kind": "contacts", "sources": []})


def clarify_options_reply(topic: str, options: Iterable[Any]) -> Reply:
    """Ask back which point of the last answer's topic the candidate means, with the
    likely entries as quick replies ("您是想问生僻字的哪一点？"); options from other topics
    too are asked without naming one ("您指的是哪方面？")."""
    t = texts()
    hits = list(options)
    name = t["topic_names"].get(topic, "") if all(h.topic == topic for h in hits) else ""
    text = t["clarify_topic"].format(topic=name) if name else t["clarify_any"]
    custom = {"kind": "clarify", "topic": topic, "candidates": [h.id for h in hits], "sources": []}
    return Reply(text, _buttons([h.question for h in hits]), custom)


def clarify_reply(text: str) -> Reply:
    """A question back to the candidate (which question a region follow-up is about)."""
    return Reply(text, [], {"kind": "clarify", "sources": []})


def for_english_reader(reply: Reply) -> Reply:
    """A reply to a message written in English: an answer stays Chinese (the documents
    are) with a one-line note in English; anything else says in English that the
    assistant answers in Chinese, with the help contacts."""
    t = texts()
    if reply.custom.get("kind") in ("faq_answer", "deadline"):
        return replace(reply, text=f"{reply.text}\n\n{t['english_note']}",
                       custom={**reply.custom, "english_note": t["english_note"]})
    if reply.custom.get("kind") not in ("fallback", "did_you_mean", "clarify"):
        return reply
    lines = [t["english_fallback"].strip(), t["english_contacts_heading"]]
    lines += [contact_line(c) for c in reachable_contacts()[:MAX_FALLBACK_CONTACTS]]
    return replace(reply, text="\n".join(lines))


def with_other_questions(reply: Reply, also: list[Any], unanswered: list[str]) -> Reply:
    """An answer to a message that asked several things: the other answered questions in
    a folded section (their answers, first sentence each, with quick replies to open
    them), and the questions the documents do not answer, said plainly."""
    if not also and not unanswered:
        return reply
    t = texts()
    lines = [t["other_question_item"].format(question=h.question, answer=_first_sentence(h.answer))
             for h in also]
    lines += [t["unanswered_question_item"].format(question=q) for q in unanswered]
    details = {"summary": t["other_questions_summary"], "lines": lines}
    buttons = _buttons([h.question for h in also] + [b["title"] for b in reply.buttons])
    custom = {**reply.custom, "details": details,
              "entries": [reply.custom.get("entry_id"), *(h.id for h in also)]}
    text = "\n".join([reply.text, "", t["other_questions_summary"], *lines])
    return replace(reply, text=text, buttons=buttons, custom=custom)
