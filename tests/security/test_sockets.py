"""Attacks on the server's sockets: clients that never read, never join, or send garbage.

Each test runs a real server process, attacks it, and asserts the refusal (socket closed or
refused, metric counted), that no battle changed, and that a victim still gets prompt answers.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from gameserver.app import GC_AFTER_CLOSED
from tests.security.attacker import (
    Victim,
    attackers,
    metric,
    server_side_sockets,
    wait_until,
    ws_frame,
)
from tests.security.conftest import StartServer
from tests.server.conftest import scenario

pytestmark = pytest.mark.timeout(120)

VICTIM_PING_MS = 500.0
"""A victim's ping round trip must stay under this (quiet: a few ms on loopback)."""


async def test_clients_that_never_read_are_cut_and_their_sockets_closed(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(
        SEND_TIMEOUT_S="1",
        RATE_LIMIT_PER_S="100000",
        RATE_LIMIT_BURST="100000",
        MAX_INVALID_FRAMES="1000000",
    )
    victim = Victim(http, server)
    await victim.sit_down(scenario())
    seq = await victim.seq()

    with attackers(2, server.port) as socks:
        # Each frame names an unknown type the error answer repeats: the attacker never reads,
        # so the server's send path backs up (kernel buffers, then the writer) until it gives up.
        garbage = ws_frame(json.dumps({"type": "x" * 15_000}).encode()) * 400
        loop = asyncio.get_running_loop()
        for sock in socks:
            sock.setblocking(False)
        await asyncio.gather(*(loop.sock_sendall(sock, garbage) for sock in socks))

        async def cut() -> bool:
            return server_side_sockets(server, socks) == 0

        await wait_until(cut, "the server closed every socket of a client that never reads")
        assert await victim.ping_ms() < VICTIM_PING_MS

    refusals = await metric(http, server, "tvtt_limit_refusals_total")
    assert refusals.get("send_timeout", 0) >= 2
    assert (await metric(http, server, "tvtt_websocket_connections"))[""] == 1, "only the victim"
    assert await victim.seq() == seq


async def test_the_connection_cap_counts_sockets_that_never_join_until_they_time_out(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(MAX_CONNECTIONS="4", JOIN_TIMEOUT_S="1.5")
    idle = [await http.ws_connect(server.ws_url, heartbeat=None) for _ in range(4)]

    with pytest.raises(aiohttp.WSServerHandshakeError) as full:
        await http.ws_connect(server.ws_url)
    assert full.value.status == 503

    for ws in idle:
        closing = await ws.receive(timeout=10)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert closing.data == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert "join a battle within" in str(closing.extra)

    async def room_again() -> bool:
        return (await metric(http, server, "tvtt_websocket_connections"))[""] == 0

    await wait_until(room_again, "the idle sockets no longer count")
    victim = Victim(http, server)
    await victim.sit_down(scenario())
    assert await victim.ping_ms() < VICTIM_PING_MS
    refusals = await metric(http, server, "tvtt_limit_refusals_total")
    assert refusals["max_connections"] == 1
    assert refusals["join_timeout"] == 4


async def test_invalid_frames_spend_the_rate_limit_and_repeated_ones_close_the_socket(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(RATE_LIMIT_PER_S="10", RATE_LIMIT_BURST="20", MAX_INVALID_FRAMES="50")
    victim = Victim(http, server)
    await victim.sit_down(scenario())
    seq = await victim.seq()
    attacker = await http.ws_connect(server.ws_url, heartbeat=None)

    junk = "{" * 8000
    for _ in range(60):  # past the limit of 50; a flood beyond it would only meet a TCP reset
        await attacker.send_str(junk)
    answers: list[dict[str, object]] = []
    while True:
        msg = await attacker.receive(timeout=10)
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        answers.append(json.loads(msg.data))

    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == aiohttp.WSCloseCode.POLICY_VIOLATION
    assert 1 <= len(answers) <= 25, "answered within the burst only, not per frame"
    assert {a["code"] for a in answers} == {"bad_message"}
    refusals = await metric(http, server, "tvtt_limit_refusals_total")
    assert refusals["invalid_frames"] == 1
    assert refusals["rate_limit"] >= 20
    assert await victim.ping_ms() < VICTIM_PING_MS
    assert await victim.seq() == seq


async def test_deeply_nested_json_is_a_bad_message_not_a_failure(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(MAX_MESSAGE_BYTES="65536")
    victim = Victim(http, server)
    await victim.sit_down(scenario())
    attacker = await http.ws_connect(server.ws_url, heartbeat=None)

    await attacker.send_str("[" * 30000 + "]" * 30000)
    answer = json.loads((await attacker.receive(timeout=10)).data)

    assert answer["type"] == "error"
    assert answer["code"] == "bad_message"
    assert "internal_error" not in (await metric(http, server, "tvtt_errors_total"))
    assert await victim.ping_ms() < VICTIM_PING_MS


async def test_after_a_burst_of_closed_sockets_their_memory_is_reclaimed_at_once(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(
        JOIN_TIMEOUT_S="1", ADDRESS_BURST="1000", LOG_LEVEL="info", PYTHONUNBUFFERED="1"
    )
    assert server.log_path is not None
    with attackers(GC_AFTER_CLOSED + 20, server.port):

        async def all_cut() -> bool:
            return (await metric(http, server, "tvtt_websocket_connections"))[""] == 0

        await wait_until(all_cut, "the server closed every socket that never joined")

    async def collected() -> bool:
        lines = server.log_path.read_text().splitlines() if server.log_path else []
        return any("full_collection" in line for line in lines)

    # Not ten minutes later (GC_FULL_EVERY_S): the next quiet second after the burst.
    await wait_until(collected, "a full collection after the burst", within=10)
    record = next(
        json.loads(line)
        for line in server.log_path.read_text().splitlines()
        if "full_collection" in line
    )
    assert record["closed"] >= GC_AFTER_CLOSED
    assert record["freed"] > 0, "the closed sockets left cycles for it to free"
