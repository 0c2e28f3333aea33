"""Fixtures for the rules-engine tests: scenarios built from presets, and a bot-driven battle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gameserver import rules as R


def make_scenario(
    a: str = "corsair",
    b: str = "free_trader",
    band: str = "long",
    round_limit: int = 30,
    **extra: Any,
) -> R.Scenario:
    """Two ships, one per side, from presets."""
    data: dict[str, Any] = {
        "name": "test",
        "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
        "ships": [
            {"id": "a", "name": "Alpha", "side": "red", "preset": a},
            {"id": "b", "name": "Bravo", "side": "blue", "preset": b},
        ],
        "starting_range": band,
        "round_limit": round_limit,
    }
    data.update(extra)
    return R.Scenario.model_validate(data)


def play_bots(
    state: R.BattleState, max_commands: int = 20_000
) -> tuple[R.BattleState, list[R.Event]]:
    """Let the bot play every side until the battle ends; returns the final state and events."""
    events: list[R.Event] = []
    for _ in range(max_commands):
        if state.is_over:
            break
        aw = R.awaiting(state)
        assert aw, f"nobody awaited at round {state.round} {state.step}"
        cmd = R.bot_command(state, state.ships[aw[0][0]].side)
        assert cmd is not None
        new = R.decide(state, cmd)
        for e in new:
            state = R.evolve(state, e)
        events.extend(new)
    return state, events


@pytest.fixture
def scenario_factory() -> Callable[..., R.Scenario]:
    """Build two-ship scenarios."""
    return make_scenario
