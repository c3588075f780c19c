"""The staff console's CSV downloads: the conversation log and the unanswered questions.

Both take the log pages' filters (``?q=&date_from=&date_to=``) and give UTF-8 with a BOM,
so Excel opens the Chinese text, with formula characters neutralised
(:func:`bot.web.tracker_log.to_csv`). Errors are plain text: the browser shows them
instead of saving a file.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.web.errors import log_unavailable
from bot.web.log_filters import LogFilters, log_filters
from bot.web.staff_auth import staff_only
from bot.web.state import web_state
from bot.web.tracker_log import (DATABASE_ERRORS, Conversation, TrackerLog, UnansweredQuestion, to_csv)

TimeFormat = Callable[[float | None], str]


def conversation_rows(conversations: Iterable[Conversation], csv_texts: dict[str, Any],
                      format_time: TimeFormat) -> Iterator[list[Any]]:
    """One row per message: conversation, time, role, text, reply kind, entry, score."""
    role_names = {"user": csv_texts["role_user"], "bot": csv_texts["role_bot"]}
    for conversation in conversations:
        for message in conversation.messages:
            yield [
                conversation.sender_id,
                format_time(message.timestamp),
                role_names[message.role],
                message.text,
                message.kind or "",
                message.entry_id or "",
                "" if message.score is None else f"{message.score:.3f}",
            ]


def unanswered_rows(questions: Iterable[UnansweredQuestion], csv_texts: dict[str, Any],
                    format_time: TimeFormat) -> Iterator[list[Any]]:
    """One row per question: its latest wording, the counts, when, which conversations."""
    for question in questions:
        yield [
            question.example_text,
            question.count,
            question.fallback_count,
            question.did_you_mean_count,
            format_time(question.last_asked),
            " ".join(question.sender_ids),
        ]


def logged_conversations(log: TrackerLog, filters: LogFilters) -> list[Conversation]:
    """Every conversation the filters match (no page limit)."""
    return list(log.exported_conversations(filters.query, filters.date_from, filters.date_to))


def unanswered_questions(log: TrackerLog, filters: LogFilters) -> list[UnansweredQuestion]:
    """The unanswered questions in the filters' dates."""
    return log.unanswered_questions(filters.date_from, filters.date_to)


def csv_download(body: bytes, filename: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def csv_export(request: Request, read: Callable[[TrackerLog, LogFilters], list[Any]],
                     to_rows: Callable[[list[Any], dict[str, Any], TimeFormat], Iterable[list[Any]]],
                     headers: str, filename: str) -> Response:
    """Filters → what ``read`` finds in the log → ``to_rows`` → a CSV download."""
    state = web_state(request)
    filters = log_filters(request)
    if filters.failure:
        return PlainTextResponse(filters.failure, status_code=400)
    try:
        found = await run_in_threadpool(read, state.tracker_log, filters)
    except DATABASE_ERRORS as error:
        return PlainTextResponse(log_unavailable(request, error), status_code=503)
    csv_texts = state.texts["csv"]
    return csv_download(to_csv(csv_texts[headers], to_rows(found, csv_texts, state.format_time)), filename)


@staff_only
async def export_conversations(request: Request) -> Response:
    """``GET /staff/export/conversations.csv``: every message of the matching conversations."""
    return await csv_export(request, logged_conversations, conversation_rows,
                            "conversation_headers", "conversations.csv")


@staff_only
async def export_unanswered(request: Request) -> Response:
    """``GET /staff/export/unanswered.csv``: the unanswered questions by frequency."""
    return await csv_export(request, unanswered_questions, unanswered_rows,
                            "unanswered_headers", "unanswered.csv")
