"""`RedisBattleStore` on a real redis-server: what only Redis does.

Races between instances, notices, durability, outage, schema upgrades. The contract every store
keeps is asserted once, against both stores, in tests/store/test_contract.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from gameserver.rules import (
    EVENT_SCHEMA_VERSION,
    Event,
    UnsupportedSchemaVersion,
    decode_events,
    state_from_dict,
)
from gameserver.store.base import (
    BattleMeta,
    BattleNotFound,
    Claim,
    EventDict,
    Notice,
    PeerInfo,
    SeqConflict,
    Snapshot,
    StoreUnavailable,
)
from gameserver.store.redis import RedisBattleStore
from gameserver.store.redis_wire import UnreadableEntry
from testkit.redis_server import RedisProcess
from tests.store.records import ev, meta

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

StoreFactory = Callable[[], RedisBattleStore]


@pytest.fixture
async def make_store(redis_server: RedisProcess) -> AsyncIterator[StoreFactory]:
    """Stores on the fixture's Redis (each one is a separate "instance"); all closed afterwards."""
    made: list[RedisBattleStore] = []

    def factory() -> RedisBattleStore:
        store = RedisBattleStore.from_url(redis_server.url, block_ms=500, max_backoff_s=0.5)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.close()


async def next_batch(it: AsyncIterator[list[EventDict]], wait_s: float = 10) -> list[EventDict]:
    return await asyncio.wait_for(anext(it), wait_s)


async def collect_seqs(
    it: AsyncIterator[list[EventDict]], until_seq: int, wait_s: float = 20
) -> list[int]:
    """Every seq the iterator yields until `until_seq` shows up (each batch kept in order)."""
    seqs: list[int] = []
    async with asyncio.timeout(wait_s):
        while not seqs or seqs[-1] < until_seq:
            seqs.extend(e["seq"] for e in await anext(it))
    return seqs


async def test_append_refuses_unserialisable_events_and_writes_nothing(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.create(meta(), [ev(1)])

    with pytest.raises(ValueError, match="JSON"):
        await store.append("b1", 1, [ev(2), {"seq": 3, "data": object()}])

    assert await store.read("b1") == [ev(1)]


async def test_retried_append_with_its_own_token_is_not_a_conflict(
    make_store: StoreFactory,
) -> None:
    """A reply lost on a dropped connection makes redis-py re-run the script: it must succeed."""
    store = make_store()
    await store.create(meta(), [ev(1)])
    keys = [
        store._k("b1", "meta"),
        store._k("b1", "events"),
        store._index_key,
        store._k("b1", "claims"),
        store._notify_key,
        store._k("b1", "cmds"),
        store._k("b1", "cmdq"),
    ]
    # battle, expected seq, now, append token, guard hash, command key, window, deadline, k, ...
    args = ["b1", 1, 0, "token-1", "", "", 10, "", 0, '{"seq":2}']

    assert await store._append_script(keys=keys, args=args) == [1, 2]
    assert await store._append_script(keys=keys, args=args) == [1, 2]
    assert await store._append_script(keys=keys, args=[*args[:3], "token-2", *args[4:]]) == [0, 2]

    # A guarded append whose claim was freed after it was written is still its own success.
    await store.claim("b1", Claim(ship_id="s1", station="pilot", token_hash="h"), new_token=True)
    guarded = ["b1", 2, 0, "token-3", "h", "", 10, "", 1, "s1\x1fpilot", '{"seq":3}']
    assert await store._append_script(keys=keys, args=guarded) == [1, 3]
    await store.release("b1", "s1", "pilot")
    assert await store._append_script(keys=keys, args=guarded) == [1, 3]
    # Past its deadline (Redis's clock) an append writes nothing; a retry of one that was
    # written before its deadline is still its own success.
    late = ["b1", 3, 0, "token-4", "", "", 10, 1, 0, '{"seq":4}']
    assert await store._append_script(keys=keys, args=late) == [3, 3]
    assert await store._append_script(keys=keys, args=[*guarded[:7], 1, *guarded[8:]]) == [1, 3]
    assert [e["seq"] for e in await store.read("b1")] == [1, 2, 3]


async def test_racing_instances_keep_one_linear_log(make_store: StoreFactory) -> None:
    """Writers on two connections retry on SeqConflict; every write lands exactly once, no fork."""
    stores = [make_store(), make_store()]
    await stores[0].create(meta(), [ev(1)])
    conflicts = 0

    async def writer(store: RedisBattleStore, name: str, count: int) -> None:
        nonlocal conflicts
        for i in range(count):
            while True:
                last = await store.last_seq("b1")
                try:
                    await store.append("b1", last, [ev(last + 1, by=name, i=i)])
                    break
                except SeqConflict:
                    conflicts += 1

    await asyncio.gather(
        *(writer(stores[w % 2], f"w{w}", 25) for w in range(6)),
    )
    log = await stores[1].read("b1")

    assert [e["seq"] for e in log] == list(range(1, 152))
    written = sorted((e["data"]["by"], e["data"]["i"]) for e in log[1:])
    assert written == sorted((f"w{w}", i) for w in range(6) for i in range(25))
    assert conflicts > 0, "six concurrent writers never collided: the race was not exercised"


async def test_subscribe_sees_appends_from_another_instance(make_store: StoreFactory) -> None:
    reader_side, writer_side = make_store(), make_store()
    await writer_side.create(meta(), [ev(1)])
    it = reader_side.subscribe("b1", 1)
    first = asyncio.ensure_future(next_batch(it))
    await asyncio.wait_for(reader_side.reader_connected.wait(), 10)

    await writer_side.append("b1", 1, [ev(2), ev(3)])
    assert [e["seq"] for e in await first] == [2, 3]
    for seq in range(4, 30):
        await writer_side.append("b1", seq - 1, [ev(seq)])

    assert await collect_seqs(it, 29) == list(range(4, 30))
    await it.aclose()  # type: ignore[attr-defined]


async def test_writers_on_both_instances_see_one_ordered_log(make_store: StoreFactory) -> None:
    """Local appends (handed over directly) and remote ones (via XREAD) interleave without gaps."""
    stores = [make_store(), make_store()]
    await stores[0].create(meta(), [ev(1)])
    subs = [store.subscribe("b1", 1) for store in stores]
    seen = [asyncio.ensure_future(collect_seqs(sub, 121, wait_s=60)) for sub in subs]
    for store in stores:
        await asyncio.wait_for(store.reader_connected.wait(), 10)

    async def writer(store: RedisBattleStore, count: int) -> None:
        for _ in range(count):
            while True:
                last = await store.last_seq("b1")
                try:
                    await store.append("b1", last, [ev(last + 1)])
                    break
                except SeqConflict:
                    await asyncio.sleep(0)

    await asyncio.gather(writer(stores[0], 60), writer(stores[1], 60))

    for seqs in await asyncio.gather(*seen):
        assert seqs == list(range(2, 122))
    for sub in subs:
        await sub.aclose()  # type: ignore[attr-defined]


async def test_subscribe_behind_catches_up_without_gaps_or_duplicates(
    make_store: StoreFactory,
) -> None:
    """A second subscriber starting further back is caught up from the stream, then follows live."""
    store, writer = make_store(), make_store()
    await writer.create(meta(), [ev(s) for s in range(1, 6)])
    ahead = store.subscribe("b1", 5)
    ahead_first = asyncio.ensure_future(next_batch(ahead))
    await asyncio.wait_for(store.reader_connected.wait(), 10)
    await writer.append("b1", 5, [ev(6)])
    assert [e["seq"] for e in await ahead_first] == [6]

    behind = store.subscribe("b1", 2)
    await writer.append("b1", 6, [ev(7), ev(8)])

    assert await collect_seqs(behind, 8) == [3, 4, 5, 6, 7, 8]
    assert await collect_seqs(ahead, 8) == [7, 8]
    await ahead.aclose()  # type: ignore[attr-defined]
    await behind.aclose()  # type: ignore[attr-defined]


async def test_snapshot_of_another_schema_version_is_refused_by_the_codec(
    make_store: StoreFactory,
) -> None:
    """After a rolling upgrade a state folded by other code is replayed, never misread: the
    store keeps snapshots opaque, the rules' codec refuses another version (the server then
    replays the events)."""
    store = make_store()
    await store.create(meta(), [ev(1)])
    await store.save_snapshot("b1", Snapshot(seq=1, state={"v": -7, "round": 1}))

    loaded = await store.load_snapshot("b1")
    assert loaded == Snapshot(seq=1, state={"v": -7, "round": 1})
    with pytest.raises(UnsupportedSchemaVersion, match="snapshot of schema version -7"):
        state_from_dict(loaded.state)


async def test_notices_reach_the_other_instances_only(make_store: StoreFactory) -> None:
    one, other = make_store(), make_store()
    await one.create(meta(), [ev(1)])
    await one.notify("b1", Notice(kind="kicked", peer_id="before"))  # before anyone listened
    got: dict[str, list[Notice]] = {"one": [], "other": []}
    changed = asyncio.Event()

    def listener(name: str) -> Callable[[Notice], None]:
        def on_notice(notice: Notice) -> None:
            got[name].append(notice)
            changed.set()

        return on_notice

    subs = [one.subscribe("b1", 1, listener("one")), other.subscribe("b1", 1, listener("other"))]
    pending = [asyncio.ensure_future(anext(it)) for it in subs]
    try:
        async with asyncio.timeout(10):
            await one.reader_connected.wait()
            await other.reader_connected.wait()
        released = Notice(kind="released", ship_id="s1", station="pilot", token_hash="a" * 64)
        await one.notify("b1", released)
        await other.notify("b1", Notice(kind="kicked", peer_id="p9"))
        async with asyncio.timeout(10):
            while not (got["one"] and got["other"]):
                changed.clear()
                await changed.wait()
        # one's reader delivered other's notice, so it has passed its own (earlier) one too.
        assert got == {"one": [Notice(kind="kicked", peer_id="p9")], "other": [released]}
    finally:
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_remote_peers_lists_the_other_live_instances(
    make_store: StoreFactory, redis_server: RedisProcess
) -> None:
    one, other = make_store(), make_store()
    await one.create(meta(), [ev(1)])
    ana = PeerInfo(peer_id="p1", role="player", name="Ana", ship_id="s1", stations=("pilot",))
    await one.set_peers("b1", [ana])
    assert await other.remote_peers("b1") == [ana]
    assert await one.remote_peers("b1") == [], "its own peers are not remote"
    await other.set_peers("b1", [PeerInfo(peer_id="p2", role="gm")])
    assert await one.remote_peers("b1") == [PeerInfo(peer_id="p2", role="gm")]
    await one.set_peers("b1", [])
    assert await other.remote_peers("b1") == []

    await one.set_peers("b1", [ana])
    raw = aioredis.Redis.from_url(redis_server.url)
    await raw.delete(f"tvtt:inst:{one.instance_id}")  # as when it died: its key expires
    await raw.aclose()
    assert await other.remote_peers("b1") == [], "a dead instance's peers are not listed"
    await one.set_peers("b1", [ana])
    assert await other.remote_peers("b1") == [ana]
    await one.close()
    assert await other.remote_peers("b1") == [], "a closed instance's peers leave at once"


async def test_delete_removes_everything_and_ends_subscriptions(
    make_store: StoreFactory, redis_server: RedisProcess
) -> None:
    store, other = make_store(), make_store()
    await store.create(meta("b1", "ABC234"), [ev(1)])
    await store.save_snapshot("b1", Snapshot(seq=1, state={}))
    await store.claim("b1", Claim(ship_id="s", station="pilot", token_hash="t"), new_token=True)
    await store.set_peers("b1", [PeerInfo(peer_id="p1", role="gm")])
    await store.notify("b1", Notice(kind="kicked", peer_id="p2"))
    here = store.subscribe("b1", 1)
    there = other.subscribe("b1", 1)
    here_end = asyncio.ensure_future(anext(here, "ended"))
    there_end = asyncio.ensure_future(anext(there, "ended"))
    await asyncio.wait_for(other.reader_connected.wait(), 10)

    await store.delete("b1")

    assert await asyncio.wait_for(here_end, 10) == "ended"
    assert await asyncio.wait_for(there_end, 10) == "ended", "other instance noticed the delete"
    assert await store.find_by_join_code("ABC234") is None
    assert await store.list_battles() == []
    raw = aioredis.Redis.from_url(redis_server.url)
    assert await raw.keys("*:b:{b1}:*") == [], "every key of the battle is gone"
    await raw.aclose()
    with pytest.raises(BattleNotFound):
        await store.read("b1")


async def test_expire_idle_deletes_only_idle_battles_once(make_store: StoreFactory) -> None:
    a, b = make_store(), make_store()
    await a.create(meta("old", "OLD111"), [ev(1)])
    await asyncio.sleep(0.3)
    await a.create(meta("new", "NEW222"), [ev(1)])

    first, second = await asyncio.gather(a.expire_idle(0.2), b.expire_idle(0.2))

    assert sorted(first + second) == ["old"]
    assert [m.battle_id for m in await a.list_battles()] == ["new"]


async def test_acked_appends_survive_sigkill_with_appendfsync_always(
    make_store: StoreFactory, redis_server: RedisProcess
) -> None:
    """`appendfsync always`: Redis fsyncs the AOF before replying, so an ack is on disk."""
    assert redis_server.appendfsync == "always"
    store = make_store()
    await store.create(meta(), [ev(1)])
    for seq in range(2, 51):
        await store.append("b1", seq - 1, [ev(seq, payload="x" * 200)])

    redis_server.kill()  # SIGKILL right after the last ack
    redis_server.start()

    log = await store.read("b1")
    assert [e["seq"] for e in log] == list(range(1, 51))
    assert log[-1] == ev(50, payload="x" * 200)
    assert await store.last_seq("b1") == 50
    assert await store.append("b1", 50, [ev(51)]) == 51


async def test_outage_gives_store_unavailable_then_everything_resumes(
    make_store: StoreFactory, redis_server: RedisProcess
) -> None:
    store, writer = make_store(), make_store()
    await writer.create(meta(), [ev(1)])
    it = store.subscribe("b1", 1)
    first = asyncio.ensure_future(next_batch(it))
    await asyncio.wait_for(store.reader_connected.wait(), 10)
    await writer.append("b1", 1, [ev(2)])
    assert [e["seq"] for e in await first] == [2]
    pending = asyncio.ensure_future(collect_seqs(it, 4, wait_s=60))

    redis_server.kill()
    with pytest.raises(StoreUnavailable):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await writer.append("b1", 2, [ev(3)])
    with pytest.raises(StoreUnavailable):
        await writer.read("b1")
    assert not pending.done()

    redis_server.start()
    await store.ping()
    assert await writer.read("b1") == [ev(1), ev(2)], "the refused append wrote nothing"
    await writer.append("b1", 2, [ev(3)])
    await writer.append("b1", 3, [ev(4)])

    assert await pending == [3, 4]
    with contextlib.suppress(StopAsyncIteration):
        await it.aclose()  # type: ignore[attr-defined]


def v0_event(seq: int) -> dict[str, Any]:
    """An event as the pre-release (schema version 0) server wrote it."""
    return {
        "sequence": seq,
        "kind": "test",
        "payload": {"n": seq},
        "rolls": [3, 4],
        "text": f"event {seq}",
    }


async def write_raw_log(
    url: str, store: RedisBattleStore, battle: BattleMeta, events: list[dict[str, Any]]
) -> None:
    """Write a battle with the same keys but without this server's code (an older/newer server)."""
    raw = aioredis.Redis.from_url(url)
    bid = battle.battle_id
    pipe = raw.pipeline(transaction=True)
    for seq, event in enumerate(events, start=1):
        pipe.xadd(store._k(bid, "events"), {"e": json.dumps(event)}, id=f"{seq}-0")
    pipe.hset(store._k(bid, "meta"), mapping={"meta": battle.model_dump_json(), "seq": len(events)})
    pipe.set(store._code_key(battle.join_code), bid)
    pipe.zadd(store._index_key, {bid: time.time()})
    await pipe.execute()
    await raw.aclose()


async def test_old_events_are_handed_back_as_stored_for_the_codec(
    make_store: StoreFactory, redis_server: RedisProcess
) -> None:
    """The store never upgrades (it does not import the rules): events come back as stored and
    the server's codec upgrades them once; an entry without the store's `seq` is refused."""
    store = make_store()
    old = [{**v0_event(1), "seq": 1}, {**v0_event(2), "seq": 2}]
    await write_raw_log(redis_server.url, store, meta(), old)

    stored = await store.read("b1")
    assert stored == old, "the store hands events back as stored"
    events, log = decode_events(stored)
    assert [e["v"] for e in log] == [EVENT_SCHEMA_VERSION] * 2
    assert [e.seq for e in events] == [1, 2]
    new = Event(seq=3, type="test", data={}).to_dict()
    assert await store.append("b1", 2, [new]) == 3, "a new server appends after the old events"
    it = store.subscribe("b1", 1)
    assert [e["seq"] for e in await next_batch(it)] == [2, 3]
    await it.aclose()  # type: ignore[attr-defined]

    await write_raw_log(redis_server.url, store, meta("b2", "XYZ234"), [v0_event(1)])
    with pytest.raises(UnreadableEntry, match="holds seq None"):
        await store.read("b2")


async def test_an_event_of_a_newer_version_is_refused_not_misread(
    make_store: StoreFactory, redis_server: RedisProcess
) -> None:
    store, newer_server = make_store(), make_store()
    current = Event(seq=1, type="test", data={}).to_dict()
    await write_raw_log(redis_server.url, store, meta(), [current])
    it = store.subscribe("b1", 1)
    pending = asyncio.ensure_future(next_batch(it))
    await asyncio.wait_for(store.reader_connected.wait(), 10)

    future = {**current, "seq": 2, "v": EVENT_SCHEMA_VERSION + 1, "data": {"new": "shape"}}
    await newer_server.append("b1", 1, [future])

    with pytest.raises(UnsupportedSchemaVersion, match="newer"):
        decode_events(await pending)
    with pytest.raises(UnsupportedSchemaVersion, match="newer"):
        decode_events(await store.read("b1"))
    assert await store.read("b1", after_seq=0, limit=1) == [current], "older events still read"


async def test_an_append_without_a_notify_entry_still_arrives_in_order(
    make_store: StoreFactory, redis_server: RedisProcess
) -> None:
    """The notify stream only says when to read: an append it never heard of (an older server, a
    trimmed or lost entry) is found by the periodic check, then delivery goes on without a gap."""
    store, writer = make_store(), make_store()
    await writer.create(meta(), [ev(1)])
    it = store.subscribe("b1", 1)
    first = asyncio.ensure_future(next_batch(it))
    await asyncio.wait_for(store.reader_connected.wait(), 10)
    raw = aioredis.Redis.from_url(redis_server.url)
    pipe = raw.pipeline(transaction=True)
    pipe.xadd(store._k("b1", "events"), {"e": json.dumps(ev(2))}, id="2-0")
    pipe.hset(store._k("b1", "meta"), "seq", 2)
    await pipe.execute()
    await raw.aclose()

    assert [e["seq"] for e in await first] == [2]
    await writer.append("b1", 2, [ev(3)])
    assert await collect_seqs(it, 3) == [3]
    await it.aclose()  # type: ignore[attr-defined]
