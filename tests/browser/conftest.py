"""Browser-test fixtures: the real game server as a subprocess and Debian's chromium via Playwright.

No mocks: the page talks to `python -m gameserver` on a free loopback port exactly as it would in
play. Playwright drives `/usr/bin/chromium` (it cannot download its own browsers here).
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from testkit.servers import game_server

# `expect(...)` waits as long as actions do (the contexts' default timeout below): on a saturated
# 2-core machine the first page load once took over Playwright's 5 s default to leave "Loading the
# bridge…". A wrong page still fails, only later.
EXPECT_TIMEOUT_MS = 15_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "browser"
CHROMIUM = os.environ.get("TVTT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Server:
    """A running game server: its base URL and where its log goes."""

    url: str
    log_path: Path


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where screenshots go (`test-output/` at the repo root is gitignored)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def server(output_dir: Path) -> Iterator[Server]:
    """Start `python -m gameserver` on a free port; stop it (and wait for it) afterwards.

    `TVTT_BROWSER_SERVER_URL` points the suite at a server that is already running instead (a
    staging deployment, or one started by hand while developing the page).
    """
    external = os.environ.get("TVTT_BROWSER_SERVER_URL")
    if external:
        with urllib.request.urlopen(f"{external.rstrip('/')}/health", timeout=5) as resp:
            assert resp.status == 200, f"{external} is not healthy"
        yield Server(url=external.rstrip("/"), log_path=output_dir / "server.log")
        return
    log_path = output_dir / "server.log"
    log_path.unlink(missing_ok=True)
    process = game_server(log_path, {"BOT_DELAY_MS": "50"}, log_level="info")
    process.env.pop("REDIS_URL", None)
    try:
        process.start(timeout=SERVER_START_TIMEOUT_S)
        yield Server(url=process.url, log_path=log_path)
    finally:
        process.stop(grace=20)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """One Playwright driver for the browser tests, stopped when they are done.

    Package scope, not session: the sync API keeps an asyncio loop marked as running in the main
    thread while it lives, and every pytest-asyncio test collected after this package would fail
    with "Runner.run() cannot be called from a running event loop".
    """
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's chromium, headless; closed when the browser tests are done."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian 'chromium' package (make install)")
    instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield instance
    finally:
        instance.close()


NewContext = Callable[..., BrowserContext]


@pytest.fixture
def new_context(
    browser: Browser, server: Server, output_dir: Path, request: pytest.FixtureRequest
) -> Iterator[NewContext]:
    """Factory of fresh browser profiles (separate storage = separate players), all closed after.

    When the test fails, every page still open is screenshotted for the post-mortem.
    """
    contexts: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        ctx = browser.new_context(base_url=server.url, **kwargs)
        ctx.set_default_timeout(EXPECT_TIMEOUT_MS)
        contexts.append(ctx)
        return ctx

    yield make
    failed = getattr(request.node, "rep_call", None)
    for i, ctx in enumerate(contexts):
        if failed is not None and failed.failed:
            for j, page in enumerate(ctx.pages):
                page.screenshot(path=str(output_dir / f"FAILED-{request.node.name}-{i}-{j}.png"))
        ctx.close()


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's page at desktop width, on the lobby; a module that wants another page (phone
    width, no CSP for axe) defines its own `gm`."""
    # Imported here: test_tabletop imports this conftest (NewContext).
    from tests.browser.test_tabletop import watched_page

    yield from watched_page(new_context(viewport={"width": 1440, "height": 900}))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Expose the call-phase report to fixtures (for failure screenshots)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
