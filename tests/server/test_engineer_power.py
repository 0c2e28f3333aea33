"""The engineer's power actions over the wire: the `legal` frame offers them with labels, a
command sheds load, the public view shows the power budget, and the page knows the types."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from gameserver import rules
from gameserver.hub import Hub
from gameserver.rules.decision import COMMAND_RULES
from tests.server.conftest import ConnectFn, WsPeer, create_battle, scenario
from tests.server.test_play import play_one_command

ACTIONS_JS = Path(__file__).parents[2] / "gameserver" / "static" / "js" / "actions.js"
POWER_TYPES = (
    "overload_drive",
    "overload_plant",
    "offline_system",
    "restore_system",
    "change_station",
)


async def test_the_engineer_sheds_load_over_the_wire(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    """A Severity-3 Power Plant critical (GM ruling) leaves the Scout's turret dark; its
    engineer is offered the power actions, takes the M-Drive offline, and every client's view
    shows the turret powered again and the drive offline."""
    # At Distant nobody is in reach, so no hit changes the damage before the Actions step.
    battle = await create_battle(client, scenario=scenario(starting_range="distant"))
    battle_id = battle["battle_id"]
    gm = await connect()
    await gm.join(battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    answer = await gm.command(
        {
            "type": "gm_ruling",
            "ship_id": "alpha",
            "field": "crit:power_plant",
            "value": 3,
            "reason": "a lucky shot before the fight",
        }
    )
    assert answer["type"] == "ack", answer
    seats = {
        "alpha": ["pilot", "gunner:0", "engineer", "sensors"],
        "bravo": ["captain", "pilot", "gunner:0", "gunner:1", "engineer", "sensors"],
    }
    players: dict[tuple[str, str], WsPeer] = {}
    for ship_id, stations in seats.items():
        peer = await connect()
        await peer.join(battle_id=battle_id, role="player", ship_id=ship_id, stations=stations)
        for station in stations:
            players[(ship_id, station)] = peer
    room = await hub.room(battle_id)
    view = rules.public_view(room.state)
    alpha = next(s for s in view["ships"] if s["id"] == "alpha")
    assert alpha["power"]["unpowered"] == ["turret:0"]
    for _ in range(200):
        if ("alpha", "engineer") in rules.awaiting(room.state):
            break
        await play_one_command(room.state, players)
    else:
        raise AssertionError("the Scout's engineer was never waited for")
    engineer = players[("alpha", "engineer")]
    await engineer.send(
        {"type": "legal", "client_id": "q1", "ship_id": "alpha", "station": "engineer"}
    )
    frame = await engineer.recv_until("legal")
    while frame.get("client_id") != "q1":
        frame = await engineer.recv_until("legal")
    offered = {c["type"]: c for c in frame["commands"]}
    assert {"overload_plant", "overload_drive", "offline_system"} <= set(offered)
    assert offered["overload_plant"]["label"] == "Overload plant"
    offline = next(
        c["command"]
        for c in frame["commands"]
        if c["type"] == "offline_system" and c["command"]["system"] == "m_drive"
    )
    answer = await engineer.command(offline)
    assert answer["type"] == "ack", answer
    await engineer.drain_until_seq(answer["seq"])
    assert engineer.view is not None
    alpha = next(s for s in engineer.view["ships"] if s["id"] == "alpha")
    assert alpha["power"]["offline"] == ["m_drive"]
    assert alpha["power"]["unpowered"] == []
    shed = next(e for e in engineer.events if e["type"] == "system_offline")
    assert shed["summary"] == (
        "Alpha's engineer takes the M-Drive offline (Power 30/25): power back to turret 1."
    )
    again = await engineer.command(offline)
    assert again["type"] == "error"
    assert again["code"] in ("station_done", "already_offline", "not_your_turn")


def test_the_page_names_every_power_action() -> None:
    """The protocol's new command types have a verb and a title on the page (actions.js)."""
    source = ACTIONS_JS.read_text(encoding="utf-8")
    for section in ("VERB", "TITLE"):
        body = re.search(rf"const {section} = \{{(.*?)\n\}};", source, re.S)
        assert body is not None, section
        keys = set(re.findall(r"^\s*(\w+):", body.group(1), re.M))
        assert set(POWER_TYPES) <= keys, (section, set(POWER_TYPES) - keys)
    for type_ in POWER_TYPES:
        assert type_ in COMMAND_RULES
