"""Settings of the web front: environment → ``.env`` → default, cast strictly.

A malformed value (``SESSION_MAX_AGE_SECONDS=eight``) raises :class:`SettingsError`
at start-up instead of being silently replaced by the default.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, TypeVar

from bot import PROJECT_ROOT

DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting is present but cannot be cast to its type."""


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file (``#`` comments, optional quotes, optional ``export``)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        key, separator, value = line.partition("=")
        if not separator:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _cast_int(name: str, raw: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", raw.strip()):
        raise SettingsError(f"{name} must be an integer, got {raw!r}")
    return int(raw)


def _cast_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _cast_url(name: str, raw: str) -> str:
    raw = raw.strip()
    if not re.fullmatch(r"https?://[^\s/]+(?:/\S*)?", raw):
        raise SettingsError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _cast_str(name: str, raw: str) -> str:
    return raw


def _cast_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be a boolean (true/false), got {raw!r}")


def _cast_hours(name: str, raw: str) -> str:
    if raw.strip() not in ("schedule", "open", "closed"):
        raise SettingsError(f"{name} must be schedule, open or closed, got {raw!r}")
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

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = None
    ) -> "WebSettings":
        """Read settings from ``environ`` (default ``os.environ``), then the ``.env``
        file (default project root, or ``WEB_ENV_FILE``), then the defaults."""
        environ = os.environ if environ is None else environ
        env_file = env_file or Path(environ.get("WEB_ENV_FILE", DEFAULT_ENV_FILE))
        file_values = read_env_file(env_file)

        def pick(name: str, cast: Callable[[str, str], T], default: T) -> T:
            raw = environ.get(name)
            if raw is None or raw == "":
                raw = file_values.get(name)
            if raw is None or raw == "":
                return default
            return cast(name, raw)

        defaults = cls()
        return cls(
            rasa_url=pick("RASA_URL", _cast_url, defaults.rasa_url),
            rasa_token=pick("RASA_TOKEN", _cast_str, None),
            rasa_timeout_seconds=pick("RASA_TIMEOUT_SECONDS", _cast_float, defaults.rasa_timeout_seconds),
            staff_password=pick("STAFF_PASSWORD", _cast_str, None),
            staff_viewer_password=pick("STAFF_VIEWER_PASSWORD", _cast_str, None),
            secret_key=pick("SECRET_KEY", _cast_str, None),
            tracker_db_url=pick("TRACKER_DB_URL", _cast_str, defaults.tracker_db_url),
            staff_session_max_age_seconds=pick(
                "STAFF_SESSION_MAX_AGE_SECONDS", _cast_int, defaults.staff_session_max_age_seconds
            ),
            login_attempt_limit=pick("STAFF_LOGIN_ATTEMPT_LIMIT", _cast_int, defaults.login_attempt_limit),
            login_attempt_window_seconds=pick(
                "STAFF_LOGIN_ATTEMPT_WINDOW_SECONDS", _cast_int, defaults.login_attempt_window_seconds
            ),
            max_message_chars=pick("CHAT_MAX_MESSAGE_CHARS", _cast_int, defaults.max_message_chars),
            display_timezone=pick("DISPLAY_TIMEZONE", _cast_str, defaults.display_timezone),
            secure_cookies=pick("SECURE_COOKIES", _cast_bool, defaults.secure_cookies),
            handoff_hours=pick("HANDOFF_HOURS", _cast_hours, defaults.handoff_hours),
            handoff_redis_url=pick("HANDOFF_REDIS_URL", _cast_str, None),
            handoff_claim_timeout_seconds=pick("HANDOFF_CLAIM_TIMEOUT_SECONDS", _cast_float, None),
            handoff_desk_release_seconds=pick("HANDOFF_DESK_RELEASE_SECONDS", _cast_float, None),
        )
