"""Store outages and idle expiry as the server sees them: errors, no state change, recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from gameserver.app import HUB_KEY, create_app
from gameserver.settings import Settings
from gameserver.store import BattleNotFound, ClaimGuard, EventDict, StoreUnavailable
from gameserver.store.memory import MemoryBattleStore
from tests.server.conftest import WsPeer, create_battle


class FlakyStore(MemoryBattleStore):
    """The real memory store, whose writes fail while `down` (as when a backend is down)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.down = False

    async def append(
        self,
        battle_id: str,
        expected_seq: int,
        events: Sequence[EventDict],
        guard: ClaimGuard | None = None,
        key: str | None = None,
    ) -> int:
        if self.down:
            raise StoreUnavailable("backend down")
        return await super().append(battle_id, expected_seq, events, guard, key)

    async def ping(self) -> None:
        if self.down:
            raise StoreUnavailable("backend down")
        await super().ping()


async def test_a_store_outage_gives_store_unavailable_and_changes_nothing(
    aiohttp_client: Any,
) -> None:
    store = FlakyStore()
    client = await aiohttp_client(create_app(Settings(bot_delay_ms=0), store=store))
    battle = await create_battle(client)
    gm = WsPeer(await client.ws_connect("/ws"))
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    room = client.server.app[HUB_KEY].rooms[battle["battle_id"]]
    before = room.seq

    store.down = True
    answer = await gm.command({"type": "gm_advance"})
    assert (answer["type"], answer["code"]) == ("error", "store_unavailable")
    assert room.seq == before
    assert await store.last_seq(battle["battle_id"]) == before
    assert (await client.get("/ready")).status == 503

    store.down = False
    assert (await client.get("/ready")).status == 200
    answer = await gm.command({"type": "gm_advance"})
    assert answer["type"] == "ack"
    assert answer["seqs"][0] == before + 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_idle_battles_expire_but_watched_ones_stay(aiohttp_client: Any) -> None:
    clock = Clock()
    store = MemoryBattleStore(clock=clock)
    client = await aiohttp_client(create_app(Settings(battle_idle_s=100), store=store))
    hub = client.server.app[HUB_KEY]
    idle = await create_battle(client)
    watched = await create_battle(client)
    spectator = WsPeer(await client.ws_connect("/ws"))
    await spectator.join(battle_id=watched["battle_id"], role="spectator")
    clock.now += 101
    assert await hub.expire_once() == [idle["battle_id"]]
    assert (await client.get(f"/api/battles/{idle['battle_id']}")).status == 404
    assert (await client.get(f"/api/battles/{watched['battle_id']}")).status == 200


async def test_unloading_a_room_stops_its_follower_at_once(aiohttp_client: Any) -> None:
    """The follower's retry policy must never retry its own cancellation."""
    client = await aiohttp_client(create_app(Settings(), store=MemoryBattleStore()))
    hub = client.server.app[HUB_KEY]
    battle = await create_battle(client)
    room = await hub.room(battle["battle_id"])
    await asyncio.sleep(0.05)  # the follower is inside its subscription now

    await asyncio.wait_for(hub.battles.drop_room(room.battle_id), timeout=5)

    assert battle["battle_id"] not in hub.rooms


class LostReadStore(MemoryBattleStore):
    """The memory store whose reads fail while `lost` (as when a battle vanishes mid-join)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = False

    async def read(
        self, battle_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[EventDict]:
        if self.lost:
            raise BattleNotFound(battle_id)
        return await super().read(battle_id, after_seq, limit)


async def test_a_join_that_fails_after_claiming_leaves_nothing_half_done(
    aiohttp_client: Any,
) -> None:
    store = LostReadStore()
    client = await aiohttp_client(create_app(Settings(), store=store))
    hub = client.server.app[HUB_KEY]
    battle = await create_battle(client)
    room = await hub.room(battle["battle_id"])
    player = WsPeer(await client.ws_connect("/ws"))
    store.lost = True

    await player.send(
        {
            "type": "join",
            "battle_id": battle["battle_id"],
            "role": "player",
            "ship_id": "alpha",
            "stations": ["pilot"],
            "last_seq": battle["seq"] + 5,  # ahead of the server: the join reads the store
        }
    )
    refused = await player.recv_until("error")

    assert refused["code"] == "battle_not_found"
    assert await store.claims(battle["battle_id"]) == [], "the station it took is free again"
    assert player.joined is None
    assert not room.peers
    store.lost = False
    joined = await player.join(
        battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=["pilot"]
    )
    assert joined["stations"] == ["pilot"], "the same connection can join afterwards"
