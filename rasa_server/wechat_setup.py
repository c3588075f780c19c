"""``python -m rasa_server.wechat_setup [--env-file PATH]``: WeChat placeholders in ``.env``.

Adds what is missing, never changes a line that is there: a generated Token and
EncodingAESKey for the 公众号 (WECHAT_*) and the 企业微信 application (WECOM_*), to enter on
the platforms, and empty AppID/CorpID and AppSecret lines to fill in from them
(docs/WECHAT.md). ``.env`` is ignored by git; nothing here is ever committed.
"""

from __future__ import annotations

import argparse
import secrets
import string
from pathlib import Path

from rasa_server.wechat_protocol import env_file_values

ALPHABET = string.ascii_letters + string.digits


def generated(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def placeholders() -> dict[str, str]:
    """What a new ``.env`` gets: WeChat's Token is 3-32 letters and digits, the
    EncodingAESKey exactly 43."""
    values: dict[str, str] = {}
    for prefix in ("WECHAT", "WECOM"):
        values.update({f"{prefix}_TOKEN": generated(32), f"{prefix}_ENCODING_AES_KEY": generated(43),
                       f"{prefix}_APP_ID": "", f"{prefix}_APP_SECRET": ""})
    return values


def ensure_placeholders(env_file: Path) -> list[str]:
    """Append the missing WeChat variables to ``env_file``; their names."""
    present = env_file_values(env_file)
    missing = {k: v for k, v in placeholders().items() if k not in present}
    if missing:
        existing = env_file.read_text(encoding="utf-8") if env_file.is_file() else ""
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        with env_file.open("a", encoding="utf-8") as handle:
            handle.write(prefix + "".join(f"{k}={v}\n" for k, v in missing.items()))
        env_file.chmod(0o600)
    return list(missing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    added = ensure_placeholders(parser.parse_args().env_file)
    print("added to .env: " + ", ".join(added) if added else "WeChat settings already in .env")


if __name__ == "__main__":
    main()
