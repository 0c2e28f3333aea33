"""A Cepheus Engine battle through `decide`, with scripted dice (RULES Part B, CE sections).

Each test pins the dice a rule consumes and what it changes: initiative and the reaction pool
(§4.A), reactions (§11.A), hits to locations with Hull and Structure (§10.A), repairs (§12.A),
range checks (§5.2) and the end states (§13.1).
"""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.pending import PendingSalvo

from .conftest import Battle, make_scenario

# Raider (Thrust 4, captain with Tactics 1, INT 8): 2D [3,4] + greater Thrust 1 + Tactics
# [4,5] (9 + 1 - 8 = +2) = 10; Merchant Trader (Thrust 1, no captain): 2D [5,4] = 9 (CE-15).
INIT = [3, 4, 4, 5, 5, 4]


def ce_battle(band: str = "medium", a: str = "raider", b: str = "merchant_trader") -> Battle:
    return Battle(make_scenario(a, b, band, 30, ruleset="CE"), init_dice=INIT)


FIRE: dict[str, Any] = {"type": "ce_fire", "ship_id": "a", "turret": 0, "target": "b"}


def land(b: Battle, dice: list[int]) -> None:
    """The GM ends the turn: the acting ship's hits land (§3.A c) with these dice."""
    b.gm({"type": "gm_advance"}, dice=dice)


def test_initiative_greater_thrust_tactics_and_the_reaction_pool() -> None:
    b = ce_battle()
    assert [e.data["initiative"] for e in b.events if e.type == "initiative_rolled"] == [10, 9]
    assert b.ship("a").reactions == 3
    assert b.ship("b").reactions == 3
    assert b.state.step == rules.Step.TURN
    assert b.state.order == ("a", "b")
    assert b.state.acting_ship == "a"
    assert set(rules.awaiting(b.state)) == {
        ("a", s) for s in ("pilot", "captain", "navigator", *(f"gunner:{t}" for t in range(6)))
    }


def test_presets_belong_to_their_ruleset() -> None:
    with pytest.raises(ValueError, match="not a CE ship"):
        make_scenario("corsair", "merchant_trader", ruleset="CE")
    with pytest.raises(ValueError, match="not a MGT2E_2016 ship"):
        make_scenario("raider", "free_trader")


def test_ce_hull_and_structure_come_from_the_tonnage() -> None:
    b = ce_battle(a="raider", b="ce_fighter")
    assert (b.ship("a").hull, b.ship("a").structure) == (12, 12)  # errata #6
    assert (b.ship("b").hull, b.ship("b").structure) == (0, 1)
    view = rules.public_view(b.state)["ships"]
    assert view[0]["hull_max"] == 12
    assert view[0]["structure_max"] == 12
    assert view[1]["column"] == "small_craft"


def test_a_dodge_costs_a_reaction_and_takes_two_off_every_shot() -> None:
    b = ce_battle()
    b.do(FIRE)
    pending = b.state.pending[0]
    assert pending.eligible == ("pilot", "gunner:0", "gunner:1")
    b.do({"type": "dodge", "ship_id": "b"}, dice=[4, 4])  # Piloting 1: 9, success
    assert b.ship("b").reactions == 2
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:0"})
    # three beam lasers at Medium: 2D + 1 - 2 (dodge); the first hits (11 - 1 = 10, Effect 2)
    # for 1D [6]; the others miss. The damage waits for Alpha's crew (§3.A c).
    b.do(
        {"type": "no_reaction", "ship_id": "b", "station": "gunner:1"},
        dice=[6, 5, 6, 1, 1, 2, 2],
    )
    shots = b.last("attack_resolved").data["shots"]
    assert [s["hit"] for s in shots] == [True, False, False]
    assert shots[0]["check"]["total"] == 10
    assert b.ship("b").hull == 4
    assert [dict(x) for x in b.ship("b").incoming] == [
        {"attacker": "a", "weapon": "beam_laser", "raw": 6, "sand": False}
    ]
    # 6 - armour 2 = 4: one Single at 2D [4,4] = 8: Hull 4 -> 3
    land(b, [4, 4])
    assert b.last("damage_resolved").data["hits"][0]["locations"] == ["hull"]
    assert b.ship("b").hull == 3
    assert b.ship("b").structure == 4
    assert b.ship("b").incoming == ()


def test_fire_sand_takes_a_die_off_each_beam() -> None:
    b = ce_battle()
    b.do(FIRE)
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    b.do({"type": "fire_sand", "ship_id": "b", "turret": 0}, dice=[4, 4])  # 9: success
    assert b.ship("b").ammo[1] == 19
    # first laser hits (12 + 1) for 1D [6]; two misses
    b.do(
        {"type": "no_reaction", "ship_id": "b", "station": "gunner:1"},
        dice=[6, 6, 6, 1, 1, 1, 1],
    )
    # 6 - sand 1D [5] - armour 2: nothing gets through
    land(b, [5])
    first = b.last("damage_resolved").data["hits"][0]
    assert (first["raw"], first["reduction"], first["damage"]) == (6, 5, 0)
    assert b.ship("b").hull == 4


def test_an_empty_reaction_pool_offers_no_reaction() -> None:
    b = ce_battle()
    b.patch("b", reactions=0)
    b.do(FIRE, dice=[1, 1, 1, 1, 1, 1])
    assert not b.state.pending
    assert b.last("attack_resolved").data["shots"][0]["hit"] is False


def test_structure_zero_destroys_the_ship_and_ends_the_battle() -> None:
    b = ce_battle()
    b.patch("b", hull=0, structure=1, reactions=0)
    # 2D [6,6] hits for 1D [6]; the other two lasers miss
    b.do(FIRE, dice=[6, 6, 6, 1, 1, 1, 1])
    assert b.ship("b").status == "active"
    # 6 - 2 = 4: a Single; 2D [4,4] = 8: Hull is 0, so Internal 8: Structure 1 -> 0
    land(b, [4, 4])
    assert b.ship("b").status == "destroyed"
    assert b.state.outcome == {
        "result": "victory",
        "winner": "red",
        "reason": "last_side_standing",
    }


def test_a_destroyed_power_plant_disables_the_ship() -> None:
    b = ce_battle()
    b.patch("b", hull=0, systems={"power_plant": 2}, reactions=0)
    # hit; 4 damage: a Single at 2D [1,2] = 3, Internal: Power Plant, 3rd hit
    b.do(FIRE, dice=[6, 6, 6, 1, 1, 1, 1])
    land(b, [1, 2])
    assert b.ship("b").status == "disabled"
    assert b.ship("b").systems == {"power_plant": 3}
    assert b.state.is_over


def test_repair_gives_back_the_thrust_of_the_remaining_hits() -> None:
    b = ce_battle()
    b.patch("a", systems={"m_drive": 2}, md_thrust_loss=3)
    assert b.ship("a").thrust == 1
    assert ("a", "engineer") in rules.awaiting(b.state)
    # Mechanics 1, EDU 8: 2D [4,4] = 9, Effect 1: 2 hits repaired
    b.do({"type": "ce_repair", "ship_id": "a", "system": "m_drive"}, dice=[4, 4])
    assert b.ship("a").systems == {}
    assert b.ship("a").thrust == 4
    assert "engineer" in b.ship("a").done


def test_hull_cannot_be_repaired_in_combat() -> None:
    b = ce_battle()
    b.patch("a", systems={"m_drive": 3})
    err = b.refuse({"type": "ce_repair", "ship_id": "a", "system": "m_drive"})
    assert err.code == "not_repairable"
    assert b.refuse({"type": "ce_repair", "ship_id": "a", "system": "hull"}).code in (
        "not_repairable",
        "nothing_to_do",
    )


def test_range_check_moves_one_band_the_winners_way() -> None:
    b = ce_battle()
    # Navigation 1, EDU 8: [5,5] -> Effect 3; the trader's navigator: [2,2] -> Effect -3
    b.do(
        {"type": "range_check", "ship_id": "a", "target": "b", "wish": "decrease"},
        dice=[5, 5, 2, 2],
    )
    assert b.state.band("a", "b") == "short"
    assert "navigator" in b.ship("a").done


def test_the_defender_winning_a_range_check_opens_the_range() -> None:
    b = ce_battle()
    b.do(
        {"type": "range_check", "ship_id": "a", "target": "b", "wish": "decrease"},
        dice=[1, 1, 6, 6],
    )
    assert b.state.band("a", "b") == "long"


def test_winning_an_increase_at_distant_outruns_the_enemy() -> None:
    b = ce_battle(band="distant")
    b.do(
        {"type": "range_check", "ship_id": "a", "target": "b", "wish": "increase"},
        dice=[6, 6, 1, 1],
    )
    assert b.ship("a").status == "escaped"
    assert b.state.outcome is not None
    assert b.state.outcome["winner"] == "blue"


def test_evasive_maneuvers_last_until_the_ships_next_action() -> None:
    b = ce_battle()
    # Piloting 1, DEX 8: [5,6] = 12, Effect 4: a success, -1 (an Effect of 6 would give -2)
    b.do({"type": "ce_pilot", "ship_id": "a", "action": "evasive_maneuvers"}, dice=[5, 6])
    assert b.ship("a").evasive_dm == -1
    b.until(lambda st: st.acting_ship == "b")
    assert b.ship("a").evasive_dm == -1
    b.until(lambda st: st.round == 2 and st.acting_ship == "a" and not st.pending)
    assert b.ship("a").evasive_dm == 0


def test_line_up_the_shot_adds_to_this_turns_attacks() -> None:
    b = ce_battle()
    b.do({"type": "ce_pilot", "ship_id": "a", "action": "line_up_the_shot"}, dice=[4, 4])
    assert b.ship("a").line_up_dm == 1
    b.patch("b", reactions=0)
    # 6 + 1 + 1 = 8: a hit for 1D [1] - armour 2: nothing; the other two lasers miss
    b.do(FIRE, dice=[3, 3, 1, 1, 1, 1, 1])
    assert b.last("attack_resolved").data["shots"][0]["check"]["total"] == 8


def test_each_ruleset_refuses_the_others_commands() -> None:
    ce = ce_battle()
    assert ce.refuse({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"}).code == (
        "wrong_step"
    )
    mg = Battle(make_scenario("corsair", "free_trader", "medium"))
    mg.to(rules.Step.ATTACK, mg.state.order[0])
    sid = mg.state.order[0]
    other = "b" if sid == "a" else "a"
    assert mg.refuse(FIRE | {"ship_id": sid, "target": other}).code == "wrong_step"


def test_mgt2e_views_have_no_ce_fields() -> None:
    mg = Battle(make_scenario("corsair", "free_trader", "medium"))
    assert "structure" not in rules.public_view(mg.state)["ships"][0]


def _frigate() -> Battle:
    # Patrol Frigate (Thrust 4, Tactics 1): 7 + 1 + 2 = 10; Merchant Trader: 9
    return ce_battle(a="patrol_frigate", b="merchant_trader")


def test_smart_missiles_strike_at_the_launchers_next_action_and_fly_on_when_they_miss() -> None:
    b = _frigate()
    b.do({"type": "ce_launch", "ship_id": "a", "turret": 0, "target": "b"}, dice=[])
    salvo = b.state.salvos[0]
    assert (salvo.missiles, salvo.arrives_round) == (3, 2)  # Medium: 1 turn (§9.A.3)
    assert b.ship("a").ammo[:3] == (11, 11, 11)
    b.until(lambda st: bool(st.pending))
    head = b.state.pending[0]
    assert (b.state.round, b.state.acting_ship, head.kind) == (2, "a", "salvo")
    assert head.eligible == ("pilot", "gunner:0", "gunner:1")
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:0"})
    # each missile 2D against 8: [4,4] hits for 1D [6] - armour 2 = 4, a Single at [4,4] = 8
    # (Hull); [1,1] and [1,1] miss and fly on (smart, turn 1 < 4)
    b.do(
        {"type": "no_reaction", "ship_id": "b", "station": "gunner:1"},
        dice=[4, 4, 6, 4, 4, 1, 1, 1, 1],
    )
    assert b.ship("b").hull == 3
    (again,) = b.state.salvos
    assert (again.missiles, again.arrives_round, again.launched_round) == (2, 3, 1)


def test_point_defence_shoots_missiles_down_until_a_miss() -> None:
    b = _frigate()
    b.do({"type": "ce_launch", "ship_id": "a", "turret": 0, "target": "b"}, dice=[])
    b.until(lambda st: bool(st.pending))
    # Turret Weapons 1, DEX 8, beam laser: [6,6] 13 destroys one; [3,3] 7 - 1 = 6 misses
    b.do({"type": "ce_point_defence", "ship_id": "b", "turret": 0}, dice=[6, 6, 3, 3])
    head = b.state.pending[0]
    assert isinstance(head, PendingSalvo)
    assert head.missiles == 2
    assert b.ship("b").reactions == 2
    assert b.last("point_defence").data["totals"] == [13, 6]


def test_missiles_cannot_be_launched_at_close_range() -> None:
    b = ce_battle(band="close", a="patrol_frigate", b="merchant_trader")
    err = b.refuse({"type": "ce_launch", "ship_id": "a", "turret": 0, "target": "b"})
    assert err.code == "out_of_range"


def test_gm_rulings_on_ce_figures() -> None:
    b = ce_battle()
    b.gm({"type": "gm_ruling", "ship_id": "b", "field": "hull", "value": 0, "reason": "x"})
    assert b.ship("b").hull == 0
    assert b.ship("b").status == "active"  # CE: Hull 0 only moves hits to the Internal column
    b.gm(
        {"type": "gm_ruling", "ship_id": "b", "field": "system:m_drive", "value": 1, "reason": "y"}
    )
    assert b.ship("b").systems == {"m_drive": 1}
    assert b.ship("b").thrust == 0  # Thrust 1 - 1
    bad = {"type": "gm_ruling", "ship_id": "b", "field": "structure", "value": 9, "reason": "z"}
    assert b.refuse(bad, actor=rules.GM).code == "bad_ruling"
    b.gm(bad | {"value": 0})
    assert b.ship("b").status == "destroyed"
    assert b.state.is_over


def test_hasty_adds_two_to_initiative_and_takes_one_off_every_check() -> None:
    b = ce_battle()
    b.do({"type": "hasty", "ship_id": "a"}, dice=[])
    assert b.ship("a").initiative == 12
    assert b.ship("a").hasty
    # Piloting 1, DEX 8, hasty: [4,4] = 8 + 1 - 1 = 8
    b.do({"type": "ce_pilot", "ship_id": "a", "action": "line_up_the_shot"}, dice=[4, 4])
    assert b.last("ce_pilot").data["check"]["total"] == 8
    assert b.refuse({"type": "hasty", "ship_id": "a"}).code == "already_hasty"
    b.until(lambda st: st.round == 2 and st.acting_ship == "a" and not st.pending)
    assert b.ship("a").initiative == 10  # the +2 was for that turn only
    assert not b.ship("a").hasty


def test_reload_fills_the_racks_from_stores() -> None:
    b = _frigate()
    ammo = list(b.ship("a").ammo)
    ammo[0] = 0
    b.patch("a", ammo=tuple(ammo))
    b.do({"type": "ce_reload", "ship_id": "a", "turret": 0}, dice=[])
    assert b.ship("a").ammo[0] == 12
    assert b.ship("a").missile_reserve == 48 - 12
    assert "gunner:0" in b.ship("a").done


def test_electronic_warfare_stops_smart_missiles_until_a_failure() -> None:
    jammer = {
        "name": "Jammer",
        "tons": 200,
        "armour": 2,
        "thrust": 1,
        "stations": ["pilot", "sensors"],
        "turrets": [{"mount": "single", "weapons": ["beam_laser"]}],
    }
    scenario = make_scenario("patrol_frigate", "merchant_trader", "medium", ruleset="CE")
    ships = [scenario.ships[0].model_dump(), {**scenario.ships[1].model_dump(), "preset": None}]
    ships[1]["design"] = jammer
    b = Battle(
        rules.Scenario.model_validate(scenario.model_dump() | {"ships": ships}), init_dice=INIT
    )
    b.do({"type": "ce_launch", "ship_id": "a", "turret": 0, "target": "b"}, dice=[])
    b.until(lambda st: st.acting_ship == "b" and not st.pending)
    # Comms 1, INT 8, Difficult -2: [4,5] = 8 stops one; [4,4] - 1 = 6 fails (CE-07)
    b.do({"type": "jam_missiles", "ship_id": "b"}, dice=[4, 5, 4, 4])
    assert b.last("jam_missiles").data["totals"] == [8, 6]
    assert [s.missiles for s in b.state.salvos] == [2]


def test_boarding_success_costs_the_defender_its_reactions() -> None:
    b = ce_battle(band="adjacent")
    # Tactics 1, INT 8: [5,4] -> Effect 2; the trader's best (unskilled): [3,3] -> Effect -5.
    # A single internal hit at [3,4] = 7: Crew, whose Crew Damage roll [2,2] is a lucky escape.
    b.do({"type": "board", "ship_id": "a", "target": "b"}, dice=[5, 4, 3, 3, 3, 4, 2, 2])
    event = b.last("boarding")
    assert event.data["result"] == "attacker_success"
    assert event.data["locations"] == ["crew"]
    assert b.ship("b").reactions == 0
    assert b.ship("a").boarding_dm == 2


def test_an_exceptional_boarding_takes_the_ship() -> None:
    b = ce_battle(band="adjacent")
    b.patch("a", boarding_dm=2)
    # [6,6] + 1 + 2 = 15 (Effect 7) against [1,1] - 3 (Effect -9): 2D [3,3] = 6 internal
    # damage: two Singles at [1,2] (Power Plant) and [4,4] (Structure)
    b.do(
        {"type": "board", "ship_id": "a", "target": "b"},
        dice=[6, 6, 1, 1, 3, 3, 1, 2, 4, 4],
    )
    assert b.last("boarding").data["result"] == "attacker_exceptional"
    assert b.ship("b").systems == {"power_plant": 1}
    assert b.ship("b").structure == 3
    assert b.ship("b").status == "surrendered"
    assert b.state.outcome is not None


def test_boarding_needs_adjacent_range() -> None:
    b = ce_battle(band="close")
    assert b.refuse({"type": "board", "ship_id": "a", "target": "b"}).code == "out_of_range"


def test_mgt2e_snapshots_carry_no_ce_fields_and_ce_ones_round_trip() -> None:
    mg = Battle(make_scenario("corsair", "free_trader", "medium"))
    ship = rules.state_to_dict(mg.state)["ships"]["a"]
    assert not {"structure", "systems", "reactions", "incoming", "hasty"} & set(ship)
    b = ce_battle()
    b.patch("b", systems={"m_drive": 1}, hasty=True)
    data = rules.state_to_dict(b.state)
    assert data["ships"]["b"]["systems"] == {"m_drive": 1}
    assert rules.state_from_dict(data) == b.state
