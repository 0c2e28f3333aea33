"""Several clients play whole battles over real WebSockets; everyone sees the same log."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from gameserver import rules
from gameserver.hub import Hub
from tests.server.conftest import ConnectFn, WsPeer, create_battle, scenario

SEATS = [
    ("alpha", ["pilot", "gunner:0"]),
    ("alpha", ["engineer", "sensors"]),
    ("bravo", ["pilot", "gunner:0", "gunner:1"]),
    ("bravo", ["captain", "engineer", "sensors"]),
]


async def full_log(client: TestClient[Any, Any], battle_id: str) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/battles/{battle_id}/log")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return list(body["events"])


def side_of(state: rules.BattleState, ship_id: str) -> str:
    return state.ships[ship_id].side


async def play_one_command(
    state: rules.BattleState, players: dict[tuple[str, str], WsPeer]
) -> dict[str, Any]:
    """The engine's bot picks a command for the first awaited station; its holder sends it."""
    ship_id, station = rules.awaiting(state)[0]
    commands = [
        c
        for c in rules.bot_commands(state, side_of(state, ship_id))
        if (c.ship_id or ship_id) == ship_id
    ]
    assert commands, f"the bot has nothing for {ship_id}/{station}"
    wire = rules.command_to_dict(commands[0])
    holder = players[(ship_id, station)]
    answer = await holder.command(wire)
    assert answer["type"] == "ack", answer
    return answer


async def test_four_players_and_a_spectator_play_a_battle_to_its_end(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    battle = await create_battle(client, scenario=scenario(round_limit=3))
    battle_id = battle["battle_id"]
    players: dict[tuple[str, str], WsPeer] = {}
    peers: list[WsPeer] = []
    for ship_id, stations in SEATS:
        peer = await connect()
        joined = await peer.join(
            join_code=battle["join_code"].lower(),
            role="player",
            ship_id=ship_id,
            stations=stations,
            name=f"{ship_id}-{stations[0]}",
        )
        assert joined["battle_id"] == battle_id
        assert joined["resume_token"]
        snapshot = await peer.recv_until("snapshot")
        assert snapshot["state"] is None, "players get the public view only"
        assert snapshot["view"] == rules.public_view(hub.rooms[battle_id].state)
        peers.append(peer)
        for station in stations:
            players[(ship_id, station)] = peer
    spectator = await connect()
    await spectator.join(battle_id=battle_id, role="spectator")
    await spectator.recv_until("snapshot")
    peers.append(spectator)

    state = rules.replay([rules.Event.from_dict(d) for d in await full_log(client, battle_id)])
    commands = 0
    while not state.is_over:
        answer = await play_one_command(state, players)
        commands += 1
        assert commands < 2000, "a 3-round battle must end"
        for peer in peers:
            await peer.drain_until_seq(answer["seq"])
        new = [rules.Event.from_dict(e) for e in peers[0].events if e["seq"] > state.seq]
        for event in new:
            state = rules.evolve(state, event)
        assert state.seq == answer["seq"]
        for peer in peers:
            assert peer.view == rules.public_view(state), "each batch brings the view after it"

    log = await full_log(client, battle_id)
    first_live = peers[0].events[0]["seq"]
    expected = [e["seq"] for e in log if e["seq"] >= first_live]
    for peer in peers:
        assert [e["seq"] for e in peer.events] == expected, "every event once, in order"
        assert peer.events == [e for e in log if e["seq"] >= first_live]
    assert rules.public_view(rules.replay([rules.Event.from_dict(d) for d in log])) == (
        rules.public_view(hub.rooms[battle_id].state)
    ), "the log replays to the live state"
    resp = await client.get(f"/api/battles/{battle_id}")
    info = await resp.json()
    assert info["is_over"] is True
    assert info["seq"] == len(log)


async def test_solo_battle_the_bot_plays_its_side_as_events(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    battle = await create_battle(client, scenario=scenario(round_limit=2), bot_sides=["blue"])
    battle_id = battle["battle_id"]
    player = await connect()
    await player.join(
        battle_id=battle_id,
        role="player",
        ship_id="alpha",
        stations=["pilot", "engineer", "sensors", "gunner:0"],
    )
    await player.recv_until("snapshot")
    players = {("alpha", s): player for s in ["pilot", "engineer", "sensors", "gunner:0"]}
    room = hub.rooms[battle_id]
    for _ in range(2000):
        if room.state.is_over:
            break
        awaited = rules.awaiting(room.state)
        if awaited and awaited[0][0] == "alpha":
            await play_one_command(room.state, players)
        else:
            await player.recv_until("event")
    assert room.state.is_over
    log = await full_log(client, battle_id)
    bravo_moves = [
        e for e in log if e["type"] != "turn_started" and e["data"].get("ship") == "bravo"
    ]
    assert bravo_moves, "the bot's side acted, as events in the log"
    assert rules.public_view(rules.replay([rules.Event.from_dict(d) for d in log])) == (
        rules.public_view(room.state)
    )


async def test_a_rule_violation_carries_the_engine_code_and_changes_nothing(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    battle = await create_battle(client)
    room = await hub.room(battle["battle_id"])
    awaited_ships = {ship for ship, _ in rules.awaiting(room.state)}
    idle_ship = next(
        s for s in ("alpha", "bravo") if s not in awaited_ships or len(awaited_ships) > 1
    )
    peer = await connect()
    seat = next(st for ship, st in SEATS if ship == idle_ship)
    await peer.join(battle_id=battle["battle_id"], role="player", ship_id=idle_ship, stations=seat)
    before = room.seq
    other = "bravo" if idle_ship == "alpha" else "alpha"
    answer = await peer.command({"type": "attack", "turret": 0, "target": other, "ship_id": other})
    assert answer["type"] == "error"
    assert answer["code"] == "not_your_ship"
    assert answer["message"]
    assert room.seq == before
