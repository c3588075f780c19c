"""The web front's application: its shared state, routes, middleware and error handlers.

Serve with ``uvicorn --factory bot.web.app:create_app --host 127.0.0.1 --port 8000``.
The handlers live in one module per audience:

Candidates (:mod:`bot.web.chat.api`)
    ``GET /``               WeChat-style chat page (``?embed=1`` inside the embed panel)
    ``POST /api/chat``      ``{session_id, message}`` → ``{user_text, messages: [bubble…]}``
    ``GET /api/history``    ``?session_id=`` → ``{messages: [bubble…]}`` from Rasa's tracker
    ``POST /api/feedback``  ``{session_id, turn, rating, reason?, comment?}``  :mod:`bot.web.chat.feedback`
    ``GET /embed.js``       one-line embed: floating button + iframe panel
    ``GET /embed-demo``     a plain page using that snippet
    ``GET /healthz``        liveness

Staff (signed-cookie session after ``POST /staff/login``, :mod:`bot.web.console.login`)
    ``GET /staff``                         retrieval search (``?q=``)      :mod:`bot.web.console.search`
    ``GET /staff/api/search``              the same as JSON
    ``GET /staff/log``                     conversation log (``?q=&date_from=&date_to=``)
    ``GET /staff/log/{sender_id}``         one conversation
    ``GET /staff/inbox``                   what the assistant did not serve well, grouped by
                                           similar question (``POST /staff/inbox/status``
                                           marks a group; ``/staff/unanswered`` redirects here)
                                                                           :mod:`bot.web.console.inbox`
    ``GET /staff/dashboard``               figures per day as charts      :mod:`bot.web.console.dashboard`
    ``GET /staff/api/regression-case``     ``?sender_id=&turn=`` → one logged question as a
                                           regression case (YAML for tests/regression/)
    ``GET /staff/export/conversations.csv``, ``/staff/export/unanswered.csv``,
    ``/staff/export/inbox.csv``
                                                                           :mod:`bot.web.console.exports`
    ``GET|POST /staff/annotate``           an inbox group's questions (``?question=…``): attach
                                           (``/attach``), new entry from passages (``/new-entry``),
                                           out of scope (``/out-of-scope``)  :mod:`bot.web.console.annotate`
    ``GET|POST /staff/publish``            rebuild, gate and load index and model; progress as
                                           JSON at ``/staff/api/publish``     :mod:`bot.web.console.publish_page`
    ``GET /staff/audit``                   every staff change, paged           :mod:`bot.web.console.audit`
    ``GET|POST /staff/hit-test``           many questions at once, CSV; ``/cases`` saves rows as
                                           regression cases                    :mod:`bot.web.console.hit_testing`
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.web.chat import api as chat, feedback
from bot.web.console import annotate, audit, dashboard, exports, inbox
from bot.web.console import hit_testing as hit_test, log as staff, login as staff_auth, publish_page as publish, search
from bot.web.chat import live as live_chat
from bot.web.console import live as live_desk
from bot.web.live import LiveHandoff
from bot.web.console import holidays as console_holidays, importing as console_importing, undo as console_undo
from bot.web.errors import ApiError, api_error, method_not_allowed, not_found
from bot.web.security import SecurityHeadersMiddleware
from bot.web.staff_identity import StaffSessionBackend
from bot.web.config import WebSettings
from bot.web.app_state import STATIC_DIRECTORY, build_state

ROUTES = [
    Route("/", chat.chat_page, name="chat_page"),
    Route("/healthz", chat.health, name="health"),
    Route("/embed.js", chat.embed_script, name="embed_script"),
    Route("/embed-demo", chat.embed_demo, name="embed_demo"),
    Route("/api/chat", chat.chat, methods=["POST"], name="api_chat"),
    Route("/api/history", chat.history, methods=["GET"], name="api_history"),
    Route("/api/feedback", feedback.give_feedback, methods=["POST"], name="api_feedback"),
    Route("/staff/login", staff_auth.login_form, methods=["GET"], name="staff_login"),
    Route("/staff/login", staff_auth.login_submit, methods=["POST"], name="staff_login_submit"),
    Route("/staff/logout", staff_auth.logout, methods=["POST"], name="staff_logout"),
    Route("/staff", search.search_page, name="staff_search"),
    Route("/staff/api/search", search.search_json, name="staff_search_json"),
    Route("/staff/api/regression-case", staff.regression_case, name="staff_regression_case"),
    Route("/staff/log", staff.log_page, name="staff_log"),
    Route("/staff/log/{sender_id:path}", staff.conversation_page, name="staff_conversation"),
    Route("/staff/unanswered", inbox.unanswered_redirect, name="staff_unanswered"),
    Route("/staff/inbox", inbox.inbox_page, name="staff_inbox"),
    Route("/staff/inbox/status", inbox.set_status, methods=["POST"], name="staff_inbox_status"),
    Route("/staff/dashboard", dashboard.dashboard_page, name="staff_dashboard"),
    Route("/staff/export/conversations.csv", exports.export_conversations, name="export_conversations"),
    Route("/staff/export/unanswered.csv", exports.export_unanswered, name="export_unanswered"),
    Route("/staff/export/inbox.csv", exports.export_inbox, name="export_inbox"),
    Route("/staff/annotate", annotate.annotate_page, methods=["GET", "POST"], name="staff_annotate"),
    Route("/staff/annotate/attach", annotate.attach, methods=["POST"], name="staff_annotate_attach"),
    Route("/staff/annotate/new-entry", annotate.draft_entry, methods=["POST"], name="staff_annotate_new_entry"),
    Route("/staff/annotate/out-of-scope", annotate.out_of_scope, methods=["POST"], name="staff_annotate_out_of_scope"),
    Route("/staff/publish", publish.publish_page, methods=["GET"], name="staff_publish"),
    Route("/staff/publish", publish.start_publish, methods=["POST"], name="staff_publish_start"),
    Route("/staff/api/publish", publish.publish_status, name="staff_publish_status"),
    Route("/staff/audit", audit.audit_page, name="staff_audit"),
    # a new edition, next year's holidays, undo (issue 25)
    Route("/staff/import", console_importing.import_page, methods=["GET"], name="staff_import"),
    Route("/staff/import", console_importing.import_preview, methods=["POST"], name="staff_import_preview"),
    Route("/staff/import/save", console_importing.import_save, methods=["POST"], name="staff_import_save"),
    Route("/staff/editions/{doc_id}", console_importing.edition_page, name="staff_edition"),
    Route("/staff/editions/{doc_id}/decide", console_importing.decide, methods=["POST"], name="staff_edition_decide"),
    Route("/staff/holidays", console_holidays.holidays_page, methods=["GET"], name="staff_holidays"),
    Route("/staff/holidays", console_holidays.save, methods=["POST"], name="staff_holidays_save"),
    Route("/staff/publish/undo", console_undo.undo, methods=["POST"], name="staff_publish_undo"),
    Route("/staff/hit-test", hit_test.hit_test_page, methods=["GET"], name="staff_hit_test"),
    Route("/staff/hit-test", hit_test.run_hit_test, methods=["POST"], name="staff_hit_test_run"),
    Route("/staff/hit-test/cases", hit_test.save_cases, methods=["POST"], name="staff_hit_test_cases"),
    # the live handoff (转人工): candidates' side, then the staff's desk
    Route("/api/live/request", live_chat.request_person, methods=["POST"], name="api_live_request"),
    Route("/api/live/state", live_chat.handoff_state, name="api_live_state"),
    Route("/api/live/stream", live_chat.stream, name="api_live_stream"),
    Route("/api/live/leave-message", live_chat.leave_message, methods=["POST"], name="api_live_leave_message"),
    Route("/staff/live", live_desk.desk_page, name="staff_live"),
    Route("/staff/api/live/queue", live_desk.queue_json, name="staff_live_queue"),
    Route("/staff/api/live/conversation", live_desk.conversation_json, name="staff_live_conversation"),
    Route("/staff/api/live/stream", live_desk.desk_stream, name="staff_live_stream"),
    Route("/staff/export/left-messages.csv", live_desk.export_left_messages, name="export_left_messages"),
    *(Route(f"/staff/api/live/{name}", handler, methods=["POST"], name=f"staff_live_{name}")
      for name, handler in (("claim", live_desk.claim), ("reply", live_desk.reply),
                            ("transfer", live_desk.transfer), ("end", live_desk.end),
                            ("left-done", live_desk.left_done))),
    Mount("/static", app=StaticFiles(directory=STATIC_DIRECTORY), name="static"),
]

EXCEPTION_HANDLERS = {404: not_found, 405: method_not_allowed, ApiError: api_error}


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Keeps one connection pool to Rasa open while the application runs (without a
    lifespan, as under a bare test client, each call to Rasa opens its own)."""
    rasa_client = app.state.web.rasa_client
    await rasa_client.open()
    try:
        yield
    finally:
        await rasa_client.aclose()
        await app.state.live.broker.aclose()


def create_app(settings: WebSettings | None = None) -> Starlette:
    """Build the web application (settings default to environment → ``.env`` → defaults)."""
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(SecurityHeadersMiddleware),
                    Middleware(AuthenticationMiddleware, backend=StaffSessionBackend())],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.web = build_state(settings or WebSettings.from_environment())
    app.state.feedback_limits = feedback.FeedbackLimits()
    app.state.inbox_embeddings = inbox.QuestionEmbeddings()
    app.state.live = LiveHandoff.from_settings(app.state.web.settings)
    return app
