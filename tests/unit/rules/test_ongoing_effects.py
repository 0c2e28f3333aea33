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
