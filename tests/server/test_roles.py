"""Roles: GM-only commands, claims bound to resume tokens, release and kick, reconnect catch-up."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from gameserver import rules
from gameserver.app import create_app
from gameserver.hub import Hub
from gameserver.settings import Settings
from gameserver.store.memory import MemoryBattleStore
from tests.server.conftest import ConnectFn, WsPeer, create_battle


async def gm_of(connect: ConnectFn, battle: dict[str, Any]) -> WsPeer:
    gm = await connect()
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    snapshot = await gm.recv_until("snapshot")
    assert snapshot["state"]["ships"], "the GM also gets the engine's full state"
    assert snapshot["view"]["ships"], "and the public view the page draws"
    return gm


@pytest.mark.parametrize(
    "command",
    [
        pytest.param({"type": "gm_advance"}, id="advance"),
        pytest.param({"type": "gm_undo", "n": 1}, id="undo"),
        pytest.param(
            {"type": "gm_ruling", "field": "hull", "value": 1, "reason": "because"},
            id="ruling",
        ),
    ],
)
async def test_gm_commands_are_refused_for_players(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub, command: dict[str, Any]
) -> None:
    battle = await create_battle(client)
    player = await connect()
    await player.join(
        battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=["pilot"]
    )
    before = hub.rooms[battle["battle_id"]].seq
    answer = await player.command(command)
    assert answer["type"] == "error"
    assert answer["code"] == "gm_only"
    assert hub.rooms[battle["battle_id"]].seq == before


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"type": "release", "ship_id": "alpha", "station": "pilot"}, id="release"),
        pytest.param({"type": "kick", "peer_id": "whoever"}, id="kick"),
    ],
)
async def test_server_gm_actions_are_refused_for_players(
    client: TestClient[Any, Any], connect: ConnectFn, message: dict[str, Any]
) -> None:
    battle = await create_battle(client)
    player = await connect()
    await player.join(
        battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=["pilot"]
    )
    await player.send({**message, "client_id": "g1"})
    error = await player.recv_until("error")
    assert (error["code"], error["client_id"]) == ("gm_only", "g1")


async def test_the_gm_advances_the_step_and_everyone_sees_the_event(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    battle = await create_battle(client)
    gm = await gm_of(connect, battle)
    spectator = await connect()
    await spectator.join(battle_id=battle["battle_id"], role="spectator")
    await spectator.recv_until("snapshot")
    before = hub.rooms[battle["battle_id"]].seq
    answer = await gm.command({"type": "gm_advance"})
    assert answer["type"] == "ack"
    assert answer["seqs"][0] == before + 1
    await spectator.drain_until_seq(answer["seq"])
    assert [e["seq"] for e in spectator.events] == answer["seqs"]


async def test_a_claim_is_bound_to_the_resume_token(
    client: TestClient[Any, Any], connect: ConnectFn
) -> None:
    battle = await create_battle(client)
    seat = {"battle_id": battle["battle_id"], "role": "player", "ship_id": "alpha"}
    ana = await connect()
    joined = await ana.join(**seat, stations=["pilot", "gunner:0"], name="Ana")
    token = joined["resume_token"]

    bo = await connect()
    await bo.send({"type": "join", **seat, "stations": ["pilot"], "name": "Bo"})
    refused = await bo.recv()
    assert refused["code"] == "station_taken"
    assert "Ana" in refused["message"]

    await ana.ws.close()
    await bo.send({"type": "join", **seat, "stations": ["pilot"], "name": "Bo"})
    assert (await bo.recv())["code"] == "station_taken", "a disconnect does not free a claim"

    back = await connect()
    again = await back.join(**seat, stations=["pilot", "gunner:0"], resume_token=token)
    assert again["stations"] == ["pilot", "gunner:0"]
    assert again["resume_token"] == token


async def test_a_failed_join_takes_no_station(
    client: TestClient[Any, Any], connect: ConnectFn
) -> None:
    battle = await create_battle(client)
    seat = {"battle_id": battle["battle_id"], "role": "player", "ship_id": "alpha"}
    ana = await connect()
    await ana.join(**seat, stations=["gunner:0"])
    bo = await connect()
    await bo.send({"type": "join", **seat, "stations": ["pilot", "gunner:0"]})
    assert (await bo.recv())["code"] == "station_taken"
    cy = await connect()
    await cy.join(**seat, stations=["pilot"])


async def test_the_gm_releases_a_station_for_someone_else(
    client: TestClient[Any, Any], connect: ConnectFn
) -> None:
    battle = await create_battle(client)
    seat = {"battle_id": battle["battle_id"], "role": "player", "ship_id": "alpha"}
    ana = await connect()
    await ana.join(**seat, stations=["pilot"], name="Ana")
    gm = await gm_of(connect, battle)
    await gm.send({"type": "release", "ship_id": "alpha", "station": "pilot"})
    notice = await ana.recv_until("error")
    assert notice["code"] == "station_released"
    presence = await gm.recv_until("presence")
    while any(c["station"] == "pilot" for c in presence["claims"]):
        presence = await gm.recv_until("presence")
    bo = await connect()
    joined = await bo.join(**seat, stations=["pilot"], name="Bo")
    assert joined["stations"] == ["pilot"]
    answer = await ana.command({"type": "end_step", "station": "pilot"})
    assert answer["type"] == "error", "Ana lost the station"


async def test_the_gm_kicks_a_peer(client: TestClient[Any, Any], connect: ConnectFn) -> None:
    battle = await create_battle(client)
    ana = await connect()
    joined = await ana.join(
        battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=["pilot"]
    )
    gm = await gm_of(connect, battle)
    await gm.send({"type": "kick", "peer_id": joined["peer_id"]})
    kicked = await ana.recv_until("error")
    assert kicked["code"] == "kicked"
    closing = await ana.ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    bo = await connect()
    await bo.join(battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=["pilot"])


async def test_reconnect_catches_up_exactly_the_missed_events(
    client: TestClient[Any, Any], connect: ConnectFn
) -> None:
    battle = await create_battle(client)
    gm = await gm_of(connect, battle)
    ana = await connect()
    joined = await ana.join(
        battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=["pilot"]
    )
    await ana.recv_until("snapshot")
    first = await gm.command({"type": "gm_advance"})
    await ana.drain_until_seq(first["seq"])
    last_seen = ana.seq
    await ana.ws.close()

    missed: list[int] = []
    for _ in range(3):
        answer = await gm.command({"type": "gm_advance"})
        missed.extend(answer["seqs"])

    back = await connect()
    await back.join(
        battle_id=battle["battle_id"],
        role="player",
        ship_id="alpha",
        stations=["pilot"],
        resume_token=joined["resume_token"],
        last_seq=last_seen,
    )
    await back.drain_until_seq(missed[-1])
    assert [e["seq"] for e in back.events] == missed
    assert not any(f["type"] == "snapshot" for f in back.frames)
    live = await gm.command({"type": "gm_advance"})
    await back.drain_until_seq(live["seq"])
    assert [e["seq"] for e in back.events] == [*missed, *live["seqs"]]


async def test_a_reconnect_too_far_behind_gets_a_snapshot(aiohttp_client: Any) -> None:
    settings = Settings(catch_up_limit=2, bot_delay_ms=0)
    client = await aiohttp_client(create_app(settings, store=MemoryBattleStore()))
    battle = await create_battle(client)
    gm = WsPeer(await client.ws_connect("/ws"))
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    for _ in range(3):
        last = await gm.command({"type": "gm_advance"})
    late = WsPeer(await client.ws_connect("/ws"))
    await late.join(battle_id=battle["battle_id"], role="spectator", last_seq=1)
    snapshot = await late.recv_until("snapshot")
    assert snapshot["seq"] == last["seq"]
    assert snapshot["view"] == rules.public_view(
        rules.replay(
            [
                rules.Event.from_dict(e)
                for e in (
                    await (await client.get(f"/api/battles/{battle['battle_id']}/log")).json()
                )["events"]
            ]
        )
    )
