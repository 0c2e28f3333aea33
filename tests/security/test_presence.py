"""Presence amplification: one client churning joins on fresh sockets must not make the server
push a frame per change to everyone in the battle, and a battle's joins are rate-limited."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.security.attacker import Victim, metric
from tests.security.conftest import StartServer
from tests.server.conftest import scenario

pytestmark = pytest.mark.timeout(120)


async def churn(http: aiohttp.ClientSession, url: str, battle_id: str, times: int) -> list[str]:
    """Join as a spectator on a fresh socket and leave at once, `times` times; the answers."""
    answers: list[str] = []
    for _ in range(times):
        ws = await http.ws_connect(url, heartbeat=None)
        await ws.send_json({"type": "join", "battle_id": battle_id, "role": "spectator"})
        answer = await ws.receive_json(timeout=10)
        answers.append(answer["type"] if answer["type"] != "error" else answer["code"])
        await ws.close()
    return answers


async def test_presence_changes_are_coalesced_per_battle(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(PRESENCE_INTERVAL_S="0.5", JOIN_BURST="1000")
    watcher = Victim(http, server)
    await watcher.sit_down(scenario())
    seq = await watcher.seq()
    await asyncio.sleep(1.0)  # the watcher's own join announcement is out
    while not watcher.frames.empty():
        watcher.frames.get_nowait()

    started = time.monotonic()
    answers = await churn(http, server.ws_url, watcher.battle_id, 40)
    await asyncio.sleep(1.0)  # the last merged update goes out
    elapsed = time.monotonic() - started

    assert answers == ["joined"] * 40
    presence = []
    while not watcher.frames.empty():
        frame = watcher.frames.get_nowait()
        if frame is not None and frame["type"] == "presence":
            presence.append(frame)
    assert len(presence) <= elapsed / 0.5 + 2, "80 changes, at most one frame per interval"
    assert [p["peer_id"] for p in presence[-1]["peers"]] == [
        p["peer_id"] for p in presence[-1]["peers"] if p["role"] == "gm"
    ], "the last frame is current: only the watcher is left"
    assert await watcher.ping_ms() < 500
    assert await watcher.seq() == seq


async def test_joins_to_one_battle_are_rate_limited(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(JOIN_RATE_PER_S="0.5", JOIN_BURST="6")
    victim = Victim(http, server)
    await victim.sit_down(scenario())  # the victim's own join spends one

    answers = await churn(http, server.ws_url, victim.battle_id, 10)

    assert answers == ["joined"] * 5 + ["rate_limited"] * 5
    refusals = await metric(http, server, "tvtt_limit_refusals_total")
    assert refusals["join_rate"] == 5
    assert await victim.ping_ms() < 500
