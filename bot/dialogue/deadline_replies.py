"""Deadline replies: a :class:`~bot.dialogue.deadlines.DeadlineResult` as the text and
structured data every channel shows, with the templates of ``data/deadlines.yml`` and the
dates and citations of the one renderer (:mod:`bot.dialogue.replies`)."""

from __future__ import annotations

from typing import Any

from bot.dialogue.deadlines import DeadlineResult, load_texts, procedure_name
from bot.dialogue.replies import Reply, cited_documents, format_date, sources_of
from bot.knowledge.corpus import citations, load_documents
from bot.lang import workdays
from bot.lang.dates import ParsedDate
from bot.lang.workdays import Step


def _day(day) -> str:
    return format_date(day, weekday=True)


def _step_line(step: Step, texts: dict) -> str:
    holiday_names = texts["holiday_names"]
    names = texts["name_separator"].join(holiday_names.get(n, n) for n in step.names)
    if step.kind == workdays.STEP_ART203_SHIFT and not names:
        names = texts["weekend_rest_day"]
    kind = step.kind
    first_year = workdays.first_covered_year()
    if kind == workdays.STEP_UNCOVERED and first_year and step.year and step.year < first_year:
        kind = "uncovered_year_before"
    fields = {
        "first_year": first_year,
        "date": _day(step.date),
        "end": _day(step.end) if step.end else "",
        "original": _day(step.original) if step.original else "",
        "names": names, "count": step.count, "year": step.year,
        "unit": texts["units"].get(step.unit, "") if step.unit else "",
    }
    return texts["steps"][kind].format(**fields)


def result_sources(result: DeadlineResult) -> list[dict[str, Any]]:
    """The documents a result cites, one per document in citation order (newest edition
    first), shaped like an FAQ answer's sources (docs/CONTRACTS.md)."""
    return sources_of(citations(result.sources, load_documents()), result.region)


def _source_line(result: DeadlineResult, sources: list[dict[str, Any]], texts: dict) -> str:
    """One line naming the documents (passage ids stay in ``custom.sources``, for staff)."""
    return texts["reply"]["source"].format(region=result.region,
                                           citations=cited_documents(sources))


def _headline(result: DeadlineResult, texts: dict) -> str:
    spec = texts["procedures"][result.procedure_id]
    fields = {"input": _day(result.input_date),
              "deadline": _day(result.deadline) if result.deadline else ""}
    if result.window:
        fields["window_start"] = _day(result.window[0])
        fields["window_end"] = _day(result.window[1])
    if result.procedure_id == "ecert_annotation":
        d = result.details
        fields.update(ready_by=_day(d["ready_by"]), valid_until=_day(d["valid_until"]),
                      next_slot=_day(d["next_slot"]))
        return spec["headline_allowed" if d["allowed"] else "headline_blocked"].format(**fields)
    return spec["headline"].format(**fields)


def _status(result: DeadlineResult, texts: dict) -> str | None:
    reply = texts["reply"]
    if result.procedure_id == "ecert_annotation" or result.deadline is None:
        return None
    target = result.window[0] if result.window else result.deadline
    days = (target - result.today).days
    if days > 0:
        return reply["status_future"].format(days=days)
    if days == 0:
        return reply["status_today"]
    return reply["status_past"].format(days=-days)


def _annotation_lines(result: DeadlineResult, reply: dict) -> list[str]:
    d = result.details
    lines = []
    if d["counted"]:
        lines.append(reply["annotation_counted"].format(
            dates=reply["list_separator"].join(_day(x) for x in d["counted"])))
    if d["remaining"]:
        lines.append(reply["annotation_slots"].format(count=d["active_count"],
                                                      remaining=d["remaining"]))
    elif d["allowed"]:
        lines.append(reply["annotation_full"].format(next_slot=_day(d["next_slot"])))
    return lines


def lead(result: DeadlineResult, parsed: ParsedDate | None = None) -> list[str]:
    """The answer first, sized for a phone: the date (or dates), how far away, whether
    it is an estimate and which year was assumed, and what to do next."""
    texts = load_texts()
    reply = texts["reply"]
    lines = [_headline(result, texts)]
    if result.procedure_id == "ecert_annotation":
        lines += _annotation_lines(result, reply)
    status = _status(result, texts)
    if status:
        lines.append(status)
    if result.estimate:
        lines.append(reply["estimate_banner"])
    if parsed is not None and parsed.year_inferred:
        lines.append(reply["year_inferred"].format(input=_day(result.input_date)))
    next_step = texts["procedures"][result.procedure_id]["next_step"]
    lines.append(reply["next_step"].format(next_step=next_step))
    return lines


def details(result: DeadlineResult) -> list[str]:
    """One tap away: the rule's name, how the date was counted and the notes."""
    texts = load_texts()
    reply = texts["reply"]
    lines = [reply["title"].format(name=procedure_name(result.procedure_id))]
    if result.steps:
        lines.append(reply["counting_header"])
        lines.extend(f"- {_step_line(step, texts)}" for step in result.steps)
    if result.notes:
        lines.append(reply["notes_header"])
        lines.extend(f"- {texts['notes'][note]}" for note in result.notes)
    return lines


def render(result: DeadlineResult, *, parsed: ParsedDate | None = None,
           sources: list[dict[str, Any]] | None = None) -> str:
    """The reply text for channels without a folded section: the lead, the details and
    the source line (region + documents)."""
    sources = sources if sources is not None else result_sources(result)
    return "\n".join([*lead(result, parsed), *details(result),
                      _source_line(result, sources, load_texts())])


def deadline_reply(result: DeadlineResult, parsed: ParsedDate | None = None) -> Reply:
    """The whole deadline reply: the text for every channel, and in ``custom`` the lead
    (``answer``), the folded ``details`` and the sources, which the chat page shows once,
    under the bubble."""
    sources = result_sources(result)
    summary = load_texts()["reply"]["details_summary"]
    return Reply(render(result, parsed=parsed, sources=sources), [],
                 {"kind": "deadline", "procedure": result.procedure_id,
                  "answer": "\n".join(lead(result, parsed)),
                  "details": {"summary": summary, "lines": details(result)},
                  "sources": sources, "region": result.region})
