"""`ShipState.power_plan` is memoised per ship object: the same ship gives the same plan without
computing it again, and a changed ship (a new object) gets its own, as computed afresh."""

from __future__ import annotations

from dataclasses import replace

from gameserver.rules import ship_state

from .conftest import Battle, make_scenario


def test_the_plan_is_computed_once_per_ship_and_anew_for_a_changed_ship() -> None:
    b = Battle(make_scenario("scout", "free_trader", "short"))
    ship = b.ship("a")
    first = ship.power_plan
    assert ship.power_plan is first  # memoised: the very same plan
    assert first == ship._power_plan()
    assert 0 in first.turrets
    dark = replace(ship, offline=frozenset({"turret:0"}))
    assert 0 not in dark.power_plan.turrets
    assert dark.power_plan == dark._power_plan()
    assert ship.power_plan is first  # the original keeps its own


def test_the_memo_is_bounded_and_never_answers_for_another_ship() -> None:
    b = Battle(make_scenario("scout", "free_trader", "short"))
    ship = b.ship("a")
    for k in range(ship_state._PLANS_MAX * 2):
        other = replace(ship, offline=frozenset({"turret:0"}) if k % 2 else frozenset())
        assert other.power_plan == other._power_plan()
    assert len(ship_state._plans) <= ship_state._PLANS_MAX
