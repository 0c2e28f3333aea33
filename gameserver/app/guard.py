"""The header deadline aiohttp lacks: `GuardedSite` serves connections through
`HeaderDeadline`, and `header_deadline_middleware` pauses it while the app handles a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from aiohttp import web

from gameserver.app.keys import Handler


class HeaderDeadline(asyncio.Protocol):
    """aiohttp's protocol for one HTTP connection, with a deadline on each request's headers.

    aiohttp has no header timeout: its keep-alive timer does not restart on data, so a client
    that sends its headers a byte at a time (slowloris) holds a connection and a handler for as
    long as it likes. This wrapper, between the transport and aiohttp's `RequestHandler`, starts
    a timer when the connection opens and at the first byte of each later request, and stops it
    at the end of the headers (an empty line, or the request reaching the app, see
    `header_deadline_middleware`). When it fires the client gets 408 and the socket is closed.
    Only the asyncio protocol interface is used; aiohttp's handler is not touched.
    """

    def __init__(
        self, inner: asyncio.Protocol, timeout_s: float, on_timeout: Callable[[], None]
    ) -> None:
        self.inner = inner
        self._timeout_s = timeout_s
        self._on_timeout = on_timeout
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        """Between the end of a request's headers and the end of its handling."""
        self._tail = b""

    def _arm(self) -> None:
        self._tail = b""
        self._timer = asyncio.get_running_loop().call_later(self._timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self._busy or self._transport is None or self._transport.is_closing():
            return
        self._on_timeout()
        self._transport.write(
            b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )
        if self._transport.get_write_buffer_size():
            self._transport.abort()  # it does not read either: nothing to wait for
        else:
            self._transport.close()

    def request_started(self) -> None:
        """The app got a request on this connection: its headers are in."""
        self._disarm()
        self._busy = True

    def request_done(self) -> None:
        """The app answered; the next request's first byte starts the next deadline."""
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the first request's deadline, then hand the transport to aiohttp."""
        self._transport = cast(asyncio.Transport, transport)
        self._arm()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Watch for the end of the headers, then pass the bytes on."""
        if not self._busy:
            if self._timer is None:
                self._arm()
            seen = self._tail + data
            if b"\r\n\r\n" in seen or b"\n\n" in seen:
                self.request_started()
            else:
                self._tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        """aiohttp's answer to a half-closed connection."""
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer; aiohttp cleans up."""
        self._disarm()
        self._transport = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        """Flow control goes to aiohttp's writer."""
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        """Flow control goes to aiohttp's writer."""
        self.inner.resume_writing()


@web.middleware
async def header_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the connection's `HeaderDeadline` (if it has one) that a request is being handled:
    no header deadline while the app works on it (or while a WebSocket it upgraded is open)."""
    transport = request.transport
    guard = transport.get_protocol() if transport is not None else None
    if not isinstance(guard, HeaderDeadline):
        return await handler(request)
    guard.request_started()
    try:
        return await handler(request)
    finally:
        guard.request_done()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections get `HeaderDeadline` (use it instead of `web.TCPSite`)."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        header_timeout_s: float,
        on_timeout: Callable[[], None],
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._header_timeout_s = header_timeout_s
        self._on_timeout = on_timeout

    @property
    def name(self) -> str:
        """The URL it serves."""
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        """Listen; each connection's aiohttp protocol is wrapped in a `HeaderDeadline`."""
        await super().start()
        server = self._runner.server
        assert server is not None

        def protocol() -> HeaderDeadline:
            return HeaderDeadline(server(), self._header_timeout_s, self._on_timeout)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol, self._host, self._port, backlog=self._backlog
        )
