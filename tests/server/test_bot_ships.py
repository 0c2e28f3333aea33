"""A bot per ship over the wire: the GM hands a ship to the server's bot mid-battle (a command
like any other: an event in the log, undoable), solo players have every other ship run by the
bot from the start (`bot_ships`), and bad hand-overs are refused with nothing changed."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from gameserver import rules
from gameserver.hub import Hub
from gameserver.protocol import BOT_TACTICS, CreateBattleRequest, PublicView
from gameserver.rules.tactics import TACTICS
from tests.server.conftest import ConnectFn, WsPeer, create_battle, scenario
from tests.server.test_play import full_log


async def _gm(client: TestClient[Any, Any], connect: ConnectFn, battle: dict[str, Any]) -> WsPeer:
    gm = await connect()
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    await gm.recv_until("snapshot")
    return gm


async def _until(hub: Hub, battle_id: str, done: Any, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not done(hub.rooms[battle_id].state):
        assert loop.time() < deadline, "never reached"
        await asyncio.sleep(0.01)


async def test_the_gm_hands_a_ship_to_the_bot_mid_battle_and_takes_it_back(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    """Before the hand-over the ship waits for the GM; after it the bot plays it (its commands
    are events of the log, sent by the bot); taken back, it waits for people again; the log
    replays to the live state."""
    battle = await create_battle(client, scenario=scenario(round_limit=3))
    battle_id = battle["battle_id"]
    gm = await _gm(client, connect, battle)
    room = hub.rooms[battle_id]
    first = rules.awaiting(room.state)[0][0]
    await asyncio.sleep(0.05)
    assert rules.awaiting(room.state)[0][0] == first, "nobody plays a ship before the hand-over"
    ack = await gm.command({"type": "gm_bot", "ship_id": first, "tactic": "aggressive"})
    assert ack["type"] == "ack", ack
    await _until(hub, battle_id, lambda st: st.is_over or rules.awaiting(st)[0][0] != first)
    log = await full_log(client, battle_id)
    handed = next(e for e in log if e["type"] == "bot_assigned")
    assert handed["data"]["tactic"] == "aggressive"
    assert handed["cmd"]["actor"]["role"] == "gm"
    bot_batches = [e for e in log if e.get("cmd", {}).get("actor", {}).get("role") == "bot"]
    assert bot_batches
    assert {e["cmd"]["ship_id"] for e in bot_batches} == {first}
    await gm.drain_until_seq(room.seq)
    assert gm.view is not None
    assert next(s for s in gm.view["ships"] if s["id"] == first)["bot"] == "aggressive"
    PublicView.model_validate(gm.view)
    ack = await gm.command({"type": "gm_bot", "ship_id": first, "tactic": None})
    assert ack["type"] == "ack", ack
    assert rules.tactic_of(room.state, first) is None
    log = await full_log(client, battle_id)
    assert rules.public_view(rules.replay([rules.Event.from_dict(d) for d in log])) == (
        rules.public_view(room.state)
    )


async def test_a_bad_hand_over_is_refused_and_nothing_changes(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    """Unknown tactic, a ship that is gone, a player handing a ship: a clear error, no event."""
    battle = await create_battle(client, scenario=scenario(round_limit=3))
    battle_id = battle["battle_id"]
    gm = await _gm(client, connect, battle)
    player = await connect()
    await player.join(battle_id=battle_id, role="player", ship_id="alpha", stations=["pilot"])
    room = hub.rooms[battle_id]
    seq = room.seq
    err = await gm.command({"type": "gm_bot", "ship_id": "bravo", "tactic": "reckless"})
    assert (err["type"], err["code"]) == ("error", "bad_command")
    assert "cautious" in err["message"]
    err = await player.command({"type": "gm_bot", "ship_id": "bravo", "tactic": "standard"})
    assert (err["type"], err["code"]) == ("error", "gm_only")
    err = await gm.command({"type": "gm_bot", "ship_id": "nope", "tactic": "standard"})
    assert (err["type"], err["code"]) == ("error", "unknown_ship")
    assert room.seq == seq
    assert all(s.bot is None for s in room.state.ships.values())


async def test_a_ship_gone_cannot_be_handed_to_the_bot(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    three = scenario(round_limit=3)
    three["ships"].append({"id": "charlie", "name": "Charlie", "side": "blue", "preset": "scout"})
    battle = await create_battle(client, scenario=three)
    gm = await _gm(client, connect, battle)
    ruling = {"type": "gm_ruling", "ship_id": "charlie", "field": "status", "value": "wrecked"}
    assert (await gm.command(ruling | {"reason": "test"}))["type"] == "ack"
    room = hub.rooms[battle["battle_id"]]
    seq = room.seq
    err = await gm.command({"type": "gm_bot", "ship_id": "charlie", "tactic": "standard"})
    assert (err["type"], err["code"]) == ("error", "ship_out_of_action")
    assert err["message"] == "Charlie is wrecked: nobody runs it any more"
    assert room.seq == seq


async def test_solo_as_a_player_the_bot_runs_every_other_ship_from_the_start(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    """`bot_ships` at creation: each ship a `gm_bot` event of the opening log; the player
    commands only their ship and the battle plays to its end."""
    battle = await create_battle(
        client, scenario=scenario(round_limit=2), bot_ships={"bravo": "cautious"}
    )
    battle_id = battle["battle_id"]
    log = await full_log(client, battle_id)
    assert [e["type"] for e in log if e["type"] == "bot_assigned"] == ["bot_assigned"]
    stations = ["pilot", "engineer", "sensors", "gunner:0"]
    player = await connect()
    await player.join(battle_id=battle_id, role="player", ship_id="alpha", stations=stations)
    await player.recv_until("snapshot")
    room = hub.rooms[battle_id]
    for _ in range(2000):
        if room.state.is_over:
            break
        awaited = rules.awaiting(room.state)
        if awaited and awaited[0][0] == "alpha":
            cmd = rules.bot_command(room.state, "red")
            assert cmd is not None
            answer = await player.command(rules.command_to_dict(cmd))
            assert answer["type"] == "ack", answer
        else:
            await player.recv_until("event")
    assert room.state.is_over
    log = await full_log(client, battle_id)
    assert any(e.get("cmd", {}).get("actor", {}).get("role") == "bot" for e in log)
    assert rules.public_view(rules.replay([rules.Event.from_dict(d) for d in log])) == (
        rules.public_view(room.state)
    )


async def test_bot_ships_naming_an_unknown_ship_or_tactic_is_refused(
    client: TestClient[Any, Any],
) -> None:
    err = await create_battle(client, status=422, bot_ships={"zulu": "standard"})
    assert (err["error"], err["message"]) == (
        "unknown_ship",
        "bot_ships: there is no ship 'zulu' in this battle",
    )
    err = await create_battle(client, status=400, bot_ships={"bravo": "reckless"})
    assert "bot_ships" in str(err)


def test_the_protocol_and_the_rules_name_the_same_tactics() -> None:
    """The create request's and the view's tactic names are the engine's."""
    assert BOT_TACTICS == TACTICS
    field = CreateBattleRequest.model_json_schema()["properties"]["bot_ships"]
    assert field["additionalProperties"]["enum"] == list(TACTICS)
