"""Wrecks, surrender, breaking off at Distant, and the end of the battle (§13, Part A)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.pending import Salvo

from .conftest import Battle, crew, design, duel

GUNBOAT = design(
    "Gunboat", thrust=2, fire_control=1, turrets=[("triple", ["beam_laser"] * 3)], hull=400
)
TARGET = design("Target", armour=2, hull=400, thrust=2)
GUNNER = {"gunner:0": crew(2, DEX=9)}


def _battle(band: str = "short", extra: list[dict[str, Any]] | None = None, **kw: Any) -> Battle:
    return Battle(duel(GUNBOAT, TARGET, band=band, crew_a=GUNNER, extra_ships=extra or [], **kw))


def _attack_b(b: Battle, dice: list[int]) -> None:
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"}, dice)


def test_a_wreck_leaves_combat_and_the_last_side_wins() -> None:
    """§13.2 / MG-13: Hull <= 0 -> wrecked; with one side left the battle ends in victory.
    [1, 2] + 9 = 12, Effect 4; 1D 5 + 2 + 4 - 2 = 9 against Hull 5 -> 0. The Hull lost stops
    at 0 (395 -> 400 of 400 crosses one 10% threshold: location [1, 1] Sensors)."""
    b = _battle()
    b.patch("b", hull=5)
    b.to(rules.Step.ATTACK, "a")
    _attack_b(b, [1, 2, 5, 1, 1])
    res = b.last("attack_resolved")
    assert res.data["hull_after"] == 0
    assert b.ship("b").status == "wrecked"
    assert b.ship("b").hull == 0
    assert b.state.outcome == {"result": "victory", "winner": "red", "reason": "last_side_standing"}
    assert b.types(b.events[-4:]) == [
        "attack_resolved",
        "ship_out",
        "battle_ended",
        "dice_revealed",
    ]


def test_a_wreck_is_no_target_while_others_fight_on() -> None:
    """§13.2 DEFAULT: wrecked ships are removed as combatants; further fire is refused."""
    third = {"id": "c", "name": "Charlie", "side": "blue", "design": TARGET}
    b = _battle(extra=[third])
    b.patch("b", hull=5)
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "weapons": [0]})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"}, [1, 2, 5, 1, 1])
    assert b.ship("b").status == "wrecked"
    assert not b.state.is_over
    assert "b" not in b.state.order
    v = b.refuse({"type": "attack", "ship_id": "a", "turret": 0, "target": "b", "weapons": [1]})
    assert v.code == "target_wrecked"


def test_surrender_strikes_colours_and_ends_a_two_ship_battle() -> None:
    """§13.1/13.2: the captain may strike colours on the ship's turn; status surrendered."""
    b = _battle()
    b.to(rules.Step.ACTIONS, "b")
    b.do({"type": "surrender", "ship_id": "b"})
    assert b.ship("b").status == "surrendered"
    assert b.state.outcome is not None
    assert b.state.outcome["winner"] == "red"


def test_a_surrendered_ship_is_not_attacked_and_cannot_act() -> None:
    """§13.1: the ship stops attacking; attackers stop targeting it."""
    third = {"id": "c", "name": "Charlie", "side": "blue", "design": TARGET}
    b = _battle(extra=[third])
    b.to(rules.Step.MANOEUVRE, "b")
    b.do({"type": "surrender", "ship_id": "b"})
    assert b.ship("b").status == "surrendered"
    v = b.refuse({"type": "end_step", "ship_id": "b", "station": "pilot"})
    assert v.code == "ship_out_of_action"
    b.to(rules.Step.ATTACK, "a")
    v = b.refuse({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    assert v.code == "target_surrendered"


def test_surrender_only_on_the_ships_own_turn() -> None:
    """§13.1: "on its turn" — another ship's turn is refused."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    assert b.refuse({"type": "surrender", "ship_id": "b"}).code == "not_your_turn"


def test_breaking_off_at_distant_escapes_after_enough_thrust() -> None:
    """§13.2 DEFAULT: at Distant from every enemy, Thrust spent opening accumulates; at the
    threshold (50 by default, 4 here) the ship escapes and the battle ends."""
    b = _battle("distant", config={"break_off_thrust": 4})
    b.to(rules.Step.MANOEUVRE, "b")
    b.do({"type": "break_off", "ship_id": "b"})
    assert (b.ship("b").escape_progress, b.ship("b").thrust_pool) == (2, 0)
    assert b.ship("b").status == "active"
    b.to(rules.Step.MANOEUVRE, "b", round_=2)
    b.do({"type": "break_off", "ship_id": "b"})
    assert b.ship("b").status == "escaped"
    assert b.state.outcome is not None
    assert b.state.outcome["winner"] == "red"


def test_default_break_off_needs_fifty() -> None:
    """§13.2 DEFAULT: a further 50 points (Thrust 2: 25 rounds)."""
    b = _battle("distant")
    b.to(rules.Step.MANOEUVRE, "b")
    ev = b.do({"type": "break_off", "ship_id": "b"})[0]
    assert (ev.data["progress"], ev.data["needed"]) == (2, 50)


def test_break_off_needs_distant_from_every_enemy() -> None:
    """§13.2: a ship still within Very Long of any enemy cannot break off."""
    third = {"id": "c", "name": "Charlie", "side": "red", "design": TARGET}
    scenario = duel(GUNBOAT, TARGET, band="distant", crew_a=GUNNER, extra_ships=[third])
    ranges = {"ranges": [{"a": "b", "b": "c", "band": "very_long"}]}
    b = Battle(rules.Scenario.model_validate(scenario.model_dump() | ranges))
    b.to(rules.Step.MANOEUVRE, "b")
    v = b.refuse({"type": "break_off", "ship_id": "b"})
    assert v.code == "not_distant"
    assert "Charlie" in v.message


def test_round_limit_ends_in_a_draw() -> None:
    """Part A: at the scenario's round limit the battle ends as a draw."""
    b = _battle(round_limit=2)
    b.until(lambda st: st.is_over)
    assert b.state.round == 2
    assert b.state.outcome == {"result": "draw", "winner": None, "reason": "round_limit"}
    assert rules.awaiting(b.state) == []


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"type": "end_step", "ship_id": "a", "station": "pilot"}, id="player-command"),
        pytest.param({"type": "gm_advance"}, id="gm-advance"),
    ],
)
def test_nothing_happens_after_the_end(data: dict[str, Any]) -> None:
    """RuleViolation `battle_over` once the battle has ended."""
    b = _battle(round_limit=1)
    b.until(lambda st: st.is_over)
    actor = rules.GM if data["type"].startswith("gm_") else rules.BOT
    assert b.refuse(data, actor=actor).code == "battle_over"


def test_salvos_and_locks_on_a_ship_that_leaves_lapse() -> None:
    """§13.3: missiles toward a removed ship are discarded; locks on it lapse."""
    third = {"id": "c", "name": "Charlie", "side": "blue", "design": TARGET}
    b = _battle(extra=[third])
    b.patch("a", sensor_lock="b")
    salvo = Salvo(
        id=99,
        launcher="a",
        target="b",
        missiles=3,
        launched_round=1,
        arrives_round=5,
        tl=12,
        band="distant",
    )
    b.state = replace(b.state, salvos_json=(salvo.to_dict(),))
    b.to(rules.Step.MANOEUVRE, "b")
    b.do({"type": "surrender", "ship_id": "b"})
    assert b.state.salvos == ()
    assert b.ship("a").sensor_lock is None


def test_breaking_off_nets_out_against_a_faster_pursuer() -> None:
    """§5.3 (opposing Thrust nets out) and §13.2: a Thrust-4 runner breaking off every round
    from a Thrust-6 chaser closing every round loses only 2 per round of the pair's range, so
    it is still at Distant when its 4 x 13 = 52 reaches the 50 needed: escaped in round 13."""
    chaser = design("Chaser", thrust=6)
    runner = design("Runner", thrust=4)
    b = Battle(duel(chaser, runner, band="distant", round_limit=30))
    toward = {"type": "move", "ship_id": "a", "target": "b", "direction": "toward", "thrust": 6}
    while b.ship("b").is_active:
        b.until(lambda st: st.step == rules.Step.MANOEUVRE and st.acting_ship is not None)
        for _ in range(2):
            if b.state.acting_ship == "a":
                b.do(toward)
            elif b.state.acting_ship == "b":
                assert b.state.band("a", "b") == "distant", f"round {b.state.round}"
                b.do({"type": "break_off", "ship_id": "b"})
    assert b.ship("b").status == "escaped"
    assert b.state.round == 13
    assert b.state.band("a", "b") == "distant"
