"""Attacks over HTTP and on the GM's tools: hostile bodies, framing, markup in names, bad targets.

A real server process each; every refusal is asserted with the state it must not have changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time

import aiohttp
import pytest

from tests.security.attacker import Victim, metric
from tests.security.conftest import StartServer
from tests.server.conftest import scenario

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        pytest.param("GET", "/api/no-such-thing", None, 404, "not_found", id="404"),
        pytest.param("DELETE", "/api/battles", None, 405, "method_not_allowed", id="405"),
        pytest.param("POST", "/api/battles", b"{" + b" " * (5 << 20), 413, "too_large", id="413"),
    ],
)
async def test_http_errors_answer_json_and_change_nothing(
    start_server: StartServer,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    code: str,
) -> None:
    server = start_server()
    victim = Victim(http, server)
    await victim.sit_down(scenario())
    seq = await victim.seq()

    async with http.request(method, f"{server.url}{path}", data=body) as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        answer = await resp.json()

    assert answer["error"] == code
    assert answer["message"]
    assert await victim.seq() == seq
    assert await victim.ping_ms() < 500


@pytest.mark.parametrize(
    "path", ["/", "/static/js/main.js", "/api/presets", "/api/no-such-thing", "/health"]
)
async def test_every_response_forbids_framing_sniffing_inline_script_and_referrers(
    start_server: StartServer, http: aiohttp.ClientSession, path: str
) -> None:
    server = start_server()

    async with http.get(f"{server.url}{path}") as resp:
        headers = resp.headers

    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_markup_in_a_battle_name_stays_text_in_the_markdown_export(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server()
    name = '<img src=x onerror="alert(1)">'
    async with http.post(
        f"{server.url}/api/battles", json={"scenario": scenario(), "name": name}
    ) as resp:
        battle = await resp.json()

    async with http.get(f"{server.url}/api/battles/{battle['battle_id']}/log?format=md") as resp:
        text = await resp.text()

    assert "<img" not in text
    assert "&lt;img src=x onerror=" in text


async def test_releasing_a_station_that_does_not_exist_is_refused(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server()
    gm = Victim(http, server)
    await gm.sit_down(scenario())
    seq = await gm.seq()
    assert gm.ws is not None

    await gm.ws.send_json(
        {"type": "release", "ship_id": "alpha", "station": "no-such", "client_id": "r1"}
    )
    refused = await gm.reply("error")

    assert refused["code"] == "unknown_station"
    assert refused["client_id"] == "r1"
    assert await gm.seq() == seq
    assert await gm.ping_ms() < 500


async def test_each_endpoint_has_its_own_body_limit(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(MAX_BODY_BYTES="65536", MAX_IMPORT_BYTES="1048576")
    padding = " " * 100_000  # JSON whitespace: a valid body, only too big for a scenario
    async with http.post(
        f"{server.url}/api/battles",
        data=f'{{"scenario": {{}}}}{padding}',
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"] == "too_large"
    async with http.post(f"{server.url}/api/battles", json={"scenario": scenario()}) as resp:
        created = await resp.json()
    # A running battle resumes from the GM's export (its seed sealed), not from the public log.
    async with http.get(
        f"{server.url}/api/battles/{created['battle_id']}/export",
        headers={"Authorization": f"Bearer {created['gm_token']}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        log = await resp.json()

    async with http.post(
        f"{server.url}/api/battles/import",
        data=f"{json.dumps(log)}{padding}",
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 201, "a log of the same size passes the import's larger limit"
    async with http.get(f"{server.url}/api/battles/{created['battle_id']}") as resp:
        assert (await resp.json())["seq"] == created["seq"]


@pytest.mark.parametrize(
    ("host", "status"),
    [
        pytest.param("evil.example", 421, id="rebinding-name"),
        pytest.param("evil.example:3000", 421, id="rebinding-name-with-port"),
        pytest.param("localhost", 200, id="localhost"),
        pytest.param("127.0.0.1", 200, id="loopback-address"),
    ],
)
async def test_a_loopback_server_answers_only_to_loopback_names(
    start_server: StartServer, http: aiohttp.ClientSession, host: str, status: int
) -> None:
    server = start_server()

    async with http.get(f"{server.url}/api/presets", headers={"Host": host}) as resp:
        assert resp.status == status
        if status == 421:
            assert (await resp.json())["error"] == "host_refused"
    async with http.post(
        f"{server.url}/api/battles", json={"scenario": scenario()}, headers={"Host": host}
    ) as resp:
        assert resp.status == (201 if status == 200 else 421)


async def test_a_body_that_dribbles_in_is_cut_off(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(BODY_TIMEOUT_S="1")
    victim = Victim(http, server)
    await victim.sit_down(scenario())
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /api/battles HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    await writer.drain()

    assert await victim.ping_ms() < 500, "the victim is served while the body dribbles"
    async with asyncio.timeout(10):
        answer = await reader.read(4096)

    assert answer.startswith(b"HTTP/1.1 408")
    assert b'"too_slow"' in answer
    writer.close()
    refusals = await metric(http, server, "tvtt_limit_refusals_total")
    assert refusals["body_timeout"] == 1


HEADER_TIMEOUT_S = 1.5


def slow_client(port: int) -> socket.socket:
    """A socket that has sent the request line and one header, and will drip the rest."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET /api/presets HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    sock.setblocking(False)
    return sock


def cut(sock: socket.socket) -> bytes | None:
    """What the server sent before closing, or None while the socket is still open."""
    try:
        data = sock.recv(4096)
    except BlockingIOError:
        return None
    except ConnectionResetError:
        return b""
    if not data:
        return b""
    rest = b""
    with contextlib.suppress(BlockingIOError, ConnectionResetError):
        while chunk := sock.recv(4096):
            rest += chunk
    return data + rest


async def test_a_client_that_drips_its_headers_is_cut_at_the_header_timeout(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S))
    victim = Victim(http, server)
    await victim.sit_down(scenario())
    drippers = [slow_client(server.port) for _ in range(40)]
    silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(10)]
    for sock in silent:
        sock.setblocking(False)
    started = time.monotonic()
    answers: dict[int, bytes] = {}
    try:
        # One header byte per 0.2 s each: the headers never end, the bytes never stop.
        while len(answers) < len(drippers) + len(silent):
            assert time.monotonic() - started < 4 * HEADER_TIMEOUT_S + 5, "still open"
            for i, sock in enumerate(drippers):
                if i not in answers:
                    with contextlib.suppress(OSError):
                        sock.send(b"X")
            for i, sock in enumerate(drippers + silent):
                if i not in answers and (got := cut(sock)) is not None:
                    answers[i] = got
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
        assert await victim.ping_ms() < 500, "an open WebSocket is not held to the deadline"
    finally:
        for sock in drippers + silent:
            sock.close()

    assert HEADER_TIMEOUT_S - 0.3 < elapsed < HEADER_TIMEOUT_S + 3
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers.values()), set(answers.values())
    refusals = await metric(http, server, "tvtt_limit_refusals_total")
    assert refusals["header_timeout"] == len(drippers) + len(silent)


async def test_slow_but_complete_requests_and_keep_alive_still_work(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S))
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(10)
    try:
        for _ in range(2):  # two requests on one connection, each dripped within the deadline
            for part in (b"GET /health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
                sock.sendall(part)
                await asyncio.sleep(HEADER_TIMEOUT_S / 4)
            answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            await asyncio.sleep(HEADER_TIMEOUT_S * 1.5)  # idle between requests: keep-alive
    finally:
        sock.close()
    assert (await metric(http, server, "tvtt_limit_refusals_total")).get("header_timeout") == 0
