"""The staff console's CSV downloads: the conversation log, the unanswered questions and
the inbox.

They take their pages' filters (the log's ``?q=&date_from=&date_to=``, the inbox's) and
give UTF-8 with a BOM, so Excel opens the Chinese text, with formula characters
neutralised (:func:`bot.web.storage.tracker_events.to_csv`). Errors are plain text: the browser shows
them instead of saving a file.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.lang.privacy import shown_sender
from bot.web.errors import log_unavailable
from bot.web.console.inbox import inbox_filters, question_embeddings, read_inbox, topic_names
from bot.web.console.inbox_groups import INBOX_KINDS, InboxGroup
from bot.web.console.log_filters import LogFilters, log_filters
from bot.web.staff_identity import staff_only
from bot.web.app_state import web_state
from bot.web.console.csv_files import to_csv
from bot.web.storage.conversations import Conversation, UnansweredQuestion
from bot.web.storage.tracker_events import DATABASE_ERRORS, TrackerLog

TimeFormat = Callable[[float | None], str]


def conversation_rows(conversations: Iterable[Conversation], csv_texts: dict[str, Any],
                      format_time: TimeFormat) -> Iterator[list[Any]]:
    """One row per message: conversation, time, role, text, reply kind, entry, score."""
    role_names = {"user": csv_texts["role_user"], "bot": csv_texts["role_bot"]}
    for conversation in conversations:
        for message in conversation.messages:
            yield [
                shown_sender(conversation.sender_id),
                format_time(message.timestamp),
                csv_texts["role_staff"].format(name=message.staff) if message.staff else role_names[message.role],
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
            " ".join(shown_sender(sender_id) for sender_id in question.sender_ids),
        ]


def inbox_rows(groups: Iterable[InboxGroup], texts: dict[str, Any], topics: dict[str, str],
               format_time: TimeFormat) -> Iterator[list[Any]]:
    """One row per question of the inbox: its group's number, the question, how often
    it was asked, its status, its items of each kind, when last, the group's topic and
    example (conversation and question number)."""
    for number, group in enumerate(groups, 1):
        for question in group.questions:
            items = [item for item in group.items if item.key == question.key]
            kinds = [sum(1 for item in items if kind in item.kinds) for kind in INBOX_KINDS]
            yield [number, question.text, question.count, texts["statuses"][question.status], *kinds,
                   format_time(items[0].timestamp), topics.get(group.topic or "", group.topic or ""),
                   shown_sender(group.example.sender_id), group.example.turn]


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
        found = await run_in_threadpool(read, state.store.events, filters)
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


@staff_only
async def export_inbox(request: Request) -> Response:
    """``GET /staff/export/inbox.csv``: the inbox's questions through its filters (every
    page), one row each, grouped as the inbox groups them."""
    state = web_state(request)
    filters, failure = inbox_filters(request)
    if failure:
        return PlainTextResponse(failure, status_code=400)
    try:
        inbox = await run_in_threadpool(read_inbox, state, question_embeddings(request), filters)
    except DATABASE_ERRORS as error:
        return PlainTextResponse(log_unavailable(request, error), status_code=503)
    texts = state.texts["inbox"]
    rows = inbox_rows(inbox.groups, texts, topic_names(), state.format_time)
    return csv_download(to_csv(texts["csv_headers"], rows), "inbox.csv")
