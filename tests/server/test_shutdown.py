"""SIGTERM on the real process: /ready 503, no new joins, `server_shutdown`, drain, exit in time."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from testkit.servers import ServerProcess, game_server
from tests.server.conftest import WsPeer, scenario

GRACE_S = 4.0
# The idle server's grace is long enough that "exits at once" and "waited its grace" cannot be
# confused on a loaded 2-core machine (an idle shutdown takes 2-4.5 s there).
IDLE_GRACE_S = 60.0


def _serve(tmp_path: Path, grace_s: float) -> Iterator[ServerProcess]:
    proc = game_server(
        tmp_path / "server.log", {"SHUTDOWN_GRACE_S": str(grace_s)}, log_level="info"
    )
    try:
        yield proc.start()
    finally:
        if proc.running:
            proc.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """`python -m gameserver` on a free port; always stopped, also when the test fails."""
    yield from _serve(tmp_path, GRACE_S)


@pytest.fixture
def idle_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The same with a long grace period, so waiting it out would be unmistakable."""
    yield from _serve(tmp_path, IDLE_GRACE_S)


async def test_sigterm_drains_then_exits_within_the_grace_period(
    server: ServerProcess,
) -> None:
    url, proc = server.url, server.proc
    assert proc is not None
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/api/battles", json={"scenario": scenario()}) as resp:
            battle = await resp.json()
        player = WsPeer(await session.ws_connect(f"{url}/ws"))
        await player.join(
            battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=["pilot"]
        )
        idle = WsPeer(await session.ws_connect(f"{url}/ws"))

        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        shutdown = await player.recv_until("server_shutdown")
        assert shutdown["reconnect_after_ms"] >= 0
        assert "reconnect" in shutdown["message"]

        async with session.get(f"{url}/ready") as resp:
            assert resp.status == 503
            assert (await resp.json())["status"] == "draining"
        async with session.get(f"{url}/health") as resp:
            assert resp.status == 200

        await idle.recv_until("server_shutdown")
        await idle.send({"type": "join", "battle_id": battle["battle_id"], "role": "spectator"})
        refused = await idle.recv_until("error")
        assert refused["code"] == "shutting_down"

        # The player leaves as told; the idle client stays and is closed with 1001 at the deadline.
        await player.ws.close()
        closing = await idle.ws.receive(timeout=GRACE_S + 5)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert closing.data == 1001
        assert time.monotonic() - signalled >= GRACE_S - 0.5

    await asyncio.to_thread(proc.wait, GRACE_S + 5)
    assert proc.returncode == 0
    assert time.monotonic() - signalled < GRACE_S + 5
    assert server.log_path is not None
    lines = [
        json.loads(line)
        for line in server.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    assert {"shutdown_requested", "draining", "stopped"} <= {line.get("event") for line in lines}


async def test_sigterm_exits_at_once_when_no_client_is_connected(
    idle_server: ServerProcess,
) -> None:
    """No one to drain: the process does not sit out its grace period."""
    proc = idle_server.proc
    assert proc is not None
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(proc.wait, IDLE_GRACE_S)
    assert proc.returncode == 0
    assert time.monotonic() - started < IDLE_GRACE_S / 2
