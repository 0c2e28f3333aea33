"""SIGTERM on the real process: /ready 503, no new joins, `server_shutdown`, drain, exit in time."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.server.conftest import WsPeer, scenario

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 4.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Poll /ready until 200 (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited during start-up"
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("server not ready in 30 s")


@pytest.fixture
def server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`python -m gameserver` on a free port; always stopped, also when the test fails."""
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "SHUTDOWN_GRACE_S": str(GRACE_S),
        "LOG_LEVEL": "info",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gameserver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


async def test_sigterm_drains_then_exits_within_the_grace_period(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, proc = server
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
    assert proc.stdout is not None
    lines = [
        json.loads(line)
        for line in proc.stdout.read().decode().splitlines()
        if line.startswith("{")
    ]
    assert {"shutdown_requested", "draining", "stopped"} <= {line.get("event") for line in lines}


async def test_sigterm_exits_at_once_when_no_client_is_connected(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    _url, proc = server
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(proc.wait, GRACE_S + 5)
    assert proc.returncode == 0
    assert time.monotonic() - started < GRACE_S
