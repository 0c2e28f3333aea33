"""The in-memory `BattleStore`'s own behaviour (the contract: tests/store/test_contract.py)."""

from __future__ import annotations

import asyncio
import zlib

import orjson

from gameserver import rules
from gameserver.store import BattleMeta, EventDict
from gameserver.store.memory import MemoryBattleStore
from tests.server.conftest import scenario


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


def _played(seed: int) -> list[EventDict]:
    """The log of a short battle the bots played to the end (its dicts as stored)."""
    sc = rules.Scenario.model_validate(scenario(round_limit=2))
    state, events = rules.open_battle(sc, seed, f"b{seed}", None)
    log = list(events)
    while not state.is_over:
        command = rules.next_bot_command(state, ("red", "blue"))
        assert command is not None
        state, new = rules.decide(state, command)
        log += new
    return [e.to_dict() for e in log]


async def test_archives_share_a_dictionary_and_restore_exactly() -> None:
    """Battle logs share most of their text: the store compresses each archive with a preset
    dictionary (the first log it archived), so a played battle's archive is a fraction of what
    zlib makes of it alone, and every log reads back exactly (item 3 of "Performance v2":
    memory flat as battles are played)."""
    clock = Clock()
    store = MemoryBattleStore(clock=clock, archive_after_s=60)
    logs = {f"b{n}": _played(n) for n in range(60)}  # more than one group between turns
    for n, (battle_id, log) in enumerate(logs.items()):
        await store.create(meta(battle_id, f"C{n:05d}"), log)
    clock.now += 61
    await store.expire_idle(3600)
    archived = alone = 0
    for battle_id, log in logs.items():
        archive = store._battles[battle_id].archive
        assert archive is not None
        by_itself = len(zlib.compress(orjson.dumps(log), 1))
        assert len(archive) < by_itself
        archived, alone = archived + len(archive), alone + by_itself
        assert await store.read(battle_id) == log
    assert archived < alone / 2, (archived, alone)
