"""Fixtures for the dashboard's browser tests: the operator tests' sandbox, operator and Redis fixtures,
plus headless Chromium (Debian's `/usr/bin/chromium`, installed by `scripts/install-servers`) driven by
Playwright, with no browser download. A missing Chromium or Playwright FAILS the test: the dashboard is
not tested otherwise, and CI must notice.

Screenshots go to `.artefacts/dashboard/` (gitignored); CI keeps the folder as a test artefact.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.operator.conftest import (  # noqa: F401 - the operator tests' fixtures
    api,
    kubeconfig,
    list_name,
    redis,
    sandbox,
    start_operator,
)

CHROMIUM = pathlib.Path(os.environ.get("EBB_CHROMIUM", "/usr/bin/chromium"))
ARTEFACTS = pathlib.Path(__file__).resolve().parents[2] / ".artefacts" / "dashboard"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
INSTALL_HINT = "run scripts/install-servers (apt-get install chromium; pip install -e '.[dev]' for playwright)"


@pytest.fixture
def chromium() -> pathlib.Path:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: the dashboard's browser tests need it; {INSTALL_HINT}")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: pathlib.Path) -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail(f"the Python package playwright is missing; {INSTALL_HINT}")
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    yield opened
    await context.close()


async def screenshot(page: Any, name: str) -> pathlib.Path:
    """Save a full-page screenshot as a test artefact; returns its path."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"the screenshot {path} is suspiciously small"
    return path
