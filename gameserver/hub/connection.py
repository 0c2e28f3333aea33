"""One WebSocket client: its rate limit, its bounded send queue and writer, who it is at a table."""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, web
from pydantic import BaseModel

from gameserver import rules
from gameserver.protocol import Role
from gameserver.store import ClaimGuard, PeerInfo

if TYPE_CHECKING:
    from gameserver.hub.room import BattleRoom


class TokenBucket:
    """Per-connection rate limit: `rate` messages per second with bursts up to `burst`."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


_HIGH_WATER = 64 * 1024
_LEN1 = struct.Struct("!BB")
_LEN2 = struct.Struct("!BBH")
_LEN3 = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """One unmasked, uncompressed, final WebSocket text frame (RFC 6455 §5.2), as a server sends
    it; purely computational."""
    n = len(payload)
    if n < 126:
        return _LEN1.pack(0x81, n) + payload
    if n < 65536:
        return _LEN2.pack(0x81, 126, n) + payload
    return _LEN3.pack(0x81, 127, n) + payload


def _never(limit: str) -> None:
    """The default refusal counter of a connection made outside a hub (nothing to count)."""


@dataclass(eq=False)
class Connection:
    """One WebSocket client; frames go out through a bounded queue so a slow client never stalls
    the fan-out (an overflowing client is disconnected and catches up by seq when it returns).

    A client that stops reading is cut, never kept: a frame its socket does not take within
    `send_timeout_s` aborts the transport, so its kernel buffers are freed at once.
    """

    ws: web.WebSocketResponse
    bucket: TokenBucket
    queue_limit: int
    transport: asyncio.Transport | None = None
    address: str = ""
    """The client's address (see `addresses.client_address`), for the per-address limits."""
    send_timeout_s: float = 10.0
    refused: Callable[[str], None] = _never
    """Counts a refusal by one of the server's limits (the hub's metric)."""
    peer_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    role: Role | None = None
    room: BattleRoom | None = None
    ship_id: str | None = None
    stations: tuple[str, ...] = ()
    token_hash: str | None = None
    name: str = ""
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False
    invalid_frames: int = 0

    def send(self, frame: str) -> None:
        """Queue one JSON frame; drop the client if it cannot keep up."""
        if self.overflowed:
            return
        if self.queue.qsize() >= self.queue_limit:
            self.overflowed = True
            self.refused("send_queue")
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(frame)

    def send_model(self, message: BaseModel) -> None:
        """Serialise and queue one protocol message."""
        self.send(message.model_dump_json())

    async def run_writer(self) -> None:
        """Write queued frames in order until told to stop or the socket dies.

        Everything queued when the writer wakes (a batch's events, legal lists and ack) goes out
        under one send timeout and, on an uncompressed socket, in one transport write: one
        system call per peer per batch instead of one per frame.
        """
        queue = self.queue
        while (frame := await queue.get()) is not None:
            batch = [frame]
            while not queue.empty():
                if (frame := queue.get_nowait()) is None:
                    break
                batch.append(frame)
            if self.ws.closed:
                return
            try:
                async with asyncio.timeout(self.send_timeout_s):
                    await self._write(batch)
            except TimeoutError:
                self.refused("send_timeout")
                self.abort()
                return
            except (ConnectionError, RuntimeError):
                return
            if frame is None:
                break
        if self.overflowed and not self.ws.closed:
            await self.close(WSCloseCode.TRY_AGAIN_LATER, b"too slow; reconnect")

    async def _write(self, frames: list[str]) -> None:
        transport = self.transport
        if len(frames) == 1 or transport is None or self.ws.compress:
            # A deflate socket (browsers negotiate it) keeps aiohttp's framing and compressor.
            for frame in frames:
                await self.ws.send_str(frame)
            return
        if transport.is_closing():
            raise ConnectionResetError("the transport is closing")
        transport.write(b"".join(text_frame(f.encode()) for f in frames))
        # Flow control as aiohttp's writer does it: wait while the kernel does not take it (a
        # poll: the transport's pause/resume callbacks belong to aiohttp's protocol).
        while transport.get_write_buffer_size() > _HIGH_WATER and not transport.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def close(self, code: int, message: bytes) -> None:
        """Close with `code`; a client that does not take the close frame in time is cut."""
        self.queue.put_nowait(None)
        try:
            async with asyncio.timeout(self.send_timeout_s):
                await self.ws.close(code=code, message=message)
        except TimeoutError:
            self.abort()

    def abort(self) -> None:
        """Drop the TCP connection now, unsent data included (the peer is not reading)."""
        if self.transport is not None:
            self.transport.abort()

    async def flush_or_abort(self) -> None:
        """After the socket ended: wait (up to the send timeout) for what the kernel still holds
        for the client, then cut it. A closed WebSocket whose transport still has unsent data is
        a zombie: asyncio's `close()` waits for the data forever if the peer never reads."""
        transport = self.transport
        if transport is None:
            return
        deadline = time.monotonic() + self.send_timeout_s
        while transport.get_write_buffer_size() > 0:
            if time.monotonic() >= deadline:
                self.refused("send_timeout")
                transport.abort()
                return
            await asyncio.sleep(0.05)

    def guard(self) -> ClaimGuard | None:
        """What the store must still hold for this player's command to be written."""
        if self.role is not Role.PLAYER or self.ship_id is None or self.token_hash is None:
            return None
        return ClaimGuard(ship_id=self.ship_id, stations=self.stations, token_hash=self.token_hash)

    def peer_info(self) -> PeerInfo:
        """This connection as the other instances list it in presence."""
        return PeerInfo(
            peer_id=self.peer_id,
            role=str(self.role or Role.SPECTATOR),
            name=self.name,
            ship_id=self.ship_id,
            stations=self.stations,
            token_hash=self.token_hash,
        )

    def actor(self) -> rules.Actor:
        """The engine's view of who sends a command, from the verified claim or GM token."""
        if self.role is Role.GM:
            return rules.Actor(role="gm", ship_id=None, stations=frozenset())
        return rules.Actor(role="player", ship_id=self.ship_id, stations=frozenset(self.stations))
