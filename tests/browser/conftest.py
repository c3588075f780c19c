"""Fixtures for the real-browser tests: headless Debian Chromium driven by Playwright,
against a uvicorn-served web front whose Rasa backend is the ``rasa_url`` fixture (real Rasa
once the model and index are built, else the temporary stand-in)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot import PROJECT_ROOT
from bot.web.app import create_app
from bot.web.settings import WebSettings

TESTS_DIRECTORY = str(Path(__file__).resolve().parent.parent)
if TESTS_DIRECTORY not in sys.path:  # make tests/support importable when only tests/browser runs
    sys.path.insert(0, TESTS_DIRECTORY)

try:
    from support.fake_rasa import StandInRetrievalEngine, rasa_url, serve_in_thread  # noqa: F401 (fixture)
except ImportError:  # tests/ became a package
    from tests.support.fake_rasa import StandInRetrievalEngine, rasa_url, serve_in_thread  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOT_DIRECTORY = PROJECT_ROOT / "reports" / "screenshots"
STAFF_PASSWORD = "browser-test-password"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: real-browser test (headless Chromium via Playwright)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    if not (PROJECT_ROOT / "bot/web/static/dist/chat.js").is_file():
        pytest.skip("frontend not built: cd bot/web/frontend && npm ci && npm run build")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _retrieval_engine() -> Any:
    try:
        from bot.retrieval import load_engine

        return load_engine()
    except Exception:  # noqa: BLE001 - index not built yet: temporary stand-in
        return StandInRetrievalEngine()


@pytest.fixture(scope="session")
def web_front_url(rasa_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a web front (create_app under uvicorn, in a thread) talking to
    ``rasa_url``; its own instance so the staff password is known."""
    settings = WebSettings(
        rasa_url=rasa_url,
        staff_password=STAFF_PASSWORD,
        secret_key="browser-test-secret",
        tracker_db_url=f"sqlite:///{tmp_path_factory.mktemp('tracker')}/tracker.db",
    )
    app = create_app(settings)
    app.state.retrieval.set_engine(_retrieval_engine())
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="session")
def staff_password() -> str:
    return STAFF_PASSWORD


@pytest.fixture(scope="session")
def screenshot_directory() -> Path:
    SCREENSHOT_DIRECTORY.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIRECTORY


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 780}, device_scale_factor=2)
    browser_page = context.new_page()
    browser_page.set_default_timeout(15_000)
    yield browser_page
    context.close()


@pytest.fixture()
def screenshot(page: Any):
    SCREENSHOT_DIRECTORY.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOT_DIRECTORY / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take
