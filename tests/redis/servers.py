"""Real game server processes (`python -m gameserver`) on one Redis, and a small WebSocket client.

The multi-instance tests must run separate processes: two apps in one event loop would share the
loop, the hub's tasks and even Python objects, and hide exactly the cross-instance bugs they test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from testkit.servers import ServerProcess, game_server


def game_server_process(
    log_dir: Path, env: Mapping[str, str], name: str = "server"
) -> ServerProcess:
    """An instance for the multi-instance tests: its log in `log_dir`, a short drain."""
    return game_server(log_dir / f"{name}.log", {"SHUTDOWN_GRACE_S": "2", **env}, name=name)


class WsClient:
    """A protocol client that records every event it receives, by seq, and answers commands."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self.events: dict[int, dict[str, Any]] = {}
        self.seen_seqs: list[int] = []
        self.snapshots: list[dict[str, Any]] = []
        self.legal: dict[str, dict[str, Any]] = {}
        self.awaiting: list[tuple[str, str]] = []
        self.joined: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.presence: list[dict[str, Any]] = []
        self.shutdowns: list[dict[str, Any]] = []
        self.chat_lines: list[dict[str, Any]] = []
        self.timers: list[dict[str, Any]] = []
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self._ended = False
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, server: ServerProcess) -> WsClient:
        """Open a WebSocket to the server (the Origin header is omitted: same-origin rules)."""
        ws = await http.ws_connect(server.ws_url, heartbeat=None)
        return cls(http, ws)

    @property
    def last_seq(self) -> int:
        """The highest seq received (events or snapshot)."""
        seqs = [*self.events, *(s["seq"] for s in self.snapshots)]
        return max(seqs, default=0)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    self._record(json.loads(msg.data))
                    async with self._changed:
                        self._changed.notify_all()
        finally:
            self._ended = True
            # A dead socket answers nothing: pending requests fail now instead of timing out.
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(ConnectionError("the socket closed before the reply"))
            self._replies.clear()
            async with self._changed:
                self._changed.notify_all()

    def _record(self, data: dict[str, Any]) -> None:
        """Keep one server frame and resolve the request it answers."""
        kind = data["type"]
        if kind == "event":
            self.seen_seqs.append(data["seq"])
            self.events[data["seq"]] = data["event"]
            if data.get("awaiting") is not None:
                self.awaiting = [tuple(a) for a in data["awaiting"]]
        elif kind == "snapshot":
            self.snapshots.append(data)
            self.awaiting = [tuple(a) for a in data["awaiting"]]
        elif kind == "legal":
            self.legal[data["station"]] = data
        elif kind == "joined":
            self.joined = data
        elif kind == "server_shutdown":
            self.shutdowns.append(data)
        elif kind == "error":
            self.errors.append(data)
        elif kind == "presence":
            self.presence.append(data)
        elif kind == "chat":
            self.chat_lines.extend(data["lines"])
        elif kind == "timer":
            self.timers.append(data)
        client_id = data.get("client_id")
        if kind in ("ack", "error", "joined") or (kind == "legal" and client_id):
            future = self._replies.pop(client_id or "join", None)
            if future is not None and not future.done():
                future.set_result(data)

    async def request(self, message: dict[str, Any], wait_s: float = 20) -> dict[str, Any]:
        """Send a message and wait for its reply (`joined` for a join, else by client id)."""
        key = "join" if message["type"] == "join" else message.setdefault("client_id", _cid())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[key] = future
        await self.ws.send_json(message)
        return await asyncio.wait_for(future, wait_s)

    async def join(self, **fields: Any) -> dict[str, Any]:
        """Join and return `joined` (or the `error` that refused it)."""
        return await self.request({"type": "join", **fields})

    async def command(self, command: dict[str, Any], wait_s: float = 20) -> dict[str, Any]:
        """Send an intent; returns the `ack` or `error`."""
        return await self.request({"type": "command", "command": command}, wait_s)

    async def wait_for(self, predicate: Callable[[], bool], wait_s: float = 20) -> None:
        """Wait until `predicate()` holds (re-checked after each frame and when the socket ends)."""
        async with asyncio.timeout(wait_s), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_seq(self, seq: int, wait_s: float = 20) -> None:
        """Wait until this client holds event `seq` (fails fast if the socket ends first)."""
        await self.wait_for(lambda: self.last_seq >= seq or self.closed, wait_s)
        if self.last_seq < seq:
            raise ConnectionError(f"the socket closed at seq {self.last_seq}, before {seq}")

    async def wait_closed(self, wait_s: float = 20) -> None:
        """Wait until the server side has closed the socket (e.g. its process died)."""
        await self.wait_for(lambda: self.closed, wait_s)

    async def close(self) -> None:
        """Close the socket and stop reading."""
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    @property
    def closed(self) -> bool:
        """True once the server (or we) closed the socket."""
        return self._ended or self.ws.closed


def _cid() -> str:
    return uuid.uuid4().hex[:12]
