"""The in-memory `BattleStore`: optimistic append, reads, subscriptions, claims, idle expiry."""

from __future__ import annotations

import asyncio

import pytest

from gameserver.store import (
    BattleExists,
    BattleMeta,
    BattleNotFound,
    BattleStore,
    Claim,
    EventDict,
    SeqConflict,
    Snapshot,
)
from gameserver.store.memory import MemoryBattleStore


def meta(battle_id: str = "b1", code: str = "ABCDEF") -> BattleMeta:
    return BattleMeta(battle_id=battle_id, join_code=code, gm_token_hash="h", created_at="t")


def events(first: int, count: int) -> list[EventDict]:
    return [{"seq": s, "type": "x", "data": {}} for s in range(first, first + count)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store() -> MemoryBattleStore:
    s = MemoryBattleStore()
    await s.create(meta(), events(1, 3))
    return s


def test_memory_store_satisfies_the_protocol() -> None:
    assert isinstance(MemoryBattleStore(), BattleStore)


async def test_append_with_the_expected_seq_extends_the_log(store: MemoryBattleStore) -> None:
    assert await store.append("b1", 3, events(4, 2)) == 5
    assert [e["seq"] for e in await store.read("b1", 0)] == [1, 2, 3, 4, 5]
    assert await store.last_seq("b1") == 5


@pytest.mark.parametrize(
    "expected_seq",
    [pytest.param(2, id="behind"), pytest.param(4, id="ahead"), pytest.param(0, id="empty")],
)
async def test_append_with_a_stale_seq_conflicts_and_writes_nothing(
    store: MemoryBattleStore, expected_seq: int
) -> None:
    with pytest.raises(SeqConflict) as info:
        await store.append("b1", expected_seq, events(expected_seq + 1, 1))
    assert info.value.actual_seq == 3
    assert await store.last_seq("b1") == 3


async def test_two_racing_writers_never_fork_the_log(store: MemoryBattleStore) -> None:
    results = await asyncio.gather(
        store.append("b1", 3, events(4, 1)),
        store.append("b1", 3, events(4, 1)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["SeqConflict", "int"]
    assert await store.last_seq("b1") == 4


@pytest.mark.parametrize(
    "bad_batch",
    [
        pytest.param([{"seq": 5, "type": "x"}], id="gap"),
        pytest.param([{"seq": 4, "type": "x"}, {"seq": 4, "type": "x"}], id="repeat"),
        pytest.param([{"type": "x"}], id="no-seq"),
    ],
)
async def test_append_refuses_seqs_that_do_not_continue_the_log(
    store: MemoryBattleStore, bad_batch: list[EventDict]
) -> None:
    with pytest.raises(ValueError, match="has seq"):
        await store.append("b1", 3, bad_batch)
    assert await store.last_seq("b1") == 3


@pytest.mark.parametrize(
    ("after", "limit", "seqs"),
    [
        pytest.param(0, None, [1, 2, 3], id="all"),
        pytest.param(1, None, [2, 3], id="after-1"),
        pytest.param(3, None, [], id="after-last"),
        pytest.param(0, 2, [1, 2], id="limited"),
    ],
)
async def test_read_returns_the_events_after_a_seq(
    store: MemoryBattleStore, after: int, limit: int | None, seqs: list[int]
) -> None:
    assert [e["seq"] for e in await store.read("b1", after, limit)] == seqs


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.get_meta("nope"), id="get_meta"),
        pytest.param(lambda s: s.read("nope"), id="read"),
        pytest.param(lambda s: s.append("nope", 0, []), id="append"),
        pytest.param(lambda s: s.last_seq("nope"), id="last_seq"),
        pytest.param(lambda s: s.claims("nope"), id="claims"),
    ],
)
async def test_unknown_battles_raise_battle_not_found(
    store: MemoryBattleStore, call: object
) -> None:
    with pytest.raises(BattleNotFound):
        await call(store)  # type: ignore[operator]


@pytest.mark.parametrize(
    "clash",
    [pytest.param(meta("b1", "ZZZZZZ"), id="same-id"), pytest.param(meta("b2"), id="same-code")],
)
async def test_create_refuses_a_taken_id_or_code(
    store: MemoryBattleStore, clash: BattleMeta
) -> None:
    with pytest.raises(BattleExists):
        await store.create(clash, events(1, 1))


async def test_join_codes_are_case_insensitive(store: MemoryBattleStore) -> None:
    assert await store.find_by_join_code("abcdef") == "b1"
    assert await store.find_by_join_code("QQQQQQ") is None


async def test_subscribe_yields_backlog_then_every_later_batch(store: MemoryBattleStore) -> None:
    got: list[list[int]] = []

    async def consume() -> None:
        async for batch in store.subscribe("b1", 1):
            got.append([e["seq"] for e in batch])
            if batch[-1]["seq"] == 6:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await store.append("b1", 3, events(4, 2))
    await store.append("b1", 5, events(6, 1))
    await asyncio.wait_for(task, 2)
    assert got == [[2, 3], [4, 5], [6]]


async def test_subscription_ends_when_the_battle_is_deleted(store: MemoryBattleStore) -> None:
    async def consume() -> int:
        return sum([len(b) async for b in store.subscribe("b1", 3)])

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await store.delete("b1")
    assert await asyncio.wait_for(task, 2) == 0
    assert await store.find_by_join_code("ABCDEF") is None


async def test_claims_bind_a_station_to_one_token(store: MemoryBattleStore) -> None:
    mine = Claim(ship_id="s", station="pilot", token_hash="me", name="Ana")
    theirs = Claim(ship_id="s", station="pilot", token_hash="them", name="Bo")
    assert (await store.claim("b1", mine)).token_hash == "me"
    assert (await store.claim("b1", theirs)).token_hash == "me", "held by another token"
    assert (await store.claim("b1", mine)).token_hash == "me", "the holder may claim again"
    await store.release("b1", "s", "pilot")
    assert (await store.claim("b1", theirs)).token_hash == "them"
    assert [c.name for c in await store.claims("b1")] == ["Bo"]


async def test_only_the_newest_snapshot_is_kept(store: MemoryBattleStore) -> None:
    assert await store.load_snapshot("b1") is None
    await store.save_snapshot("b1", Snapshot(seq=3, state={"a": 3}))
    await store.save_snapshot("b1", Snapshot(seq=2, state={"a": 2}))
    snap = await store.load_snapshot("b1")
    assert snap is not None
    assert snap.seq == 3


async def test_idle_battles_expire_and_touched_ones_stay() -> None:
    clock = Clock()
    store = MemoryBattleStore(clock=clock)
    await store.create(meta("old", "AAAAAA"), events(1, 1))
    await store.create(meta("busy", "BBBBBB"), events(1, 1))
    clock.now += 50
    await store.append("busy", 1, events(2, 1))
    clock.now += 60
    assert await store.expire_idle(100) == ["old"]
    assert [m.battle_id for m in await store.list_battles()] == ["busy"]
