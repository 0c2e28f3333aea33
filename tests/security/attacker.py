"""Hostile clients for the attack tests: raw sockets that speak just enough WebSocket to hurt.

Every attack runs against a real `python -m gameserver` process (testkit), and every test also
keeps a victim client in play to show the server still answers it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import psutil

from testkit.hostile import raw_websocket, ws_frame
from testkit.servers import ServerProcess

__all__ = ["Victim", "attackers", "metric", "server_side_sockets", "wait_until", "ws_frame"]


@contextmanager
def attackers(count: int, port: int) -> Iterator[list[socket.socket]]:
    """`count` raw WebSockets, closed by the test process at the end whatever happened."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(raw_websocket(port))
        yield socks
    finally:
        for sock in socks:
            sock.close()


def server_side_sockets(server: ServerProcess, peers: list[socket.socket]) -> int:
    """How many of `peers` the server process still holds a TCP socket for."""
    ports = {s.getsockname()[1] for s in peers}
    held = psutil.Process(server.pid).net_connections(kind="tcp")
    return sum(1 for c in held if c.raddr and c.raddr.port in ports)


async def metric(http: aiohttp.ClientSession, server: ServerProcess, name: str) -> dict[str, float]:
    """One series of `/metrics`, by its label values joined with ',' ('' when unlabelled)."""
    async with http.get(f"{server.url}/metrics") as resp:
        text = await resp.text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            series, value = line.rsplit(" ", 1)
            labels = series[len(name) :].strip("{}")
            key = ",".join(part.split("=", 1)[1].strip('"') for part in labels.split(",") if part)
            out[key] = float(value)
    return out


async def wait_until(predicate: Any, what: str, within: float = 20.0) -> None:
    """Await `predicate()` (a coroutine function returning bool) until true."""
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within:.0f}s: {what}")
        await asyncio.sleep(0.1)


class Victim:
    """An honest player in a battle of its own: what the attack must not disturb.

    It reads its socket all the time (as a browser does, answering the server's pings).
    """

    def __init__(self, http: aiohttp.ClientSession, server: ServerProcess) -> None:
        self.http = http
        self.server = server
        self.battle_id = ""
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.frames: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def sit_down(self, scenario: dict[str, Any]) -> None:
        """Create a battle and join it as the GM."""
        async with self.http.post(
            f"{self.server.url}/api/battles", json={"scenario": scenario}
        ) as resp:
            created = await resp.json()
        self.battle_id = created["battle_id"]
        self.ws = await self.http.ws_connect(self.server.ws_url, heartbeat=None)
        self._reader = asyncio.create_task(self._read(self.ws))
        await self.ws.send_json(
            {
                "type": "join",
                "battle_id": self.battle_id,
                "role": "gm",
                "gm_token": created["gm_token"],
            }
        )
        await self.reply("joined")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.frames.put_nowait(json.loads(msg.data))
        self.frames.put_nowait(None)

    async def reply(self, kind: str, within: float = 5.0) -> dict[str, Any]:
        """The next frame of type `kind` (others are skipped)."""
        async with asyncio.timeout(within):
            while True:
                frame = await self.frames.get()
                if frame is None:
                    raise ConnectionError("the victim's socket ended")
                if frame["type"] == kind:
                    return frame

    async def ping_ms(self) -> float:
        """Round trip of a ping, in milliseconds."""
        assert self.ws is not None
        started = time.perf_counter()
        await self.ws.send_json({"type": "ping", "client_id": "victim"})
        await self.reply("pong")
        return (time.perf_counter() - started) * 1000

    async def seq(self) -> int:
        """The battle's seq as the HTTP API reports it."""
        async with self.http.get(f"{self.server.url}/api/battles/{self.battle_id}") as resp:
            seq: int = (await resp.json())["seq"]
            return seq

    async def leave(self) -> None:
        """Close the socket and stop reading."""
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
