"""Missile salvos (§9.B): launch, salvo forming, flight time, point defence, electronic warfare,
impact; ammunition and reloads; sand against lasers (§11.B)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.pending import PendingSalvo
from gameserver.rules.resolution import resolve_salvo, smart_dm

from .conftest import Battle, crew, design, duel

LAUNCHER = design(
    "Launcher",
    thrust=2,
    tl=12,
    turrets=[
        ("triple", ["missile_rack"] * 3),
        ("triple", ["missile_rack"] * 3),
        ("triple", ["beam_laser"] * 3),
    ],
    missile_reserve=12,
)
DEFENDER = design(
    "Defender",
    armour=2,
    hull=400,
    thrust=2,
    tl=10,
    sensors="military",
    turrets=[("triple", ["beam_laser"] * 3), ("double", ["pulse_laser", "sandcaster"])],
    sand_reserve=5,
)
DEFENDER_CREW = {
    "pilot": crew(1),
    "gunner:0": crew(1, DEX=8),
    "gunner:1": crew(1, DEX=8),
    "sensors": crew(2, INT=8),
}


def _battle(band: str = "long", defender: dict[str, Any] = DEFENDER, **kw: Any) -> Battle:
    return Battle(duel(LAUNCHER, defender, band=band, crew_b=DEFENDER_CREW, **kw))


def _launch(b: Battle, turret: int = 0, target: str = "b", ship: str = "a") -> rules.Event:
    b.do({"type": "launch_missiles", "ship_id": ship, "turret": turret, "target": target})
    return b.last("missiles_launched")


def test_launch_spends_one_missile_per_rack_and_starts_a_salvo() -> None:
    """§9.B: each ready rack of the turret launches one missile; at Long it flies 1 round."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    ev = _launch(b)
    assert (ev.data["missiles"], ev.data["launched_round"], ev.data["arrives_round"]) == (3, 1, 2)
    assert b.ship("a").ammo[:3] == (11, 11, 11)
    assert [s.missiles for s in b.state.salvos] == [3]
    assert ev.dice == ()


def test_all_missiles_at_one_target_in_one_round_form_one_salvo() -> None:
    """§9.B.1: all missiles one ship launches at one target in one round form one salvo."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    _launch(b, 0)
    ev = _launch(b, 1)
    assert ev.data["joined"] is True
    assert [s.missiles for s in b.state.salvos] == [6]


@pytest.mark.parametrize(
    ("band", "rounds"),
    [
        pytest.param("adjacent", 0, id="adjacent-immediate"),
        pytest.param("close", 0, id="close-immediate"),
        pytest.param("short", 0, id="short-immediate"),
        pytest.param("medium", 0, id="medium-immediate"),
        pytest.param("long", 1, id="long-1"),
        pytest.param("very_long", 4, id="very-long-4"),
        pytest.param("distant", 10, id="distant-10"),
    ],
)
def test_flight_time_by_band_at_launch(band: str, rounds: int) -> None:
    """§9.B.2 (⚠ DEFAULT #27): rounds to impact by the band at launch."""
    b = _battle(band)
    b.to(rules.Step.ATTACK, "a")
    ev = _launch(b)
    assert ev.data["arrives_round"] - ev.data["launched_round"] == rounds


def test_an_immediate_salvo_strikes_when_the_launcher_has_fired() -> None:
    """§9.B.2: at Medium or closer the salvo strikes in the same Attack step, after the ship's
    gunners have all fired (so both turrets' missiles fly as one salvo)."""
    b = _battle("medium")
    b.to(rules.Step.ATTACK, "a")
    _launch(b, 0)
    _launch(b, 1)
    assert not b.state.pending
    b.do({"type": "end_step", "ship_id": "a", "station": "gunner:2"})
    head = b.state.pending[0]
    assert isinstance(head, PendingSalvo)
    assert (head.missiles, head.target) == (6, "b")
    assert list(head.eligible) == ["pilot", "gunner:0", "gunner:1"]
    assert rules.awaiting(b.state) == [("b", s) for s in head.eligible]


def _salvo_at_the_defender(band: str = "long") -> Battle:
    """Launch 3 missiles at Long in round 1; they arrive at the start of round 2's Attack step."""
    b = _battle(band)
    b.to(rules.Step.ATTACK, "a")
    _launch(b)
    b.until(lambda st: bool(st.pending))
    assert b.state.round == 2
    assert b.state.step == rules.Step.ATTACK
    return b


def test_a_salvo_in_flight_arrives_next_round_and_awaits_reactions() -> None:
    """§9.B.2: a Long launch arrives one round later; the defender may react (Part A)."""
    b = _salvo_at_the_defender()
    incoming = b.last("salvo_incoming")
    assert incoming.data["id"] == b.state.pending[0].id
    assert incoming.data["missiles"] == 3
    assert not b.state.salvos


@pytest.mark.parametrize(
    ("dice", "removed"),
    [
        pytest.param([3, 4], 2, id="MG-07-effect-2-removes-2"),
        pytest.param([2, 3], 1, id="effect-0-still-removes-1"),
        pytest.param([1, 1], 0, id="failure-removes-none"),
        pytest.param([6, 6], 3, id="never-more-than-the-salvo"),
    ],
)
def test_point_defence(dice: list[int], removed: int) -> None:
    """§11.B / Part A: Gunner-1, DEX 8, triple turret +2 (no beam +4): success removes
    max(1, Effect) missiles; that turret cannot attack this round."""
    b = _salvo_at_the_defender()
    b.do({"type": "point_defence", "ship_id": "b", "turret": 0}, dice)
    ev = b.last("point_defence")
    assert ev.data["check"]["total"] == sum(dice) + 1 + 2
    assert ev.data["removed"] == removed
    assert ev.data["remaining"] == 3 - removed
    if removed == 3:
        assert not b.state.pending, "nothing left: the salvo is gone"
        return
    head = b.state.pending[0]
    assert isinstance(head, PendingSalvo)
    assert head.missiles == 3 - removed
    assert b.ship("b").fired == frozenset({0, 1, 2})
    assert 0 in b.ship("b").pd_used


def test_salvo_impact_one_roll_plus_one_per_missile_and_effect_once() -> None:
    """§9.B.3 (DEFAULTS #27): 2D + Smart (TL 12 vs 10: +2) + 1 per missile + evasive; each
    missile 4D - armour; the Effect is added once. [3, 3] + 2 + 3 - 1 (Pilot-1 dodge) = 10,
    Effect 2; 4D of 1s each: (4 + 2 - 2) + (4 - 2) + (4 - 2) = 8."""
    b = _salvo_at_the_defender()
    b.do({"type": "evasive_action", "ship_id": "b"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:0"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:1"}, [3, 3] + [1] * 12)
    ev = b.last("salvo_resolved")
    assert ev.data["dms"] == {"smart": 2, "missiles": 3, "evasive": -1}
    assert (ev.data["total"], ev.data["effect"], ev.data["hit"]) == (10, 2, True)
    assert ev.data["damage_rolls"] == [4, 4, 4]
    assert ev.data["damage"] == 8
    assert b.ship("b").hull == 392


def test_point_defence_thins_the_salvo_before_it_rolls() -> None:
    """§9.B.3: point defence first reduces the number of missiles (and the +1 per missile)."""
    b = _salvo_at_the_defender()
    b.do({"type": "point_defence", "ship_id": "b", "turret": 0}, [3, 4])
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:1"}, [1, 1])
    ev = b.last("salvo_resolved")
    assert (ev.data["missiles"], ev.data["dms"]["missiles"], ev.data["total"]) == (1, 1, 5)
    assert not ev.data["hit"]


@pytest.mark.parametrize(
    ("missile_tl", "target_tl", "band", "dm"),
    [
        pytest.param(12, 10, "long", 2, id="tl-difference"),
        pytest.param(12, 12, "long", 1, id="minimum-plus-1"),
        pytest.param(9, 12, "short", 1, id="lower-tl-still-plus-1"),
        pytest.param(16, 5, "medium", 6, id="maximum-plus-6"),
        pytest.param(12, 10, "close", 0, id="lost-at-close"),
        pytest.param(12, 10, "adjacent", 0, id="lost-at-adjacent"),
    ],
)
def test_smart_dm(missile_tl: int, target_tl: int, band: str, dm: int) -> None:
    """§8.B Smart: TL difference, minimum +1, maximum +6; lost at Adjacent or Close."""
    assert smart_dm(missile_tl, target_tl, band) == dm


def test_salvo_damage_takes_no_mount_multiple() -> None:
    """§8.B / Part A: multiples never apply to missiles (a missile bay still does 4D each)."""
    bay = design("Bay ship", turrets=[("small_bay", ["missile_rack"])], thrust=1)
    target = DEFENDER | {"thrust": 0, "turrets": []}
    b = Battle(duel(bay, target, band="short"))
    b.to(rules.Step.ATTACK, "a")
    b.do(
        {"type": "launch_missiles", "ship_id": "a", "turret": 0, "target": "b"},
        [4, 4, 2, 2, 2, 2],
    )
    ev = b.last("salvo_resolved")
    # [4, 4] + Smart 2 + 1 missile = 11, Effect 3: 4D 8 + 3 - 2 = 9, not 90
    assert (ev.data["effect"], ev.data["damage"]) == (3, 9)
    assert b.ship("b").hull == 391


def test_pure_salvo_effect_once_option() -> None:
    """§9.B.3 config flag `salvo_effect_once`: off adds the Effect to every missile."""
    once = resolve_salvo(
        rules.ScriptedDice([5, 5] + [1] * 8), missiles=2, smart=0, evasive_dm=0, armour=0
    )
    each = resolve_salvo(
        rules.ScriptedDice([5, 5] + [1] * 8),
        missiles=2,
        smart=0,
        evasive_dm=0,
        armour=0,
        cfg=rules.RulesConfig(salvo_effect_once=False),
    )
    assert once.effect == each.effect == 4
    assert (once.damage, each.damage) == (4 + 4 + 4, 2 * (4 + 4))


@pytest.mark.parametrize(
    ("dice", "removed"),
    [
        pytest.param([4, 4], 1, id="effect-0-removes-1"),
        pytest.param([6, 6], 3, id="effect-4-removes-all-3"),
        pytest.param([3, 4], 0, id="below-10-fails"),
    ],
)
def test_electronic_warfare_against_a_salvo_in_flight(dice: list[int], removed: int) -> None:
    """§11.B DEFAULT: Actions step, Electronics Difficult (10+) with the sensor DM; success
    removes max(1, Effect) missiles from one salvo in flight (Electronics-2, INT 8, military)."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    _launch(b)
    salvo_id = b.state.salvos[0].id
    b.to(rules.Step.ACTIONS, "b")
    b.do(
        {"type": "electronic_warfare", "ship_id": "b", "mode": "missiles", "salvo_id": salvo_id},
        dice,
    )
    ev = b.last("electronic_warfare")
    assert ev.data["check"]["target"] == 10
    assert ev.data["removed"] == removed
    left = [s.missiles for s in b.state.salvos]
    assert left == ([3 - removed] if removed < 3 else [])


def test_no_ammunition_then_reload_from_stores() -> None:
    """§9.B.4: an empty rack cannot launch; Reload (Actions step) refills it from stores."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    b.patch("a", ammo=(0, 0, 0, 12, 12, 12, 0, 0, 0))
    v = b.refuse({"type": "launch_missiles", "ship_id": "a", "turret": 0, "target": "b"})
    assert v.code == "no_ammunition"
    v = b.refuse(
        {"type": "launch_missiles", "ship_id": "a", "turret": 0, "target": "b", "weapons": [1]}
    )
    assert v.code == "no_ammunition"
    b.to(rules.Step.ACTIONS, "a")
    b.do({"type": "reload", "ship_id": "a", "turret": 0})
    assert b.ship("a").ammo[:3] == (12, 0, 0)
    assert b.ship("a").missile_reserve == 0
    assert "gunner:0" in b.ship("a").done


def test_missiles_at_a_ship_that_left_are_discarded() -> None:
    """§13.3 DEFAULT: missiles in flight towards a removed ship are discarded."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    _launch(b)
    b.to(rules.Step.ACTIONS, "b")
    b.do({"type": "surrender", "ship_id": "b"})
    assert not b.state.salvos
    assert b.state.is_over


def test_salvos_arriving_together_strike_one_after_another() -> None:
    """§4.B limits: two salvos arrive at once; each meets the defender as it then is: the
    pilot's last Thrust and the triple turret's once-a-round point defence go on the first,
    so the second can only be met by the pulse laser."""
    second = {"id": "c", "name": "Charlie", "side": "red", "design": LAUNCHER}
    scenario = duel(LAUNCHER, DEFENDER, band="long", crew_b=DEFENDER_CREW, extra_ships=[second])
    # initiative dice in ship order a, b, c (2D, then the captain's Tactics 2D): a, c, b
    b = Battle(scenario, init_dice=[6, 6, 6, 6, 1, 1, 1, 1, 5, 5, 5, 5])
    assert b.state.order == ("a", "c", "b")
    b.to(rules.Step.ATTACK, "a")
    _launch(b, ship="a")
    b.to(rules.Step.ATTACK, "c")
    _launch(b, ship="c")
    b.to(rules.Step.MANOEUVRE, "b", round_=2)
    b.do({"type": "move", "ship_id": "b", "target": "a", "direction": "toward", "thrust": 1})
    b.until(lambda st: bool(st.pending))
    assert (b.state.pending[0].attacker, len(b.state.salvos)) == ("a", 1)
    b.do({"type": "evasive_action", "ship_id": "b"})
    b.do({"type": "point_defence", "ship_id": "b", "turret": 0}, [1, 1])
    # [1, 1] + 2 (Smart) + 3 missiles - 1 = 6 misses
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:1"}, [1, 1])
    head = b.state.pending[0]
    assert (head.attacker, list(head.eligible)) == ("c", ["gunner:1"])
    assert not b.state.salvos


def test_reactions_that_can_no_longer_be_made_lapse() -> None:
    """A pending reaction offer follows the defender's state (here a GM ruling takes the
    pilot's Thrust): the stale offer lapses, with an event, instead of waiting forever."""
    b = _salvo_at_the_defender()
    b.gm({"type": "gm_ruling", "ship_id": "b", "field": "thrust_pool", "value": 0, "reason": "x"})
    assert b.last("reactions_lapsed").data["stations"] == ["pilot"]
    assert rules.awaiting(b.state) == [("b", "gunner:0"), ("b", "gunner:1")]


# --------------------------------------------------------------------- sand (§11.B)


def _laser_at_the_defender() -> Battle:
    b = _battle("short")
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 2, "target": "b"})
    return b


def test_sand_is_offered_against_a_laser() -> None:
    """§11.B: a sandcaster turret may react to a laser attack."""
    b = _laser_at_the_defender()
    assert list(b.state.pending[0].eligible) == ["pilot", "gunner:1"]


def test_sand_adds_1d_plus_effect_armour_against_that_attack() -> None:
    """§16 MG-08: Gunner-1, DEX 8: [4, 4] -> 9, Effect 1; sand die 3 -> armour +4 against this
    laser. The beams (Gunner-1, DEX 8, +4, Short +1): [3, 3] + 6 = 12, Effect 4; 1D 6 + 2
    linked + 4 - (2 + 4) = 6."""
    b = _laser_at_the_defender()
    b.do({"type": "sand", "ship_id": "b", "turret": 1}, [4, 4, 3])
    assert b.last("sand_cast").data["armour_bonus"] == 4
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"}, [3, 3, 6])
    res = b.last("attack_resolved")
    assert res.data["attack"]["armour"] == 6
    assert res.data["attack"]["damage"] == 6
    assert b.ship("b").ammo[4] == rules.RulesConfig().sandcaster_load - 1
    assert 1 in b.ship("b").sand_used


def test_failed_sand_still_uses_a_canister() -> None:
    """§11.B: Disperse Sand uses a canister; a failure adds no armour."""
    b = _laser_at_the_defender()
    b.do({"type": "sand", "ship_id": "b", "turret": 1}, [1, 1])
    assert b.last("sand_cast").data["armour_bonus"] == 0
    assert b.ship("b").ammo[4] == rules.RulesConfig().sandcaster_load - 1


def test_each_sandcaster_turret_reacts_once_a_round() -> None:
    """§4.B DEFAULT: each sandcaster turret reacts at most once per round: a second laser
    attack that round finds only the pilot able to react."""
    b = _battle("short")
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 2, "target": "b", "weapons": [0]})
    b.do({"type": "sand", "ship_id": "b", "turret": 1}, [1, 1])
    # [1, 1] + 6 = 8, Effect 0: 1D 1 + 0 - 2 armour = no damage
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"}, [1, 1, 1])
    assert b.last("attack_resolved").data["attack"]["damage"] == 0
    b.do({"type": "attack", "ship_id": "a", "turret": 2, "target": "b", "weapons": [1, 2]})
    assert list(b.state.pending[0].eligible) == ["pilot"]


def test_sand_is_useless_against_missiles() -> None:
    """§11.B: sand blunts lasers; against a salvo the gunner uses point defence instead."""
    b = _salvo_at_the_defender()
    v = b.refuse({"type": "sand", "ship_id": "b", "turret": 1})
    assert v.code == "sand_useless"


@pytest.mark.parametrize(
    ("weapon", "offered"),
    [
        pytest.param("beam_laser", True, id="beam-laser"),
        pytest.param("pulse_laser", True, id="pulse-laser"),
        pytest.param("laser_drill", False, id="laser-drill"),
        pytest.param("particle_beam", False, id="particle-beam"),
    ],
)
def test_point_defence_needs_a_turret_beam_or_pulse_laser(weapon: str, offered: bool) -> None:
    """§11.B: point defence is a Gunner (turret) check with a beam or pulse laser."""
    turrets = [
        {"mount": "single", "weapons": [weapon]},
        {"mount": "single", "weapons": ["sandcaster"]},
    ]
    defender = DEFENDER | {"turrets": turrets}
    b = _battle(defender=defender)
    b.to(rules.Step.ATTACK, "a")
    _launch(b)
    b.until(lambda st: bool(st.pending))
    assert list(b.state.pending[0].eligible) == (["pilot", "gunner:0"] if offered else ["pilot"])


def test_a_salvo_flies_on_when_its_launcher_leaves_the_fight() -> None:
    """§13.3 discards only missiles flying *at* a removed ship: a salvo whose launcher
    surrenders (or is wrecked, or escapes) still strikes its target when it arrives."""
    wingman = {"id": "c", "name": "Charlie", "side": "red", "design": design("Wingman")}
    b = _battle(extra_ships=[wingman])
    b.to(rules.Step.ATTACK, "a")
    _launch(b)
    assert [s.launcher for s in b.state.salvos] == ["a"]
    b.to(rules.Step.MANOEUVRE, "a", round_=2)
    b.do({"type": "surrender", "ship_id": "a"})
    assert b.ship("a").status == "surrendered"
    # nobody else has a manoeuvre to make: the Attack step begins and the salvo arrives
    incoming = b.last("salvo_incoming")
    assert (incoming.data["attacker"], incoming.data["missiles"]) == ("a", 3)
    assert [p.attacker for p in b.state.pending] == ["a"], "it awaits the target's reactions"


def test_a_salvo_emptied_by_point_defence_resolves_without_asking_anyone_else() -> None:
    """§11.B: once point defence has removed every missile nothing is left to defend against:
    the salvo is gone at once; the other gunners keep their lasers for the Attack step."""
    b = _salvo_at_the_defender()
    b.do({"type": "point_defence", "ship_id": "b", "turret": 0}, [6, 6])
    assert not b.state.pending
    gone = b.last("salvo_resolved")
    assert (gone.data["missiles"], gone.data["hit"]) == (0, False)
    assert b.ship("b").pd_used == frozenset({0})


def test_point_defence_against_an_empty_salvo_is_refused() -> None:
    """The engine refuses point defence against nothing (a salvo with no missiles left)."""
    b = _salvo_at_the_defender()
    head = b.state.pending[0]
    assert isinstance(head, PendingSalvo)
    b.state = replace(b.state, pending=(replace(head, missiles=0),))
    assert b.refuse({"type": "point_defence", "ship_id": "b", "turret": 1}).code == "no_missiles"
