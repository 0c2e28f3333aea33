"""The aiohttp application: `create_app(settings)`, HTTP API, WebSocket, health and metrics.

Handlers stay thin: they parse, call the hub (which calls the engine and the store) and serialise.
State lives under typed `web.AppKey`s; background loops run in `cleanup_ctx`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import hashlib
import html
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from gameserver import backup_api, rules
from gameserver.hub import CreatedBattle, Hub, HubError, now_iso
from gameserver.hub.addresses import client_address
from gameserver.hub.battles import parse_json
from gameserver.importcheck import refusal_status
from gameserver.logs import get_logger
from gameserver.metrics import Metrics, create_metrics
from gameserver.probes import ProbeState, serve_probes
from gameserver.protocol import (
    CreateBattleRequest,
    ErrorCode,
    Role,
    protocol_json_schema,
)
from gameserver.rules.errors import readable_errors
from gameserver.rules.tables_mgt2e import WEAPONS
from gameserver.rules.verification import verify_log
from gameserver.settings import Settings
from gameserver.store import BattleNotFound, BattleStore, EventDict, StoreUnavailable, create_store

STATIC_DIR = Path(__file__).parent / "static"

SETTINGS_KEY = web.AppKey("settings", Settings)
STORE_KEY = web.AppKey("store", BattleStore)
METRICS_KEY = web.AppKey("metrics", Metrics)
HUB_KEY = web.AppKey("hub", Hub)

log = get_logger("app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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


def _error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    return web.json_response({**(details or {}), "error": code, "message": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map store and hub refusals to JSON errors; never leak a traceback to a client."""
    try:
        return await handler(request)
    except HubError as exc:
        return _error(exc.status, exc.code, exc.message, exc.details)
    except BattleNotFound as exc:
        return _error(404, "battle_not_found", str(exc))
    except StoreUnavailable:
        return _error(503, "store_unavailable", "storage is unavailable; try again")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # The router's 404/405 and the body limit's 413 answer JSON like the rest of the API.
        code = _HTTP_ERROR_CODES.get(exc.status, "http_error")
        return _error(exc.status, code, exc.reason)
    except Exception:
        log.exception("http_handler_failed", path=request.path)
        return _error(500, ErrorCode.INTERNAL_ERROR, "the server failed on this request")


def _address(request: web.Request) -> str:
    """The client's address: the socket's peer, or the trusted proxy header's last entry."""
    settings = request.app[SETTINGS_KEY]
    return client_address(request.remote, request.headers, settings.trusted_proxy_header)


# The scrape waits at most this long for the store (well below Prometheus' 10 s scrape timeout).
STORE_PING_TIMEOUT_S = 2.0


def _too_many() -> web.Response:
    return _error(429, ErrorCode.RATE_LIMITED, "too many requests from your address; slow down")


_HTTP_ERROR_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    408: "too_slow",
    413: "too_large",
}

SECURITY_HEADERS = {
    # The page loads only its own modules and styles (no inline script anywhere), talks only to
    # its own origin (HTTP and WebSocket), and may not be framed (clickjacking).
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Sent with every HTTP response (the page, static files, the API, errors)."""


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: add `SECURITY_HEADERS` (a handler's own value wins)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


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
        return _error(403, "origin_refused", "this origin may not connect")
    if hub.draining:
        upgrades.labels(result=ErrorCode.SHUTTING_DOWN).inc()
        return _error(503, ErrorCode.SHUTTING_DOWN, "this server is shutting down")
    address = _address(request)
    if not hub.address_allows(address, "upgrade"):
        upgrades.labels(result=ErrorCode.RATE_LIMITED).inc()
        return _too_many()
    if len(hub.connections) >= settings.max_connections:
        hub.metrics.refusals.labels(limit="max_connections").inc()
        upgrades.labels(result=ErrorCode.TOO_MANY_CONNECTIONS).inc()
        return _error(503, ErrorCode.TOO_MANY_CONNECTIONS, "the server is full")
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


def _created(created: CreatedBattle) -> web.Response:
    """201 with what the creator needs: ids to share and, only this once, the GM token."""
    return web.json_response(
        {
            "battle_id": created.meta.battle_id,
            "join_code": created.meta.join_code,
            "gm_token": created.gm_token,
            "seq": created.seq,
            "bot_sides": list(created.meta.bot_sides),
        },
        status=201,
    )


async def create_battle(request: web.Request) -> web.Response:
    """`POST /api/battles`: a scenario in, the battle id, join code and (once) the GM token out."""
    if not request.app[HUB_KEY].address_allows(_address(request), "create"):
        return _too_many()
    body = await _json_body(request, request.app[SETTINGS_KEY].max_body_bytes)
    if isinstance(body, dict) and "seed" in body:
        # Fair dice: the server draws every seed and commits to it; a creator who chose it
        # could predict every roll.
        return _error(
            422,
            "seed_not_accepted",
            "seed: the server draws every battle's seed itself (fair dice); leave it out",
            {"field": "seed"},
        )
    try:
        payload = CreateBattleRequest.model_validate(body)
    except ValidationError as exc:
        return _error(refusal_status(exc), "bad_request", readable_errors(exc))
    created = await request.app[HUB_KEY].create_battle(payload)
    return _created(created)


async def import_battle(request: web.Request) -> web.Response:
    """`POST /api/battles/import`: an exported log in, a new battle resumed where it stopped out."""
    if not request.app[HUB_KEY].address_allows(_address(request), "import"):
        return _too_many()
    raw = await _raw_body(request, request.app[SETTINGS_KEY].max_import_bytes)
    created = await request.app[HUB_KEY].import_battle(raw)
    return _created(created)


async def get_battle(request: web.Request) -> web.Response:
    """`GET /api/battles/{id}`: public state, who may act, held stations (never tokens)."""
    hub = request.app[HUB_KEY]
    room = await hub.room(request.match_info["battle_id"])
    claims = await hub.store.claims(room.battle_id)
    return web.json_response(
        {
            "battle_id": room.battle_id,
            "join_code": room.meta.join_code,
            "name": room.meta.name,
            "created_at": room.meta.created_at,
            "bot_sides": list(room.meta.bot_sides),
            "seq": room.seq,
            "is_over": bool(room.state.is_over),
            "awaiting": [list(a) for a in rules.awaiting(room.state)],
            "claims": [
                {"ship_id": c.ship_id, "station": c.station, "name": c.name} for c in claims
            ],
            "state": room.view()[0],
        }
    )


async def find_battle(request: web.Request) -> web.Response:
    """`GET /api/join/{code}`: the battle id a join code stands for (join links use the id)."""
    hub = request.app[HUB_KEY]
    if not hub.address_allows(_address(request), "join_code"):
        return _too_many()
    battle_id = await hub.store.find_by_join_code(request.match_info["code"])
    if battle_id is None:
        return _error(404, "battle_not_found", "no battle with that join code")
    return web.json_response({"battle_id": battle_id})


async def battle_log(request: web.Request) -> web.Response:
    """`GET /api/battles/{id}/log`: the events as JSON (import them elsewhere) or `?format=md`."""
    hub = request.app[HUB_KEY]
    battle_id = request.match_info["battle_id"]
    meta = await hub.store.get_meta(battle_id)
    stored = await hub.store.read(battle_id, 0)
    loop = asyncio.get_running_loop()
    # Decoded and written off the loop: the longest legal log is 4 MiB of JSON.
    if request.query.get("format") == "md":
        text = await loop.run_in_executor(
            None, _markdown_export, meta.name or battle_id, battle_id, stored
        )
        return web.Response(
            text=text,
            content_type="text/markdown",
            headers={"Content-Disposition": f'attachment; filename="battle-{battle_id}.md"'},
        )
    header = {
        "battle_id": battle_id,
        "name": meta.name,
        "bot_sides": list(meta.bot_sides),
        "schema_version": rules.EVENT_SCHEMA_VERSION,
        "exported_at": now_iso(),
    }
    body = await loop.run_in_executor(None, _json_export, header, stored)
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="battle-{battle_id}.json"'},
    )


def _json_export(header: dict[str, Any], stored: list[EventDict]) -> bytes:
    """The export's JSON: `header` and the events at the current schema version.

    Written event by event: one `json.dumps` of the longest log (4 MiB) would hold the GIL,
    and so stop the event loop, for tens of milliseconds even in an executor thread.
    """
    _, events = rules.decode_events(stored)
    head = json.dumps({**header, "events": []})
    assert head.endswith("[]}")
    return (head[:-2] + ", ".join(map(json.dumps, events)) + "]}").encode()


def _markdown_export(title: str, battle_id: str, stored: list[EventDict]) -> str:
    _, events = rules.decode_events(stored)
    return render_markdown_log(title, battle_id, events)


async def gm_export(request: web.Request) -> web.Response:
    """`GET /api/battles/{id}/export` with ``Authorization: Bearer <gm token>``: the log and the
    running battle's sealed seed, to resume it on a server with the same ``EXPORT_KEY``."""
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    battle_id = request.match_info["battle_id"]
    header, stored = await request.app[HUB_KEY].battles.sealed_export(battle_id, token)
    body = await asyncio.get_running_loop().run_in_executor(None, _json_export, header, stored)
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="battle-{battle_id}.json"'},
    )


async def verify_battle(request: web.Request) -> web.Response:
    """`GET /api/battles/{id}/verify`: after the end, the revealed seed opens the commitment and
    every recorded die is the stream's (`rules.verification`); before it, not yet verifiable."""
    hub = request.app[HUB_KEY]
    battle_id = request.match_info["battle_id"]
    dicts = await hub.store.read(battle_id, 0)
    verdict = await asyncio.get_running_loop().run_in_executor(None, verify_log, dicts)
    return web.json_response(verdict.to_dict())


def render_markdown_log(title: str, battle_id: str, events: list[EventDict]) -> str:
    """A readable battle log (one table row per event, dice shown); purely computational."""

    def cell(value: object) -> str:
        # Names come from players: markup in them must stay text in any Markdown viewer.
        text = html.escape(str(value), quote=False)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"# Battle log: {cell(title)}",
        "",
        f"Battle `{battle_id}`, {len(events)} events, exported {now_iso()}.",
        "",
        "| Seq | Time | Event | Dice | Summary |",
        "|---:|---|---|---|---|",
    ]
    for event in events:
        dice = ", ".join(str(d) for d in event.get("dice") or ()) or "-"
        lines.append(
            f"| {event.get('seq')} | {cell(event.get('at') or '')} | {cell(event.get('type'))}"
            f" | {dice} | {cell(event.get('summary') or '')} |"
        )
    return "\n".join(lines) + "\n"


async def presets(request: web.Request) -> web.Response:
    """`GET /api/presets`: the engine's preset ships for the create-battle form."""
    return web.json_response(rules.preset_catalog())


async def weapons(request: web.Request) -> web.Response:
    """`GET /api/weapons`: the weapon table (§8.B) the page names when it explains a station
    with nothing to do (e.g. every target beyond the weapons' maximum band)."""
    return web.json_response(
        {
            kind: {
                "max_band": w.max_range.value if w.max_range is not None else None,
                "damage_dice": w.damage_dice,
                "attack_dm": w.attack_dm,
                "direct_fire": w.direct_fire,
            }
            for kind, w in WEAPONS.items()
        }
    )


async def protocol_schema(request: web.Request) -> web.Response:
    """`GET /api/protocol.json`: JSON Schema of every WebSocket message (and of commands)."""
    return web.json_response(protocol_json_schema(rules.command_json_schema()))


async def health(request: web.Request) -> web.Response:
    """`/health`: the process is alive."""
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """`/ready`: 503 while draining or when the store does not answer its ping."""
    hub = request.app[HUB_KEY]
    if hub.draining:
        return web.json_response({"status": "draining"}, status=503)
    try:
        await asyncio.wait_for(
            hub.store.ping(), timeout=request.app[SETTINGS_KEY].ready_store_timeout_s
        )
    except (StoreUnavailable, TimeoutError):
        return web.json_response({"status": "store_unavailable"}, status=503)
    return web.json_response({"status": "ready"})


async def summary(request: web.Request) -> web.Response:
    """`/api/summary`: battles open here and the people at their tables, GMs included and
    spectators not (the operator's BATTLES and PLAYERS columns). Battles are listed as short
    digests of their ids, so the operator can count a battle followed on two pods once without
    learning the ids (an id is a join link)."""
    hub = request.app[HUB_KEY]
    digests = sorted(hashlib.sha256(b.encode()).hexdigest()[:16] for b in hub.rooms)
    players = sum(
        1
        for conn in hub.connections
        if conn.room is not None and conn.role is not None and conn.role is not Role.SPECTATOR
    )
    return web.json_response(
        {"battles": len(digests), "players": players, "battleDigests": digests}
    )


async def metrics(request: web.Request) -> web.Response:
    """`/metrics`: Prometheus text format; each scrape first pings the store (up + latency)."""
    metrics = request.app[METRICS_KEY]
    store = request.app[HUB_KEY].store
    started = time.perf_counter()
    try:
        await asyncio.wait_for(store.ping(), timeout=STORE_PING_TIMEOUT_S)
    except (StoreUnavailable, TimeoutError):
        metrics.store_up.set(0)
    else:
        metrics.store_up.set(1)
    metrics.store_ping.observe(time.perf_counter() - started)
    registry = metrics.registry
    return web.Response(
        body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def index(request: web.Request) -> web.StreamResponse:
    """`/`: the tabletop page (the join link `/?battle=<id>` is read by the page)."""
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return web.Response(text="Traveller VTT server: the tabletop page is not installed.\n")
    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})


async def _json_body(request: web.Request, limit: int) -> Any:
    """The JSON body, read only up to `limit` bytes (413 past it, counted as `body_size`)."""
    return _parse_json(await _raw_body(request, limit))


async def _raw_body(request: web.Request, limit: int) -> bytes:
    """The body's bytes, read only up to `limit` (413 past it, counted as `body_size`)."""
    if request.content_length is not None and request.content_length > limit:
        request.app[METRICS_KEY].refusals.labels(limit="body_size").inc()
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(request.app[SETTINGS_KEY].body_timeout_s):
            while chunk := await request.content.read(64 * 1024):
                size += len(chunk)
                if size > limit:  # a chunked body names no length: count what arrives
                    request.app[METRICS_KEY].refusals.labels(limit="body_size").inc()
                    raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
                chunks.append(chunk)
    except TimeoutError:
        request.app[METRICS_KEY].refusals.labels(limit="body_timeout").inc()
        raise web.HTTPRequestTimeout(reason="the request body did not arrive in time") from None
    return b"".join(chunks)


def _parse_json(raw: bytes) -> Any:
    """A body's JSON; `HubError` (400) when it is not JSON or nested too deeply."""
    return parse_json(raw)


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def host_allowed(host: str | None, bind_host: str, allowed: list[str]) -> bool:
    """Check a request's Host header; purely computational.

    With `ALLOWED_HOSTS` only those names (or `*`) pass. Without it a server bound to loopback
    answers only to loopback names: a page on another site whose name resolves to 127.0.0.1 (DNS
    rebinding) cannot drive a local server; a server bound beyond loopback answers any name.
    """
    name = urlsplit(f"//{host or ''}").hostname or ""
    if allowed:
        return name in allowed or "*" in allowed
    if bind_host in LOOPBACK_NAMES:
        return name in LOOPBACK_NAMES
    return True


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse requests for a host name this server does not serve (421, counted as `host`)."""
    settings = request.app[SETTINGS_KEY]
    if not host_allowed(request.host, settings.host, settings.allowed_hosts):
        request.app[METRICS_KEY].refusals.labels(limit="host").inc()
        return _error(421, "host_refused", "this server does not answer to that host name")
    return await handler(request)


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    """Create the hub and run the idle-expiry loop; on exit close rooms and the store."""
    settings = app[SETTINGS_KEY]
    hub = Hub(settings, app[STORE_KEY], app[METRICS_KEY])
    app[HUB_KEY] = hub
    if settings.import_prestart:
        await hub.battles.imports.start()

    async def expiry_loop() -> None:
        while True:
            await asyncio.sleep(settings.expiry_interval_s)
            try:
                await hub.expire_once()
            except StoreUnavailable:
                log.warning("expiry_skipped", reason="store_unavailable")
            except Exception:
                log.exception("expiry_failed")

    loop_task = asyncio.create_task(expiry_loop(), name="idle-expiry")
    yield
    loop_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop_task
    await hub.close()
    await app[STORE_KEY].close()


async def _probes_ctx(app: web.Application) -> AsyncIterator[None]:
    """With `PROBE_PORT`: `/health` and `/ready` on their own port, from a thread."""
    settings = app[SETTINGS_KEY]
    if not settings.probe_port:
        yield
        return
    hub = app[HUB_KEY]
    async with serve_probes(
        settings.host,
        settings.probe_port,
        ProbeState(settings.probe_stall_s),
        hub.store.ping,
        lambda: hub.draining,
        settings.ready_store_timeout_s,
    ):
        yield


GC_FREEZE_EVERY_S = 1.0
"""How often the survivors of the young collections are moved out of the collector's sight."""
GC_FULL_EVERY_S = 600.0
"""How often a full collection looks at everything (frees cycles that formed among old objects)."""
GC_AFTER_CLOSED = 100
"""Sockets closed since the last full collection that call for one now, when at least as many
as are open (see `_gc_ctx`)."""
GC_CLOSED_MIN_GAP_S = 5.0
"""The least time between two of those early full collections."""

_gc_users = 0


def _return_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc `malloc_trim`; elsewhere nothing):
    after many sockets closed, their freed buffers would otherwise stay in the process's RSS."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


async def _gc_ctx(app: web.Application) -> AsyncIterator[None]:
    """Keep full garbage collections off the command path.

    Why: CPython's full (generation 2) collection walks every tracked object, and it runs each
    time the survivors grow by a quarter of the old heap. With 2,000 connections and 500 battles
    (their states and undo chains) that is ~400k objects and a 200-400 ms stop of the event loop
    every few seconds, while it finds nothing to free (the game server makes no cyclic garbage in
    steady state): those stops were the p99. So once a second the survivors are frozen
    (`gc.freeze`: kept, still freed by reference counting, no longer walked), the automatic
    collections only see objects younger than a second, and a full collection over everything
    runs every `GC_FULL_EVERY_S` so a cycle among older objects is not kept for longer.

    A closed socket leaves cycles (aiohttp's protocol, reader, tasks, exceptions) among objects
    frozen while it was open. After a mass disconnect — at least `GC_AFTER_CLOSED` closes since
    the last full collection, and at least as many as sockets still open, so a big server's
    everyday churn does not call for one — the full collection runs at the next quiet second (no
    close in it) rather than minutes later, and the freed heap pages are returned to the system
    (measured: 500 cut zombie sockets left RSS +31 % without this).
    """
    global _gc_users
    _gc_users += 1

    def closed_so_far() -> int:
        hub = app.get(HUB_KEY)
        return hub.closed_total if hub is not None else 0

    def still_open() -> int:
        hub = app.get(HUB_KEY)
        return len(hub.connections) if hub is not None else 0

    async def freezer() -> None:
        last_full = time.monotonic()
        closed_at_full = seen = closed_so_far()
        while True:
            await asyncio.sleep(GC_FREEZE_EVERY_S)
            now = time.monotonic()
            closed = closed_so_far()
            gone = closed - closed_at_full
            burst_over = gone >= max(GC_AFTER_CLOSED, still_open()) and closed == seen
            seen = closed
            if now - last_full >= GC_FULL_EVERY_S or (
                burst_over and now - last_full >= GC_CLOSED_MIN_GAP_S
            ):
                gc.unfreeze()
                freed = gc.collect()
                collected = time.monotonic()
                _return_free_memory()
                log.info(
                    "full_collection",
                    freed=freed,
                    closed=closed - closed_at_full,
                    gc_ms=round((collected - now) * 1000, 1),
                    trim_ms=round((time.monotonic() - collected) * 1000, 1),
                )
                last_full, closed_at_full = time.monotonic(), closed
            gc.freeze()

    gc.freeze()
    task = asyncio.create_task(freezer(), name="gc-freezer")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    _gc_users -= 1
    if _gc_users == 0:
        gc.unfreeze()


async def _close_websockets(app: web.Application) -> None:
    """aiohttp shutdown: close every WebSocket with GOING_AWAY so clients reconnect elsewhere."""
    hub = app.get(HUB_KEY)
    if hub is not None:
        await hub.close_connections()


def create_app(
    settings: Settings | None = None, store: BattleStore | None = None
) -> web.Application:
    """Build the game server application (store from `REDIS_URL` unless one is passed in)."""
    settings = settings or Settings()
    app = web.Application(
        middlewares=[header_deadline_middleware, host_middleware, error_middleware],
        client_max_size=max(settings.max_message_bytes, settings.max_import_bytes),
        handler_args={"keepalive_timeout": settings.keepalive_timeout_s},
    )
    app[SETTINGS_KEY] = settings
    app[STORE_KEY] = (
        store
        if store is not None
        else create_store(
            settings.redis_url,
            timeout_s=settings.store_timeout_s,
            dedupe_window=settings.dedupe_window,
            archive_after_s=settings.archive_after_s,
        )
    )
    app[METRICS_KEY] = create_metrics()
    app.cleanup_ctx.append(_gc_ctx)
    app.cleanup_ctx.append(_hub_ctx)
    app.cleanup_ctx.append(_probes_ctx)
    app.on_shutdown.append(_close_websockets)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/", index)
    if STATIC_DIR.is_dir():
        app.router.add_static("/static/", STATIC_DIR, append_version=False)
    app.router.add_get("/ws", websocket)
    app.router.add_post("/api/battles", create_battle)
    app.router.add_post("/api/battles/import", import_battle)
    app.router.add_get("/api/battles/{battle_id}", get_battle)
    app.router.add_get("/api/battles/{battle_id}/log", battle_log)
    app.router.add_get("/api/battles/{battle_id}/export", gm_export)
    app.router.add_get("/api/battles/{battle_id}/verify", verify_battle)
    app.router.add_get("/api/join/{code}", find_battle)
    app.router.add_get("/api/presets", presets)
    app.router.add_get("/api/weapons", weapons)
    app.router.add_get("/api/protocol.json", protocol_schema)
    app.router.add_get("/api/summary", summary)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    backup_api.add_routes(app, HUB_KEY, SETTINGS_KEY, _raw_body)
    return app
