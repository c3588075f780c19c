"""Settings (environment → .env → default, strict casts) and the password helper."""

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot import PROJECT_ROOT
from bot.web.password import ensure_secrets
from bot.web.storage.tables import sqlite_file
from bot.web.config import SettingsError, WebSettings, read_env_file


def test_environment_wins_over_env_file_and_defaults(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('# comment\nRASA_URL="http://127.0.0.1:9999/"\nSTAFF_PASSWORD=from-file\nexport SECRET_KEY=k\n', encoding="utf-8")
    settings = WebSettings.from_environment({"STAFF_PASSWORD": "from-env"}, env_file)
    assert settings.rasa_url == "http://127.0.0.1:9999"
    assert settings.staff_password == "from-env"
    assert settings.secret_key == "k"
    assert settings.staff_session_max_age_seconds == 8 * 3600
    assert sqlite_file(settings.tracker_db_url) == PROJECT_ROOT / "var" / "tracker.db"


@pytest.mark.parametrize(
    ("name", "value"),
    [("STAFF_SESSION_MAX_AGE_SECONDS", "eight hours"), ("RASA_URL", "localhost:5005"), ("SECURE_COOKIES", "maybe"),
     ("RASA_TIMEOUT_SECONDS", "soon")],
)
def test_malformed_values_fail_loudly(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        WebSettings.from_environment({name: value}, tmp_path / "missing.env")


def test_absolute_tracker_db_url(tmp_path: Path) -> None:
    settings = WebSettings(tracker_db_url=f"sqlite:///{tmp_path}/t.db")
    assert sqlite_file(settings.tracker_db_url) == tmp_path / "t.db"
    assert sqlite_file("postgresql://rasa@127.0.0.1:6432/rasa") is None


def test_ensure_secrets_is_idempotent(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RASA_URL=http://127.0.0.1:5005", encoding="utf-8")  # no trailing newline
    generated = ensure_secrets(env_file, environ={})
    assert set(generated) == {"STAFF_PASSWORD", "STAFF_VIEWER_PASSWORD", "SECRET_KEY"}
    values = read_env_file(env_file)
    assert values["STAFF_PASSWORD"] == generated["STAFF_PASSWORD"] != values["STAFF_VIEWER_PASSWORD"]
    assert values["RASA_URL"] == "http://127.0.0.1:5005"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert ensure_secrets(env_file, environ={}) == {}
    assert read_env_file(env_file) == values


def test_ensure_secrets_respects_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    generated = ensure_secrets(env_file, environ={"STAFF_PASSWORD": "set-elsewhere"})
    assert set(generated) == {"STAFF_VIEWER_PASSWORD", "SECRET_KEY"}
    assert "STAFF_PASSWORD" not in read_env_file(env_file)


def test_password_command_prints_the_password_once(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    command = [sys.executable, "-m", "bot.web.password", "ensure", "--env-file", str(env_file)]
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
    first = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=PROJECT_ROOT, check=True)
    password = read_env_file(env_file)["STAFF_PASSWORD"]
    assert password in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=PROJECT_ROOT, check=True)
    assert password not in second.stdout and second.stdout == ""


def test_a_malformed_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STAFF_LOGIN_ATTEMPT_LIMIT"):
        WebSettings.from_environment({"STAFF_LOGIN_ATTEMPT_LIMIT": "five"}, tmp_path / "missing.env")


def test_an_empty_value_counts_as_absent(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RASA_TIMEOUT_SECONDS=7\n", encoding="utf-8")
    settings = WebSettings.from_environment({"RASA_TIMEOUT_SECONDS": "", "STAFF_PASSWORD": ""}, env_file)
    assert settings.rasa_timeout_seconds == 7.0 and settings.staff_password is None


def test_a_missing_secret_fails_loudly_with_its_name(tmp_path: Path) -> None:
    from bot.config import MissingSetting, Settings
    from bot.web.app import create_app

    read = Settings({}, tmp_path / "missing.env")
    with pytest.raises(MissingSetting, match="SECRET_KEY"):
        read.secret("SECRET_KEY", "run `python -m bot.web.password ensure`")
    assert read("SECRET_KEY", str, None) is None, "an optional setting falls back to its default"
    with pytest.raises(MissingSetting, match="SECRET_KEY"):
        create_app(WebSettings(staff_password="pw", secret_key=None))
