"""A real server process per attack test, with the limits the test turns down; always stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from testkit.servers import ServerProcess, game_server

StartServer = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start `python -m gameserver` with extra settings (environment names); stopped at the end."""
    started: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        server = game_server(tmp_path / f"server-{len(started)}.log", env)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()
            print(f"--- {server.name} log ---\n{server.log_tail()}")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
