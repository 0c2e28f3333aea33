"""CE standard and nuclear missiles and screens in battle, with scripted dice (RULES §8.A,
§9.A, §11.A): the launch check sets the to-hit number, a nuclear hit adds a radiation crew
hit at -armour, and a triggered nuclear damper cuts each hit by 2D + Screens and stops the
radiation hit."""

from __future__ import annotations

from typing import Any

from gameserver import rules
from gameserver.rules.pending import PendingSalvo
from gameserver.rules.ships import PRESETS

from .conftest import Battle, make_scenario

# Alpha: [6,6] + Tactics [4,5] (Effect 2) = 14, 4 reactions; Bravo: [4,4] + Tactics [4,4]
# (Effect 1) = 9, 3 reactions. Both Patrol Frigates (Thrust 4 each: no "greater" bonus).
INIT = [6, 6, 4, 5, 4, 4, 4, 4]
LAUNCH: dict[str, Any] = {"type": "ce_launch", "ship_id": "a", "turret": 0, "target": "b"}


def _entry(sid: str, side: str, **update: Any) -> dict[str, Any]:
    design = PRESETS["patrol_frigate"].model_copy(update=update)
    return {
        "id": sid,
        "name": sid.upper(),
        "side": side,
        "preset": "patrol_frigate",
        "design": design.model_dump(mode="json"),
    }


def battle(a: dict[str, Any], b: dict[str, Any], band: str = "medium") -> Battle:
    scenario = rules.Scenario.model_validate(
        {
            "name": "missiles",
            "ruleset": "CE",
            "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
            "ships": [_entry("a", "red", **a), _entry("b", "blue", **b)],
            "starting_range": band,
            "round_limit": 30,
        }
    )
    return Battle(scenario, init_dice=INIT)


def head(b: Battle) -> PendingSalvo:
    """The salvo waiting on reactions."""
    pending = b.state.pending[0]
    assert isinstance(pending, PendingSalvo)
    return pending


def _arrive(b: Battle) -> None:
    # Turret Weapons 1, DEX 8: [4,4] 9, Effect 1 -> the flight hits on 7+ (§9.A.2)
    b.do(LAUNCH, dice=[4, 4])
    launched = b.last("missiles_launched").data
    assert (launched["missile"], launched["to_hit"], launched["check"]["effect"]) == (
        b.ship("a").design.missile,
        7,
        1,
    )
    b.until(lambda st: bool(st.pending))
    assert (b.state.round, head(b).to_hit) == (2, 7)


def test_the_launch_check_sets_a_standard_missiles_to_hit_and_a_miss_is_spent() -> None:
    b = battle({"missile": "standard"}, {})
    b.do({**LAUNCH}, dice=[1, 2])  # 3 + 1 = 4, Effect -4: 10+
    assert b.state.salvos[0].to_hit == 10
    b.until(lambda st: bool(st.pending))
    salvo = head(b)
    assert (salvo.missile, salvo.to_hit, salvo.eligible) == ("standard", 10, ("pilot", "gunner:2"))
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    # [5,4] 9 misses 10+; [6,4] hits for 1D [6] - armour 8: nothing; [6,3] misses
    b.do(
        {"type": "no_reaction", "ship_id": "b", "station": "gunner:2"},
        dice=[5, 4, 6, 4, 6, 6, 3],
    )
    shots = b.last("salvo_resolved").data["shots"]
    assert [s["hit"] for s in shots] == [False, True, False]
    assert shots[1]["damage"] == 0
    assert b.state.salvos == ()  # a standard missile that misses does not come back


def test_a_nuclear_hit_rolls_radiation_at_minus_armour_onto_the_crew() -> None:
    b = battle({"missile": "nuclear"}, {"armour": 2})
    _arrive(b)
    assert "captain" not in b.state.pending[0].eligible  # no screen aboard
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    # missile 1: [4,4] 8 >= 7 hits; 2D [6,6] 12 - armour 2 = 10: a Double at [4,4] Hull x2;
    # radiation 2D [4,4] - armour 2 = 6: one crew member 2D rads x 10. Missiles 2, 3 miss.
    # Crew damage: the victim [1] (the captain), [3,3] -> 60 rads.
    b.do(
        {"type": "no_reaction", "ship_id": "b", "station": "gunner:2"},
        dice=[4, 4, 6, 6, 4, 4, 4, 4, 1, 1, 1, 1, 1, 3, 3],
    )
    data = b.last("salvo_resolved").data
    assert data["shots"][0]["radiation"] == "one_2d"
    assert data["crew"] == [{"column": "radiation", "result": "one_2d", "rads": 60}]
    assert b.ship("b").hull == 4
    assert b.ship("b").rads == 60
    assert b.state.salvos == ()


def test_a_triggered_nuclear_damper_cuts_the_damage_and_stops_the_radiation() -> None:
    b = battle({"missile": "nuclear"}, {"armour": 2, "screens": ("nuclear_damper",)})
    _arrive(b)
    assert b.state.pending[0].eligible == ("pilot", "gunner:2", "captain")
    b.do({"type": "trigger_screens", "ship_id": "b", "screen": 0}, dice=[])
    assert b.ship("b").reactions == 2
    assert head(b).screens == (0,)
    assert b.last("trigger_screens").data["type"] == "nuclear_damper"
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    # [4,4] hits; 2D [6,6] 12 - damper 2D [2,2] (+ Screens 0) - armour 2 = 6: two Singles at
    # [4,4] and [4,4] (Hull, Hull); no radiation roll. Missiles 2, 3 miss.
    b.do(
        {"type": "no_reaction", "ship_id": "b", "station": "gunner:2"},
        dice=[4, 4, 6, 6, 2, 2, 4, 4, 4, 4, 1, 1, 1, 1],
    )
    shot = b.last("salvo_resolved").data["shots"][0]
    assert (shot["raw"], shot["reduction"], shot["damage"], shot["radiation"]) == (12, 4, 6, None)
    assert b.ship("b").hull == 4
    assert b.ship("b").rads == 0


def test_a_screen_acts_only_against_what_it_matches_and_only_once() -> None:
    b = battle({}, {"screens": ("nuclear_damper",)})  # smart missiles: the damper is no use
    b.do(LAUNCH, dice=[])
    b.until(lambda st: bool(st.pending))
    assert "captain" not in b.state.pending[0].eligible
    err = b.refuse({"type": "trigger_screens", "ship_id": "b", "screen": 0})
    assert err.code == "not_your_reaction"
    b2 = battle({"missile": "nuclear"}, {"screens": ("meson_screen", "nuclear_damper")})
    _arrive(b2)
    bad = {"type": "trigger_screens", "ship_id": "b", "screen": 0}
    assert b2.refuse(bad).code == "no_matching_screen"  # a meson screen stops meson guns
    assert b2.refuse(bad | {"screen": 5}).code == "no_matching_screen"
    b2.do(bad | {"screen": 1}, dice=[])
    assert "captain" not in b2.state.pending[0].eligible  # one reaction per trigger


def test_electronic_warfare_leaves_standard_and_nuclear_missiles_alone() -> None:
    b = battle({"missile": "nuclear"}, {"stations": ("captain", "pilot", "engineer", "sensors")})
    b.do(LAUNCH, dice=[4, 4])
    b.until(lambda st: st.acting_ship == "b" and not st.pending)
    assert b.refuse({"type": "jam_missiles", "ship_id": "b"}).code == "no_missiles"


def test_mgt2e_and_default_ce_designs_carry_no_missile_or_screen_keys() -> None:
    for scenario in (make_scenario(), make_scenario("raider", "merchant_trader", ruleset="CE")):
        ship = rules.state_to_dict(Battle(scenario).state)["ships"]["a"]
        assert not {"missile", "screens"} & set(ship["design"])
    b = battle({"missile": "nuclear"}, {"screens": ("nuclear_damper",)})
    data = rules.state_to_dict(b.state)
    assert data["ships"]["b"]["design"]["screens"] == ["nuclear_damper"]
    assert rules.state_from_dict(data) == b.state


def test_a_gunner_with_screens_skill_triggers_the_damper_and_adds_the_skill() -> None:
    target = _entry("b", "blue", armour=2, screens=("nuclear_damper",))
    target["crew"] = {
        "gunner:2": {
            "name": "Vasquez",
            "characteristics": {"DEX": 8},
            "skills": {"turret_weapons": 1, "screens": 2},
        }
    }
    scenario = rules.Scenario.model_validate(
        {
            "name": "screens",
            "ruleset": "CE",
            "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
            "ships": [_entry("a", "red", missile="nuclear"), target],
            "starting_range": "medium",
            "round_limit": 30,
        }
    )
    b = Battle(scenario, init_dice=INIT)
    _arrive(b)
    assert head(b).eligible == ("pilot", "gunner:2", "captain")
    untrained = {"type": "trigger_screens", "ship_id": "b", "screen": 0, "station": "gunner:0"}
    assert b.refuse(untrained).code == "not_your_reaction"
    b.do(untrained | {"station": "gunner:2"}, dice=[])
    assert (head(b).screens, head(b).screen_skills) == ((0,), (2,))
    again = {"type": "trigger_screens", "ship_id": "b", "screen": 0}
    assert b.refuse(again).code == "already_triggered"
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    # [4,4] hits; 2D [6,6] 12 - (2D [1,1] + Screens 2) - armour 2 = 6: two Singles (Hull)
    b.do(
        {"type": "no_reaction", "ship_id": "b", "station": "captain"},
        dice=[4, 4, 6, 6, 1, 1, 4, 4, 4, 4, 1, 1, 1, 1],
    )
    shot = b.last("salvo_resolved").data["shots"][0]
    assert (shot["reduction"], shot["damage"], shot["radiation"]) == (4, 6, None)
    assert b.ship("b").hull == 4
