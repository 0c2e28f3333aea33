"""`PROBE_PORT`: health and readiness answered from a thread, so a busy event loop cannot make the
kubelet kill a pod that is only busy, while a loop that stopped running still fails them."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gameserver.app import HUB_KEY, create_app
from gameserver.settings import Settings
from gameserver.store.memory import MemoryBattleStore
from testkit.ports import free_port


def probe(port: int, path: str) -> tuple[int, str]:
    """GET a probe from outside the event loop (a thread), as the kubelet would."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, json.loads(resp.read())["status"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["status"]


@pytest.fixture
async def probed(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> tuple[TestClient[Any, Any], int]:
    port = free_port()
    settings = Settings(probe_port=port, probe_stall_s=0.5, expiry_interval_s=3600)
    client = await aiohttp_client(create_app(settings, store=MemoryBattleStore()))
    for _ in range(50):  # the store's first ping
        if await asyncio.to_thread(probe, port, "/ready") == (200, "ready"):
            break
        await asyncio.sleep(0.05)
    return client, port


async def test_probes_answer_on_their_port(probed: tuple[TestClient[Any, Any], int]) -> None:
    _client, port = probed
    assert await asyncio.to_thread(probe, port, "/health") == (200, "ok")
    assert await asyncio.to_thread(probe, port, "/ready") == (200, "ready")
    assert (await asyncio.to_thread(probe, port, "/metrics"))[0] == 404


async def test_a_busy_loop_still_answers_and_a_stuck_one_fails(
    probed: tuple[TestClient[Any, Any], int],
) -> None:
    _client, port = probed
    loop = asyncio.get_running_loop()
    answers: list[tuple[float, tuple[int, str]]] = []

    def ask_twice() -> None:
        answers.append((time.monotonic(), probe(port, "/health")))
        time.sleep(1.0)  # past the stall limit, the loop still blocked
        answers.append((time.monotonic(), probe(port, "/ready")))

    blocked_from = time.monotonic()
    asker = loop.run_in_executor(None, ask_twice)
    # The event loop does nothing else meanwhile: every request on the main port would queue.
    time.sleep(2.0)  # noqa: ASYNC251
    blocked_until = time.monotonic()
    await asker
    # Both answers came while the loop was blocked: the first (loop young) is healthy, the
    # second (blocked past the stall limit) says the loop has stalled.
    assert all(blocked_from <= at <= blocked_until for at, _ in answers), answers
    assert answers[0][1] == (200, "ok")
    assert answers[1][1] == (503, "stalled")
    await asyncio.sleep(0.3)  # the loop beats again
    assert await asyncio.to_thread(probe, port, "/health") == (200, "ok")


async def test_draining_is_not_ready(probed: tuple[TestClient[Any, Any], int]) -> None:
    client, port = probed
    assert client.app is not None
    client.app[HUB_KEY].draining = True
    await asyncio.sleep(0.3)
    assert await asyncio.to_thread(probe, port, "/ready") == (503, "draining")
    assert await asyncio.to_thread(probe, port, "/health") == (200, "ok")
