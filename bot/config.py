"""The one configuration reader: the environment, then ``.env``, then the default, cast
strictly (Starlette's ``starlette.config.Config`` does the lookup and the casts).

Every setting is listed in docs/CONFIGURATION.md. A value that is present but empty
counts as absent; a malformed value (``STAFF_SESSION_MAX_AGE_SECONDS=eight``) raises
:class:`SettingsError` naming the variable, and so does a required setting that is
missing (:class:`MissingSetting`), instead of falling back silently. The ``.env`` file
is the project root's, or ``WEB_ENV_FILE``; its lines may start with ``export`` and
quote their values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from starlette.config import Config, undefined

from bot import PROJECT_ROOT

DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"


class SettingsError(ValueError):
    """A setting is present but cannot be cast to its type, or required and missing."""


class MissingSetting(SettingsError):
    """A required setting (a secret) is set neither in the environment nor in ``.env``."""


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
            line = line[len("export "):].strip()
        key, separator, value = line.partition("=")
        if not separator:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


class Settings:
    """Reads named settings: ``settings("RASA_TIMEOUT_SECONDS", float, 15.0)``."""

    def __init__(self, environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.env_file = Path(env_file or environ.get("WEB_ENV_FILE") or DEFAULT_ENV_FILE)
        self._config = Config(environ={key: value for key, value in environ.items() if value != ""})
        self._config.file_values = {key: value for key, value in read_env_file(self.env_file).items() if value}

    def __call__(self, name: str, cast: Callable[[str], Any] | None = None, default: Any = undefined) -> Any:
        """The setting ``name`` cast with ``cast``; ``default`` when it is absent (no
        default: :class:`MissingSetting`)."""
        if default is not undefined and name not in self._config.environ and name not in self._config.file_values:
            return default  # Config would cast the default too
        try:
            return self._config(name, cast=cast, default=default)
        except KeyError:
            raise MissingSetting(f"{name} is not set (in the environment or {self.env_file})") from None
        except ValueError as error:
            raise SettingsError(str(error)) from None

    def secret(self, name: str, how_to_set: str) -> str:
        """A secret that must be set: fails loudly with its name and how to set it."""
        try:
            return self(name, str)
        except MissingSetting as missing:
            raise MissingSetting(f"{missing}: {how_to_set}") from None
