"""The pure attack function: every DM of §7.B, reach, linked fire, armour, AP, sand, multiples.

A gunner with skill 0 and DEX 7 (DM 0) is the neutral baseline, so each test isolates one DM.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from gameserver.rules import RulesConfig, Ruleset, RuleViolation, ScriptedDice
from gameserver.rules.dice import roll, roll_2d
from gameserver.rules.resolution import (
    AttackRoll,
    attack_dms,
    critical_severity,
    resolve_attack,
    weapon_reach_error,
)
from gameserver.rules.tables_mgt2e import BANDS, MOUNT_MULTIPLE, WEAPONS

REACH = {
    "laser_drill": "adjacent",
    "railgun": "short",
    "beam_laser": "medium",
    "plasma_gun": "medium",
    "fusion_gun": "medium",
    "pulse_laser": "long",
    "particle_beam": "very_long",
}


def _attack(dice: list[int], **kw: Any) -> tuple[AttackRoll, ScriptedDice]:
    scripted = ScriptedDice(dice)
    args: dict[str, Any] = {
        "weapon": "particle_beam",
        "band": "adjacent",
        "gunner_skill": 0,
        "dex": 7,
    }
    args.update(kw)
    return resolve_attack(scripted, **args), scripted


@pytest.mark.parametrize(
    ("band", "dm"),
    [
        pytest.param("adjacent", 0, id="adjacent"),
        pytest.param("close", 0, id="close"),
        pytest.param("short", 1, id="short-plus-1"),
        pytest.param("medium", 0, id="medium"),
        pytest.param("long", -2, id="long-minus-2"),
        pytest.param("very_long", -4, id="very-long-minus-4"),
    ],
)
def test_range_dm(band: str, dm: int) -> None:
    """§5.1 / §7.B range DMs (particle beam: weapon DM 0, reaches Very Long)."""
    res, _ = _attack([1, 1], band=band)
    assert res.dms["range"] == dm
    assert res.total == 2 + dm


def test_distant_range_dm() -> None:
    """§5.1: Distant is DM -6 (no direct-fire weapon of §8.B reaches it, so only the table)."""
    assert attack_dms("particle_beam", 0, 7, "distant")["range"] == -6


@pytest.mark.parametrize(
    ("weapon", "dm"),
    [
        pytest.param("pulse_laser", 2, id="pulse-plus-2"),
        pytest.param("beam_laser", 4, id="beam-plus-4"),
        pytest.param("particle_beam", 0, id="particle"),
        pytest.param("railgun", 0, id="railgun"),
        pytest.param("plasma_gun", 0, id="plasma"),
        pytest.param("fusion_gun", 0, id="fusion"),
        pytest.param("laser_drill", 0, id="laser-drill"),
    ],
)
def test_weapon_dm(weapon: str, dm: int) -> None:
    """§7.B: pulse laser +2, beam laser +4, the rest 0 (a miss draws no damage dice)."""
    res, dice = _attack([1, 1], weapon=weapon)
    assert res.total == 2 + dm
    assert not res.hit
    assert dice.used == 2


@pytest.mark.parametrize(
    ("kwargs", "key", "dm"),
    [
        pytest.param({"gunner_skill": 3}, "gunner", 3, id="gunner-skill"),
        pytest.param({"gunner_skill": None}, "gunner", -3, id="unskilled"),
        pytest.param({"dex": 12}, "dex", 2, id="dex-12"),
        pytest.param({"dex": 0}, "dex", -3, id="dex-0"),
        pytest.param({"fire_control": 3}, "fire_control", 3, id="fire-control-3"),
        pytest.param({"aid_dm": 2}, "aid", 2, id="aid-gunners"),
        pytest.param({"evasive_dm": -2}, "evasive", -2, id="target-evasive"),
        pytest.param({"called_shot_dm": -2}, "called_shot", -2, id="called-shot"),
        pytest.param({"other_dm": 1}, "other", 1, id="other"),
    ],
)
def test_each_attacker_and_defender_dm_is_itemised_and_added(
    kwargs: dict[str, Any], key: str, dm: int
) -> None:
    """§7.B DM table: each DM shows in the breakdown and moves the total by its value."""
    res, _ = _attack([1, 1], **kwargs)
    assert res.dms[key] == dm
    assert res.total == 2 + dm
    assert sum(res.dms.values()) == dm


@pytest.mark.parametrize(
    ("boon", "dice", "roll"),
    [
        pytest.param(1, [6, 1, 1], 7, id="sensor-lock-boon"),
        pytest.param(-1, [6, 1, 6], 7, id="weapon-bane"),
        pytest.param(0, [6, 1], 7, id="neither"),
    ],
)
def test_boon_and_bane_on_the_attack_roll(boon: int, dice: list[int], roll: int) -> None:
    """§7.B: sensor lock = Boon, a weapon at a Severity-1 crit = Bane (3D, keep two)."""
    res, scripted = _attack(dice, boon=boon)
    assert res.roll == roll
    assert scripted.used == len(dice)


@pytest.mark.parametrize(
    ("weapon", "band", "allowed"),
    [
        pytest.param(w, b.value, i <= [x.value for x in BANDS].index(reach), id=f"{w}-{b.value}")
        for w, reach in REACH.items()
        for i, b in enumerate(BANDS)
    ],
)
def test_weapon_reach(weapon: str, band: str, allowed: bool) -> None:
    """Part A: a weapon fires at its maximum band (§8.B) or closer; beyond is refused."""
    if allowed:
        res, _ = _attack([1, 1], weapon=weapon, band=band, dex=0, gunner_skill=None)
        assert not res.hit
    else:
        with pytest.raises(RuleViolation) as exc:
            _attack([1, 1], weapon=weapon, band=band)
        assert exc.value.code == "out_of_range"


@pytest.mark.parametrize("weapon", ["missile_rack", "sandcaster"])
def test_missiles_and_sand_are_not_direct_fire(weapon: str) -> None:
    """Part A: `missile_rack` or `sandcaster` given to `attack` -> not_direct_fire."""
    with pytest.raises(RuleViolation) as exc:
        _attack([6, 6], weapon=weapon)
    assert exc.value.code == "not_direct_fire"


def test_hit_damage_adds_effect_and_subtracts_armour() -> None:
    """§10.B.2: damage = dice + Effect - armour (beam laser 1D; 2D 6 + 4 = 10, Effect 2)."""
    res, dice = _attack([3, 3, 5], weapon="beam_laser", armour=4)
    assert (res.total, res.effect, res.hit) == (10, 2, True)
    assert res.damage_roll == 5
    assert res.damage == 5 + 2 - 4
    assert dice.used == 3


@pytest.mark.parametrize(
    ("weapon", "linked", "damage_dice", "extra"),
    [
        pytest.param("pulse_laser", 3, [3, 4], 4, id="triple-pulse-2D+4"),
        pytest.param("pulse_laser", 2, [3, 4], 2, id="double-pulse-2D+2"),
        pytest.param("beam_laser", 2, [5], 1, id="double-beam-1D+1"),
        pytest.param("beam_laser", 3, [5], 2, id="triple-beam-1D+2"),
        pytest.param("particle_beam", 1, [1, 2, 3], 0, id="single-no-bonus"),
    ],
)
def test_linked_fire_is_one_roll_with_plus_one_per_die_per_extra_weapon(
    weapon: str, linked: int, damage_dice: list[int], extra: int
) -> None:
    """§7.B linked fire: one roll; damage +1 per damage die for each extra weapon."""
    res, dice = _attack([4, 4, *damage_dice], weapon=weapon, linked=linked)
    effect = res.effect
    assert res.damage == sum(damage_dice) + extra + effect
    assert dice.used == 2 + len(damage_dice)


@pytest.mark.parametrize(
    ("armour", "counted"),
    [
        pytest.param(6, 2, id="armour-6-counts-2"),
        pytest.param(4, 0, id="armour-4-counts-0"),
        pytest.param(3, 0, id="never-negative"),
    ],
)
def test_armour_piercing(armour: int, counted: int) -> None:
    """§8.B AP n ignores n points of armour (railgun AP 4); never adds damage."""
    res, _ = _attack([4, 4, 3, 3], weapon="railgun", armour=armour)
    assert res.effect == 0
    assert res.armour == counted
    assert res.damage == 6 - counted


@pytest.mark.parametrize(
    ("weapon", "damage_dice", "armour_counted"),
    [
        pytest.param("beam_laser", [6], 2 + 3, id="beam-laser"),
        pytest.param("pulse_laser", [6, 6], 2 + 3, id="pulse-laser"),
        pytest.param("laser_drill", [6, 6], 2 + 3 - 4, id="laser-drill-sand-then-AP-4"),
        pytest.param("particle_beam", [6, 6, 6], 2, id="particle-beam-ignores-sand"),
        pytest.param("plasma_gun", [6, 6, 6], 2, id="plasma-ignores-sand"),
    ],
)
def test_sand_armour_counts_against_lasers_only(
    weapon: str, damage_dice: list[int], armour_counted: int
) -> None:
    """§11.B / Part A: armour 2 + sand 3 against lasers only; AP comes off the sum."""
    res, _ = _attack([4, 4, *damage_dice], weapon=weapon, armour=2, sand_armour=3)
    assert res.armour == armour_counted
    assert res.damage == sum(damage_dice) + res.effect - armour_counted


@pytest.mark.parametrize(
    ("mount", "multiple"),
    [
        pytest.param("fixed", 1, id="fixed"),
        pytest.param("single", 1, id="single"),
        pytest.param("double", 1, id="double"),
        pytest.param("triple", 1, id="triple"),
        pytest.param("barbette", 3, id="barbette-x3"),
        pytest.param("small_bay", 10, id="small-bay-x10"),
        pytest.param("medium_bay", 20, id="medium-bay-x20"),
        pytest.param("large_bay", 100, id="large-bay-x100"),
    ],
)
def test_damage_multiple_applies_after_armour(mount: str, multiple: int) -> None:
    """§8.B / §16 MG-14: (14 + 2 - 8) x multiple; a particle beam, 2D 10 for Effect 2."""
    res, _ = _attack([5, 5, 6, 4, 4], mount=mount, armour=8)
    assert res.effect == 2
    assert res.damage == (14 + 2 - 8) * multiple


def test_armour_above_damage_gives_zero_even_in_a_bay() -> None:
    """§10.B.2: minimum 0 before the multiple (never negative damage)."""
    res, _ = _attack([4, 4, 1, 1, 1], mount="large_bay", armour=20)
    assert res.hit
    assert res.damage == 0
    assert res.severity == 0


@pytest.mark.parametrize(
    ("ruleset", "severity"),
    [
        pytest.param(Ruleset.MGT2E_2016, 2, id="2016-ceil-damage-over-10"),
        pytest.param(Ruleset.MGT2E_2022, 3, id="2022-effect-minus-5"),
    ],
)
def test_attack_reports_the_critical_severity_of_its_ruleset(
    ruleset: Ruleset, severity: int
) -> None:
    """§10.B.3: Effect 8 with 18 damage: 2016 ceil(18/10) = 2; 2022 8 - 5 = 3."""
    res, _ = _attack([5, 5, 6, 6, 6], other_dm=6, armour=8, ruleset=ruleset)
    assert (res.effect, res.damage) == (8, 18 + 8 - 8)
    assert res.severity == severity
    assert critical_severity(18, 8, ruleset) == severity


def _reference_attack(dice: ScriptedDice, kw: dict[str, Any]) -> AttackRoll:
    """§7.B + §10.B.2 written out plainly from the itemised DMs (what the fast path must equal).

    Only for pairs the weapon reaches (Part A); the caller checks the refusal first.
    """
    stats = WEAPONS[kw["weapon"]]
    dms = attack_dms(
        kw["weapon"],
        kw["gunner_skill"],
        kw["dex"],
        kw["band"],
        kw["fire_control"],
        kw["aid_dm"],
        kw["evasive_dm"],
        kw["other_dm"],
        kw["called_shot_dm"],
    )
    r = roll_2d(dice, kw["boon"])
    total = r + sum(dms.values())
    effect = total - 8
    multiple = MOUNT_MULTIPLE[kw["mount"]]
    if effect < 0:
        return AttackRoll(
            kw["weapon"], r, dms, kw["boon"], total, effect, False, 0, 0, multiple, 0, 0
        )
    damage_roll = roll(dice, stats.damage_dice)
    armour = kw["armour"] + (kw["sand_armour"] if stats.laser else 0)
    armour_left = max(0, armour - stats.ap)
    damage = (
        max(0, damage_roll + (kw["linked"] - 1) * stats.damage_dice + effect - armour_left)
        * multiple
    )
    sev = critical_severity(damage, effect, kw["ruleset"], kw["cfg"])
    return AttackRoll(
        kw["weapon"],
        r,
        dms,
        kw["boon"],
        total,
        effect,
        True,
        damage_roll,
        armour_left,
        multiple,
        damage,
        sev,
    )


@settings(max_examples=300, deadline=None)
@given(
    faces=st.lists(st.integers(1, 6), min_size=7, max_size=7),
    weapon=st.sampled_from(sorted(WEAPONS)),
    band=st.sampled_from([b.value for b in BANDS]),
    mount=st.sampled_from(sorted(MOUNT_MULTIPLE)),
    gunner_skill=st.one_of(st.none(), st.integers(0, 4)),
    dex=st.integers(0, 16),
    ints=st.lists(st.integers(-4, 6), min_size=7, max_size=7),
    boon=st.integers(-1, 1),
    linked=st.integers(1, 3),
    ruleset=st.sampled_from(list(Ruleset)),
    formula=st.sampled_from(["by_ruleset", "damage", "effect"]),
)
def test_resolve_attack_equals_the_plain_formula(
    faces: list[int],
    weapon: str,
    band: str,
    mount: str,
    gunner_skill: int | None,
    dex: int,
    ints: list[int],
    boon: int,
    linked: int,
    ruleset: Ruleset,
    formula: str,
) -> None:
    """The precomputed reach table and inlined sums change no result, refusal or die drawn."""
    fire_control, aid, evasive, other, called, armour, sand = ints
    kw: dict[str, Any] = {
        "weapon": weapon,
        "band": band,
        "gunner_skill": gunner_skill,
        "dex": dex,
        "mount": mount,
        "linked": linked,
        "fire_control": fire_control,
        "boon": boon,
        "aid_dm": aid,
        "evasive_dm": -abs(evasive),
        "other_dm": other,
        "called_shot_dm": -abs(called),
        "armour": abs(armour),
        "sand_armour": abs(sand),
        "ruleset": ruleset,
        "cfg": RulesConfig(severity_formula=formula),  # type: ignore[arg-type]
    }
    fast, slow = ScriptedDice(faces), ScriptedDice(faces)
    refusal = weapon_reach_error(weapon, band)
    if refusal is not None:
        with pytest.raises(RuleViolation) as got:
            resolve_attack(fast, **kw)
        assert (got.value.code, str(got.value)) == (refusal.code, str(refusal))
        assert fast.used == 0
        return
    expected = _reference_attack(slow, kw)
    assert resolve_attack(fast, **kw) == expected
    assert fast.take() == slow.take()
