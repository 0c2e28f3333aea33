"""Abuse benchmark: a victim's latency alone and while hostile clients flood, and the server's
memory before, with and after 500 zombie connections.

The victim (a GM in its own battle) measures ping round trips: the same path as a command
(reader, hub, bounded send queue, writer) without the engine and the store, so what it shows is
how much of the loop the attackers take. Eight hostile clients then flood at once: three send
invalid frames as fast as they can (reconnecting when the server closes them), three churn
joins and leaves in a battle with 50 spectators (presence amplification), two open sockets that
never read. Goal: the victim's p99 stays within 2x of its quiet figure. Then 500 sockets connect,
never join and never read: RSS must return to within 10 % of its start once the server has cut
them (`JOIN_TIMEOUT_S`, `SEND_TIMEOUT_S` are shortened so the run stays short).

Loopback only; every loop is bounded in count and time.
Environment: `BENCH_ABUSE_PINGS` (100, 8 per second).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from typing import Any

import aiohttp
import psutil

from bench.bench_load import pin
from bench.loadgen import percentile
from testkit.hostile import raw_websocket, ws_frame
from testkit.servers import ServerProcess, game_server

SCENARIO: dict[str, Any] = {
    "name": "abuse",
    "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
    "ships": [
        {"id": "alpha", "name": "Alpha", "side": "red", "preset": "scout"},
        {"id": "bravo", "name": "Bravo", "side": "blue", "preset": "free_trader"},
    ],
    "starting_range": "short",
}
SETTLE_S = 15.0
"""The RSS after the zombies is read once it is back within 10 % of the start, or this long
after the server cut the last one (the server reclaims memory at its next quiet second, at most
every 5 s: see `gameserver.app.lifecycle.gc_ctx`)."""
ENV = {
    # Every client comes from 127.0.0.1: lift the per-address limits (attackers are many
    # addresses in the worst case); everything else keeps its default.
    "ADDRESS_BURST": "1000000",
    "ADDRESS_RATE_PER_S": "1000000",
    "JOIN_BURST": "1000000",
    "JOIN_TIMEOUT_S": "5",
    "SEND_TIMEOUT_S": "2",
}


async def _join_gm(http: aiohttp.ClientSession, server: ServerProcess) -> tuple[Any, str]:
    async with http.post(f"{server.url}/api/battles", json={"scenario": SCENARIO}) as resp:
        created = await resp.json()
    ws = await http.ws_connect(server.ws_url)
    join = {"type": "join", "battle_id": created["battle_id"], "role": "gm"}
    await ws.send_json({**join, "gm_token": created["gm_token"]})
    while (await ws.receive_json())["type"] != "joined":
        pass
    return ws, created["battle_id"]


async def _pings(ws: Any, count: int) -> list[float]:
    """Ping round trips in ms (other frames are skipped)."""
    out = []
    for i in range(count):
        started = time.perf_counter()
        await ws.send_json({"type": "ping", "client_id": f"p{i}"})
        while True:
            frame = json.loads((await ws.receive(timeout=10)).data)
            if frame["type"] == "pong":
                break
        out.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.125)  # within the per-connection rate limit (10/s)
    return out


async def _flood_invalid(
    http: aiohttp.ClientSession, server: ServerProcess, stop: asyncio.Event
) -> None:
    junk = "{" * 16_000
    while not stop.is_set():
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            async with http.ws_connect(server.ws_url, heartbeat=None) as ws:
                while not stop.is_set() and not ws.closed:
                    await ws.send_str(junk)
                    await asyncio.sleep(0)


async def _churn(
    http: aiohttp.ClientSession, server: ServerProcess, battle_id: str, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, TimeoutError):
            async with http.ws_connect(server.ws_url, heartbeat=None) as ws:
                await ws.send_json({"type": "join", "battle_id": battle_id, "role": "spectator"})
                await ws.receive(timeout=5)


def _never_read(server: ServerProcess) -> list[socket.socket]:
    socks = [raw_websocket(server.port) for _ in range(2)]
    frame = ws_frame(b'{"type":"ping","client_id":"' + b"z" * 60 + b'"}')
    for sock in socks:
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.send(frame * 200)
    return socks


def _rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 1e6


async def _connections(http: aiohttp.ClientSession, server: ServerProcess) -> float:
    async with http.get(f"{server.url}/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith("tvtt_websocket_connections "):
                return float(line.split()[1])
    return -1.0


async def _measure(server: ServerProcess) -> None:
    pings = int(os.environ.get("BENCH_ABUSE_PINGS", "100"))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        victim, _ = await _join_gm(http, server)
        crowd_gm, crowd = await _join_gm(http, server)
        spectators = [await http.ws_connect(server.ws_url) for _ in range(50)]
        for ws in spectators:
            await ws.send_json({"type": "join", "battle_id": crowd, "role": "spectator"})
        quiet = await _pings(victim, pings)

        stop = asyncio.Event()
        hostile = [asyncio.create_task(_flood_invalid(http, server, stop)) for _ in range(3)]
        hostile += [asyncio.create_task(_churn(http, server, crowd, stop)) for _ in range(3)]
        readers = _never_read(server)
        await asyncio.sleep(1.0)
        flooded = await _pings(victim, pings)
        stop.set()
        await asyncio.gather(*hostile, return_exceptions=True)
        for sock in readers:
            sock.close()
        q99, f99 = percentile(quiet, 0.99), percentile(flooded, 0.99)
        print(f"victim ping p50/p99 quiet: {percentile(quiet, 0.5):.2f} / {q99:.2f} ms")
        print(f"victim ping p50/p99 flood: {percentile(flooded, 0.5):.2f} / {f99:.2f} ms")
        print(f"flood/quiet p99 = {f99 / q99:.2f}x (goal <= 2x)")

        for ws in spectators:
            await ws.close()
        await crowd_gm.close()
        await asyncio.sleep(1.0)
        before = _rss_mb(server.pid)
        zombies = [raw_websocket(server.port) for _ in range(500)]
        garbage = ws_frame(json.dumps({"type": "x" * 4000}).encode()) * 8
        for sock in zombies:
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.send(garbage)
        await asyncio.sleep(2.0)
        during = _rss_mb(server.pid)
        started = time.monotonic()
        for _ in range(120):  # at most a minute
            if await _connections(http, server) <= 1:
                break
            await asyncio.sleep(0.5)
        cut_s = time.monotonic() - started
        at_cut = _rss_mb(server.pid)
        settled = time.monotonic()
        for _ in range(int(SETTLE_S / 0.25)):
            if _rss_mb(server.pid) <= before * 1.1:
                break
            await asyncio.sleep(0.25)
        settle_s = time.monotonic() - settled
        held = sum(
            1
            for c in psutil.Process(server.pid).net_connections(kind="tcp")
            if c.raddr and c.raddr.port in {s.getsockname()[1] for s in zombies}
        )
        after = _rss_mb(server.pid)
        for sock in zombies:
            sock.close()
        print(
            f"RSS with 500 zombies: before {before:.1f} MB, with them {during:.1f} MB, "
            f"when the server had cut them ({cut_s:.1f} s) {at_cut:.1f} MB, "
            f"{settle_s:.1f} s later {after:.1f} MB "
            f"= {100 * (after - before) / before:+.1f} % (goal within 10 %); "
            f"server-side sockets still held: {held}"
        )
        await victim.close()


def run() -> None:
    """One server, the victim alone, the flood, the zombies; print the figures."""
    with game_server(env=ENV) as server:
        pin(server.pid, 0)
        asyncio.run(_measure(server))


if __name__ == "__main__":
    run()
