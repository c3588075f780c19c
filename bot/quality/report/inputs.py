"""The report's inputs: reading the files other commands wrote, and the "not run yet" or
error section that stands in for one that is missing, unreadable or oddly shaped."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import PROJECT_ROOT

NOT_RUN = {
    "retrieval": "not run yet: run `make index` (the dev set is tests/data/retrieval_dev.yml)",
    "nlu": "not run yet: run `make report` (it runs `rasa test nlu`) or `make test`",
    "regression": "not run yet: run `make eval`",
    "bench": "not run yet: run `make bench`",
}


def missing(section: str, message: str | None = None) -> dict:
    return {"status": "missing", "message": message or NOT_RUN[section]}


def load_json(path: Path, section: str) -> tuple[Any, dict | None]:
    """(data, None) or (None, a missing/error section)."""
    path = Path(path)
    if not path.exists():
        return None, missing(section)
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, {"status": "error", "message": f"{path} is not readable JSON ({exc}); "
                                                    f"{NOT_RUN[section].replace('not run yet: ', '')}"}


def guard(section: str, build: Callable[..., dict], *args: Any) -> dict:
    """Run a summary builder; a wrong input shape becomes an error section."""
    try:
        return build(*args)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return {"status": "error",
                "message": f"unexpected shape of the {section} input ({type(exc).__name__}: {exc}); "
                           f"{NOT_RUN[section].replace('not run yet: ', 're-')}"}


def json_section(path: Path, name: str, summarise: Callable[[Any], dict]) -> dict:
    """A report section summarised from one JSON input file (or why it is missing)."""
    data, problem = load_json(path, name)
    if problem:
        return problem
    section = guard(name, summarise, data)
    if section.get("status") == "ok":
        section["file"] = display_path(path)
    return section


def display_path(path: Path) -> str:
    """The path from the project root when it is inside, else as it is."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def mtime(path: Path) -> str:
    return datetime.fromtimestamp(Path(path).stat().st_mtime).isoformat(timespec="seconds")
