"""Memory over time: the game server's RSS after 1,000 and after 10,000 battles played to the end.

The server plays the battles itself (both sides are the server's bot, `BOT_DELAY_MS=0`, round
limit 2): the benchmark creates them over HTTP, 500 at a time (32 requests in flight), waits
until no battle is loaded (every one over, its room unloaded by the expiry loop, every second
here), lets the quiet logs be archived (`ARCHIVE_AFTER_S`, 2 s here) and reads the RSS.
Then, on a fresh server, it opens 500 battles that stay live (nobody plays them): the RSS
each one adds.
Baseline: the RSS of the same server before its first battle.
Goal (issue "Performance v2"): RSS after 10,000 within 20 % of RSS after 1,000.

Environment: `BENCH_MEMORY_BATTLES` (checkpoints, default "1000,10000").
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import aiohttp
import psutil

from bench.bench_load import server
from bench.seedgen import scenario

SETTLE_S = 4.0
"""After the battles end: two expiry runs past the archive delay."""


async def _create(
    session: aiohttp.ClientSession, url: str, count: int, bots: bool, ids: list[str]
) -> None:
    body: dict[str, Any] = {"scenario": scenario(2), "name": "memory"}
    if bots:
        body["bot_sides"] = ["red", "blue"]
    sem = asyncio.Semaphore(32)

    async def one() -> None:
        async with sem, session.post(f"{url}/api/battles", json=body) as resp:
            data = await resp.json()
            if resp.status != 201:
                raise RuntimeError(f"create failed: {resp.status} {data}")
            ids.append(data["battle_id"])

    await asyncio.gather(*(one() for _ in range(count)))


async def _wait_unloaded(session: aiohttp.ClientSession, url: str, limit_s: float = 900.0) -> None:
    """Until no battle is loaded (`tvtt_active_battles` 0): every bot battle has ended and the
    expiry loop has unloaded it. (Idle CPU is no sign on a shared machine: a starved server
    is idle too.)"""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        async with session.get(f"{url}/metrics") as resp:
            text = await resp.text()
        loaded = next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("tvtt_active_battles ")
        )
        if loaded == 0:
            return
        await asyncio.sleep(1.0)
    raise RuntimeError("the battles did not end")


def _rss_mb(proc: psutil.Process) -> float:
    return float(proc.memory_info().rss) / 2**20


async def _measure(url: str, pid: int, checkpoints: list[int]) -> list[tuple[str, float]]:
    proc = psutil.Process(pid)
    rows = [("fresh server (baseline)", _rss_mb(proc))]
    played = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for target in checkpoints:
            while played < target:
                batch = min(500, target - played)
                await _create(session, url, batch, True, [])
                played += batch
                await _wait_unloaded(session, url)
            await asyncio.sleep(SETTLE_S)
            rows.append((f"after {played:,} battles played to the end", _rss_mb(proc)))
    return rows


async def _live(url: str, pid: int, count: int) -> float:
    """KB of RSS each of `count` live battles (opened, loaded, nobody playing) adds to a fresh
    server (a server that played before reuses memory it freed, which hides the cost)."""
    proc = psutil.Process(pid)
    before = _rss_mb(proc)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await _create(session, url, count, False, [])
    await asyncio.sleep(1.0)
    return (_rss_mb(proc) - before) * 1024 / count


def run() -> None:
    """Print the RSS checkpoints and the verdict."""
    checkpoints = [
        int(s) for s in os.environ.get("BENCH_MEMORY_BATTLES", "1000,10000").split(",") if s
    ]
    env = {
        "BOT_DELAY_MS": "0",
        "EXPIRY_INTERVAL_S": "1",
        "ARCHIVE_AFTER_S": "2",
    }
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with server("game", env) as (url, pid):
        rows = asyncio.run(_measure(url, pid, checkpoints))
    with server("game", env) as (url, pid):
        rows.append(("RSS per live battle (500 opened), KB", asyncio.run(_live(url, pid, 500))))
    for label, value in rows:
        print(f"{label:<48} {value:>9.1f}{'' if 'KB' in label else ' MB'}")
    played = [v for label, v in rows if label.startswith("after")]
    if len(played) >= 2:
        growth = played[-1] / played[0] - 1
        verdict = "MET" if growth <= 0.2 else "MISSED"
        print(
            f"RSS growth from the first to the last checkpoint: {growth:+.1%}"
            f" (goal <= 20 %: {verdict})"
        )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    run()
