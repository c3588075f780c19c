"""The shared objects of one web application, built once and read by every handler.

:func:`build_state` makes a :class:`WebState` from the settings; ``create_app`` keeps it
as ``app.state.web`` and handlers reach it with :func:`web_state`. Nothing heavy happens
here: the retrieval engine loads on the first staff search, the tracker database opens
per query, and the Rasa client's connection pool opens in the application's lifespan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as fixed_timezone, tzinfo
from functools import partial
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.config import MissingSetting
from bot.datafiles import ui_texts
from bot.lang.privacy import shown_sender
from bot.rasa_client import AsyncRasaClient
from bot.web.security import SlidingWindowLimiter
from bot.web.sender_links import SenderLinks
from bot.web.staff_identity import SessionSigner
from bot.web.config import WebSettings
from bot.web.storage.store import ConsoleStore

logger = logging.getLogger(__name__)

WEB_DIRECTORY = Path(__file__).resolve().parent
TEMPLATE_DIRECTORY = WEB_DIRECTORY / "templates"
STATIC_DIRECTORY = WEB_DIRECTORY / "static"


def display_timezone(name: str) -> tzinfo:
    """The named zone, or UTC+8 when the zone database is missing."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - tzdata missing: China Standard Time is fixed UTC+8
        logger.warning("time zone %s unavailable, using UTC+08:00", name)
        return fixed_timezone(timedelta(hours=8), "CST")


def format_time(timestamp: float | None, timezone: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in ``timezone``; empty for no time."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, timezone).strftime("%Y-%m-%d %H:%M:%S")


class RetrievalEngineHolder:
    """The retrieval engine for staff pages. ``load_engine()`` keeps one engine per
    served index version and notices a publish with one ``stat``, so it is asked on
    every use (the first use loads the models); a failed load is retried later."""

    def __init__(self, loader: Callable[[], Any] | None = None) -> None:
        self._loader = loader
        self._engine: Any = None   # set_engine: a fixed engine (tests, tools)

    def set_engine(self, engine: Any) -> None:
        """Use an already loaded engine."""
        self._engine = engine

    def get(self) -> Any:
        """The engine over the index served now (blocking on first use: call from a worker thread)."""
        if self._engine is not None:
            return self._engine
        if self._loader is not None:
            return self._loader()
        from bot.retrieval.engine import load_engine  # lazy: heavy models, built by another part

        return load_engine()


@dataclass(frozen=True)
class WebState:
    """What every handler shares: settings, the pages' texts and templates, and the
    clients of the core (Rasa, the retrieval engine) and the console's store."""

    settings: WebSettings
    texts: dict[str, Any]                # data/web/ui.yml, read once at start-up
    timezone: tzinfo                     # for every time shown to staff
    templates: Jinja2Templates
    signer: SessionSigner | None         # None: no staff password, logins are refused
    login_rate_limiter: SlidingWindowLimiter   # failed logins per client address
    retrieval: RetrievalEngineHolder
    store: ConsoleStore                  # the console's tables and Rasa's events
    rasa_client: AsyncRasaClient
    sender_links: SenderLinks            # a conversation's link without its WeChat id

    def format_time(self, timestamp: float | None) -> str:
        """A time as staff read it (display time zone; empty for none)."""
        return format_time(timestamp, self.timezone)

    def render(self, request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
        """One page from ``bot/web/templates`` (``texts`` and the ``datetime`` filter are
        there too, and ``staff``: the request's staff session with its CSRF token, or None)."""
        user = request.scope.get("user")  # resolved once by the authentication middleware
        staff = user if getattr(user, "is_authenticated", False) else None
        return self.templates.TemplateResponse(request, template, {"staff": staff, **context},
                                               status_code=status_code)


def page_templates(texts: dict[str, Any], timezone: tzinfo, sender_links: SenderLinks) -> Jinja2Templates:
    """The templates, autoescaped and strict, with ``texts`` and the ``datetime``, ``sender``,
    ``conversation_ref`` and ``conversation_link`` filters."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIRECTORY), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["datetime"] = partial(format_time, timezone=timezone)
    environment.filters["sender"] = shown_sender  # a WeChat id never in full
    environment.filters["conversation_ref"] = sender_links.path_part
    environment.filters["conversation_link"] = lambda sender_id: "/staff/log/" + quote(
        sender_links.path_part(sender_id), safe="")
    environment.globals["texts"] = texts
    return Jinja2Templates(env=environment)


def session_signer(settings: WebSettings) -> SessionSigner | None:
    """The staff session signer, or None when no staff password is configured."""
    if not settings.staff_password:
        return None
    if not settings.secret_key:  # a random key would log everyone out at each restart, and per process
        raise MissingSetting("SECRET_KEY is not set although STAFF_PASSWORD is: "
                             "run `python -m bot.web.password ensure` (or `make install`)")
    secret_key = settings.secret_key
    viewer_password = settings.staff_viewer_password
    if viewer_password == settings.staff_password:
        logger.warning("STAFF_VIEWER_PASSWORD equals STAFF_PASSWORD: it logs in as editor")
        viewer_password = None
    return SessionSigner(secret_key, settings.staff_password, settings.staff_session_max_age_seconds,
                         viewer_password)


def build_state(settings: WebSettings) -> WebState:
    """Everything the handlers share, for these settings."""
    texts = ui_texts()
    timezone = display_timezone(settings.display_timezone)
    sender_links = SenderLinks(settings.secret_key)
    return WebState(
        settings=settings,
        texts=texts,
        timezone=timezone,
        templates=page_templates(texts, timezone, sender_links),
        signer=session_signer(settings),
        login_rate_limiter=SlidingWindowLimiter(settings.login_attempt_limit, settings.login_attempt_window_seconds),
        retrieval=RetrievalEngineHolder(),
        store=ConsoleStore(settings.tracker_db_url, timezone),
        rasa_client=AsyncRasaClient(settings.rasa_url, settings.rasa_token, settings.rasa_timeout_seconds),
        sender_links=sender_links,
    )


def web_state(request: Request) -> WebState:
    """The shared objects of the application serving ``request``."""
    return request.app.state.web
