"""The engineer's power actions and the power budget (MgT2e, RULES §6.B with its ⚠ figures;
the budget's consequences are the engine's DEFAULT, `RulesConfig.power_budget`).

The Scout: 100 t, Thrust 2, a double turret (pulse laser 4 + mount 1 = 5 Power), plant 60;
basic systems 20, the M-Drive 10 per Thrust (High Guard). Its engineer is Regular: Engineer 1,
INT 8 and EDU 8 (DM 0), so an overload (10+) succeeds on 2D 9+ and mishaps on 2D 3-.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.bot import choose
from gameserver.rules.legal import legal_commands
from gameserver.rules.reexecution import reexecute
from gameserver.rules.turns import reactors

from .conftest import Battle, design, duel, make_scenario

EXPORTED = Path(__file__).parent / "exported" / "before_power_budget.json"
CRIT_PP_3 = {"type": "gm_ruling", "ship_id": "a", "field": "crit:power_plant", "value": 3}


def _scout(band: str = "short", **config: Any) -> Battle:
    return Battle(make_scenario("scout", "free_trader", band, config=config))


def _power_plant_3(b: Battle) -> None:
    """A Severity-3 Power Plant critical by GM ruling (§10.B.4: Thrust -1, Power -50%)."""
    b.gm(CRIT_PP_3 | {"reason": "test"})


def _types(b: Battle, station: str, sid: str = "a") -> list[str]:
    return [e["type"] for e in legal_commands(b.state, sid, station)]


def test_the_plant_feeds_basic_systems_the_drive_then_the_turrets() -> None:
    """Power 50%: 30 of 60; basic 20 + the drive at Thrust 1 (10) leave nothing for the
    turret's 5: the laser, the sandcaster and their reactions have no power (before the
    budget a Power loss short of 0 did nothing)."""
    b = _scout()
    _power_plant_3(b)
    ship = b.ship("a")
    plan = ship.power_plan
    assert (plan.available, plan.need, plan.basic, plan.thrust) == (30, 35, True, 1)
    assert plan.turrets == frozenset()
    assert [ship.weapon_ready(f) for f in ship.turret_weapons(0)] == [False, False]
    assert reactors(ship, "attack", b.state.config) == ["pilot"]
    effects = b.last("gm_ruling").data["effects"]
    assert "no power for turret 1 (Power 30/35)" in effects
    b.to(rules.Step.ATTACK, "b")
    assert "gunner:0" not in [st for sid, st in rules.awaiting(b.state) if sid == "a"]


def test_power_zero_idles_missiles_and_sand_too() -> None:
    """Power 0 (Severity 4): nothing runs, not even a missile rack or a sandcaster (their
    turret draws power, §8.B); the sensors go dark with the basic systems."""
    b = Battle(
        duel(
            design("Rack", thrust=2, turrets=[("double", ["missile_rack", "sandcaster"])]),
            design("Target"),
        )
    )
    b.gm(CRIT_PP_3 | {"value": 4, "reason": "test"})
    ship = b.ship("a")
    assert (ship.power_pct, ship.power_plan.basic) == (0, False)
    assert [ship.weapon_ready(f) for f in range(2)] == [False, False]
    assert ship.sensors_disabled
    assert (
        "basic systems short of power: the sensors go dark" in b.last("gm_ruling").data["effects"]
    )


def test_taking_the_drive_offline_powers_the_turret_and_restoring_it_undoes_that() -> None:
    """Offline System (§6.B, shed load): the M-Drive's 10 Power go to the turret; next round
    the ship has no Thrust. Restoring it puts the drive first in the budget again."""
    b = _scout()
    _power_plant_3(b)
    b.to(rules.Step.ACTIONS, "a")
    assert "engineer" in [st for _, st in rules.awaiting(b.state)]
    assert {"offline_system", "overload_plant"} <= set(_types(b, "engineer"))
    ev = b.do({"type": "offline_system", "ship_id": "a", "system": "m_drive"}, [])[0]
    assert ev.type == "system_offline"
    assert ev.summary == (
        "Alpha's engineer takes the M-Drive offline (Power 30/25): power back to turret 1."
    )
    ship = b.ship("a")
    assert ship.turret_powered(0)
    assert ship.thrust == 0
    assert "engineer" in ship.done
    b.until(lambda st: st.round == 2)
    assert b.ship("a").thrust_pool == 0
    b.to(rules.Step.ACTIONS, "a", round_=2)
    restore = {"type": "restore_system", "ship_id": "a", "system": "m_drive"}
    assert "restore_system" in _types(b, "engineer")
    ev = b.do(restore, [])[0]
    assert ev.type == "system_online"
    assert "no power for turret 1 (Power 30/35)" in ev.data["effects"]
    assert not b.ship("a").turret_powered(0)
    assert b.ship("a").thrust == 1


def test_overload_drive_adds_thrust_for_the_next_round_only() -> None:
    """Overload Drive ⚠: [5, 4] + 1 = 10 vs 10+: success; round 2's pool is 3, round 3's 2."""
    b = _scout()
    b.to(rules.Step.ACTIONS, "a")
    assert "overload_drive" in _types(b, "engineer")
    ev = b.do({"type": "overload_drive", "ship_id": "a"}, [5, 4])[0]
    assert (ev.type, ev.data["success"], ev.data["bonus"]) == ("overload", True, 1)
    assert ev.summary == "Alpha's engineer overloads the M-Drive: +1 Thrust next round."
    assert b.ship("a").thrust == 2
    b.until(lambda st: st.round == 2)
    assert (b.ship("a").thrust_pool, b.ship("a").thrust) == (3, 3)
    b.until(lambda st: st.round == 3)
    assert b.ship("a").thrust_pool == 2


def test_a_bad_overload_is_a_severity_1_critical() -> None:
    """Effect -6 or worse (⚠ `overload_mishap_effect`): [1, 2] + 1 = 4 vs 10 -> -6: a
    Severity-1 M-Drive critical (control checks -1), no bonus."""
    b = _scout()
    b.to(rules.Step.ACTIONS, "a")
    ev = b.do({"type": "overload_drive", "ship_id": "a"}, [1, 2])[0]
    assert (ev.data["success"], ev.data["bonus"]) == (False, 0)
    assert ev.data["criticals"] == [
        {"source": "attack", "location": "m_drive", "previous": 0, "severity": 1, "extra_damage": 0}
    ]
    assert b.ship("a").sev("m_drive") == 1
    assert b.ship("a").overload_next == frozenset()
    assert "The strain causes a critical: m-drive: control checks -1." in ev.summary


def test_a_failed_overload_short_of_a_mishap_changes_nothing_else() -> None:
    """[2, 2] + 1 = 5 -> Effect -5: a failure, no critical."""
    b = _scout()
    b.to(rules.Step.ACTIONS, "a")
    ev = b.do({"type": "overload_drive", "ship_id": "a"}, [2, 2])[0]
    assert (ev.data["success"], "criticals" in ev.data) == (False, False)
    assert b.ship("a").crits == (0,) * len(b.ship("a").crits)


def test_overload_plant_powers_a_dark_turret_next_round() -> None:
    """Overload Plant ⚠: +10% of the plant (6 Power) in the next round: 36 of 35 needed, the
    turret has power again in round 2, not in round 3."""
    b = _scout()
    _power_plant_3(b)
    b.to(rules.Step.ACTIONS, "a")
    ev = b.do({"type": "overload_plant", "ship_id": "a"}, [6, 6])[0]
    assert (ev.data["success"], ev.data["bonus"]) == (True, 6)
    assert not b.ship("a").turret_powered(0)
    b.until(lambda st: st.round == 2)
    assert b.ship("a").power_plan.available == 36
    assert b.ship("a").turret_powered(0)
    b.until(lambda st: st.round == 3)
    assert not b.ship("a").turret_powered(0)


def test_the_engineer_is_waited_for_when_power_runs_short_and_the_bot_overloads_the_plant() -> None:
    """The armed Free Trader on its published plant (60 of 70) has a dark turret: its
    engineer is waited for in the Actions step even with nothing to repair, and the bot's
    engineer overloads the plant (the sensible answer); an undamaged Scout's engineer is not
    waited for, yet may overload while the ship acts."""
    b = Battle(
        make_scenario("free_trader", "scout", "short", config={"power_plant_covers_design": False})
    )
    b.to(rules.Step.ACTIONS, "a")
    assert ("a", "engineer") in rules.awaiting(b.state)
    cmd = choose(b.state, "a", "engineer")
    assert cmd is not None
    assert cmd.type == "overload_plant"
    s = _scout()
    s.to(rules.Step.ACTIONS, "a")
    assert ("a", "engineer") not in rules.awaiting(s.state)
    assert "overload_drive" in _types(s, "engineer")


@pytest.mark.parametrize(
    ("command", "code"),
    [
        pytest.param(
            {"type": "offline_system", "system": "turret:5"}, "unknown_system", id="no-turret"
        ),
        pytest.param(
            {"type": "restore_system", "system": "m_drive"}, "not_offline", id="not-offline"
        ),
        pytest.param({"type": "offline_system", "system": "hull"}, "bad_command", id="no-system"),
        pytest.param(
            {"type": "offline_system", "system": "m_drive" * 40}, "bad_command", id="huge"
        ),
    ],
)
def test_a_bad_engineer_command_is_refused_and_changes_nothing(
    command: dict[str, Any], code: str
) -> None:
    b = _scout()
    b.to(rules.Step.ACTIONS, "a")
    assert b.refuse({"ship_id": "a"} | command).code == code


def test_power_actions_belong_to_the_engineer_in_the_actions_step() -> None:
    """Out of step, from another station, twice: refused with a reason, nothing changes."""
    b = _scout()
    b.to(rules.Step.MANOEUVRE, "a")
    assert b.refuse({"type": "overload_drive", "ship_id": "a"}).code == "wrong_step"
    b.to(rules.Step.ACTIONS, "a")
    pilot = rules.Actor(role="player", ship_id="a", stations=frozenset({"pilot"}))
    assert b.refuse({"type": "overload_drive", "ship_id": "a"}, pilot).code in (
        "not_your_station",
        "wrong_station",
    )
    b.do({"type": "offline_system", "ship_id": "a", "system": "turret:0"}, [])
    assert b.refuse({"type": "overload_drive", "ship_id": "a"}).code == "station_done"


def test_overload_plant_needs_the_power_budget() -> None:
    b = _scout(power_budget=False)
    b.to(rules.Step.ACTIONS, "a")
    assert "overload_plant" not in _types(b, "engineer")
    assert b.refuse({"type": "overload_plant", "ship_id": "a"}).code == "no_power_budget"


@pytest.mark.parametrize(
    ("config", "turret_powered"),
    [
        pytest.param({}, False, id="budget-default"),
        pytest.param({"power_budget": False}, True, id="no-budget"),
    ],
)
def test_the_power_budget_switch_changes_play(config: dict[str, Any], turret_powered: bool) -> None:
    b = _scout(**config)
    _power_plant_3(b)
    assert b.ship("a").turret_powered(0) is turret_powered
    assert b.ship("a").weapon_ready(0) is turret_powered


@pytest.mark.parametrize(
    ("config", "plant", "short"),
    [
        pytest.param({}, 70, False, id="plant-covers-the-design"),
        pytest.param({"power_plant_covers_design": False}, 60, True, id="published-plant"),
    ],
)
def test_the_plant_rating_switch_changes_play(
    config: dict[str, Any], plant: int, short: bool
) -> None:
    """The armed Free Trader needs 70 (basic 40, Thrust 1: 20, two turrets of 5); its
    published plant gives 60: strictly, one turret goes dark at full health."""
    b = Battle(make_scenario("free_trader", "scout", "short", config=config))
    ship = b.ship("a")
    assert (ship.plant, ship.power_plan.short) == (plant, short)
    assert ship.turret_powered(1) is not short


def test_power_events_replay_and_undo() -> None:
    """State is a fold of the events: replay equals the live state; a GM undo of an offline
    system restores the budget."""
    b = _scout()
    _power_plant_3(b)
    b.to(rules.Step.ACTIONS, "a")
    done = b.do({"type": "offline_system", "ship_id": "a", "system": "m_drive"}, [])
    secret = rules.DiceSecret(1, bytes(rules.SALT_BYTES))
    assert rules.state_to_dict(rules.replay(b.events, secret)) == rules.state_to_dict(b.state)
    assert b.ship("a").turret_powered(0)
    b.gm({"type": "gm_undo", "n": len(done)})
    assert b.ship("a").offline == frozenset()
    assert not b.ship("a").turret_powered(0)
    assert rules.state_to_dict(rules.replay(b.events, secret)) == rules.state_to_dict(b.state)


def test_a_battle_recorded_before_the_budget_replays_without_it() -> None:
    """A log whose battle_started config has no `power_budget` key keeps its old rules."""
    b = _scout()
    first = b.events[0]
    config = {k: v for k, v in first.data["config"].items() if k != "power_budget"}
    old = replace(first, data={**first.data, "config": config})
    assert rules.replay([old]).ships["a"].plant == 0
    assert b.ship("a").plant == 60


def test_the_public_view_shows_the_budget_only_when_it_matters() -> None:
    b = _scout()
    assert "power" not in next(s for s in rules.public_view(b.state)["ships"] if s["id"] == "a")
    _power_plant_3(b)
    view = next(s for s in rules.public_view(b.state)["ships"] if s["id"] == "a")
    assert view["power"] == {
        "available": 30,
        "need": 35,
        "unpowered": ["turret:0"],
        "offline": [],
        "overload": [],
        "sensors_dark": False,
    }


def test_a_fuel_leak_drains_the_tanks_each_round_until_the_jump_is_out_of_reach() -> None:
    """§10.B.4 Fuel Severity 2 (`fuel_tracking`): [6] -> 6 t lost at the start of every
    round. The Scout's 23 t: 17 t, 11 t, 5 t; then a Jump-1 (10 t) is out of reach."""
    b = _scout()
    b.gm(
        {"type": "gm_ruling", "ship_id": "a", "field": "crit:fuel", "value": 2, "reason": "t"}, [6]
    )
    assert (b.ship("a").fuel_leak, b.ship("a").fuel_left) == (60, 230)
    b.until(lambda st: st.round == 2)
    line = b.last("fuel_leaked")
    assert line.summary == "Alpha leaks 6.0 t of fuel (17.0 t left)."
    b.until(lambda st: st.round == 4)
    assert b.ship("a").fuel_left == 50
    view = next(s for s in rules.public_view(b.state)["ships"] if s["id"] == "a")
    assert view["fuel"] == {"left_tenths": 50, "leak_tenths": 50}
    b.to(rules.Step.ACTIONS, "a", round_=4)
    refusal = b.refuse({"type": "plot_jump", "ship_id": "a"})
    assert refusal.message == "not enough fuel to jump: 5.0 t left, 10.0 t needed"
    b.until(lambda st: st.round == 5)
    assert b.ship("a").fuel_left == 0
    assert (
        b.last("fuel_leaked").summary
        == "Alpha leaks 5.0 t of fuel (0.0 t left; the tanks are dry)."
    )
    b.until(lambda st: st.round == 6)
    assert b.last("fuel_leaked").data["left_tenths"] == 0
    assert sum(e.type == "fuel_leaked" for e in b.events) == 4


def test_an_hourly_leak_loses_a_tenth_of_its_tons_a_round_and_a_repair_stops_it() -> None:
    """Severity 1: [5] -> 5 t an hour, 0.5 t a 6-minute round; a repaired fuel critical
    (§12.B: Severity 1-2 may be repaired) leaks no more."""
    b = _scout()
    b.gm(
        {"type": "gm_ruling", "ship_id": "a", "field": "crit:fuel", "value": 1, "reason": "t"}, [5]
    )
    b.until(lambda st: st.round == 2)
    assert b.last("fuel_leaked").summary == "Alpha leaks 0.5 t of fuel (22.5 t left)."
    b.to(rules.Step.ACTIONS, "a", round_=2)
    b.do({"type": "repair", "ship_id": "a", "location": "fuel"}, [6, 6, 3])
    assert "fuel" in b.ship("a").repaired
    b.until(lambda st: st.round == 3)
    assert b.ship("a").fuel_left == 225
    assert b.last("fuel_leaked").seq < b.last("round_started").seq


@pytest.mark.parametrize(
    ("config", "leaked"),
    [
        pytest.param({}, 60, id="tracked"),
        pytest.param({"fuel_tracking": False}, 0, id="noted-only"),
    ],
)
def test_the_fuel_switch_changes_play(config: dict[str, Any], leaked: int) -> None:
    b = _scout(**config)
    b.gm(
        {"type": "gm_ruling", "ship_id": "a", "field": "crit:fuel", "value": 2, "reason": "t"}, [6]
    )
    b.until(lambda st: st.round == 2)
    assert b.ship("a").fuel_leaked == leaked


def test_a_battle_exported_before_these_rules_still_imports_and_keeps_its_rules() -> None:
    """Re-execution (import) of a log written by the previous version, whose recorded config
    lacks the new options: the opening leaves them out as that server did, the power budget
    and fuel tracking stay off, and the stored log replays to the re-executed state."""
    data = json.loads(EXPORTED.read_text())
    events, dicts = rules.decode_events(data["events"])
    assert "power_budget" not in events[0].data["config"]
    state, produced = reexecute(events, dicts, rules.DiceSecret(data["seed"], bytes(range(32))))
    assert produced[0]["data"]["config"] == events[0].data["config"]
    assert (state.config.power_budget, state.config.fuel_tracking) == (False, False)
    assert all(s.plant == 0 for s in state.ships.values())
    assert rules.state_to_dict(rules.replay(events)) == rules.state_to_dict(state)


def test_a_scenario_override_of_a_new_option_is_still_recorded() -> None:
    """Only options the recorded config lacks and the scenario does not set are left out."""
    b = _scout(overload_target=9)
    assert b.events[0].data["config"]["overload_target"] == 9
    assert b.events[0].data["config"]["power_budget"] is True
