"""Per-address limits: a client that opens a new socket (or request) for every try is still one
address; behind a proxy the address comes from the trusted header only."""

from __future__ import annotations

import aiohttp
import pytest

from tests.security.attacker import Victim, metric
from tests.security.conftest import StartServer
from tests.server.conftest import scenario

pytestmark = pytest.mark.timeout(120)

SLOW = {"ADDRESS_RATE_PER_S": "0.01", "ADDRESS_BURST": "3"}


async def statuses(http: aiohttp.ClientSession, method: str, url: str, **kw: object) -> list[int]:
    out = []
    for _ in range(5):
        async with http.request(method, url, **kw) as resp:  # type: ignore[arg-type]
            out.append(resp.status)
            if resp.status == 429:
                assert (await resp.json())["error"] == "rate_limited"
    return out


async def test_code_guesses_and_battle_creation_are_limited_per_address(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(**SLOW)

    guesses = await statuses(http, "GET", f"{server.url}/api/join/ZZZZZZ")
    created = await statuses(http, "POST", f"{server.url}/api/battles", json={"scenario": {}})

    assert guesses == [404, 404, 404, 429, 429]
    assert created == [422, 422, 422, 429, 429], "the empty scenario is refused, then the limit"
    refusals = await metric(http, server, "tvtt_limit_refusals_total")
    assert refusals["address_join_code"] == 2
    assert refusals["address_create"] == 2


async def test_websocket_upgrades_and_joins_are_limited_per_address(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server(ADDRESS_RATE_PER_S="0.01", ADDRESS_BURST="4")
    victim = Victim(http, server)  # one creation, one upgrade and one join of the budget
    await victim.sit_down(scenario())
    sockets = [await http.ws_connect(server.ws_url, heartbeat=None) for _ in range(3)]

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(server.ws_url, heartbeat=None)
    assert refused.value.status == 429
    guesser = sockets[0]
    answers = []
    for battle_id in ("nope-1", "nope-2", "nope-3", victim.battle_id):
        await guesser.send_json({"type": "join", "battle_id": battle_id, "role": "spectator"})
        frame = await guesser.receive_json(timeout=10)
        answers.append(frame["type"] if frame["type"] != "error" else frame["code"])
    assert answers == ["battle_not_found"] * 3 + ["rate_limited"], "new sockets, one budget"
    refusals = await metric(http, server, "tvtt_limit_refusals_total")
    assert refusals["address_upgrade"] == 1
    assert refusals["address_join"] == 1
    assert await victim.ping_ms() < 500


@pytest.mark.parametrize(
    ("trusted", "spread"),
    [
        pytest.param("X-Forwarded-For", True, id="behind-a-proxy-each-client-its-own"),
        pytest.param("", False, id="no-proxy-the-header-is-ignored"),
    ],
)
async def test_the_address_comes_from_the_trusted_proxy_header_only(
    start_server: StartServer, http: aiohttp.ClientSession, trusted: str, spread: bool
) -> None:
    server = start_server(TRUSTED_PROXY_HEADER=trusted, **SLOW)

    got = []
    for i in range(5):
        headers = {"X-Forwarded-For": f"198.51.100.7, 203.0.113.{i}"}
        async with http.get(f"{server.url}/api/join/ZZZZZZ", headers=headers) as resp:
            got.append(resp.status)

    assert got == ([404] * 5 if spread else [404, 404, 404, 429, 429])
