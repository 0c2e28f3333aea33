"""Event-loop stall benchmark: the worst time the game server's loop is held, per request, for
the largest legal battle and the largest legal import, beside a small battle as the same-run
baseline.

Goal: no accepted request stalls the loop for more than 50 ms. The server runs in this
process on a loopback port (memory store); the client runs in a thread with its own loop, so
its work is not the server's. Two figures per request: CPU time of the loop's thread between
two wake-ups of a 1 ms ticker (`testkit.stall`: what the server itself does on its loop) and
the wall time between them minus the 1 ms sleep (adds waiting for the GIL held by an executor
thread, and for a core on a busy machine: the load average is printed). Garbage collections
are reported on their own line.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from aiohttp import web

from gameserver.app import create_app
from gameserver.settings import Settings
from gameserver.store.memory import MemoryBattleStore
from testkit.largest import largest_scenario, longest_log, small_scenario
from testkit.stall import loop_stall_meter

GOAL_MS = 50.0


@contextmanager
def _wall_meter(worst: dict[str, float], phase: list[str]) -> Iterator[None]:
    """The longest wall-clock gap between two ticks of a 1 ms ticker, less the 1 ms, per phase."""

    async def tick() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            late = time.perf_counter() - start - 0.001
            worst[phase[0]] = max(worst.get(phase[0], 0.0), late)

    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield
    finally:
        task.cancel()


class _Client:
    """HTTP and WebSocket calls to the server, run on the client thread's own loop."""

    def __init__(self, base: str, phase: list[str]) -> None:
        self.base = base
        self.phase = phase
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.http: aiohttp.ClientSession | None = None
        self.took: dict[str, float] = {}

    def run(self, name: str, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run one request (or a few) under the phase `name`; blocks the calling thread."""
        self.phase[0] = name
        started = time.perf_counter()
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=300)
        finally:
            self.took[name] = time.perf_counter() - started
            self.phase[0] = "idle"

    async def open(self) -> None:
        self.http = aiohttp.ClientSession(base_url=self.base)

    async def close(self) -> None:
        assert self.http is not None
        await self.http.close()

    async def post(self, path: str, body: bytes) -> tuple[int, Any]:
        assert self.http is not None
        async with self.http.post(
            path, data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        assert self.http is not None
        async with self.http.get(path, headers=headers) as resp:
            return resp.status, await resp.read()

    async def gm(self, battle: dict[str, Any], commands: list[dict[str, Any]]) -> int:
        """Join as the GM, read the snapshot, send the commands one at a time; acks counted."""
        assert self.http is not None
        acks = 0
        async with self.http.ws_connect("/ws", max_msg_size=0) as ws:
            join = {"type": "join", "battle_id": battle["battle_id"], "role": "gm"}
            await ws.send_json({**join, "gm_token": battle["gm_token"]})
            while (await ws.receive_json())["type"] != "snapshot":
                pass
            for i, command in enumerate(commands):
                await ws.send_json({"type": "command", "client_id": f"c{i}", "command": command})
                while True:
                    frame = await ws.receive_json()
                    if frame.get("client_id") == f"c{i}":
                        acks += frame["type"] == "ack"
                        break
        return acks


def _battle_phases(client: _Client, name: str, scenario: dict[str, Any]) -> None:
    status, battle = client.run(
        f"{name}: create", client.post("/api/battles", json.dumps({"scenario": scenario}).encode())
    )
    assert status == 201, battle
    bid = battle["battle_id"]
    for path in ("", "/log", "/log?format=md", "/verify"):
        status, _ = client.run(
            f"{name}: GET{path or ' battle'}", client.get(f"/api/battles/{bid}{path}")
        )
        assert status == 200
    client.run(f"{name}: GM join + snapshot", client.gm(battle, []))
    acks = client.run(f"{name}: 20 commands", client.gm(battle, [{"type": "gm_advance"}] * 20))
    assert acks == 20
    auth = {"Authorization": f"Bearer {battle['gm_token']}"}
    status, exported = client.run(
        f"{name}: GM export", client.get(f"/api/battles/{bid}/export", auth)
    )
    assert status == 200
    status, imported = client.run(f"{name}: import", client.post("/api/battles/import", exported))
    assert status == 201, imported
    end = [{"type": "gm_end", "reason": "bench"}]
    client.run(f"{name}: end", client.gm(battle, end))


def _import_phases(client: _Client, name: str, log: list[dict[str, Any]]) -> None:
    body = json.dumps({"events": log}).encode()
    label = f"{name} ({len(log):,} events, {len(body) / 2**20:.2f} MiB): import"
    status, battle = client.run(label, client.post("/api/battles/import", body))
    assert status == 201, battle
    bid = battle["battle_id"]
    client.run(f"{name}: GET battle", client.get(f"/api/battles/{bid}"))
    client.run(f"{name}: GM join + snapshot", client.gm(battle, []))
    status, _ = client.run(f"{name}: GET log", client.get(f"/api/battles/{bid}/log"))
    assert status == 200


async def _serve(
    work: Callable[[str, list[str]], dict[str, float]],
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    settings = Settings(bot_delay_ms=0, rate_limit_per_s=10_000, rate_limit_burst=10_000)
    runner = web.AppRunner(create_app(settings, store=MemoryBattleStore()))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    cpu: dict[str, float] = {}
    wall: dict[str, float] = {}
    phase = ["idle"]
    try:
        with loop_stall_meter(cpu, phase), _wall_meter(wall, phase):
            took = await asyncio.to_thread(work, f"http://127.0.0.1:{port}", phase)
    finally:
        await runner.cleanup()
    return cpu, wall, took


def _work(base: str, phase: list[str]) -> dict[str, float]:
    client = _Client(base, phase)
    client.run("idle", client.open())
    try:
        _battle_phases(client, "baseline (2 ships)", small_scenario())
        _battle_phases(client, "largest battle (24 ships x 8 triple turrets)", largest_scenario())
        _import_phases(client, "baseline import", longest_log(64 * 1024))
        _import_phases(client, "largest import", longest_log(Settings().max_import_bytes))
    finally:
        client.run("idle", client.close())
        client.loop.call_soon_threadsafe(client.loop.stop)
    return client.took


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min), {os.cpu_count()} cores"


def run() -> None:
    print(f"{_load()} at start")
    cpu, wall, took = asyncio.run(_serve(_work))
    width = max(len(k) for k in cpu)
    print(f"{'request':<{width}}  loop CPU ms  wall ms  took s")
    for name in cpu:
        took_s = f"{took[name]:6.2f}" if name in took else ""
        stalls = f"{cpu[name] * 1000:11.1f}  {wall.get(name, 0.0) * 1000:7.1f}"
        print(f"{name:<{width}}  {stalls}  {took_s}")
    served = {k: v for k, v in cpu.items() if k not in ("idle", "garbage collection")}
    big = {k: v for k, v in served.items() if k.startswith("largest")}
    worst = max(big, key=lambda k: big[k])
    base = max(v for k, v in served.items() if k.startswith("baseline"))
    verdict = "met" if big[worst] * 1000 <= GOAL_MS else "NOT met"
    print(
        f"worst loop stall, largest battle and import: {big[worst] * 1000:.1f} ms CPU"
        f" ({worst}), wall {wall.get(worst, 0.0) * 1000:.1f} ms; baseline worst"
        f" {base * 1000:.1f} ms CPU; goal <= {GOAL_MS:.0f} ms: {verdict}"
    )
    print(f"{_load()} at end")


if __name__ == "__main__":
    run()
