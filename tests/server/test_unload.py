"""A finished battle nobody watches leaves memory: its room is unloaded at the next expiry run and
freed by reference counting alone (the app keeps old objects out of the collector's sight), and
the store archives its log, which stays downloadable."""

from __future__ import annotations

import asyncio
import gc
import weakref

from gameserver.hub import Hub
from gameserver.metrics import create_metrics
from gameserver.protocol import CreateBattleRequest
from gameserver.settings import Settings
from gameserver.store.memory import MemoryBattleStore
from tests.server.conftest import scenario


async def test_a_finished_battle_is_unloaded_freed_and_archived() -> None:
    store = MemoryBattleStore(archive_after_s=0.01)
    hub = Hub(Settings(bot_delay_ms=0, battle_idle_s=3600), store, create_metrics())
    request = CreateBattleRequest.model_validate(
        {"scenario": scenario(round_limit=1), "bot_sides": ["red", "blue"]}
    )
    created = await hub.create_battle(request)
    room = hub.rooms[created.meta.battle_id]
    for _ in range(200):
        if room.state.is_over:
            break
        await asyncio.sleep(0.05)
    assert room.state.is_over
    log = await store.read(created.meta.battle_id)
    gone = weakref.ref(room)
    del room
    gc.disable()
    try:
        await hub.expire_once()
        await asyncio.sleep(0.05)
        assert created.meta.battle_id not in hub.rooms
        assert gone() is None  # no collection needed: its state and undo chain go with it
        await hub.expire_once()
        assert store._battles[created.meta.battle_id].archive is not None
        assert await store.read(created.meta.battle_id) == log
    finally:
        gc.enable()
        await hub.close()
