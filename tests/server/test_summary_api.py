"""`GET /api/summary`: what the operator's BATTLES and PLAYERS columns add up across pods."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp.test_utils import TestClient

from tests.server.conftest import ConnectFn, create_battle


async def summary(client: TestClient[Any, Any]) -> dict[str, Any]:
    resp = await client.get("/api/summary")
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def test_battles_and_the_people_at_their_tables_spectators_aside(
    client: TestClient[Any, Any], connect: ConnectFn
) -> None:
    assert await summary(client) == {
        "battles": 0,
        "players": 0,
        "connections": 0,
        "battleDigests": [],
    }
    battle = await create_battle(client)
    battle_id = battle["battle_id"]
    player = await connect()
    await player.join(battle_id=battle_id, role="player", ship_id="alpha", stations=["pilot"])
    watcher = await connect()
    await watcher.join(battle_id=battle_id, role="spectator")
    await connect()  # connected, not joined: not at a table
    body = await summary(client)
    assert body["battles"] == 1
    assert body["players"] == 1
    # Every open socket is a connection (the autoscaling floor's load): player, watcher, lurker.
    assert body["connections"] == 3
    # A digest, not the id: the id is a join link, the digest only lets the operator de-duplicate.
    assert body["battleDigests"] == [hashlib.sha256(battle_id.encode()).hexdigest()[:16]]
    assert battle_id not in str(body)
