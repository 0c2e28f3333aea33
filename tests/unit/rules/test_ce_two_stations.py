"""Cepheus Engine: one person holding two stations (§3.A "any number of people may share any
other position", §1.5 Multiple simultaneous tasks ✅: DM -2 per extra task): the Fighter's
pilot who fires its gun, and a crew member who holds an empty station as well."""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.config import recorded_config
from gameserver.rules.legal import legal_commands

from .conftest import Battle, make_scenario

KNOCK_OUT = (
    {"field": "crew:navigator:END", "value": 0},
    {"field": "crew:navigator:STR", "value": 0},
)


def _fighter(penalty: bool) -> Battle:
    scenario = make_scenario(
        "ce_fighter",
        "merchant_trader",
        "close",
        ruleset="CE",
        config={"ce_extra_task_penalty": penalty},
    )
    return Battle(scenario, seed=3)


def _fire_after_line_up(b: Battle) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Fighter's one crew member lines up the shot, then fires: both checks."""
    b.to(rules.Step.TURN, "a")
    b.do({"type": "ce_pilot", "ship_id": "a", "action": "line_up_the_shot"})
    pilot = b.last("ce_pilot").data["check"]
    b.do({"type": "ce_fire", "ship_id": "a", "turret": 0, "target": "b"})
    b.until(lambda st: not st.pending)
    shot = b.last("attack_resolved").data["shots"][0]["check"]
    return pilot, shot


def test_the_fighters_pilot_fires_at_dm_minus_2_after_flying() -> None:
    pilot, shot = _fire_after_line_up(_fighter(True))
    plain_pilot, plain_shot = _fire_after_line_up(_fighter(False))
    assert pilot == plain_pilot, "the first task of the turn carries no penalty"
    assert shot["dm"] == plain_shot["dm"] - 2


def _trader_without_navigator() -> Battle:
    b = Battle(make_scenario("merchant_trader", "courier", "short", ruleset="CE"))
    for ruling in KNOCK_OUT:
        b.gm({"type": "gm_ruling", "ship_id": "a", "reason": "hit by debris"} | ruling)
    assert b.ship("a").crew_at("navigator") is None
    b.to(rules.Step.TURN, "a")
    return b


def test_the_pilot_holds_the_empty_navigator_station_and_acts_there_at_once() -> None:
    b = _trader_without_navigator()
    hold = {"type": "hold_station", "ship_id": "a", "station": "pilot", "to": "navigator"}
    assert hold in [e["command"] for e in legal_commands(b.state, "a", "pilot")]
    ev = b.do(hold)[0]
    assert ev.summary.endswith("(acting there this turn).")
    assert b.ship("a").crew_at("navigator") is not None
    b.do({"type": "ce_pilot", "ship_id": "a", "action": "evasive_maneuvers"}, dice=[4, 4])
    # Navigation unskilled -3, EDU 8 +0, another task this turn -2: [6,6] -> 7, Effect -1;
    # the Courier's navigator, Navigation 1: [1,1] -> 3, Effect -5
    b.do(
        {"type": "range_check", "ship_id": "a", "target": "b", "wish": "decrease"},
        dice=[6, 6, 1, 1],
    )
    assert b.last("range_check").data["effect_a"] == -1


def test_holding_a_station_is_a_minor_action_both_stations_still_act() -> None:
    b = _trader_without_navigator()
    b.do({"type": "hold_station", "ship_id": "a", "station": "pilot", "to": "navigator"})
    assert {("a", "pilot"), ("a", "navigator")} <= set(rules.awaiting(b.state))
    b.do({"type": "ce_pilot", "ship_id": "a", "action": "evasive_maneuvers"}, dice=[4, 4])
    hold = {"type": "hold_station", "ship_id": "a", "station": "pilot", "to": "gunner:0"}
    assert b.refuse(hold).code == "station_done", "before acting, not after"


@pytest.mark.parametrize("key", ["ce_extra_task_penalty"])
def test_a_battle_recorded_before_the_ce_penalty_replays_without_it(key: str) -> None:
    cfg = rules.RulesConfig().to_dict()
    del cfg[key]
    assert getattr(recorded_config(cfg), key) is False


def test_the_ce_bot_puts_someone_at_the_helm_when_the_pilot_is_down() -> None:
    """§6.A Change Positions: the navigator or engineer (never a working gunner) takes the
    empty helm, and acts there in the same turn."""
    b = Battle(make_scenario("merchant_trader", "courier", "long", ruleset="CE"))
    for field in ("crew:pilot:END", "crew:pilot:STR"):
        b.gm({"type": "gm_ruling", "ship_id": "a", "reason": "hurt", "field": field, "value": 0})
    b.to(rules.Step.TURN, "a")
    moves = [c for c in rules.bot_commands(b.state, "red") if c.type == "change_station"]
    assert moves
    assert {(getattr(c, "station", ""), getattr(c, "to", "")) for c in moves} <= {
        ("navigator", "pilot"),
        ("engineer", "pilot"),
    }
    b.do(moves[0].model_dump(exclude={"actor", "at"}))
    assert b.ship("a").crew_at("pilot") is not None
    assert ("a", "pilot") in rules.awaiting(b.state), "acting at the helm this turn"


def test_the_ce_bot_leaves_a_working_crew_where_it_is() -> None:
    b = Battle(make_scenario("merchant_trader", "courier", "long", ruleset="CE"))
    b.to(rules.Step.TURN, "a")
    assert not [c for c in rules.bot_commands(b.state, "red") if c.type == "change_station"]
