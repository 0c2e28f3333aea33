"""Critical hits: Severity, location, repeat hits, sustained damage (§10.B.3) and the §10.B.4
effects table applied to ship state."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.effects import ShipEffects
from gameserver.rules.resolution import (
    CritRecord,
    HullWork,
    critical_severity,
    resolve_damage,
    sustained_count,
)
from gameserver.rules.tables_mgt2e import LOCATION_INDEX, LOCATIONS

from .conftest import Battle, design, duel


@pytest.mark.parametrize(
    ("damage", "effect", "ruleset", "severity"),
    [
        pytest.param(1, 6, "MGT2E_2016", 1, id="2016-1-damage"),
        pytest.param(10, 6, "MGT2E_2016", 1, id="2016-10"),
        pytest.param(11, 6, "MGT2E_2016", 2, id="2016-11"),
        pytest.param(24, 6, "MGT2E_2016", 3, id="2016-24-forum-example"),
        pytest.param(61, 6, "MGT2E_2016", 6, id="2016-capped-at-6"),
        pytest.param(12, 9, "MGT2E_2016", 2, id="MG-04-2016"),
        pytest.param(12, 9, "MGT2E_2022", 4, id="MG-04-2022"),
        pytest.param(40, 6, "MGT2E_2022", 1, id="2022-effect-6"),
        pytest.param(1, 7, "MGT2E_2022", 2, id="2022-effect-7"),
        pytest.param(5, 14, "MGT2E_2022", 6, id="2022-capped-at-6"),
        pytest.param(50, 5, "MGT2E_2016", 0, id="effect-5-no-critical"),
        pytest.param(0, 9, "MGT2E_2022", 0, id="no-damage-no-critical"),
    ],
)
def test_critical_severity(damage: int, effect: int, ruleset: str, severity: int) -> None:
    """§10.B.3: Effect >= 6 and damage > 0; 2016 ceil(damage/10), 2022 Effect - 5; max 6."""
    assert critical_severity(damage, effect, rules.Ruleset(ruleset)) == severity


def test_severity_formula_is_a_house_option() -> None:
    """§15 #23 lives in RulesConfig: force the 2022 formula under the 2016 profile."""
    cfg = rules.RulesConfig(severity_formula="effect")
    assert critical_severity(12, 9, rules.Ruleset.MGT2E_2016, cfg) == 4


@pytest.mark.parametrize(
    ("hull_max", "before", "after", "mode", "count"),
    [
        pytest.param(40, 0, 10, "exact", 2, id="MG-02-threshold-4"),
        pytest.param(40, 0, 3, "exact", 0, id="below-first-threshold"),
        pytest.param(40, 3, 4, "exact", 1, id="crossing-exactly"),
        pytest.param(80, 0, 20, "exact", 2, id="MG-03-threshold-8"),
        pytest.param(80, 20, 23, "exact", 0, id="MG-03-hull-die-adds-none"),
        pytest.param(45, 0, 9, "exact", 2, id="exact-fractions-4.5"),
        pytest.param(45, 0, 9, "rounded_up", 1, id="rounded-up-threshold-5"),
        pytest.param(40, 0, 40, "exact", 10, id="whole-hull"),
    ],
)
def test_sustained_damage_count(
    hull_max: int, before: int, after: int, mode: str, count: int
) -> None:
    """§10.B.3: one Severity-1 critical per further 10% of starting Hull (§15 #25 option)."""
    cfg = rules.RulesConfig(sustained_threshold=mode)  # type: ignore[arg-type]
    assert sustained_count(hull_max, before, after, cfg) == count


def _two_dice(total: int) -> list[int]:
    return [1, total - 1] if total <= 7 else [total - 6, 6]


@pytest.mark.parametrize(
    ("total", "location"),
    [pytest.param(i + 2, loc.value, id=f"{i + 2}-{loc.value}") for i, loc in enumerate(LOCATIONS)],
)
def test_critical_location_table(total: int, location: str) -> None:
    """§10.B.3: 2D location, 2 = Sensors ... 12 = Computer."""
    work = HullWork(1000, 1000, [0] * 11)
    records = resolve_damage(rules.ScriptedDice(_two_dice(total)), work, 0, 1)
    assert [(r.location, r.severity) for r in records] == [(location, 1)]


@pytest.mark.parametrize(
    ("current", "incoming", "result"),
    [
        pytest.param(0, 2, 2, id="fresh-location"),
        pytest.param(2, 1, 3, id="MG-05-sev-2-plus-sev-1"),
        pytest.param(1, 4, 4, id="bigger-critical-wins"),
        pytest.param(3, 3, 4, id="equal-steps-up-one"),
        pytest.param(5, 1, 6, id="reaches-6"),
        pytest.param(5, 4, 6, id="capped-at-6"),
    ],
)
def test_repeat_hit_rule(current: int, incoming: int, result: int) -> None:
    """§10.B.3: new Severity = max(new, current + 1), at most 6."""
    crits = [0] * 11
    crits[LOCATION_INDEX["m_drive"]] = current
    work = HullWork(1000, 1000, crits)
    records = resolve_damage(rules.ScriptedDice([]), work, 0, incoming, "m_drive")
    assert records == [CritRecord("attack", "m_drive", current, result)]
    assert work.crits[LOCATION_INDEX["m_drive"]] == result


def test_attack_critical_comes_first_then_sustained_in_roll_order() -> None:
    """Part A attack op: the attack's critical first, then each sustained one, each rolling
    its location when reached; repeats use the severities updated by earlier ones."""
    work = HullWork(40, 40, [0] * 11)
    dice = rules.ScriptedDice([4, 4, 3, 5, 6, 6])  # 8 m-drive; 8 m-drive again; 12 computer
    records = resolve_damage(dice, work, 10, 2)
    assert [(r.source, r.location, r.severity) for r in records] == [
        ("attack", "m_drive", 2),
        ("sustained", "m_drive", 3),
        ("sustained", "computer", 1),
    ]
    assert work.hull == 30


def test_hull_stops_at_zero_and_sustained_counts_only_what_was_left() -> None:
    """Part A: hull lost for sustained damage stops at 0 (3 left of 40: one threshold, not 3)."""
    work = HullWork(3, 40, [0] * 11)
    records = resolve_damage(rules.ScriptedDice([1, 1]), work, 12, 0)
    assert work.hull == 0
    assert [r.source for r in records] == ["sustained"]


# --------------------------------------------------------------------- §10.B.4 on a ship

VICTIM = design(
    "Victim",
    tons=400,
    hull=400,
    armour=6,
    thrust=4,
    power=100,
    computer=10,
    fire_control=3,
    sensors="military",
    cargo=50,
    fuel=40,
    turrets=[("triple", ["beam_laser"] * 3), ("double", ["pulse_laser", "sandcaster"])],
)


def _victim(**design_changes: Any) -> rules.ShipState:
    battle = Battle(duel(VICTIM | design_changes, design("Other")))
    return battle.ship("a")


def _crit(
    ship: rules.ShipState,
    location: str,
    severity: int,
    dice: list[int],
    cfg: rules.RulesConfig | None = None,
) -> tuple[rules.ShipState, list[CritRecord], list[str]]:
    """Apply one critical at a chosen location through the damage pipeline."""
    cfg = cfg or rules.RulesConfig()
    eff = ShipEffects(ship, cfg)
    work = eff.work()
    scripted = rules.ScriptedDice(dice)
    records = resolve_damage(scripted, work, 0, severity, location, cfg, eff)
    assert scripted.used == len(dice), "not every scripted die was used"
    return replace(ship, **eff.changes(work)), records, eff.notes


def _with_sev(ship: rules.ShipState, location: str, sev: int) -> rules.ShipState:
    crits = list(ship.crits)
    crits[LOCATION_INDEX[location]] = sev
    return replace(ship, crits=tuple(crits))


@pytest.mark.parametrize(
    ("severity", "cap", "sensor_dm", "disabled"),
    [
        pytest.param(1, None, -2, False, id="1-checks-minus-2"),
        pytest.param(2, "medium", 0, False, id="2-beyond-medium"),
        pytest.param(3, "short", 0, False, id="3-beyond-short"),
        pytest.param(4, "close", 0, False, id="4-beyond-close"),
        pytest.param(5, "adjacent", 0, False, id="5-beyond-adjacent"),
        pytest.param(6, "adjacent", 0, True, id="6-disabled"),
    ],
)
def test_sensors_row(severity: int, cap: str | None, sensor_dm: int, disabled: bool) -> None:
    """§10.B.4 Sensors; stateful effects are replaced by the row reached (row_only)."""
    ship, _, _ = _crit(_victim(), "sensors", severity, [])
    assert ship.sensor_cap == cap
    assert ship.sensor_dm == sensor_dm  # military sensors DM 0
    assert ship.sensors_disabled is disabled
    if cap is not None:
        assert ship.within_sensors(cap)
        assert not ship.within_sensors("distant")


@pytest.mark.parametrize(
    ("severity", "dice", "thrust", "power", "hull_lost"),
    [
        pytest.param(1, [], 3, 90, 0, id="1-thrust-1-power-10pct"),
        pytest.param(2, [], 3, 90, 0, id="2-thrust-1-power-10pct"),
        pytest.param(3, [], 3, 50, 0, id="3-thrust-1-power-50pct"),
        pytest.param(4, [], 0, 0, 0, id="4-thrust-0-power-0"),
        pytest.param(5, [5], 0, 0, 5, id="5-plus-hull-sev-1"),
        pytest.param(6, [2, 3, 4], 0, 0, 7, id="6-plus-hull-sev-1D"),
    ],
)
def test_power_plant_row(
    severity: int, dice: list[int], thrust: int, power: int, hull_lost: int
) -> None:
    """§10.B.4 Power Plant (Thrust 4 design); "Hull Severity +1D" rolls 1D then that many D."""
    ship, records, _ = _crit(_victim(), "power_plant", severity, dice)
    assert (ship.thrust, ship.power_pct) == (thrust, power)
    assert ship.hull == 400 - hull_lost
    if hull_lost:
        assert records[-1].source == "hull_severity"
        assert records[-1].location == "hull"


@pytest.mark.parametrize(
    ("budget", "ready"),
    [
        pytest.param(True, [False] * 5, id="budget-every-turret-dark"),
        pytest.param(False, [False] * 4 + [True], id="no-budget-sand-draws-none"),
    ],
)
def test_no_power_silences_the_weapons(budget: bool, ready: list[bool]) -> None:
    """§10.B.4 Power 0: with the power budget (DEFAULT) no turret has power, so its sandcaster
    (and a missile rack) is idle too (§8.B: the turret mount draws power); without it, only
    the weapons that draw power themselves stop."""
    battle = Battle(duel(VICTIM, design("Other"), config={"power_budget": budget}))
    ship, _, _ = _crit(battle.ship("a"), "power_plant", 4, [])
    assert [ship.weapon_ready(f) for f in range(5)] == ready


@pytest.mark.parametrize(
    ("severity", "dice", "fuel_lost", "hull_lost"),
    [
        pytest.param(1, [4], 0, 0, id="1-leak-per-hour"),
        pytest.param(2, [4], 0, 0, id="2-leak-per-round"),
        pytest.param(3, [4], 40, 0, id="3-lose-1D-x-10pct"),
        pytest.param(4, [], 100, 0, id="4-tank-destroyed"),
        pytest.param(5, [3], 100, 3, id="5-plus-hull-sev-1"),
        pytest.param(6, [1, 6], 100, 6, id="6-plus-hull-sev-1D"),
    ],
)
def test_fuel_row(severity: int, dice: list[int], fuel_lost: int, hull_lost: int) -> None:
    """§10.B.4 Fuel."""
    ship, _, notes = _crit(_victim(), "fuel", severity, dice)
    assert ship.fuel_lost_pct == fuel_lost
    assert ship.hull == 400 - hull_lost
    if severity <= 2:
        assert notes == [f"fuel leak: 4 t per {'hour' if severity == 1 else 'round'}"]


@pytest.mark.parametrize(
    ("severity", "dice", "status", "hull_lost"),
    [
        pytest.param(1, [1], "bane", 0, id="1-bane"),
        pytest.param(2, [1], "disabled", 0, id="2-disabled"),
        pytest.param(3, [1], "destroyed", 0, id="3-destroyed"),
        pytest.param(4, [1, 5], "destroyed", 5, id="4-explodes-plus-hull-sev-1"),
    ],
)
def test_weapon_row(severity: int, dice: list[int], status: str, hull_lost: int) -> None:
    """§10.B.4 Weapon: a random weapon (1D over 5 weapons: a 1 picks the first)."""
    ship, _, _ = _crit(_victim(), "weapon", severity, dice)
    assert ship.weapons == (status, "ok", "ok", "ok", "ok")
    assert ship.hull == 400 - hull_lost


def test_weapon_bane_and_disabled_reach_the_attack() -> None:
    """§7.B: a Severity-1 weapon crit gives that weapon a Bane; disabled cannot fire."""
    ship, _, _ = _crit(_victim(), "weapon", 1, [1])
    assert ship.weapon_ready(0)
    ship, _, _ = _crit(_victim(), "weapon", 2, [1])
    assert not ship.weapon_ready(0)
    assert ship.weapon_ready(1)


@pytest.mark.parametrize(
    ("severity", "dice", "armour", "hull_lost"),
    [
        pytest.param(1, [], 5, 0, id="1-minus-1"),
        pytest.param(2, [4], 4, 0, id="2-minus-D3"),
        pytest.param(3, [5], 1, 0, id="3-minus-1D"),
        pytest.param(4, [5], 1, 0, id="4-minus-1D"),
        pytest.param(5, [3, 4, 2], 0, 2, id="5-minus-2D-plus-hull-sev-1"),
        pytest.param(6, [1, 1, 6], 4, 6, id="6-minus-2D-plus-hull-sev-1"),
    ],
)
def test_armour_row(severity: int, dice: list[int], armour: int, hull_lost: int) -> None:
    """§10.B.4 Armour (armour 6); armour never goes below 0."""
    ship, _, _ = _crit(_victim(), "armour", severity, dice)
    assert ship.armour == armour
    assert ship.hull == 400 - hull_lost


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5, 6])
def test_hull_row_is_severity_dice_ignoring_armour(severity: int) -> None:
    """§10.B.4 Hull: Severity n does nD damage, ignoring armour (armour 6 here)."""
    ship, records, _ = _crit(_victim(), "hull", severity, [3] * severity)
    assert ship.hull == 400 - 3 * severity
    assert records[0].extra_damage == 3 * severity


@pytest.mark.parametrize(
    ("severity", "dice", "thrust", "control", "hull_lost"),
    [
        pytest.param(1, [], 4, -1, 0, id="1-control-1"),
        pytest.param(2, [], 3, -2, 0, id="2-control-2-thrust-1"),
        pytest.param(3, [], 3, -3, 0, id="3-control-3-thrust-1"),
        pytest.param(4, [], 3, -4, 0, id="4-control-4-thrust-1"),
        pytest.param(5, [], 0, -4, 0, id="5-thrust-0"),
        pytest.param(6, [2], 0, -4, 2, id="6-thrust-0-plus-hull-sev-1"),
    ],
)
def test_m_drive_row(
    severity: int, dice: list[int], thrust: int, control: int, hull_lost: int
) -> None:
    """§10.B.4 M-Drive (Thrust 4); row_only applies one "Thrust -1" on a jump from 0."""
    ship, _, _ = _crit(_victim(), "m_drive", severity, dice)
    assert ship.thrust == thrust
    if severity <= 4:
        assert ship.control_dm == control
    assert ship.hull == 400 - hull_lost


@pytest.mark.parametrize(
    ("severity", "dice", "cargo_lost", "hull_lost"),
    [
        pytest.param(1, [], 10, 0, id="1-10pct"),
        pytest.param(2, [3], 30, 0, id="2-1D-x-10pct"),
        pytest.param(3, [3, 4], 70, 0, id="3-2D-x-10pct"),
        pytest.param(4, [], 100, 0, id="4-all"),
        pytest.param(5, [4], 100, 4, id="5-all-plus-hull-sev-1"),
    ],
)
def test_cargo_row(severity: int, dice: list[int], cargo_lost: int, hull_lost: int) -> None:
    """§10.B.4 Cargo."""
    ship, _, _ = _crit(_victim(), "cargo", severity, dice)
    assert ship.cargo_lost_pct == cargo_lost
    assert ship.hull == 400 - hull_lost


@pytest.mark.parametrize(
    ("severity", "dice", "note", "hull_lost"),
    [
        pytest.param(1, [], "j-drive: jump checks -2", 0, id="1-jump-checks-2"),
        pytest.param(2, [], "j-drive disabled", 0, id="2-disabled"),
        pytest.param(3, [], "j-drive destroyed", 0, id="3-destroyed"),
        pytest.param(4, [6], "j-drive destroyed", 6, id="4-plus-hull-sev-1"),
    ],
)
def test_j_drive_row(severity: int, dice: list[int], note: str, hull_lost: int) -> None:
    """§10.B.4 J-Drive (no jump action in combat: the Severity and the log record it)."""
    ship, _, notes = _crit(_victim(), "j_drive", severity, dice)
    assert ship.crits[LOCATION_INDEX["j_drive"]] == severity
    assert notes[0] == note
    assert ship.hull == 400 - hull_lost


def test_crew_row_1_hurts_one_random_occupant() -> None:
    """§10.B.4 Crew 1: a random occupant takes 1D (END first, then STR, then DEX)."""
    ship, _, _ = _crit(_victim(), "crew", 1, [1, 5])
    assert ship.crew[0].chars["END"] == 8 - 5
    assert all(c.chars["END"] == 8 for c in ship.crew[1:])


def test_crew_row_3_hurts_1d_occupants_2d_each() -> None:
    """§10.B.4 Crew 3: 1D occupants take 2D each."""
    ship, _, _ = _crit(_victim(), "crew", 3, [2, 1, 1, 6, 5])
    assert [c.chars["END"] for c in ship.crew[:3]] == [8 - 2, 0, 8]
    assert ship.crew[1].chars["STR"] == 8 - 3


def test_crew_row_5_hurts_everyone_and_can_leave_stations_unmanned() -> None:
    """§10.B.4 Crew 5: all occupants take 3D; two of STR/DEX/END at 0 cannot act."""
    crew_count = 6  # captain, pilot, engineer, sensors, two gunners
    ship, _, _ = _crit(_victim(), "crew", 5, [6, 6, 4] * crew_count)
    assert all(not c.able for c in ship.crew)
    assert ship.crew_at("pilot") is None


@pytest.mark.parametrize(
    ("severity", "dice", "life_support"),
    [
        pytest.param(2, [3], "fails in 3 hours", id="2-hours"),
        pytest.param(4, [2], "fails in 2 rounds", id="4-rounds"),
        pytest.param(6, [], "failed", id="6-fails"),
    ],
)
def test_crew_row_life_support(severity: int, dice: list[int], life_support: str) -> None:
    """§10.B.4 Crew 2/4/6: life support failing."""
    ship, _, _ = _crit(_victim(), "crew", severity, dice)
    assert ship.life_support == life_support


@pytest.mark.parametrize(
    ("severity", "fire_control", "sensor_dm"),
    [
        pytest.param(1, 3, -2, id="1-checks-minus-2"),
        pytest.param(2, 2, 0, id="2-rating-minus-1"),
        pytest.param(4, 2, 0, id="4-one-rating-loss-row-only"),
        pytest.param(5, 0, 0, id="5-disabled"),
        pytest.param(6, 0, 0, id="6-destroyed"),
    ],
)
def test_computer_row(severity: int, fire_control: int, sensor_dm: int) -> None:
    """§10.B.4 Computer: checks -2, then rating losses (they limit Fire Control/3)."""
    ship, _, _ = _crit(_victim(), "computer", severity, [])
    assert ship.fire_control == fire_control
    assert ship.sensor_dm == sensor_dm


def test_stacking_adds_the_new_rows_decrement() -> None:
    """§16 MG-05: M-Drive at 2 takes a Sev-1 critical -> Sev 3, Thrust -1 more."""
    first, _, _ = _crit(_victim(), "m_drive", 2, [])
    second, records, _ = _crit(first, "m_drive", 1, [])
    assert records[0].severity == 3
    assert (first.thrust, second.thrust) == (3, 2)
    assert second.control_dm == -3


def test_a_location_at_6_takes_6d_hull_damage_instead() -> None:
    """§10.B.3: a location at Severity 6 takes no more criticals: 6D Hull damage each."""
    ship = _with_sev(_victim(), "j_drive", 6)
    hit, records, _ = _crit(ship, "j_drive", 2, [1, 2, 3, 4, 5, 6])
    assert records == [CritRecord("attack", "j_drive", 6, 6, 21)]
    assert hit.hull == 400 - 21


@pytest.mark.parametrize(
    ("mode", "thrust", "power"),
    [
        pytest.param("row_only", 3, 50, id="row-only"),
        pytest.param("all_intermediate_rows", 1, 30, id="all-intermediate-rows"),
    ],
)
def test_cumulative_critical_mode(mode: str, thrust: int, power: int) -> None:
    """§15 #24: a jump 0 -> 3 applies row 3 once, or rows 1, 2 and 3."""
    cfg = rules.RulesConfig(crit_mode=mode)  # type: ignore[arg-type]
    ship, _, _ = _crit(_victim(), "power_plant", 3, [], cfg)
    assert (ship.thrust, ship.power_pct) == (thrust, power)


@pytest.mark.parametrize(
    ("counts", "dice", "hull", "chain"),
    [
        pytest.param(
            True,
            [6, 6, 6, 3, 4, 1, 1, 1, 1, 1, 1],
            78,
            [("attack", "hull", 3), ("sustained", "hull", 4), ("sustained", "sensors", 1)],
            id="counts-recursively",
        ),
        pytest.param(False, [6, 6, 6], 82, [("attack", "hull", 3)], id="house-option-off"),
    ],
)
def test_critical_hull_damage_counts_toward_sustained(
    counts: bool, dice: list[int], hull: int, chain: list[tuple[str, str, int]]
) -> None:
    """§10.B.3 DEFAULT: Hull damage from criticals counts toward sustained, recursively.

    Hull 100: Hull Sev 3 does 18 (one threshold); that critical lands on Hull again (Sev 4, 4
    more damage: 22 lost, a second threshold) and the next one on Sensors.
    """
    cfg = rules.RulesConfig(crit_hull_damage_counts_sustained=counts)
    ship, records, _ = _crit(_victim(hull=100), "hull", 3, dice, cfg)
    assert ship.hull == hull
    assert [(r.source, r.location, r.severity) for r in records] == chain


def test_a_new_critical_lifts_a_repair_and_resets_the_count() -> None:
    """§12.B: a new critical on a location being worked on resets the count; a repaired
    location's suppression ends when it is hit again."""
    ship = replace(
        _with_sev(_victim(), "m_drive", 2),
        md_thrust_loss=1,
        repaired=frozenset({"m_drive"}),
        repair_loc="m_drive",
        repair_count=2,
    )
    assert ship.thrust == 4
    hit, _, _ = _crit(ship, "m_drive", 1, [])
    assert hit.repaired == frozenset()
    assert (hit.repair_loc, hit.repair_count) == (None, 0)
    assert hit.thrust == 4 - 2
