"""The in-memory `BattleStore`'s own behaviour (the contract: tests/store/test_contract.py)."""

from __future__ import annotations

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
