"""Make sure the staff console has a password and the cookies a signing key.

``python -m bot.web.password ensure [--env-file PATH]`` adds ``STAFF_PASSWORD`` (the
editor's), ``STAFF_VIEWER_PASSWORD`` (read-only) and ``SECRET_KEY`` to ``.env`` when they are missing (from both the environment and the
file) and prints a newly generated password once. Running it again changes nothing
and prints nothing secret: it is idempotent, so ``make run`` can call it every time.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from bot.config import Settings

PASSWORD_VARIABLE = "STAFF_PASSWORD"
VIEWER_PASSWORD_VARIABLE = "STAFF_VIEWER_PASSWORD"
SECRET_KEY_VARIABLE = "SECRET_KEY"


def generate_password() -> str:
    """A password staff can type: 4 groups of 4 unambiguous characters."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def ensure_secrets(env_file: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Append missing ``STAFF_PASSWORD``/``STAFF_VIEWER_PASSWORD``/``SECRET_KEY`` to ``env_file``.

    Returns the variables that were generated (empty when nothing was missing).
    A value set in the environment counts as present and is never written to the file.
    """
    read = Settings(environ, env_file)
    generated: dict[str, str] = {}
    for variable in (PASSWORD_VARIABLE, VIEWER_PASSWORD_VARIABLE):
        if read(variable, str, None) is None:
            generated[variable] = generate_password()
    if read(SECRET_KEY_VARIABLE, str, None) is None:
        generated[SECRET_KEY_VARIABLE] = secrets.token_urlsafe(48)
    if generated:
        env_file.parent.mkdir(parents=True, exist_ok=True)
        existing = env_file.read_text(encoding="utf-8") if env_file.is_file() else ""
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        lines = "".join(f"{name}={value}\n" for name, value in generated.items())
        with env_file.open("a", encoding="utf-8") as handle:
            handle.write(prefix + lines)
        env_file.chmod(0o600)
    return generated


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bot.web.password", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["ensure"])
    parser.add_argument("--env-file", type=Path, default=Settings().env_file)
    arguments = parser.parse_args(argv)
    generated = ensure_secrets(arguments.env_file)
    if PASSWORD_VARIABLE in generated:
        print(f"Staff console editor password (saved in {arguments.env_file}): {generated[PASSWORD_VARIABLE]}")
    if VIEWER_PASSWORD_VARIABLE in generated:
        print(f"Staff console read-only password (saved in {arguments.env_file}): "
              f"{generated[VIEWER_PASSWORD_VARIABLE]}")
    if SECRET_KEY_VARIABLE in generated:
        print(f"Generated {SECRET_KEY_VARIABLE} in {arguments.env_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
