"""`/ws`: the WebSocket upgrade (Origin check, limits) and its reader loop; the hub does
the rest."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from gameserver.app.keys import HUB_KEY, SETTINGS_KEY
from gameserver.app.middleware import error_response, request_address, too_many
from gameserver.logs import get_logger
from gameserver.protocol import ErrorCode

log = get_logger("app")


class GameSocket(web.WebSocketResponse):
    """A WebSocket whose 1009 close (frame over the size limit) says why, with the limit."""

    def __init__(self, *, max_msg_size: int, **kwargs: Any) -> None:
        super().__init__(max_msg_size=max_msg_size, **kwargs)
        self._limit = max_msg_size

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        """Add a reason to aiohttp's bare MESSAGE_TOO_BIG close."""
        if code == WSCloseCode.MESSAGE_TOO_BIG and not message:
            message = f"message too big: the limit is {self._limit} bytes".encode()
        return await super().close(code=code, message=message, drain=drain)


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Check the Origin of a WebSocket upgrade; purely computational.

    With no allow-list only same-origin pages (Origin host == Host header) and non-browser clients
    (no Origin header) may connect: a page elsewhere cannot act for a player (cross-site WebSocket
    hijacking).
    """
    if origin is None:
        return True
    if allowed:
        return origin.rstrip("/") in allowed or "*" in allowed
    return urlsplit(origin).netloc.lower() == (host or "").lower()


async def websocket(request: web.Request) -> web.StreamResponse:
    """`/ws`: one connection = one reader loop here + one writer task; the hub does the rest."""
    settings = request.app[SETTINGS_KEY]
    hub = request.app[HUB_KEY]
    upgrades = hub.metrics.upgrades
    if not origin_allowed(request.headers.get("Origin"), request.host, settings.allowed_origins):
        log.warning("origin_refused", origin=request.headers.get("Origin"))
        upgrades.labels(result="origin_refused").inc()
        return error_response(403, "origin_refused", "this origin may not connect")
    if hub.draining:
        upgrades.labels(result=ErrorCode.SHUTTING_DOWN).inc()
        return error_response(503, ErrorCode.SHUTTING_DOWN, "this server is shutting down")
    address = request_address(request)
    if not hub.address_allows(address, "upgrade"):
        upgrades.labels(result=ErrorCode.RATE_LIMITED).inc()
        return too_many()
    if len(hub.connections) >= settings.max_connections:
        hub.metrics.refusals.labels(limit="max_connections").inc()
        upgrades.labels(result=ErrorCode.TOO_MANY_CONNECTIONS).inc()
        return error_response(503, ErrorCode.TOO_MANY_CONNECTIONS, "the server is full")
    ws = GameSocket(max_msg_size=settings.max_message_bytes, heartbeat=settings.heartbeat_s)
    # Counted from before the upgrade until the socket is really gone (see the `finally`), so the
    # cap holds every open socket, joined or not.
    conn = hub.connect(ws, request.transport, address)
    join_timer = asyncio.get_running_loop().call_later(
        settings.join_timeout_s, hub.close_unjoined, conn
    )
    writer: asyncio.Task[None] | None = None
    try:
        try:
            await ws.prepare(request)
        except Exception:
            upgrades.labels(result="handshake_failed").inc()
            raise
        upgrades.labels(result="ok").inc()
        writer = asyncio.create_task(conn.run_writer())
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                try:
                    await hub.handle(conn, msg.data)
                except Exception:
                    log.exception("handler_failed", peer_id=conn.peer_id)
                    hub.error(
                        conn, ErrorCode.INTERNAL_ERROR, "the server failed on this message", None
                    )
            elif msg.type is WSMsgType.ERROR:
                break
    finally:
        join_timer.cancel()
        hub.leave_room(conn)
        conn.queue.put_nowait(None)
        if writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, timeout=1.0)
            if not writer.done():
                writer.cancel()
        # A socket the server stops serving is closed, its buffers freed: a client that never
        # read keeps unsent data in the transport, and asyncio's close() would wait for it forever.
        await conn.flush_or_abort()
        await hub.disconnect(conn)
    return ws
