"""The CE resolution functions one rule at a time, with scripted dice (RULES Part A "CE test
vectors" and the Part B CE sections): the cases the public vectors do not pin."""

from __future__ import annotations

import pytest

from gameserver.rules import resolution_ce as ce
from gameserver.rules.config import RulesConfig
from gameserver.rules.dice import ScriptedDice
from gameserver.rules.errors import RuleViolation
from gameserver.rules.tables_ce import characteristic_dm


def hull(**kw: object) -> ce.CeHull:
    base: dict[str, object] = {"tons": 200, "hull": 4, "structure": 4, "armour": 2, "thrust": 2}
    base.update(kw)
    return ce.CeHull(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("score", "dm"), [(0, -2), (2, -2), (3, -1), (8, 0), (9, 1), (14, 2), (15, 3), (18, 4)]
)
def test_characteristic_dm_has_no_cap(score: int, dm: int) -> None:
    assert characteristic_dm(score) == dm


def test_jack_of_all_trades_cancels_the_unskilled_penalty_but_never_adds() -> None:
    assert ce.skill_dm(None, jot=1) == -2
    assert ce.skill_dm(None, jot=5) == 0
    assert ce.skill_dm(2, jot=3) == 2


def test_a_full_tie_rerolls_both_sides_in_order() -> None:
    dice = ScriptedDice([3, 3, 3, 3, 6, 6, 1, 1])
    o = ce.opposed(dice, ce.Side(1, 8), ce.Side(1, 8))
    assert (o.a_wins, o.rerolls, o.effect_a, o.effect_b) == (True, 1, 5, -5)


@pytest.mark.parametrize(
    ("damage", "groups"),
    [
        (0, []),
        (4, ["single"]),
        (12, ["double"]),
        (13, ["single", "single", "single"]),
        (28, ["triple"]),
        (40, ["triple", "double", "single"]),
        (44, ["triple", "triple"]),
        (45, ["triple", "triple"]),
        (56, ["triple", "triple", *["single"] * 4, "double", "double"]),
    ],
)
def test_damage_rows_read_contiguously_and_grow_beyond_44(damage: int, groups: list[str]) -> None:
    assert ce.damage_hits(damage) == groups


def test_reflec_counts_against_lasers_only() -> None:
    work = hull(armour=2)
    d = ce.weapon_damage(ScriptedDice([]), work, "beam_laser", 5, reflec=True)
    assert d.damage == 0  # 5 - (2 + 3)
    work = hull(armour=2)
    d = ce.weapon_damage(ScriptedDice([4, 4, 1, 1]), work, "particle_beam", 5, reflec=True)
    assert d.damage == 3  # Reflec does not stop particle beams; radiation 2 - 2: none
    assert d.radiation == "none"


def test_sand_reduces_every_beam_but_not_the_sandcaster() -> None:
    # A7: a particle beam is a beam: 10 - sand 1D [4] = 6, two Singles at [3,4] (Armour 0, so
    # Hull) twice; radiation [1,1]: none
    dice = ScriptedDice([4, 3, 4, 3, 4, 1, 1])
    d = ce.weapon_damage(dice, hull(armour=0), "particle_beam", 10, sand=True)
    assert (d.reduction, d.damage) == (4, 6)
    assert d.report.locations == ["hull", "hull"]
    d = ce.weapon_damage(ScriptedDice([4, 4]), hull(armour=0), "sandcaster", 1, sand=True)
    assert (d.reduction, d.damage) == (0, 1)


def test_meson_screens_cut_damage_and_the_radiation_roll() -> None:
    screens = [ce.Screen("meson_screen", 1), ce.Screen("nuclear_damper", 3)]
    # screen 2D [2,2] + 1 = 5 (the damper does not match and rolls nothing); 15 - 5 = 10:
    # a Double at Internal [3,4] = 7: Crew twice; radiation 2D [6,6] - 2 (one meson screen)
    dice = ScriptedDice([2, 2, 3, 4, 6, 6])
    work = hull(armour=8)
    d = ce.weapon_damage(dice, work, "meson_bay", 15, screens=screens)
    assert (d.reduction, d.damage) == (5, 10)
    assert d.report.locations == ["crew", "crew"]
    assert d.radiation_total == 10
    assert d.radiation == "one_4d"


def test_radiation_uses_the_armour_the_shot_met() -> None:
    # 12 - armour 1 = 11: a Double at External [3,4] = 7: Armour 1 -> 0, then (no armour
    # left) Hull; radiation 2D [4,4] - 1, the armour before this attack's hits (A6)
    work = hull(armour=1)
    d = ce.weapon_damage(ScriptedDice([3, 4, 4, 4]), work, "particle_beam", 12)
    assert d.report.hits == ["double"]
    assert d.report.locations == ["armour", "hull"]
    assert work.armour == 0
    assert d.radiation_total == 7


def test_no_radiation_roll_once_the_target_is_destroyed() -> None:
    work = hull(hull=0, structure=1, armour=0)
    d = ce.weapon_damage(ScriptedDice([4, 4]), work, "particle_beam", 4)
    assert work.status == "destroyed"
    assert d.radiation is None


def test_a_hull_double_with_one_hull_point_crosses_to_the_internal_row() -> None:
    work = hull(hull=1)
    report = ce.apply_hits(ScriptedDice([3, 3]), work, ["double"])
    assert report.locations == ["hull", "structure"]  # row 6: Hull, then Internal 6
    assert (work.hull, work.structure) == (0, 3)


def test_missing_and_destroyed_systems_by_their_column() -> None:
    # small craft, Hold missing: row 4 -> Hull (A4); Hull 0 -> Internal 4: J-Drive, missing ->
    # Structure
    work = hull(tons=50, hull=0, structure=2, missing=frozenset({"hold", "j_drive"}))
    report = ce.apply_hits(ScriptedDice([2, 2]), work, ["single"])
    assert report.locations == ["structure"]
    # a destroyed fuel tank: later hits go to Structure whatever the column
    work = hull(systems={"fuel": 3})
    report = ce.apply_hits(ScriptedDice([4, 5]), work, ["single"])
    assert report.locations == ["structure"]


def test_power_plant_second_hit_irradiates_and_third_disables() -> None:
    work = hull(hull=0, systems={"power_plant": 1})
    report = ce.apply_hits(ScriptedDice([1, 2]), work, ["double"])
    assert report.crew_hits == ["radiation"]
    assert work.status == "disabled"


def test_m_drive_hits_are_sequential() -> None:
    work = hull(thrust=4)
    ce.apply_hits(ScriptedDice([2, 2]), work, ["double"])
    assert work.thrust == 1  # 4 -> 3 -> floor(3 / 2)
    assert [ce.m_drive_thrust(4, n) for n in range(4)] == [4, 3, 1, 0]


def test_effect_is_added_to_beam_damage_only_when_configured() -> None:
    cfg = RulesConfig(ce_add_effect_to_damage=True)
    att = ce.AttackerDMs(gunner_skill=2, dex=8)
    c, raw = ce.roll_attack(
        ScriptedDice([6, 6, 3]),
        weapon="beam_laser",
        band="medium",
        target_structure=4,
        att=att,
        dfn=ce.DefenderDMs(),
        cfg=cfg,
    )
    assert (c.effect, raw) == (6, 9)


def test_pulse_penalty_can_be_switched_off() -> None:
    att = ce.AttackerDMs(gunner_skill=0, dex=8)

    def total(dice: list[int], cfg: RulesConfig) -> int:
        c, _ = ce.roll_attack(
            ScriptedDice(dice),
            weapon="pulse_laser",
            band="short",
            target_structure=4,
            att=att,
            dfn=ce.DefenderDMs(),
            cfg=cfg,
        )
        return c.total

    assert total([4, 4], RulesConfig()) == 6  # #2: the -2 stacks with Short's Average
    assert total([4, 4, 1, 1], RulesConfig(ce_pulse_penalty_stacks=False)) == 8


def test_point_defence_ignores_attack_dms_and_always_takes_the_pulse_penalty() -> None:
    chain = ce.point_defence(
        ScriptedDice([5, 5, 6, 6]), weapon="pulse_laser", salvo=2, gunner_skill=0, dex=8
    )
    assert chain.totals == (8, 9)
    assert chain.remaining == 0


def test_refusals_roll_nothing() -> None:
    dice = ScriptedDice([])
    with pytest.raises(RuleViolation) as exc:
        ce.missile_launch(
            dice,
            band="close",
            missile="standard",
            launcher="missile_rack",
            att=ce.AttackerDMs(sensors_hits=2),
        )
    assert exc.value.code == "out_of_range"
    with pytest.raises(RuleViolation) as exc:
        ce.repair(dice, 2, 9, "structure", 1)
    assert exc.value.code == "not_repairable"
    assert dice.used == 0
