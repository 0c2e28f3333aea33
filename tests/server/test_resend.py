"""A command resent with its `client_id` (its ack was lost) is answered, never applied twice."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gameserver import rules
from gameserver.hub import Hub
from tests.server.conftest import ConnectFn, WsPeer, create_battle
from tests.server.test_play import full_log, side_of

CREWS = {
    "alpha": ["pilot", "sensors", "engineer", "gunner:0"],
    "bravo": ["pilot", "gunner:0", "gunner:1", "captain", "engineer", "sensors"],
}


async def send(peer: WsPeer, client_id: str, command: dict[str, Any]) -> dict[str, Any]:
    await peer.send({"type": "command", "client_id": client_id, "command": command})
    while True:
        frame = await peer.recv()
        if frame["type"] in ("ack", "error") and frame.get("client_id") == client_id:
            return frame


async def test_a_resent_command_gets_its_first_ack_even_when_no_longer_legal(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    battle = await create_battle(client)
    players: dict[str, tuple[WsPeer, str]] = {}
    for ship_id, stations in CREWS.items():
        peer = await connect()
        joined = await peer.join(
            battle_id=battle["battle_id"], role="player", ship_id=ship_id, stations=stations
        )
        players[ship_id] = (peer, joined["resume_token"])
    room = hub.rooms[battle["battle_id"]]
    ship_id, _ = rules.awaiting(room.state)[0]
    command = next(
        c
        for c in rules.bot_commands(room.state, side_of(room.state, ship_id))
        if (c.ship_id or ship_id) == ship_id
    )
    wire = rules.command_to_dict(command)
    holder, _ = players[ship_id]
    first = await send(holder, "move-1", wire)
    assert first["type"] == "ack", first
    log = await full_log(client, battle["battle_id"])

    # The same command on the state it made is refused by the rules: the server must see that
    # it was applied and answer with the first ack, not with the refusal.
    actor = rules.Actor(role="player", ship_id=ship_id, stations=frozenset(CREWS[ship_id]))
    with pytest.raises(rules.RuleViolation):
        rules.decide(room.state, rules.parse_command(wire, actor, "2026-01-01T00:00:00Z"))
    again = await send(holder, "move-1", wire)

    assert again == first
    assert await full_log(client, battle["battle_id"]) == log, "applied once"
    other_ship = "bravo" if ship_id == "alpha" else "alpha"
    other, _ = players[other_ship]
    theirs = await send(other, "move-1", {"type": "end_step"})
    assert theirs != first, "another sender's id is another command"
