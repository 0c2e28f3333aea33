"""Browser-test fixtures: the real game server as a subprocess and Debian's chromium via Playwright.

No mocks: the page talks to `python -m gameserver` on a free loopback port exactly as it would in
play. Playwright drives `/usr/bin/chromium` (it cannot download its own browsers here).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

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
    """A running game server: its base URL and process."""

    url: str
    process: subprocess.Popen[bytes] | None
    log_path: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(server: Server) -> None:
    """Poll /health until the server answers (a condition, not a fixed sleep) or fail loudly."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last_error = ""
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            log = server.log_path.read_text(errors="replace")[-4000:]
            pytest.fail(f"game server exited with {server.process.returncode}:\n{log}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.1)
    pytest.fail(f"game server not healthy after {SERVER_START_TIMEOUT_S}s: {last_error}")


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
        yield Server(url=external.rstrip("/"), process=None, log_path=output_dir / "server.log")
        return
    port = _free_port()
    log_path = output_dir / "server.log"
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "info",
        "BOT_DELAY_MS": "50",
    }
    env.pop("REDIS_URL", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gameserver"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    srv = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_healthy(srv)
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


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
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx

    yield make
    failed = getattr(request.node, "rep_call", None)
    for i, ctx in enumerate(contexts):
        if failed is not None and failed.failed:
            for j, page in enumerate(ctx.pages):
                page.screenshot(path=str(output_dir / f"FAILED-{request.node.name}-{i}-{j}.png"))
        ctx.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Expose the call-phase report to fixtures (for failure screenshots)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
