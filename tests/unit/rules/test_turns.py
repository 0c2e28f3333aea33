"""Round structure (§3.B, Part A): each station acts only in its step, on its ship's turn; the
stable `RuleViolation` codes a player sees when a command is refused."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gameserver import rules

from .conftest import Battle, crew, design, duel

SHIP = design(
    "Warship",
    thrust=2,
    hull=400,
    sensors="military",
    turrets=[("triple", ["beam_laser"] * 3), ("triple", ["missile_rack"] * 3)],
    missile_reserve=12,
)
CREW = {"gunner:0": crew(1), "gunner:1": crew(1), "engineer": crew(1)}


def _battle(band: str = "short") -> Battle:
    # a acts first in every step: 2D 12 + Tactics [6, 6] for a, 2D 2 + [1, 1] for b
    return Battle(
        duel(SHIP, SHIP, band=band, crew_a=CREW, crew_b=CREW), init_dice=[6] * 4 + [1] * 4
    )


STEP_COMMANDS: dict[str, tuple[rules.Step, dict[str, Any]]] = {
    "move": (
        rules.Step.MANOEUVRE,
        {"type": "move", "target": "b", "direction": "toward", "thrust": 1},
    ),
    "aid_gunners": (rules.Step.MANOEUVRE, {"type": "aid_gunners"}),
    "break_off": (rules.Step.MANOEUVRE, {"type": "break_off"}),
    "attack": (rules.Step.ATTACK, {"type": "attack", "turret": 0, "target": "b"}),
    "launch_missiles": (rules.Step.ATTACK, {"type": "launch_missiles", "turret": 1, "target": "b"}),
    "sensor_lock": (rules.Step.ACTIONS, {"type": "sensor_lock", "target": "b"}),
    "improve_initiative": (rules.Step.ACTIONS, {"type": "improve_initiative"}),
    "repair": (rules.Step.ACTIONS, {"type": "repair", "location": "m_drive"}),
    "reload": (rules.Step.ACTIONS, {"type": "reload", "turret": 1}),
    "electronic_warfare": (rules.Step.ACTIONS, {"type": "electronic_warfare", "mode": "missiles"}),
}


@pytest.mark.parametrize(
    ("command", "step"),
    [
        pytest.param(name, step, id=f"{name}-in-{step.value}")
        for name, (home, _) in STEP_COMMANDS.items()
        for step in rules.Step
        if step not in (home, rules.Step.TURN)  # TURN is the CE ship turn (§3.A)
    ],
)
def test_each_station_acts_only_in_its_step(command: str, step: rules.Step) -> None:
    """§3.B / §6.B: pilot in Manoeuvre, gunners in Attack, the rest in Actions."""
    b = _battle()
    b.to(step, "a")
    data = STEP_COMMANDS[command][1] | {"ship_id": "a"}
    assert b.refuse(data).code == "wrong_step"


@pytest.mark.parametrize(
    ("station", "data"),
    [
        pytest.param(
            "gunner:0",
            {"type": "move", "target": "b", "direction": "toward", "thrust": 1},
            id="gunner-cannot-pilot",
        ),
        pytest.param("pilot", {"type": "sensor_lock", "target": "b"}, id="pilot-cannot-lock"),
        pytest.param(
            "sensors", {"type": "end_step", "station": "pilot"}, id="not-someone-elses-end"
        ),
        pytest.param("gunner:1", {"type": "attack", "turret": 0, "target": "b"}, id="other-turret"),
    ],
)
def test_a_player_acts_only_at_their_station(station: str, data: dict[str, Any]) -> None:
    """Part A: a crew member acts only at their station."""
    b = _battle()
    b.to(rules.Step.MANOEUVRE, "a")
    player = rules.Actor(role="player", ship_id="a", stations=frozenset({station}))
    assert b.refuse(data, actor=player).code == "not_your_station"


def test_refusals_name_turret_stations_as_people_read_them() -> None:
    """Messages are for players: the station id `gunner:1` reads "gunner 2" (turrets from one)."""
    b = _battle()
    b.to(rules.Step.MANOEUVRE, "a")
    player = rules.Actor(role="player", ship_id="a", stations=frozenset({"gunner:0"}))
    violation = b.refuse({"type": "end_step", "ship_id": "a", "station": "gunner:1"}, actor=player)
    assert violation.code == "not_your_station"
    assert "gunner 2 station" in violation.message
    assert "gunner:" not in violation.message


def test_a_player_commands_only_their_ship() -> None:
    """Part A: a player's claim covers one ship."""
    b = _battle()
    b.to(rules.Step.MANOEUVRE, "a")
    player = rules.Actor(role="player", ship_id="b", stations=frozenset({"pilot"}))
    data = {"type": "end_step", "ship_id": "a", "station": "pilot"}
    assert b.refuse(data, actor=player).code == "not_your_ship"


def test_ships_act_in_initiative_order_within_each_step() -> None:
    """§3.B / §15 #28: highest initiative first in every step; b waits for a."""
    b = _battle()
    assert b.state.order == ("a", "b")
    assert rules.awaiting(b.state) == [("a", "pilot")]
    assert b.refuse({"type": "end_step", "ship_id": "b", "station": "pilot"}).code == (
        "not_your_turn"
    )
    b.do({"type": "end_step", "ship_id": "a", "station": "pilot"})
    assert rules.awaiting(b.state) == [("b", "pilot")]


def test_a_station_done_for_the_step_stays_done() -> None:
    """§3.B: once a station ends its step it cannot act again in it."""
    b = _battle()
    b.to(rules.Step.ACTIONS, "a")
    b.do({"type": "end_step", "ship_id": "a", "station": "captain"})
    assert b.refuse({"type": "improve_initiative", "ship_id": "a"}).code == "station_done"


def test_nothing_else_happens_while_a_reaction_is_pending() -> None:
    """Part A: a reaction is taken by the defender when the attack is declared; the attacker
    waits; only the defender's eligible stations may answer."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "weapons": [0]})
    assert rules.awaiting(b.state) == [("b", "pilot")]
    again = {"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "weapons": [1]}
    assert b.refuse(again).code == "reaction_pending"
    assert b.refuse({"type": "evasive_action", "ship_id": "a"}).code == "not_your_reaction"
    no = {"type": "no_reaction", "ship_id": "b", "station": "engineer"}
    assert b.refuse(no).code == "not_your_reaction"


def test_reactions_need_something_to_react_to() -> None:
    """§11.B reactions answer an attack or salvo."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    assert b.refuse({"type": "evasive_action", "ship_id": "b"}).code == "no_pending_attack"


def test_an_unable_crew_member_cannot_act() -> None:
    """§10.B.4 crew damage: two of STR/DEX/END at 0 and the station is unmanned."""
    b = _battle()
    b.to(rules.Step.MANOEUVRE, "a")
    hurt = tuple(
        replace(c, chars=dict(c.chars) | {"END": 0, "STR": 0}) if c.station == "pilot" else c
        for c in b.ship("a").crew
    )
    b.patch("a", crew=hurt)
    v = b.refuse(
        {"type": "move", "ship_id": "a", "target": "b", "direction": "toward", "thrust": 1}
    )
    assert v.code == "station_unmanned"


REFUSALS: list[Any] = [
    pytest.param(
        rules.Step.ATTACK,
        {"type": "attack", "turret": 0, "target": "b", "weapons": [0]},
        {"type": "attack", "turret": 0, "target": "b", "weapons": [0]},
        "weapon_already_fired",
        id="weapon-already-fired",
    ),
    pytest.param(
        rules.Step.ATTACK,
        None,
        {"type": "attack", "turret": 5, "target": "b"},
        "bad_turret",
        id="bad-turret",
    ),
    pytest.param(
        rules.Step.ATTACK,
        None,
        {"type": "attack", "turret": 0, "target": "zz"},
        "unknown_target",
        id="unknown-target",
    ),
    pytest.param(
        rules.Step.ATTACK,
        None,
        {"type": "attack", "turret": 1, "target": "b"},
        "not_direct_fire",
        id="missiles-are-launched",
    ),
    pytest.param(
        rules.Step.ACTIONS,
        None,
        {"type": "repair", "location": "m_drive"},
        "nothing_to_repair",
        id="nothing-to-repair",
    ),
    pytest.param(
        rules.Step.ACTIONS,
        None,
        {"type": "reload", "turret": 1},
        "cannot_reload",
        id="racks-full",
    ),
]


@pytest.mark.parametrize(("step", "first", "data", "code"), REFUSALS)
def test_refusal_codes(
    step: rules.Step, first: dict[str, Any] | None, data: dict[str, Any], code: str
) -> None:
    """Part A: a refused command comes back with a stable code and changes nothing."""
    b = _battle()
    b.to(step, "a")
    if first is not None:
        b.do(first | {"ship_id": "a"})
        b.until(lambda st: st.acting_ship == "a" and not st.pending)
    v = b.refuse(data | {"ship_id": "a"})
    assert v.code == code
    assert v.message
    assert v.to_dict() == {"code": code, "message": v.message}


def test_unknown_ship_and_missing_ship() -> None:
    """Commands name a ship of the battle (or the actor's own)."""
    b = _battle()
    assert b.refuse({"type": "end_step", "ship_id": "zz"}).code == "unknown_ship"
    assert b.refuse({"type": "end_step"}).code == "bad_command"


def test_friendly_fire_is_refused() -> None:
    """§7.B: attacks target enemies."""
    friend = {"id": "c", "name": "Charlie", "side": "red", "design": SHIP}
    b = Battle(duel(SHIP, SHIP, crew_a=CREW, extra_ships=[friend]))
    b.to(rules.Step.ATTACK, "a")
    v = b.refuse({"type": "attack", "ship_id": "a", "turret": 0, "target": "c"})
    assert v.code == "friendly_target"
