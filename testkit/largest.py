"""The largest legal battle and the largest legal import, for the stall test and benchmark.

Unlike the rest of `testkit` this module imports the game server (its rules and limits).
"""

from __future__ import annotations

import json
from typing import Any

from gameserver import rules
from gameserver.protocol import MAX_IMPORT_EVENTS
from gameserver.rules.config import INT_BOUNDS
from gameserver.rules.ships import MAX_TURRETS


def _big_ship(i: int, side: str) -> dict[str, Any]:
    weapons = ["beam_laser", "pulse_laser", "missile_rack"]
    return {
        "id": f"s{i}",
        "name": f"{'N' * 55}{i:02d}",
        "side": side,
        "design": {
            "name": "D" * 80,
            "tons": 1_000_000,
            "thrust": 15,
            "armour": 50,
            "computer": 50,
            "fire_control": 5,
            "missile_reserve": 10_000,
            "sand_reserve": 10_000,
            "turrets": [{"mount": "triple", "weapons": weapons}] * MAX_TURRETS,
        },
    }


def largest_scenario() -> dict[str, Any]:
    """The largest battle the bounds allow: 24 ships of 8 triple turrets, every option at its
    most expensive, the longest round limit."""
    sides = [{"id": f"side{i}", "name": "S" * 60} for i in range(8)]
    ships = [_big_ship(i, f"side{i % 8}") for i in range(24)]
    config: dict[str, Any] = {k: hi for k, (_, hi) in INT_BOUNDS.items()}
    config["smart_dm_min"] = config["smart_dm_max"]
    return {
        "name": "L" * 80,
        "sides": sides,
        "ships": ships,
        "starting_range": "short",
        "round_limit": 500,
        "config": config,
    }


def small_scenario() -> dict[str, Any]:
    """Scout against Free Trader: the baseline battle."""
    return {
        "name": "Skirmish",
        "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
        "ships": [
            {"id": "alpha", "name": "Alpha", "side": "red", "preset": "scout"},
            {"id": "bravo", "name": "Bravo", "side": "blue", "preset": "free_trader"},
        ],
        "starting_range": "short",
        "round_limit": 500,
    }


def longest_log(max_bytes: int, max_events: int = MAX_IMPORT_EVENTS) -> list[dict[str, Any]]:
    """A finished battle's log as long as an import may be: the GM advances the steps and rules
    on hulls (one event each, the most events per byte) until one more command could pass
    `max_bytes` of JSON or `max_events`, then ends the battle (its dice are revealed, so the
    public log imports). Every event is a real one: the import re-executes them."""
    scenario = rules.Scenario.model_validate(small_scenario())
    state, events = rules.open_battle(scenario, 2024, "longest", "t0", salt=bytes(range(32)))
    log = [e.to_dict() for e in events]
    size = sum(len(json.dumps(d)) + 2 for d in log) + 200
    margin = 4_000  # room for the end and the reveal
    n = 0
    while True:
        n += 1
        if n % 4 == 0 and state.round < state.round_limit - 1:
            raw: dict[str, Any] = {"type": "gm_advance"}
        else:
            ship = "alpha" if n % 2 else "bravo"
            hull = 1 + n % state.ships[ship].design.hull_points
            raw = {"type": "gm_ruling", "ship_id": ship, "field": "hull", "value": hull}
            raw["reason"] = "house"
        state, new = rules.decide(state, rules.parse_command(raw, rules.GM, f"t{n}"))
        batch = [e.to_dict() for e in new]
        log += batch
        size += sum(len(json.dumps(d)) + 2 for d in batch)
        if size + margin >= max_bytes or len(log) + 8 >= max_events:
            break
    end = rules.parse_command({"type": "gm_end", "reason": "done"}, rules.GM, "end")
    state, new = rules.decide(state, end)
    log += [e.to_dict() for e in new]
    return log
