"""A room's bot and auto-passer survive a failure they did not expect.

Before: the bot's task caught only refusals and store outages; anything else (the engine's
memo raised `KeyError` when two threads evicted at once) ended the task, unseen, and a battle
between two bots stalled for good, loaded and never finishing (found by `bench memory` at
~10,000 battles). Now the failure is logged and the bot tries again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gameserver import rules
from gameserver.hub import Hub, bots
from tests.server.conftest import create_battle, scenario


async def test_a_bot_that_fails_once_tries_again_and_its_battle_ends(
    client: TestClient[Any, Any], hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rules.next_bot_command
    failures = {"left": 3}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise KeyError("the memo raced")
        return real(*args, **kwargs)

    monkeypatch.setattr(rules, "next_bot_command", flaky)
    monkeypatch.setattr(bots, "RETRY_AFTER_FAILURE_S", 0.01)
    battle = await create_battle(
        client, scenario=scenario(round_limit=2), bot_sides=["red", "blue"]
    )
    room = hub.rooms[battle["battle_id"]]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not room.state.is_over:
        assert loop.time() < deadline, f"the bots stopped at seq {room.seq}"
        await asyncio.sleep(0.01)
    assert failures["left"] == 0
    assert room.state.outcome is not None
