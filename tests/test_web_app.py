"""bot.web.app: the Rasa connection pool's lifespan, the error handlers, and that building
the application loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot import PROJECT_ROOT
from bot.datafiles import ui_texts
from bot.web.app import create_app
from bot.web.config import WebSettings
from tests.conftest import free_port

API_TEXTS = ui_texts()["api"]


def settings(tmp_path: Path) -> WebSettings:
    return WebSettings(rasa_url=f"http://127.0.0.1:{free_port()}", rasa_timeout_seconds=3,
                       tracker_db_url=f"sqlite:///{tmp_path}/tracker.db")


def test_the_rasa_pool_is_open_while_the_application_runs(tmp_path: Path) -> None:
    app = create_app(settings(tmp_path))
    rasa_client = app.state.web.rasa_client
    assert rasa_client._http is None, "nothing opens before the lifespan starts"
    with TestClient(app):
        pool = rasa_client._http
        assert pool is not None and not pool.is_closed
    assert rasa_client._http is None and pool.is_closed


@pytest.mark.parametrize("lifespan", [True, False])
def test_rasa_down_is_a_polite_reply_with_or_without_the_pool(tmp_path: Path, lifespan: bool) -> None:
    client = TestClient(create_app(settings(tmp_path)))
    with client if lifespan else nullcontext(client):  # without: one connection per call
        chat = client.post("/api/chat", json={"session_id": "session-0001", "message": "什么是证书直邮"})
        history = client.get("/api/history", params={"session_id": "session-0001"})
    assert chat.status_code == 200 and chat.json()["messages"][0]["custom"]["kind"] == "unavailable"
    expected = {"error": "rasa_unavailable", "message": API_TEXTS["rasa_unavailable"]}
    assert (history.status_code, history.json()) == (503, expected)


def test_unknown_paths_and_methods(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path))) as client:
        api = client.get("/api/nothing")
        page = client.get("/nothing")
        method = client.get("/api/chat")
    assert (api.status_code, api.json()) == (404, {"error": "not_found", "message": API_TEXTS["not_found"]})
    assert (page.status_code, page.text) == (404, API_TEXTS["not_found"])
    assert page.headers["content-type"].startswith("text/plain")
    assert (method.status_code, method.json()["error"]) == (405, "method_not_allowed")
    assert "frame-ancestors" in method.headers["content-security-policy"], "errors get the security headers too"


def test_building_the_application_loads_no_model() -> None:
    script = ("import sys\n"
              "from bot.web.app import create_app\n"
              "from bot.web.config import WebSettings\n"
              "create_app(WebSettings())\n"
              "heavy = [m for m in ('bot.retrieval.engine', 'bot.retrieval.embedding', 'numpy', 'faiss', 'torch')"
              " if m in sys.modules]\n"
              "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "WEB_ENV_FILE": "/nonexistent.env"}, timeout=120)
    assert result.returncode == 0, result.stderr
