"""The web front's configuration, read once at start-up by the one reader
(:class:`bot.config.Settings`: environment → ``.env`` → default, cast strictly).

A malformed value (``STAFF_SESSION_MAX_AGE_SECONDS=eight``) raises :class:`SettingsError`
at start-up instead of being silently replaced by the default. docs/CONFIGURATION.md
lists every setting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from bot.config import DEFAULT_ENV_FILE, Settings, SettingsError, read_env_file

__all__ = ["DEFAULT_ENV_FILE", "SettingsError", "WebSettings", "read_env_file"]


def integer(raw: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", raw.strip()):
        raise ValueError(raw)
    return int(raw)


def http_url(raw: str) -> str:
    raw = raw.strip()
    if not re.fullmatch(r"https?://[^\s/]+(?:/\S*)?", raw):
        raise ValueError(raw)
    return raw.rstrip("/")


def boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


def handoff_hours(raw: str) -> str:
    """When staff take handoffs: ``schedule`` (data/handoff), or ``open`` / ``closed``
    (tests and drills)."""
    if raw.strip() not in ("schedule", "open", "closed"):
        raise ValueError(raw)
    return raw.strip()


@dataclass(frozen=True)
class WebSettings:
    """Everything the web front needs to know; see :meth:`from_environment`."""

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = None
    rasa_timeout_seconds: float = 15.0   # Rasa waits 5 s for an action: beyond this it is stuck
    staff_password: str | None = None         # the editor's: reads, annotates, publishes
    staff_viewer_password: str | None = None  # the viewer's: reads only
    secret_key: str | None = None
    tracker_db_url: str = "sqlite:///var/tracker.db"
    staff_session_max_age_seconds: int = 8 * 60 * 60
    login_attempt_limit: int = 5
    login_attempt_window_seconds: int = 10 * 60
    max_message_chars: int = 1000
    display_timezone: str = "Asia/Shanghai"
    secure_cookies: bool = False
    handoff_hours: str = "schedule"           # schedule (data/handoff) | open | closed
    handoff_redis_url: str | None = None      # the cluster: live events over Redis pub/sub
    handoff_claim_timeout_seconds: float | None = None  # None: data/handoff/handoff.yml's
    handoff_desk_release_seconds: float | None = None   # None: data/handoff/handoff.yml's
    handoff_streams_per_client: int | None = None       # None: data/handoff/handoff.yml's
    wechat_customer_service: bool = False     # the 公众号 may use the customer-service API (docs/WECHAT.md)
    wecom_customer_service: bool = False      # the same for the WeCom application

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = None
                         ) -> "WebSettings":
        """Read settings from ``environ`` (default ``os.environ``), then the ``.env``
        file (default project root, or ``WEB_ENV_FILE``), then the defaults."""
        read = Settings(environ, env_file)
        defaults = cls()
        return cls(
            rasa_url=read("RASA_URL", http_url, defaults.rasa_url),
            rasa_token=read("RASA_TOKEN", str, None),
            rasa_timeout_seconds=read("RASA_TIMEOUT_SECONDS", float, defaults.rasa_timeout_seconds),
            staff_password=read("STAFF_PASSWORD", str, None),
            staff_viewer_password=read("STAFF_VIEWER_PASSWORD", str, None),
            secret_key=read("SECRET_KEY", str, None),
            tracker_db_url=read("TRACKER_DB_URL", str, defaults.tracker_db_url),
            staff_session_max_age_seconds=read("STAFF_SESSION_MAX_AGE_SECONDS", integer,
                                               defaults.staff_session_max_age_seconds),
            login_attempt_limit=read("STAFF_LOGIN_ATTEMPT_LIMIT", integer, defaults.login_attempt_limit),
            login_attempt_window_seconds=read("STAFF_LOGIN_ATTEMPT_WINDOW_SECONDS", integer,
                                              defaults.login_attempt_window_seconds),
            max_message_chars=read("CHAT_MAX_MESSAGE_CHARS", integer, defaults.max_message_chars),
            display_timezone=read("DISPLAY_TIMEZONE", str, defaults.display_timezone),
            secure_cookies=read("SECURE_COOKIES", boolean, defaults.secure_cookies),
            handoff_hours=read("HANDOFF_HOURS", handoff_hours, defaults.handoff_hours),
            handoff_redis_url=read("HANDOFF_REDIS_URL", str, None),
            handoff_claim_timeout_seconds=read("HANDOFF_CLAIM_TIMEOUT_SECONDS", float, None),
            handoff_desk_release_seconds=read("HANDOFF_DESK_RELEASE_SECONDS", float, None),
            handoff_streams_per_client=read("HANDOFF_STREAMS_PER_CLIENT", integer, None),
            wechat_customer_service=read("WECHAT_CUSTOMER_SERVICE", boolean, False),
            wecom_customer_service=read("WECOM_CUSTOMER_SERVICE", boolean, False),
        )
