"""Server test fixtures: a real app on loopback (aiohttp test server), real WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from gameserver.app import HUB_KEY, create_app
from gameserver.hub import Hub
from gameserver.settings import Settings
from gameserver.store.memory import MemoryBattleStore

RECV_TIMEOUT = 10.0


def scenario(round_limit: int = 30, starting_range: str = "short") -> dict[str, Any]:
    """Scout (red) against Free Trader (blue), both armed, at Short range."""
    return {
        "name": "Test skirmish",
        "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
        "ships": [
            {"id": "alpha", "name": "Alpha", "side": "red", "preset": "scout"},
            {"id": "bravo", "name": "Bravo", "side": "blue", "preset": "free_trader"},
        ],
        "starting_range": starting_range,
        "round_limit": round_limit,
    }


class WsPeer:
    """A test client on one WebSocket: sends dicts, receives parsed frames, remembers events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.frames: list[dict[str, Any]] = []
        self.joined: dict[str, Any] | None = None
        self.seq = 0
        self.awaiting: list[tuple[str, str]] = []
        self.view: dict[str, Any] | None = None  # the public view of the last complete batch
        self._counter = 0
        self._id_prefix = secrets.token_hex(4)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def recv(self, within: float = RECV_TIMEOUT) -> dict[str, Any]:
        """The next frame (events are also recorded in order)."""
        msg = await self.ws.receive(timeout=within)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket ended: {msg.type.name} {msg.data!r} {msg.extra!r}")
        frame: dict[str, Any] = json.loads(msg.data)
        self.frames.append(frame)
        if frame["type"] == "event":
            self.events.append(frame["event"])
            self.seq = frame["seq"]
            if frame.get("awaiting") is not None:
                self.awaiting = [tuple(a) for a in frame["awaiting"]]
            if frame.get("view") is not None:
                self.view = frame["view"]
        elif frame["type"] == "snapshot":
            self.seq = frame["seq"]
            self.awaiting = [tuple(a) for a in frame["awaiting"]]
            self.view = frame["view"]
        elif frame["type"] == "joined":
            self.joined = frame
        return frame

    async def recv_until(self, kind: str, within: float = RECV_TIMEOUT) -> dict[str, Any]:
        """Read frames until one of type `kind` arrives; return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            frame = await self.recv(within=max(0.01, deadline - loop.time()))
            if frame["type"] == kind:
                return frame

    async def drain_until_seq(self, seq: int, within: float = RECV_TIMEOUT) -> None:
        """Read frames until this peer has seen event `seq`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.seq < seq:
            await self.recv(within=max(0.01, deadline - loop.time()))

    async def join(self, **fields: Any) -> dict[str, Any]:
        """Send `join` and return the `joined` frame (raises on an error frame)."""
        await self.send({"type": "join", **fields})
        frame = await self.recv()
        if frame["type"] != "joined":
            raise AssertionError(f"join refused: {frame}")
        return frame

    async def command(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send a command and return its `ack` or `error` (events before it are recorded)."""
        self._counter += 1
        # Unique across connections, like the page's random ids: a `client_id` the same sender
        # used before is a resend (acked, never applied again).
        client_id = f"{self._id_prefix}c{self._counter}"
        await self.send({"type": "command", "client_id": client_id, "command": command})
        while True:
            frame = await self.recv()
            if frame["type"] in ("ack", "error") and frame.get("client_id") == client_id:
                return frame


ConnectFn = Callable[..., Awaitable[WsPeer]]


def fast_settings(**overrides: Any) -> Settings:
    """Fast, permissive settings for functional tests (limits get their own tests), with the
    `overrides` a module's own `settings` fixture needs: one base, so they cannot drift."""
    base: dict[str, Any] = {
        "bot_delay_ms": 0,
        "rate_limit_per_s": 10_000,
        "rate_limit_burst": 10_000,
        "expiry_interval_s": 3600,
        "shutdown_grace_s": 1,
    }
    return Settings(**(base | overrides))


@pytest.fixture
def settings() -> Settings:
    """The functional tests' settings (`fast_settings`)."""
    return fast_settings(import_prestart=False)  # a worker per test app costs ~0.4 s of CPU


@pytest.fixture
def store() -> MemoryBattleStore:
    return MemoryBattleStore()


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    settings: Settings,
    store: MemoryBattleStore,
) -> TestClient[Any, Any]:
    """The real app on a loopback port."""
    return await aiohttp_client(create_app(settings, store=store))


@pytest.fixture
def hub(client: TestClient[Any, Any]) -> Hub:
    app = client.app
    assert app is not None
    found: Hub = app[HUB_KEY]
    return found


@pytest.fixture
async def connect(client: TestClient[Any, Any]) -> ConnectFn:
    """Open a WebSocket to /ws; every socket is closed by the test client at teardown."""

    async def _connect(**kwargs: Any) -> WsPeer:
        ws = await client.ws_connect("/ws", **kwargs)
        return WsPeer(ws)

    return _connect


async def create_battle(
    client: TestClient[Any, Any], status: int = 201, **body: Any
) -> dict[str, Any]:
    """POST /api/battles and check the status."""
    body.setdefault("scenario", scenario())
    resp = await client.post("/api/battles", json=body)
    data: dict[str, Any] = await resp.json()
    assert resp.status == status, data
    return data
