"""Ongoing effects of criticals applied round by round (RULES §10.B.4, MgT2e).

Fuel leaks are in `test_engineer_power.py`. Here: the Crew row's life support countdown
(Severity 2 "fails in 1D hours", Severity 4 "in 1D rounds", Severity 6 "fails"), switched by
`RulesConfig.life_support_countdown`. RULES.md gives no consequence of failed life support in
combat, nor any effect of rads on crew checks: both are recorded only.
"""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules

from .conftest import Battle, make_scenario


def _scout(**config: Any) -> Battle:
    return Battle(make_scenario("scout", "free_trader", "short", config=config))


def _crew_crit(b: Battle, severity: int, dice: list[int]) -> None:
    b.gm(
        {
            "type": "gm_ruling",
            "ship_id": "a",
            "field": "crit:crew",
            "value": severity,
            "reason": "test",
        },
        dice,
    )


def test_life_support_fails_at_the_start_of_the_round_its_1d_rounds_run_out() -> None:
    """Severity 4 in round 1: [3] -> fails in 3 rounds, at the start of round 4; one event,
    between the round's start and its initiative order; replay folds to the same state."""
    b = _scout()
    _crew_crit(b, 4, [3])
    ship = b.ship("a")
    assert (ship.life_support, ship.life_support_fails) == ("fails in 3 rounds", 4)
    b.until(lambda st: st.round == 3)
    assert not [e for e in b.events if e.type == "life_support_failed"]
    b.until(lambda st: st.round == 4)
    line = b.last("life_support_failed")
    assert (line.summary, line.data["ship"], line.data["round"]) == (
        "Alpha's life support fails.",
        "a",
        4,
    )
    assert (b.ship("a").life_support, b.ship("a").life_support_fails) == ("failed", 0)
    types = b.types(b.events)
    start = len(types) - 1 - types[::-1].index("round_started")
    assert types[start + 1 : start + 3] == ["life_support_failed", "initiative_order"]
    b.until(lambda st: st.round == 6)
    assert sum(e.type == "life_support_failed" for e in b.events) == 1
    assert rules.state_to_dict(rules.replay(b.events)) == rules.state_to_dict(b.state)


def test_hours_count_ten_six_minute_rounds_and_severity_6_fails_at_once() -> None:
    """Severity 2: [1] -> 1 hour = 10 rounds (§3.B); Severity 6 then fails it outright."""
    b = _scout()
    _crew_crit(b, 2, [1])
    assert b.ship("a").life_support_fails == 11
    _crew_crit(b, 6, [])
    assert (b.ship("a").life_support, b.ship("a").life_support_fails) == ("failed", 0)
    b.until(lambda st: st.round == 3)
    assert not [e for e in b.events if e.type == "life_support_failed"]


@pytest.mark.parametrize(
    ("config", "failed"),
    [
        pytest.param({}, "failed", id="countdown"),
        pytest.param({"life_support_countdown": False}, "fails in 1 rounds", id="noted-only"),
    ],
)
def test_the_life_support_switch_changes_play(config: dict[str, Any], failed: str) -> None:
    b = _scout(**config)
    _crew_crit(b, 4, [1])
    b.until(lambda st: st.round == 3)
    assert b.ship("a").life_support == failed


def test_a_wrecked_or_departed_ship_has_no_life_support_event() -> None:
    """Only ships still in the fight count down (a wreck has no life support anyway, MG-13)."""
    b = _scout()
    _crew_crit(b, 4, [2])
    b.gm(
        {
            "type": "gm_ruling",
            "ship_id": "a",
            "field": "status",
            "value": "surrendered",
            "reason": "test",
        }
    )
    b.until(lambda st: st.round >= 3 or st.is_over)
    assert not [e for e in b.events if e.type == "life_support_failed"]


# --- CE §10.A.5 Fuel row (`ce_fuel_effects`) ---

# Raider 10 (acts first) against the Merchant Trader 9 (CE-15's initiative dice).
CE_INIT = [3, 4, 4, 5, 5, 4]
CE_FIRE: dict[str, Any] = {"type": "ce_fire", "ship_id": "a", "turret": 0, "target": "b"}


def _ce(**config: Any) -> Battle:
    scenario = make_scenario("raider", "merchant_trader", "medium", 30, ruleset="CE", config=config)
    return Battle(scenario, init_dice=CE_INIT)


def _fuel_hit(b: Battle, leak_die: list[int]) -> None:
    """One beam of the Raider's first turret hits the Merchant Trader for 1D [6] (6 - armour
    2 = 4: a Single), at 2D [4, 5] = 9: Fuel; then the leak's 1D."""
    b.do(CE_FIRE)
    for station in ("pilot", "gunner:0"):
        b.do({"type": "no_reaction", "ship_id": "b", "station": station})
    b.do(
        {"type": "no_reaction", "ship_id": "b", "station": "gunner:1"},
        dice=[6, 6, 6, 1, 1, 1, 1],
    )
    b.gm({"type": "gm_advance"}, dice=[4, 5, *leak_die])


def test_a_ce_fuel_hit_leaks_at_the_start_of_every_turn_until_repaired() -> None:
    """1st Fuel hit: 1D [4] = 4 t an hour; a 1,000-second turn loses 4 x 10/36 = 1.1 t at the
    start of each turn (24 t: 22.9 t, 21.8 t ...); a repair clearing the hit stops it."""
    b = _ce()
    _fuel_hit(b, [4])
    resolved = b.last("damage_resolved")
    assert resolved.data["hits"][0]["locations"] == ["fuel"]
    assert resolved.data["fuel"] == ["fuel leak: 4 t per hour"]
    assert (b.ship("b").systems["fuel"], b.ship("b").fuel_leak) == (1, 11)
    b.until(lambda st: st.round == 2)
    assert b.last("fuel_leaked").summary == "Bravo leaks 1.1 t of fuel (22.9 t left)."
    b.until(lambda st: st.round == 3)
    assert b.ship("b").fuel_left == 218
    view = next(s for s in rules.public_view(b.state)["ships"] if s["id"] == "b")
    assert view["fuel"] == {"left_tenths": 218, "leak_tenths": 11}
    b.until(lambda st: st.acting_ship == "b" and not st.pending)
    b.do({"type": "ce_repair", "ship_id": "b", "system": "fuel"}, dice=[4, 4])
    assert (b.ship("b").systems.get("fuel", 0), b.ship("b").fuel_leak) == (0, 0)
    b.until(lambda st: st.round == 4)
    assert b.ship("b").fuel_left == 218
    assert rules.state_to_dict(rules.replay(b.events)) == rules.state_to_dict(b.state)


def test_a_second_and_third_ce_fuel_hit_lose_fuel_then_the_tank() -> None:
    b = _ce()
    b.patch("b", systems={"fuel": 1}, fuel_leak=11)
    _fuel_hit(b, [3])
    assert b.last("damage_resolved").data["fuel"] == ["fuel: 30% lost"]
    # 70% of 24 t is 16.8 t, less the leak of the next turn's start (the GM ended the turn)
    assert (b.ship("b").fuel_lost_pct, b.ship("b").fuel_left) == (30, 168 - 11)
    b.patch("b", systems={"fuel": 2})
    b.until(lambda st: st.round == 2 and st.acting_ship == "a" and not st.pending)
    b.patch("b", fuel_leaked=0)
    _fuel_hit(b, [])
    assert b.last("damage_resolved").data["fuel"] == ["fuel tank destroyed"]
    assert (b.ship("b").fuel_left, b.ship("b").fuel_leak) == (0, 0)


@pytest.mark.parametrize(
    ("config", "leak"),
    [pytest.param({}, 11, id="applied"), pytest.param({"ce_fuel_effects": False}, 0, id="off")],
)
def test_the_ce_fuel_switch_changes_play(config: dict[str, Any], leak: int) -> None:
    b = _ce(**config)
    _fuel_hit(b, [4] if leak else [])
    assert b.ship("b").fuel_leak == leak
