"""The in-memory `BattleStore`'s own behaviour (the contract: tests/store/test_contract.py)."""

from __future__ import annotations

import asyncio

from gameserver.store import BattleMeta, EventDict
from gameserver.store.memory import MemoryBattleStore


def meta(battle_id: str, code: str) -> BattleMeta:
    return BattleMeta(battle_id=battle_id, join_code=code, gm_token_hash="h", created_at="t")


def events(first: int, count: int) -> list[EventDict]:
    return [{"seq": s, "type": "x", "data": {}} for s in range(first, first + count)]


class Clock:
    """The store's injectable clock: idle expiry without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


async def test_quiet_battles_are_archived_and_stay_readable_and_appendable() -> None:
    clock = Clock()
    store = MemoryBattleStore(clock=clock, archive_after_s=60)
    log = [{"seq": s, "type": "x", "data": {"n": [s, "ü"]}, "dice": [3]} for s in range(1, 6)]
    await store.create(meta("done", "AAAAAA"), log)
    await store.create(meta("live", "BBBBBB"), events(1, 1))
    follower = store.subscribe("live", 1)
    waiting = asyncio.ensure_future(anext(follower))
    await asyncio.sleep(0)  # subscribed, waiting for a batch
    clock.now += 61
    assert await store.expire_idle(3600) == []
    archived = store._battles["done"]
    assert archived.archive is not None
    assert store._battles["live"].archive is None  # a subscription keeps it hot
    assert await store.read("done") == log
    assert await store.last_seq("done") == 5
    clock.now += 61
    await store.expire_idle(3600)
    assert store._battles["done"].archive is not None  # archived again once quiet
    assert await store.append("done", 5, events(6, 1)) == 6  # a GM's undo after the end
    assert [e["seq"] for e in await store.read("done", 4)] == [5, 6]
    waiting.cancel()
