"""The `BattleStore` contract, run against every store: in memory and on a real redis-server.

What a store promises the hub (optimistic appends, reads, subscriptions, claims and their guard,
snapshots, join codes) is asserted once here. Behaviour only one store has stays with it: Redis's
outages, reconnects, cross-instance notices, Lua caps and schema upgrades in tests/redis; the
in-memory store's injectable clock below.

`stores` gives two handles on one store: two instances sharing one Redis, or the same in-memory
store twice (a single-instance store has no other instance).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gameserver.store import (
    AlreadyApplied,
    Ban,
    BattleExists,
    BattleNotFound,
    BattleStore,
    ChatEntry,
    Claim,
    ClaimGuard,
    ClaimLost,
    EventDict,
    SeatRefused,
    SeqConflict,
    Snapshot,
    TableRules,
)
from gameserver.store.memory import MemoryBattleStore
from gameserver.store.redis import RedisBattleStore
from tests.store.records import ev, meta

pytestmark = pytest.mark.timeout(120)

Stores = tuple[BattleStore, BattleStore]

DEDUPE_WINDOW = 3
"""Keyed appends each battle remembers in these stores (small, so the window's end is tested)."""


@pytest.fixture(
    params=[
        pytest.param("memory"),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    """Two handles on one empty store of the parameter's kind; closed afterwards."""
    if request.param == "memory":
        memory = MemoryBattleStore(dedupe_window=DEDUPE_WINDOW)
        yield memory, memory
        await memory.close()
        return
    url = request.getfixturevalue("redis_server").url
    options = {"block_ms": 500, "max_backoff_s": 0.5, "dedupe_window": DEDUPE_WINDOW}
    one = RedisBattleStore.from_url(url, **options)
    other = RedisBattleStore.from_url(url, **options)
    try:
        yield one, other
    finally:
        await one.close()
        await other.close()


@pytest.fixture
def store(stores: Stores) -> BattleStore:
    return stores[0]


async def next_batch(it: AsyncIterator[list[EventDict]], wait_s: float = 10) -> list[EventDict]:
    return await asyncio.wait_for(anext(it), wait_s)


async def test_satisfies_the_protocol(store: BattleStore) -> None:
    assert isinstance(store, BattleStore)


async def test_create_then_read_meta_code_and_index(store: BattleStore) -> None:
    await store.create(meta("b1", "ABC234"), [ev(1), ev(2)])

    assert await store.get_meta("b1") == meta("b1", "ABC234")
    assert await store.find_by_join_code(" abc234 ") == "b1"
    assert await store.find_by_join_code("ZZZ999") is None
    assert [m.battle_id for m in await store.list_battles()] == ["b1"]
    assert await store.last_seq("b1") == 2
    assert [e["seq"] for e in await store.read("b1")] == [1, 2]


async def test_the_dice_secret_is_kept_in_the_meta_and_out_of_the_log(store: BattleStore) -> None:
    """The battle's secret seed lives in its metadata (both stores keep it exactly), never in
    the events clients read; it does not show in the meta's repr (log lines)."""
    secret = "123456789012345678901:" + "ab" * 32
    await store.create(meta("b1").model_copy(update={"dice_secret": secret}), [ev(1)])
    assert (await store.get_meta("b1")).dice_secret == secret
    assert [m.dice_secret for m in await store.list_battles()] == [secret]
    assert secret.split(":")[0] not in repr(await store.get_meta("b1"))
    assert secret.split(":")[0] not in str(await store.read("b1"))


@pytest.mark.parametrize(
    ("battle_id", "join_code"),
    [
        pytest.param("b1", "XYZ789", id="same-id"),
        pytest.param("b2", "abc234", id="same-code-other-case"),
    ],
)
async def test_create_refuses_a_taken_id_or_code(
    store: BattleStore, battle_id: str, join_code: str
) -> None:
    await store.create(meta("b1", "ABC234"), [ev(1)])

    with pytest.raises(BattleExists):
        await store.create(meta(battle_id, join_code), [ev(1, other=True)])

    assert await store.read("b1") == [ev(1)]
    assert [m.battle_id for m in await store.list_battles()] == ["b1"]


StoreCall = Callable[[BattleStore], Awaitable[object]]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.get_meta("nope"), id="get_meta"),
        pytest.param(lambda s: s.read("nope"), id="read"),
        pytest.param(lambda s: s.last_seq("nope"), id="last_seq"),
        pytest.param(lambda s: s.append("nope", 0, [ev(1)]), id="append"),
        pytest.param(lambda s: s.save_snapshot("nope", Snapshot(seq=1, state={})), id="save"),
        pytest.param(lambda s: s.load_snapshot("nope"), id="load_snapshot"),
        pytest.param(
            lambda s: s.claim("nope", Claim(ship_id="s", station="pilot", token_hash="t")),
            id="claim",
        ),
        pytest.param(lambda s: s.claims("nope"), id="claims"),
        pytest.param(lambda s: s.append_chat("nope", _line("hi")), id="append_chat"),
        pytest.param(lambda s: s.chat("nope"), id="chat"),
        pytest.param(lambda s: s.release("nope", "s", "pilot"), id="release"),
        pytest.param(lambda s: s.touch("nope"), id="touch"),
        pytest.param(lambda s: anext(s.subscribe("nope", 0)), id="subscribe"),
    ],
)
async def test_an_unknown_battle_is_not_found(store: BattleStore, call: StoreCall) -> None:
    with pytest.raises(BattleNotFound):
        await call(store)
    assert await store.list_battles() == []
    await store.delete("nope")  # unknown ids are ignored


async def test_append_checks_the_expected_seq(store: BattleStore) -> None:
    await store.create(meta(), [ev(1)])

    assert await store.append("b1", 1, [ev(2), ev(3)]) == 3
    with pytest.raises(SeqConflict) as conflict:
        await store.append("b1", 2, [ev(3, lost=True)])

    assert (conflict.value.expected_seq, conflict.value.actual_seq) == (2, 3)
    assert await store.read("b1") == [ev(1), ev(2), ev(3)]


@pytest.mark.parametrize(
    "expected_seq",
    [pytest.param(2, id="behind"), pytest.param(4, id="ahead"), pytest.param(0, id="empty")],
)
async def test_append_with_a_stale_seq_conflicts_and_writes_nothing(
    store: BattleStore, expected_seq: int
) -> None:
    await store.create(meta(), [ev(1), ev(2), ev(3)])

    with pytest.raises(SeqConflict) as info:
        await store.append("b1", expected_seq, [ev(expected_seq + 1)])

    assert info.value.actual_seq == 3
    assert await store.last_seq("b1") == 3


async def test_two_racing_writers_never_fork_the_log(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(1)])

    results = await asyncio.gather(
        one.append("b1", 1, [ev(2, by="one")]),
        other.append("b1", 1, [ev(2, by="other")]),
        return_exceptions=True,
    )

    assert sorted(type(r).__name__ for r in results) == ["SeqConflict", "int"]
    assert await other.last_seq("b1") == 2


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param([ev(3)], id="skips-a-seq"),
        pytest.param([ev(2), ev(2)], id="repeats"),
        pytest.param([ev(1)], id="goes-back"),
        pytest.param([{"type": "test"}], id="no-seq"),
    ],
)
async def test_append_refuses_misnumbered_events(
    store: BattleStore, batch: list[EventDict]
) -> None:
    await store.create(meta(), [ev(1)])

    with pytest.raises(ValueError, match="has seq"):
        await store.append("b1", 1, batch)

    assert await store.last_seq("b1") == 1


async def test_read_after_seq_and_limit(store: BattleStore) -> None:
    await store.create(meta(), [ev(s) for s in range(1, 11)])

    assert [e["seq"] for e in await store.read("b1", after_seq=7)] == [8, 9, 10]
    assert [e["seq"] for e in await store.read("b1", after_seq=2, limit=3)] == [3, 4, 5]
    assert await store.read("b1", after_seq=10) == []


async def test_subscribe_yields_the_backlog_then_every_later_batch(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(s) for s in range(1, 6)])
    it = one.subscribe("b1", 2)

    assert [e["seq"] for e in await next_batch(it)] == [3, 4, 5]
    await other.append("b1", 5, [ev(6), ev(7)])
    assert [e["seq"] for e in await next_batch(it)] == [6, 7]
    await one.append("b1", 7, [ev(8)])
    assert [e["seq"] for e in await next_batch(it)] == [8]
    await it.aclose()  # type: ignore[attr-defined]


async def test_a_subscription_ends_when_the_battle_is_deleted(store: BattleStore) -> None:
    await store.create(meta(), [ev(1)])
    it = store.subscribe("b1", 1)
    consumer = asyncio.create_task(anext(it, None))
    await asyncio.sleep(0.05)

    await store.delete("b1")

    assert await asyncio.wait_for(consumer, 10) is None
    assert await store.find_by_join_code("ABC234") is None
    with pytest.raises(BattleNotFound):
        await store.get_meta("b1")


async def test_only_the_newest_snapshot_is_kept(store: BattleStore) -> None:
    await store.create(meta(), [ev(s) for s in range(1, 21)])
    assert await store.load_snapshot("b1") is None

    await store.save_snapshot("b1", Snapshot(seq=20, state={"round": 3}))
    await store.save_snapshot("b1", Snapshot(seq=10, state={"round": 1}))

    assert await store.load_snapshot("b1") == Snapshot(seq=20, state={"round": 3})


async def test_claims_bind_a_station_to_one_token(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(1)])
    alice = Claim(ship_id="s1", station="pilot", token_hash="a" * 64, name="Alice")
    bob = Claim(ship_id="s1", station="pilot", token_hash="b" * 64, name="Bob")

    assert await one.claim("b1", alice, new_token=True) == alice
    assert await other.claim("b1", bob, new_token=True) == alice, "held by another token"
    renamed = alice.model_copy(update={"name": "Al"})
    assert await other.claim("b1", renamed) == renamed, "the holder may claim again"
    await other.release("b1", "s1", "pilot")
    assert await one.claim("b1", bob, new_token=True) == bob
    assert await one.claims("b1") == [bob]


async def test_append_guard_writes_only_while_the_claims_hold(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(1)])
    alice, bob = "a" * 64, "b" * 64
    for station in ("pilot", "sensors"):
        await one.claim(
            "b1", Claim(ship_id="s1", station=station, token_hash=alice), new_token=True
        )
    guard = ClaimGuard(ship_id="s1", stations=("pilot", "sensors"), token_hash=alice)
    assert await one.append("b1", 1, [ev(2)], guard) == 2

    freed = await other.release("b1", "s1", "pilot")
    assert freed is not None
    assert freed.token_hash == alice
    assert await other.release("b1", "s1", "pilot") is None, "a free station stays free"
    with pytest.raises(ClaimLost) as lost:
        await one.append("b1", 2, [ev(3)], guard)
    assert (lost.value.ship_id, lost.value.stations) == ("s1", ("pilot",))
    assert await other.last_seq("b1") == 2, "nothing was written"
    assert await one.append("b1", 2, [ev(3)], guard.model_copy(update={"stations": ("sensors",)}))

    await other.claim("b1", Claim(ship_id="s1", station="pilot", token_hash=bob), new_token=True)
    with pytest.raises(ClaimLost):
        await one.append("b1", 3, [ev(4)], guard)
    with pytest.raises(SeqConflict):
        await one.append("b1", 2, [ev(3)], guard)
    assert await one.append("b1", 3, [ev(4)]) == 4, "no guard (GM, bot): no claim check"
    assert [e["seq"] for e in await one.read("b1")] == [1, 2, 3, 4]


async def test_a_keyed_append_is_written_once_and_answered_again(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(1)])
    assert await one.append("b1", 1, [ev(2), ev(3)], key="c1") == 3
    # The same command again (its answer was lost), decided on the old or the new state: refused
    # before the seq check, with the seqs of the first time, and nothing written.
    for expected, batch in ((1, [ev(2), ev(3)]), (3, [ev(4)])):
        with pytest.raises(AlreadyApplied) as again:
            await other.append("b1", expected, batch, key="c1")
        assert (again.value.first, again.value.last) == (2, 3)
    assert await other.last_seq("b1") == 3
    assert await other.applied("b1", "c1") == (2, 3)
    assert await other.applied("b1", "c2") is None
    assert await other.append("b1", 3, [ev(4)], key="c2") == 4, "another key is another command"


async def test_the_dedupe_window_keeps_the_last_keys_only(store: BattleStore) -> None:
    await store.create(meta(), [ev(1)])
    for seq in range(2, 2 + DEDUPE_WINDOW + 1):
        await store.append("b1", seq - 1, [ev(seq)], key=f"k{seq}")
    assert await store.applied("b1", "k2") is None, "the oldest key left the window"
    assert await store.applied("b1", f"k{DEDUPE_WINDOW + 1}") == (DEDUPE_WINDOW + 1,) * 2


def pilot(token: str, station: str = "pilot") -> Claim:
    return Claim(ship_id="s1", station=station, token_hash=token * 64, name=token)


async def test_only_a_token_the_server_issued_may_sit_down(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(1)])
    with pytest.raises(SeatRefused) as unknown:
        await one.claim("b1", pilot("a"))
    assert unknown.value.reason == "unknown_token"
    assert await one.claims("b1") == []
    await one.claim("b1", pilot("a"), new_token=True)
    await other.release("b1", "s1", "pilot")
    assert await other.claim("b1", pilot("a", "sensors")) == pilot("a", "sensors"), "issued"


async def test_a_revoked_token_is_banned_until_the_ban_is_lifted(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(1)])
    for station in ("pilot", "sensors"):
        await one.claim("b1", pilot("a", station), new_token=True)
    await one.claim("b1", pilot("b", "engineer"), new_token=True)

    freed = await other.revoke("b1", "a" * 64, "Alice")
    assert sorted(c.station for c in freed) == ["pilot", "sensors"]
    assert [c.station for c in await one.claims("b1")] == ["engineer"]
    with pytest.raises(SeatRefused) as banned:
        await one.claim("b1", pilot("a"))
    assert banned.value.reason == "banned"
    table = await one.table("b1")
    assert table.bans == (Ban(ban_id="a" * 12, name="Alice"),)

    assert not await other.lift_ban("b1", "f" * 12), "no such ban"
    assert not await other.lift_ban("b1", ""), "a ban id names one token"
    assert await other.lift_ban("b1", "a" * 12)
    assert await one.claim("b1", pilot("a")) == pilot("a")
    assert (await one.table("b1")).bans == ()


async def test_a_locked_table_takes_no_new_token_but_its_players_return(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(1)])
    await one.claim("b1", pilot("a"), new_token=True)
    await other.set_table("b1", TableRules(locked=True))
    assert (await one.table("b1")).rules.locked
    with pytest.raises(SeatRefused) as locked:
        await one.claim("b1", pilot("b", "sensors"), new_token=True)
    assert locked.value.reason == "table_locked"
    assert await one.claim("b1", pilot("a", "sensors")) == pilot("a", "sensors")
    await other.set_table("b1", TableRules(locked=False))
    assert await one.claim("b1", pilot("b", "engineer"), new_token=True) == pilot("b", "engineer")


async def test_the_station_cap_holds_against_parallel_claims(stores: Stores) -> None:
    one, other = stores
    await one.create(meta(), [ev(1)])
    await one.claim("b1", pilot("a"), new_token=True)
    stations = [f"gunner:{i}" for i in range(6)]
    results = await asyncio.gather(
        *(
            (one, other)[i % 2].claim("b1", pilot("a", s), max_stations=3)
            for i, s in enumerate(stations)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Claim) for r in results) == 2, "3 with the pilot station"
    assert all(r.reason == "station_cap" for r in results if isinstance(r, SeatRefused))
    assert len(await one.claims("b1")) == 3
    await other.set_table("b1", TableRules(max_stations=1))  # the GM's cap wins
    await one.claim("b1", pilot("b", "engineer"), new_token=True, max_stations=5)
    with pytest.raises(SeatRefused) as capped:
        await one.claim("b1", pilot("b", "sensors"), max_stations=5)
    assert (capped.value.reason, capped.value.cap) == ("station_cap", 1)
    assert await one.claim("b1", pilot("b", "engineer")) == pilot("b", "engineer"), "held: fine"


def _line(text: str, **fields: object) -> ChatEntry:
    values: dict[str, object] = {
        "at": "2026-12-02T16:00:00.000+00:00",
        "sender": "Ana",
        "sender_role": "player",
        "sender_token_hash": "a" * 64,
        "to": "table",
    }
    return ChatEntry.model_validate(values | fields | {"text": text})


async def test_chat_lines_get_ids_in_order_and_the_oldest_go_past_the_cap(stores: Stores) -> None:
    store, other = stores
    await store.create(meta("b1", "ABC234"), [ev(1)])
    first = await store.append_chat("b1", _line("hello <b>table</b>"))
    whisper = _line("psst", to="person", to_name="Bo", to_token_hash="b" * 64)
    second = await other.append_chat("b1", whisper)
    assert (first.id, second.id) == (1, 2)
    assert second == whisper.model_copy(update={"id": 2})
    # Both instances read the same lines, text as written (escaping is the page's job).
    assert await other.chat("b1") == [first, second]
    assert (await store.chat("b1"))[0].text == "hello <b>table</b>"
    for i in range(3):
        await store.append_chat("b1", _line(f"line {i}"), keep=3)
    kept = await other.chat("b1")
    assert [line.id for line in kept] == [3, 4, 5]
    # Chat is not the log: the events are untouched.
    assert [e["seq"] for e in await store.read("b1")] == [1]


async def test_chat_goes_with_its_battle(store: BattleStore) -> None:
    await store.create(meta("b1", "ABC234"), [ev(1)])
    await store.append_chat("b1", _line("bye"))
    await store.delete("b1")
    with pytest.raises(BattleNotFound):
        await store.chat("b1")
    await store.create(meta("b1", "ABC234"), [ev(1)])
    assert await store.chat("b1") == []
    assert (await store.append_chat("b1", _line("again"))).id == 1
