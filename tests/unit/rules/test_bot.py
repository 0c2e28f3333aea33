"""The bot plays sensibly within the rules: never a wasted reaction, never an idle turret."""

from __future__ import annotations

import pytest

from gameserver import rules
from gameserver.rules.bot import choose
from gameserver.rules.legal import legal_commands
from gameserver.rules.pending import PendingSalvo
from gameserver.rules.turns import stations_needed

from .conftest import make_scenario

MATCHUPS = [
    ("patrol_corvette", "corsair", "long"),
    ("system_defence_boat", "far_trader", "medium"),
    ("scout", "patrol_corvette", "long"),
    ("fighter", "free_trader", "short"),
]


def _idle_turrets(state: rules.BattleState) -> list[str]:
    """Gunner stations of the acting ship, no longer asked this Attack step, with a legal shot."""
    if state.step != rules.Step.ATTACK or state.pending or state.acting_ship is None:
        return []
    ship = state.ships[state.acting_ship]
    needed = stations_needed(state, ship)
    out = []
    for t in range(len(ship.design.turrets)):
        station = f"gunner:{t}"
        if station in needed or station in ship.done:
            continue
        shots = legal_commands(state, ship.id, station)
        if any(e["type"] in ("attack", "launch_missiles") for e in shots):
            out.append(station)
    return out


@pytest.mark.parametrize(("a", "b", "band"), MATCHUPS)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_bot_never_shoots_at_nothing_nor_leaves_a_turret_idle(
    a: str, b: str, band: str, seed: int
) -> None:
    """Point defence only against a salvo with missiles left (a wasted laser cannot attack
    this round); a turret with a legal shot is never passed over."""
    state = rules.open_battle(make_scenario(a, b, band, 6), seed, "bot", None).state
    point_defence = 0
    while not state.is_over:
        assert not _idle_turrets(state), f"round {state.round}"
        ship_id, station = rules.awaiting(state)[0]
        cmd = choose(state, ship_id, station)
        assert cmd is not None
        if cmd.type == "point_defence":
            head = state.pending[0]
            assert isinstance(head, PendingSalvo)
            assert head.missiles > 0
            point_defence += 1
        state = rules.decide(state, cmd).state
    if a == "patrol_corvette":
        assert point_defence > 0, "the matchup exercises point defence"
