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
    return texts["reply"]["source"].format(
        region=result.region, citations=cited_documents(sources),
        passages=texts["reply"]["list_separator"].join(result.sources),
    )


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


def render(result: DeadlineResult, *, parsed: ParsedDate | None = None,
           sources: list[dict[str, Any]] | None = None) -> str:
    """The reply text for a result: title, headline with the date(s) as
    ``YYYY年M月D日（星期X）``, how it was counted, the interpretation notes, the
    status relative to today, the source (region + document) and the next step.
    Pass ``parsed`` to mention an inferred year."""
    texts = load_texts()
    reply = texts["reply"]
    lines = [reply["title"].format(name=procedure_name(result.procedure_id))]
    if result.estimate:
        lines.append(reply["estimate_banner"])
    if parsed is not None and parsed.year_inferred:
        lines.append(reply["year_inferred"].format(input=_day(result.input_date)))
    lines.append(_headline(result, texts))
    if result.procedure_id == "ecert_annotation":
        lines += _annotation_lines(result, reply)
    status = _status(result, texts)
    if status:
        lines.append(status)
    if result.steps:
        lines.append(reply["counting_header"])
        lines.extend(f"- {_step_line(step, texts)}" for step in result.steps)
    if result.notes:
        lines.append(reply["notes_header"])
        lines.extend(f"- {texts['notes'][note]}" for note in result.notes)
    lines.append(_source_line(result, sources if sources is not None else result_sources(result),
                              texts))
    next_step = texts["procedures"][result.procedure_id]["next_step"]
    lines.append(reply["next_step"].format(next_step=next_step))
    return "\n".join(lines)


def deadline_reply(result: DeadlineResult, parsed: ParsedDate | None = None) -> Reply:
    """The whole deadline reply: text and ``custom`` (kind, procedure, sources)."""
    sources = result_sources(result)
    return Reply(render(result, parsed=parsed, sources=sources), [],
                 {"kind": "deadline", "procedure": result.procedure_id, "sources": sources})
