"""Fixtures for the real-browser tests: headless Debian Chromium driven by Playwright,
against the REAL web front, Rasa and action server of the ``servers`` fixture
(tests/conftest.py), with the real retrieval index behind the staff search."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from bot import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOT_DIRECTORY = PROJECT_ROOT / "reports" / "screenshots"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: real-browser test (headless Chromium via Playwright)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make install` (make test does it)")
    if not (PROJECT_ROOT / "bot/web/static/dist/chat.js").is_file():
        pytest.fail("frontend not built: run `make install` (or cd bot/web/chat/frontend && npm ci && npm run build)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def web_front_url(web_url: str) -> str:
    """Base URL of the real web front (uvicorn process of the ``servers`` fixture)."""
    return web_url


@pytest.fixture(scope="session")
def staff_password(servers: Any) -> str:
    return servers.staff_password


@pytest.fixture(scope="session")
def screenshot_directory() -> Path:
    SCREENSHOT_DIRECTORY.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIRECTORY


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 780}, device_scale_factor=2)
    browser_page = context.new_page()
    browser_page.set_default_timeout(90_000)  # a limit, not a measurement: the real Rasa on a busy machine
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
