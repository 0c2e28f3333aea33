"""Real game server processes (`python -m gameserver`) on one Redis, and a small WebSocket client.

The multi-instance tests must run separate processes: two apps in one event loop would share the
loop, the hub's tasks and even Python objects, and hide exactly the cross-instance bugs they test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from tests.redis.redis_process import free_port

ROOT = Path(__file__).resolve().parents[2]


class GameServerProcess:
    """One `python -m gameserver` child on a free port; output goes to a log file for failures."""

    def __init__(self, log_dir: Path, env: Mapping[str, str], name: str = "server") -> None:
        self.port = free_port()
        self.name = name
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "warning",
            "SHUTDOWN_GRACE_S": "2",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint."""
        return f"ws://127.0.0.1:{self.port}/ws"

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process (output appended to the log file)."""
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gameserver"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self.proc

    async def start(self, timeout_s: float = 30.0) -> None:
        """Spawn and wait until `/ready` answers 200 (the store answered a ping)."""
        proc = self.spawn()
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/ready") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {timeout_s}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the instance dies without draining, like a crashed pod."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (the drain path), escalating to SIGKILL; safe to call twice."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


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
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._changed = asyncio.Condition()
        self._ended = False
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, server: GameServerProcess) -> WsClient:
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
