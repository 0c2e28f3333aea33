"""Attacks inside a battle: the §7.B DMs as the engine gathers them from ship state, linked fire,
reactions that change the roll, called shots, damage applied to the target.

The gunboat's gunner:0 has Gunner-2 and DEX 9 (+1); the gunboat runs Fire Control/1; its
triple beam laser (+4) fires at Short (+1): every attack is 2D + 9 unless a test adds a DM.
"""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.tables_mgt2e import LOCATION_INDEX

from .conftest import Battle, crew, design, duel

GUNBOAT = design(
    "Gunboat",
    thrust=4,
    fire_control=1,
    sensors="military",
    turrets=[
        ("triple", ["beam_laser"] * 3),
        ("double", ["pulse_laser", "pulse_laser"]),
        ("single", ["particle_beam"]),
    ],
)
BARGE = design("Barge", armour=2, hull=400, thrust=0, fire_control=2)
GUNNERS = {f"gunner:{t}": crew(2, DEX=9, INT=8) for t in range(3)} | {
    "pilot": crew(2, DEX=9),
    "sensors": crew(2, INT=8),
}


def _battle(target: dict[str, Any] = BARGE, band: str = "short", **kw: Any) -> Battle:
    return Battle(duel(GUNBOAT, target, band=band, crew_a=GUNNERS, **kw))


def _fire(battle: Battle, dice: list[int], turret: int = 0, **kw: Any) -> rules.Event:
    battle.do({"type": "attack", "ship_id": "a", "turret": turret, "target": "b", **kw}, dice)
    return battle.last("attack_resolved")


def test_attack_gathers_every_dm_and_applies_damage_and_sustained_criticals() -> None:
    """§7.B total 2D + 9: [1, 2] -> 12, Effect 4. Damage 1D 5 + 2 (three linked) + 4 - 2 armour
    = 9 of Hull 400 (no threshold); the target's Hull becomes 391."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    res = _fire(b, [1, 2, 5])
    attack = res.data["attack"]
    assert attack["dms"] == {
        "gunner": 2,
        "dex": 1,
        "range": 1,
        "weapon": 4,
        "fire_control": 1,
        "aid": 0,
        "evasive": 0,
        "called_shot": 0,
        "other": 0,
    }
    assert (attack["total"], attack["effect"], attack["damage"]) == (12, 4, 9)
    assert res.dice == (1, 2, 5)
    assert b.ship("b").hull == 391
    assert b.ship("a").fired == frozenset({0, 1, 2})


def test_sustained_criticals_roll_their_location_in_play() -> None:
    """§10.B.3: 9 damage on Hull 80 crosses the 8-point threshold: one Severity-1 critical,
    location [3, 4] = 7 Hull, whose 1D (2) ignores armour; 11 lost stays below 16."""
    b = _battle(BARGE | {"hull": 80})
    b.to(rules.Step.ATTACK, "a")
    res = _fire(b, [1, 2, 5, 3, 4, 2])
    assert res.data["criticals"] == [
        {"source": "sustained", "location": "hull", "previous": 0, "severity": 1, "extra_damage": 2}
    ]
    assert b.ship("b").hull == 80 - 9 - 2
    assert b.ship("b").crits[LOCATION_INDEX["hull"]] == 1


def test_sensor_lock_gives_a_boon_on_attacks_against_that_target() -> None:
    """§6.B / §7.B: lock (Electronics-2, INT 8, military sensors: [3, 3] -> 8) -> Boon next
    round: [1, 1, 3] keeps 1 + 3 = 4 (2 without the Boon)."""
    b = _battle()
    b.to(rules.Step.ACTIONS, "a")
    lock = b.do({"type": "sensor_lock", "ship_id": "a", "target": "b"}, [3, 3])
    assert lock[0].data["locked"] is True
    assert b.ship("a").sensor_lock == "b"
    b.to(rules.Step.ATTACK, "a")
    res = _fire(b, [1, 1, 3, 1])
    assert (res.data["attack"]["boon"], res.data["attack"]["roll"]) == (1, 4)


def test_a_failed_lock_gives_nothing() -> None:
    """§6.B: [1, 2] -> 5 fails: no lock, the sensor station is done for the step."""
    b = _battle()
    b.to(rules.Step.ACTIONS, "a")
    b.do({"type": "sensor_lock", "ship_id": "a", "target": "b"}, [1, 2])
    assert b.ship("a").sensor_lock is None
    assert "sensors" in b.ship("a").done


def test_a_weapon_at_a_bane_rolls_three_keeps_lowest() -> None:
    """§7.B: a Severity-1 weapon critical gives that weapon a Bane: [1, 2, 6] keeps 3."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    b.patch("a", weapons=("bane", "ok", "ok", "ok", "ok", "ok"))
    res = _fire(b, [1, 2, 6, 1], weapons=[0])
    assert (res.data["attack"]["boon"], res.data["attack"]["roll"]) == (-1, 3)


def test_lock_and_bane_cancel() -> None:
    """§1.6: one Boon and one Bane cancel: two dice only."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    b.patch("a", weapons=("bane", "ok", "ok", "ok", "ok", "ok"), sensor_lock="b")
    res = _fire(b, [1, 2, 1], weapons=[0])
    assert (res.data["attack"]["boon"], res.data["attack"]["roll"]) == (0, 3)


@pytest.mark.parametrize(
    ("dice", "effect", "dm", "attack_dice"),
    [
        pytest.param([4, 5], 4, 2, [1] * 7, id="effect-4-gives-plus-2"),
        pytest.param([1, 1], -3, -2, [1, 1], id="failure-hurts"),
        pytest.param([6, 6], 7, 3, [1] * 7, id="exceptional-plus-3"),
    ],
)
def test_aid_gunners_costs_thrust_and_chains_into_the_attack(
    dice: list[int], effect: int, dm: int, attack_dice: list[int]
) -> None:
    """§3.B Aid Gunners: 1 Thrust, Pilot check (Pilot-2, DEX 9); its task-chain DM (§1.5)
    goes to this round's attacks."""
    b = _battle()
    b.to(rules.Step.MANOEUVRE, "a")
    ev = b.do({"type": "aid_gunners", "ship_id": "a"}, dice)
    assert ev[0].data["check"]["effect"] == effect
    assert (b.ship("a").aid_dm, b.ship("a").thrust_pool) == (dm, 3)
    b.refuse({"type": "aid_gunners", "ship_id": "a"})  # once a round
    b.to(rules.Step.ATTACK, "a")
    # particle beam: [1, 1] + 5 + DM; a hit rolls 3D damage and 2D rads
    res = _fire(b, attack_dice, turret=2)
    assert res.data["attack"]["dms"]["aid"] == dm
    assert res.data["attack"]["total"] == 2 + 5 + dm


def test_m_drive_damage_lowers_the_aid_gunners_check() -> None:
    """§10.B.4 M-Drive "control checks -n" apply to the pilot's Aid Gunners check."""
    b = _battle()
    b.to(rules.Step.MANOEUVRE, "a")
    crits = [0] * 11
    crits[LOCATION_INDEX["m_drive"]] = 2
    b.patch("a", crits=tuple(crits))
    ev = b.do({"type": "aid_gunners", "ship_id": "a"}, [4, 5])
    assert ev[0].data["check"]["total"] == 9 + 2 + 1 - 2


def test_evasive_action_budget_mg06() -> None:
    """§16 MG-06: Pilot-2 with Thrust 2 spends 1 moving: one dodge at DM -2; a second attack
    that round cannot be dodged."""
    dodger = design("Dodger", armour=2, hull=400, thrust=2)
    b = _battle(dodger, crew_b={"pilot": crew(2)})
    b.to(rules.Step.MANOEUVRE, "b")
    b.do({"type": "move", "ship_id": "b", "target": "a", "direction": "toward", "thrust": 1})
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    assert rules.awaiting(b.state) == [("b", "pilot")]
    b.do({"type": "evasive_action", "ship_id": "b"}, [1, 2, 1])
    first = b.last("attack_resolved")
    assert first.data["attack"]["dms"]["evasive"] == -2
    assert first.data["attack"]["total"] == 3 + 9 - 2
    assert b.ship("b").thrust_pool == 0
    second = _fire(b, [1, 1], turret=2)
    assert second.data["attack"]["dms"]["evasive"] == 0


def test_declining_a_reaction_resolves_the_attack_unchanged() -> None:
    """Part A: a reaction is the defender's choice; no_reaction lets the attack roll as is."""
    dodger = design("Dodger", armour=2, hull=400, thrust=2)
    b = _battle(dodger)
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"}, [1, 1, 1])
    assert b.last("attack_resolved").data["attack"]["dms"]["evasive"] == 0
    assert b.ship("b").thrust_pool == 2


def test_linked_fire_one_roll_and_partial_turrets() -> None:
    """§7.B linked fire: identical weapons fire together with one roll; a weapon that fired
    cannot fire again this round; the rest of the turret still may."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    one = _fire(b, [1, 1, 1], weapons=[0])
    assert one.data["weapons"] == [0]
    assert b.refuse(
        {"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "weapons": [0]}
    ).code == ("weapon_already_fired")
    two = _fire(b, [1, 2, 4], weapons=[1, 2])
    # 3 + 9 = 12, Effect 4; 1D 4 + 1 (one extra beam) + 4 - 2 armour = 7
    assert two.data["attack"]["damage"] == 7
    assert "gunner:0" in b.ship("a").done


def test_only_identical_weapons_link() -> None:
    """§7.B: linked fire needs identical weapons."""
    mixed = GUNBOAT | {"turrets": [{"mount": "double", "weapons": ["beam_laser", "pulse_laser"]}]}
    b = Battle(duel(mixed, BARGE, crew_a={"gunner:0": crew(2, DEX=9)}))
    b.to(rules.Step.ATTACK, "a")
    v = b.refuse({"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "weapons": [0, 1]})
    assert v.code == "not_linked"


def test_out_of_range_is_refused_in_play() -> None:
    """Part A: a beam laser reaches Medium; at Long the attack is refused, nothing changes."""
    b = _battle(band="long")
    b.to(rules.Step.ATTACK, "a")
    v = b.refuse({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    assert v.code == "out_of_range"
    res = _fire(b, [1, 1], turret=1)  # the pulse lasers reach Long
    assert res.data["attack"]["dms"]["range"] == -2


def test_damaged_sensors_cap_the_attack_range() -> None:
    """§10.B.4 Sensors 2: inoperative beyond Medium, so no attack at Long."""
    b = _battle(band="long")
    b.to(rules.Step.ATTACK, "a")
    crits = [0] * 11
    crits[LOCATION_INDEX["sensors"]] = 2
    b.patch("a", crits=tuple(crits))
    assert b.refuse({"type": "attack", "ship_id": "a", "turret": 1, "target": "b"}).code == (
        "beyond_sensors"
    )


def test_no_power_no_laser() -> None:
    """§10.B.4 Power Plant 4: Power 0; powered weapons cannot fire."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    crits = [0] * 11
    crits[LOCATION_INDEX["power_plant"]] = 4
    b.patch("a", crits=tuple(crits))
    v = b.refuse({"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "weapons": [0]})
    assert v.code == "no_power"


def test_called_shot_needs_the_2022_profile() -> None:
    """§7.B / Part A: the called shot exists only under MGT2E_2022."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    v = b.refuse(
        {"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "called_shot": "m_drive"}
    )
    assert v.code == "called_shot_not_allowed"


def test_called_shot_needs_short_range_or_closer() -> None:
    """§7.B: a called shot at Short or closer only (pulse lasers at Medium are refused)."""
    b = _battle(band="medium", ruleset="MGT2E_2022")
    b.to(rules.Step.ATTACK, "a")
    v = b.refuse(
        {"type": "attack", "ship_id": "a", "turret": 1, "target": "b", "called_shot": "m_drive"}
    )
    assert v.code == "called_shot_not_allowed"


def test_called_shot_takes_dm_minus_2_and_chooses_the_location() -> None:
    """§7.B (CRB22): DM -2; a critical goes where the attacker called it (no location roll).
    [6, 5] + 9 - 2 = 18, Effect 10 -> 2022 Severity 5 (capped at 6); Computer 5: disabled,
    so the target's Fire Control/2 is gone."""
    b = _battle(ruleset="MGT2E_2022")
    b.to(rules.Step.ATTACK, "a")
    res = _fire(b, [6, 5, 6], called_shot="computer")
    assert res.data["attack"]["dms"]["called_shot"] == -2
    assert res.data["attack"]["effect"] == 10
    assert res.data["criticals"][0] == {
        "source": "attack",
        "location": "computer",
        "previous": 0,
        "severity": 5,
        "extra_damage": 0,
    }
    assert b.ship("b").fire_control == 0
    # 1D 6 + 2 (linked) + 10 - 2 armour = 16 damage
    assert b.ship("b").hull == 400 - 16


@pytest.mark.parametrize(
    ("ignore", "severity"),
    [pytest.param(False, 2, id="default-crits"), pytest.param(True, 0, id="hg-big-ship-option")],
)
def test_big_ships_may_ignore_turret_criticals(ignore: bool, severity: int) -> None:
    """§10.B.3 HG option: ships of 2,000 t+ take no attack-roll criticals from turrets.
    [6, 6] + 9 = 21, Effect 13; 1D 6 + 2 + 13 - 2 = 19 -> 2016 Severity 2 at [1, 1] Sensors."""
    big = design("Dreadnought", tons=2000, hull=800, armour=2)
    b = _battle(big, config={"big_ship_ignores_turret_crits": ignore})
    b.to(rules.Step.ATTACK, "a")
    res = _fire(b, [6, 6, 6] + ([1, 1] if severity else []))
    assert res.data["attack"]["damage"] == 19
    crits = [c for c in res.data["criticals"] if c["source"] == "attack"]
    assert [c["severity"] for c in crits] == ([severity] if severity else [])


def test_radiation_weapons_record_rads() -> None:
    """§8.B Radiation trait ⚠ (twodsix): a particle-beam hit exposes the crew to 2D x 20 rads."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    res = _fire(b, [3, 3, 1, 1, 1, 2, 3], turret=2)
    assert res.data["rads"] == (2 + 3) * 20
    assert b.ship("b").rads == 100


@pytest.mark.parametrize(
    ("mount", "multiple"),
    [pytest.param("barbette", 3, id="barbette-x3"), pytest.param("small_bay", 10, id="bay-x10")],
)
def test_mount_multiple_in_play(mount: str, multiple: int) -> None:
    """§8.B: barbettes x3 and bays x10 multiply the damage after armour. A particle beam
    (Gunner-2, DEX 9, Short +1): [2, 2] + 4 = 8, Effect 0; 3D 6 - 2 armour = 4 -> 4 x multiple;
    then 2D rads (Radiation trait)."""
    ship = design("Heavy", turrets=[(mount, ["particle_beam"])])
    b = Battle(duel(ship, BARGE | {"hull": 4000}, crew_a={"gunner:0": crew(2, DEX=9)}))
    b.to(rules.Step.ATTACK, "a")
    res = _fire(b, [2, 2, 2, 2, 2, 1, 1])
    assert res.data["attack"]["multiple"] == multiple
    assert res.data["attack"]["damage"] == 4 * multiple
    assert b.ship("b").hull == 4000 - 4 * multiple


def test_thrust_lost_to_a_critical_leaves_the_pool_at_once() -> None:
    """§10.B.4: M-Drive Severity 5 is Thrust 0; the loss comes off this round's unspent pool
    at once, so the pilot can no longer pay for evasive action against the next attack.
    Called shot (2022): [6, 5] + 9 - 2 = 18, Effect 10 -> Severity 5 at the M-Drive."""
    runner = design("Runner", armour=2, hull=400, thrust=2)
    b = _battle(runner, ruleset="MGT2E_2022")
    b.to(rules.Step.ATTACK, "a")
    assert b.ship("b").thrust_pool == 2
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "called_shot": "m_drive"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"}, [6, 5, 6])
    assert b.last("attack_resolved").data["criticals"][0]["severity"] == 5
    assert (b.ship("b").thrust, b.ship("b").thrust_pool) == (0, 0)
    declared = b.do({"type": "attack", "ship_id": "a", "turret": 1, "target": "b"}, [1, 1, 1, 1])
    assert declared[0].data["eligible"] == [], "no evasive action without Thrust"
    assert b.last("attack_resolved").data["attack"]["dms"]["evasive"] == 0
