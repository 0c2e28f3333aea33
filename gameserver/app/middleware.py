"""The middlewares (Host check, errors as JSON), the security headers, and the request and
response helpers the handlers share: JSON errors, 429, the client's address, bounded bodies.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from gameserver.app.keys import METRICS_KEY, SETTINGS_KEY, Handler
from gameserver.hub import HubError
from gameserver.hub.addresses import client_address
from gameserver.hub.battles import parse_json
from gameserver.logs import get_logger
from gameserver.protocol import ErrorCode
from gameserver.store import BattleNotFound, StoreUnavailable

log = get_logger("app")


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    """The API's error shape: `{"error": code, "message": ...}` plus any details."""
    return web.json_response({**(details or {}), "error": code, "message": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map store and hub refusals to JSON errors; never leak a traceback to a client."""
    try:
        return await handler(request)
    except HubError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except BattleNotFound as exc:
        return error_response(404, "battle_not_found", str(exc))
    except StoreUnavailable:
        return error_response(503, "store_unavailable", "storage is unavailable; try again")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # The router's 404/405 and the body limit's 413 answer JSON like the rest of the API.
        code = _HTTP_ERROR_CODES.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("http_handler_failed", path=request.path)
        return error_response(500, ErrorCode.INTERNAL_ERROR, "the server failed on this request")


def request_address(request: web.Request) -> str:
    """The client's address: the socket's peer, or the trusted proxy header's last entry."""
    settings = request.app[SETTINGS_KEY]
    return client_address(request.remote, request.headers, settings.trusted_proxy_header)


def too_many() -> web.Response:
    """429: the client's address is over a rate limit."""
    return error_response(
        429, ErrorCode.RATE_LIMITED, "too many requests from your address; slow down"
    )


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


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: add `SECURITY_HEADERS` (a handler's own value wins)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def json_body(request: web.Request, limit: int) -> Any:
    """The JSON body, read only up to `limit` bytes (413 past it, counted as `body_size`)."""
    return _parse_json(await raw_body(request, limit))


async def raw_body(request: web.Request, limit: int) -> bytes:
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
        return error_response(421, "host_refused", "this server does not answer to that host name")
    return await handler(request)
