"""The room keeps the GM's table rules: the auto-passer and the turn timer read the store for
them only when the room does not know them (memory store and real Redis), and a change made on
one instance reaches the rooms of the others: its `table` notice makes them read again (two hubs
on one real redis-server; the memory store serves one instance and sends no notices)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest

from gameserver.hub import Hub
from gameserver.hub.connection import Connection
from gameserver.metrics import create_metrics
from gameserver.protocol import CreateBattleRequest, Role, TableRequest
from gameserver.settings import Settings
from gameserver.store import BattleStore, Table
from gameserver.store.memory import MemoryBattleStore
from gameserver.store.redis import RedisBattleStore
from tests.server.conftest import scenario

pytestmark = pytest.mark.timeout(60)


class CountedStore:
    """Counts a store handle's `table` reads (the rest passes through untouched)."""

    def __init__(self, store: BattleStore) -> None:
        self.reads = 0
        original: Callable[[str], Awaitable[Table]] = store.table

        async def table(battle_id: str) -> Table:
            self.reads += 1
            return await original(battle_id)

        cast(Any, store).table = table


@contextlib.asynccontextmanager
async def two_hubs(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Hub, Hub]]:
    """Two instances (hubs) on one store: one memory store object (which tells no other hub
    anything), or two handles on one real redis-server."""
    if kind == "memory":
        memory = MemoryBattleStore()
        one: BattleStore = memory
        other: BattleStore = memory
    else:
        url = request.getfixturevalue("redis_server").url
        one = RedisBattleStore.from_url(url, block_ms=200, max_backoff_s=0.2)
        other = RedisBattleStore.from_url(url, block_ms=200, max_backoff_s=0.2)
    settings = Settings(bot_delay_ms=0, battle_idle_s=3600)
    a, b = Hub(settings, one, create_metrics()), Hub(settings, other, create_metrics())
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
        await one.close()
        if other is not one:
            await other.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def hubs(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Hub, Hub]]:
    """`two_hubs` on each kind of store."""
    async with two_hubs(request.param, request) as pair:
        yield pair


@pytest.fixture
async def redis_hubs(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Hub, Hub]]:
    """`two_hubs` on a real redis-server (cross-instance notices)."""
    async with two_hubs("redis", request) as pair:
        yield pair


async def eventually(check: Callable[[], bool], within_s: float = 10.0) -> None:
    for _ in range(int(within_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def test_the_room_reads_the_table_once_and_keeps_what_it_sets(
    hubs: tuple[Hub, Hub],
) -> None:
    hub, _ = hubs
    created = await hub.create_battle(
        CreateBattleRequest.model_validate({"scenario": scenario(round_limit=3)})
    )
    counted = CountedStore(hub.store)
    room = await hub.room(created.meta.battle_id)
    assert (await room.table_rules()).turn_timer_s == 0
    reads = counted.reads
    assert reads >= 1
    for _ in range(5):  # what every batch does: neither reads the table again
        room.timer.kick()
        room.autopass.kick()
    await asyncio.sleep(0.1)
    assert (await room.table_rules()).turn_timer_s == 0
    assert counted.reads == reads
    gm = cast(Connection, SimpleNamespace(role=Role.GM, peer_id="gm"))
    await hub.seats.set_table(gm, room, TableRequest(turn_timer_s=30))
    await eventually(lambda: room.timer.seconds == 30)
    # set_table itself reads the rules it changes (and the bans for the GM's frame): after it,
    # batches read nothing more
    reads = counted.reads
    room.timer.kick()
    room.autopass.kick()
    await asyncio.sleep(0.1)
    assert (await room.table_rules()).turn_timer_s == 30
    assert counted.reads == reads


@pytest.mark.redis
async def test_a_table_change_on_one_instance_reaches_the_other(
    redis_hubs: tuple[Hub, Hub],
) -> None:
    a, b = redis_hubs
    created = await a.create_battle(
        CreateBattleRequest.model_validate({"scenario": scenario(round_limit=3)})
    )
    battle_id = created.meta.battle_id
    room_a = await a.room(battle_id)
    counted = CountedStore(b.store)
    room_b = await b.room(battle_id)
    assert room_b.state.seq == room_a.state.seq

    # B reads the table once, then knows it: batches (timer re-arms, passes) read no more.
    assert (await room_b.table_rules()).turn_timer_s == 0
    reads = counted.reads
    for _ in range(5):
        room_b.timer.kick()
        room_b.autopass.kick()
        assert (await room_b.table_rules()).turn_timer_s == 0
    await asyncio.sleep(0.1)
    assert counted.reads == reads

    # The GM on A switches the timer on: A knows at once, B after A's notice (one read).
    gm = cast(Connection, SimpleNamespace(role=Role.GM))
    await a.seats.set_table(gm, room_a, TableRequest(turn_timer_s=45, idle_crew_pass=True))
    assert (await room_a.table_rules()).turn_timer_s == 45
    await eventually(lambda: room_b.timer.seconds == 45)
    rules_b = await room_b.table_rules()
    assert (rules_b.turn_timer_s, rules_b.idle_crew_pass) == (45, True)
    assert counted.reads > reads
    reads = counted.reads
    room_b.timer.kick()
    await asyncio.sleep(0.1)
    assert counted.reads == reads

    # And back, set on B this time: A's timer follows.
    await b.seats.set_table(gm, room_b, TableRequest(turn_timer_s=0))
    await eventually(lambda: room_a.timer.seconds == 0)
    assert (await room_a.table_rules()).turn_timer_s == 0
    assert (await room_a.table_rules()).idle_crew_pass is True


async def test_a_read_begun_before_a_change_is_not_kept() -> None:
    """A table read in flight when the room is told the rules changed is used once, not kept
    (the room's own bookkeeping: the memory store is enough)."""
    async with two_hubs("memory", cast(pytest.FixtureRequest, None)) as (a, _):
        created = await a.create_battle(
            CreateBattleRequest.model_validate({"scenario": scenario(round_limit=3)})
        )
        room = await a.room(created.meta.battle_id)
        await asyncio.sleep(0.05)  # the room's own first reads (timer, auto-passer) are done
        room.table_set(None)
        counted = CountedStore(a.store)
        gate = asyncio.Event()
        counted_table = a.store.table

        async def slow_table(battle_id: str) -> Table:
            await gate.wait()  # the read is in flight until the gate opens
            return await counted_table(battle_id)

        cast(Any, a.store).table = slow_table
        reading = asyncio.ensure_future(room.table_rules())
        await asyncio.sleep(0.01)
        assert not reading.done()
        room.table_set(None)  # a notice lands while the read is in flight
        gate.set()
        await reading
        before = counted.reads
        await room.table_rules()
        assert counted.reads == before + 1  # read again: the in-flight result was not cached
