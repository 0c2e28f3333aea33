"""Attacks on who sits at a table: a kicked player coming straight back, tokens the client made
up or took from another battle, strangers at a locked table, one player grabbing every station.

Each test runs a real server process; the GM is the victim (`Victim`): its table must not change
behind its back and it must still get prompt answers.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.security.attacker import Victim, metric
from tests.security.conftest import StartServer
from tests.server.conftest import WsPeer, scenario

pytestmark = pytest.mark.timeout(120)

VICTIM_PING_MS = 500.0


async def player(
    http: aiohttp.ClientSession, url: str, battle_id: str, *stations: str, **fields: Any
) -> tuple[WsPeer, dict[str, Any]]:
    """A player's socket and the answer to its join (`joined` or `error`)."""
    peer = WsPeer(await http.ws_connect(url, heartbeat=None))
    join = {"type": "join", "battle_id": battle_id, "role": "player", "ship_id": "alpha"}
    await peer.send({**join, "stations": list(stations), **fields})
    while (frame := await peer.recv())["type"] not in ("joined", "error"):
        pass
    return peer, frame


async def held(http: aiohttp.ClientSession, server_url: str, battle_id: str) -> list[str]:
    """The stations held in the battle, as its public HTTP view lists them."""
    async with http.get(f"{server_url}/api/battles/{battle_id}") as resp:
        return sorted(c["station"] for c in (await resp.json())["claims"])


async def gm_says(gm: Victim, message: dict[str, Any]) -> dict[str, Any]:
    """Send a GM request with a client id; return its `ack` (an `error` fails the test)."""
    assert gm.ws is not None
    await gm.ws.send_json({**message, "client_id": "gm-1"})
    while True:
        frame = await asyncio.wait_for(gm.frames.get(), 10)
        assert frame is not None, "the GM's socket ended"
        assert frame["type"] != "error", frame
        if frame["type"] == "ack":
            return frame


async def test_a_kicked_player_cannot_come_back_with_its_token_until_the_gm_lifts_the_ban(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server()
    gm = Victim(http, server)
    await gm.sit_down(scenario())
    kicked, joined = await player(http, server.ws_url, gm.battle_id, "pilot", name="Mallory")
    token = joined["resume_token"]
    second, _ = await player(http, server.ws_url, gm.battle_id, "sensors", resume_token=token)

    await gm_says(gm, {"type": "kick", "peer_id": joined["peer_id"]})
    for socket in (kicked, second):  # every connection holding the token goes
        closing = await socket.ws.receive(timeout=10)
        while closing.type is aiohttp.WSMsgType.TEXT:
            closing = await socket.ws.receive(timeout=10)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert closing.data == 4000
    table = await gm.reply("table")
    assert [b["name"] for b in table["bans"]] == ["Mallory"]
    assert await held(http, server.url, gm.battle_id) == []

    for station in ("pilot", "engineer"):
        _, again = await player(http, server.ws_url, gm.battle_id, station, resume_token=token)
        assert (again["type"], again.get("code")) == ("error", "banned")
    assert await held(http, server.url, gm.battle_id) == [], "the ban changed nothing"
    assert await gm.ping_ms() < VICTIM_PING_MS
    assert (await metric(http, server, "tvtt_limit_refusals_total"))["banned"] == 2

    await gm_says(gm, {"type": "unban", "ban_id": table["bans"][0]["ban_id"]})
    assert (await gm.reply("table"))["bans"] == []
    _, back = await player(http, server.ws_url, gm.battle_id, "pilot", resume_token=token)
    assert back["type"] == "joined", back
    assert await held(http, server.url, gm.battle_id) == ["pilot"]


@pytest.mark.parametrize(
    "made_up",
    [
        pytest.param("my-own-token", id="chosen-by-the-client"),
        pytest.param("", id="from-another-battle"),
    ],
)
async def test_a_resume_token_the_battle_never_issued_is_refused(
    start_server: StartServer, http: aiohttp.ClientSession, made_up: str
) -> None:
    server = start_server()
    gm = Victim(http, server)
    await gm.sit_down(scenario())
    if not made_up:
        other = Victim(http, server)
        await other.sit_down(scenario())
        _, elsewhere = await player(http, server.ws_url, other.battle_id, "pilot")
        made_up = elsewhere["resume_token"]

    _, refused = await player(http, server.ws_url, gm.battle_id, "pilot", resume_token=made_up)

    assert (refused["type"], refused.get("code")) == ("error", "bad_resume_token")
    assert await held(http, server.url, gm.battle_id) == []
    assert (await metric(http, server, "tvtt_limit_refusals_total"))["unknown_token"] == 1
    assert await gm.ping_ms() < VICTIM_PING_MS


async def test_a_locked_table_takes_no_strangers_but_its_players_return(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server()
    gm = Victim(http, server)
    await gm.sit_down(scenario())
    seated, joined = await player(http, server.ws_url, gm.battle_id, "pilot")
    await seated.ws.close()

    await gm_says(gm, {"type": "table", "locked": True})
    assert (await gm.reply("table"))["locked"] is True
    _, stranger = await player(http, server.ws_url, gm.battle_id, "sensors")
    watcher = WsPeer(await http.ws_connect(server.ws_url, heartbeat=None))
    await watcher.send({"type": "join", "battle_id": gm.battle_id, "role": "spectator"})
    spectator = await watcher.recv_until("error")

    assert stranger["code"] == spectator["code"] == "table_locked"
    assert await held(http, server.url, gm.battle_id) == ["pilot"]
    _, back = await player(
        http, server.ws_url, gm.battle_id, "pilot", resume_token=joined["resume_token"]
    )
    assert back["type"] == "joined", "a seated player comes back to a locked table"
    assert (await metric(http, server, "tvtt_limit_refusals_total"))["table_locked"] == 2
    assert await gm.ping_ms() < VICTIM_PING_MS


async def test_parallel_joins_with_one_token_cannot_pass_the_station_cap(
    start_server: StartServer, http: aiohttp.ClientSession
) -> None:
    server = start_server()
    gm = Victim(http, server)
    await gm.sit_down(scenario())
    await gm_says(gm, {"type": "table", "max_stations": 2})
    _, first = await player(http, server.ws_url, gm.battle_id, "pilot")
    token = first["resume_token"]

    answers = await asyncio.gather(
        *(
            player(http, server.ws_url, gm.battle_id, station, resume_token=token)
            for station in ("sensors", "engineer", "gunner:0")
        )
    )

    codes = sorted(a.get("code", a["type"]) for _, a in answers)
    assert codes == ["joined", "station_cap", "station_cap"]
    assert len(await held(http, server.url, gm.battle_id)) == 2
    _, greedy = await player(
        http, server.ws_url, gm.battle_id, "pilot", "sensors", "engineer", ship_id="bravo"
    )
    assert greedy["code"] == "station_cap", "one join asking for more than the cap"
    assert len(await held(http, server.url, gm.battle_id)) == 2, "not even one of them"
    assert (await metric(http, server, "tvtt_limit_refusals_total"))["station_cap"] == 3
    assert await gm.ping_ms() < VICTIM_PING_MS
