"""WebSocket players that survive their pod going away: reconnect elsewhere, resume with last_seq.

A `Player` holds one ship's stations. When its server says `server_shutdown` (or the socket
drops) it reconnects to another Ready pod, joins with its resume token and the last seq it holds,
and checks that the events that follow continue exactly where it stopped: every event once, in
order, across any number of reconnects. The gaps (shutdown or drop until `joined`) are measured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

RECV_TIMEOUT = 30.0

PickPod = Callable[[set[str]], Awaitable[str]]


class Player:
    """One connected player; `events` is everything it received, in order, across reconnects."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        battle_id: str,
        ship_id: str,
        stations: list[str],
        pick_pod: PickPod,
    ) -> None:
        self.http = http
        self.battle_id = battle_id
        self.ship_id = ship_id
        self.stations = stations
        self.pick_pod = pick_pod
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pod_ip = ""
        self.pods_used: list[str] = []
        self.resume_token: str | None = None
        self.seq = 0
        self.events: list[dict[str, Any]] = []
        self.acked: list[int] = []
        self.gaps: list[float] = []
        self.snapshots = 0
        self._counter = 0
        self._gone_since: float | None = None

    async def connect(self) -> None:
        """Join on a Ready pod (a different one after a shutdown), resuming from `seq`."""
        avoid = {self.pod_ip} if self.pod_ip else set()
        if self.ws is not None:
            await self.ws.close()
        self.pod_ip = await self.pick_pod(avoid)
        self.pods_used.append(self.pod_ip)
        self.ws = await self.http.ws_connect(f"ws://{self.pod_ip}:3000/ws", heartbeat=None)
        join: dict[str, Any] = {
            "type": "join",
            "battle_id": self.battle_id,
            "role": "player",
            "ship_id": self.ship_id,
            "stations": self.stations,
        }
        if self.resume_token:
            join |= {"resume_token": self.resume_token, "last_seq": self.seq}
        await self.ws.send_str(json.dumps(join))
        frame = await self._recv_raw()
        if frame is None or frame["type"] != "joined":
            raise AssertionError(f"join on {self.pod_ip} refused: {frame}")
        self.resume_token = frame["resume_token"]
        if self._gone_since is not None:
            self.gaps.append(time.monotonic() - self._gone_since)
            self._gone_since = None

    async def _recv_raw(self) -> dict[str, Any] | None:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=RECV_TIMEOUT)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return None
        frame: dict[str, Any] = json.loads(msg.data)
        return frame

    async def recv(self) -> dict[str, Any] | None:
        """The next frame; on shutdown or a dropped socket, reconnect and return None."""
        frame = await self._recv_raw()
        if frame is None or frame["type"] == "server_shutdown":
            self._gone_since = time.monotonic()
            await self.connect()
            return None
        if frame["type"] == "event":
            seq = frame["seq"]
            if seq != self.seq + 1:
                raise AssertionError(f"{self.ship_id}: event {seq} after {self.seq}")
            self.events.append(frame["event"])
            self.seq = seq
        elif frame["type"] == "snapshot":
            # Only a first join may get one: a resume must get exactly the missed events.
            self.snapshots += 1
            self.seq = frame["seq"]
        return frame

    async def command(self, command: dict[str, Any]) -> dict[str, Any] | None:
        """Send a command; its ack/error, or None when the server went away before answering."""
        assert self.ws is not None
        self._counter += 1
        client_id = f"{self.ship_id}-{self._counter}"
        try:
            await self.ws.send_str(
                json.dumps({"type": "command", "client_id": client_id, "command": command})
            )
        except ConnectionError:
            self._gone_since = time.monotonic()
            await self.connect()
            return None
        while True:
            frame = await self.recv()
            if frame is None:
                return None
            if frame["type"] in ("ack", "error") and frame.get("client_id") == client_id:
                if frame["type"] == "ack":
                    self.acked.append(frame["seq"])
                return frame

    async def sync(self, seq: int) -> None:
        """Read frames until this player holds event `seq` (reconnecting as needed)."""
        deadline = time.monotonic() + RECV_TIMEOUT
        while self.seq < seq:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.ship_id} stuck at seq {self.seq} < {seq}")
            await self.recv()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
