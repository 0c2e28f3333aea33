"""Sensors before combat (MgT2e §3.B setup, §9.B.2): with a scenario's `detection: sensors`
each ship's sensors roll to detect each enemy at the starting range, and a missile launch at
Distant needs the target detected; a Sensor Lock finds an undetected target. The default
(`known`) keeps every battle as it was: no dice, no event, the same opening record.

The Patrol Corvette's sensors operator: Electronics 1, INT 8 (0), improved sensors (+1):
2D + 2 against `detection_target` (8). The Free Trader's: Electronics 1, civilian (-2): 2D - 1.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from gameserver import rules
from gameserver.protocol_view import PublicView
from gameserver.rules.legal import legal_commands
from gameserver.rules.reexecution import reexecute
from gameserver.rules.turns import stations_needed

from .conftest import Battle, make_scenario, play_bots

# corvette detects the trader: [2, 3] -> 7 fails; the trader: [6, 6] -> 11; then initiative
OPENING = [2, 3, 6, 6] + [4, 4] * 4


def _corvette(dice: list[int] | None = None, **extra: Any) -> Battle:
    scenario = make_scenario("patrol_corvette", "free_trader", "distant", **extra)
    return Battle(scenario, init_dice=dice)


def _launch(b: Battle) -> dict[str, Any]:
    return {"type": "launch_missiles", "ship_id": "a", "turret": 0, "target": "b", "weapons": [0]}


def test_the_opening_rolls_detection_before_initiative_and_records_what_each_missed() -> None:
    b = _corvette(OPENING, detection="sensors")
    types = b.types(b.events)
    assert types[1:3] == ["detection_rolled", "detection_rolled"]
    assert types[3] == "initiative_rolled"
    first = b.events[1]
    assert first.summary == "Alpha's sensors detect nothing; undetected: Bravo."
    assert first.data["checks"][0]["check"]["total"] == 7
    assert first.data["checks"][0]["band"] == "distant"
    assert b.events[2].summary == "Bravo's sensors detect Alpha."
    assert (b.ship("a").undetected, b.ship("b").undetected) == (frozenset({"b"}), frozenset())
    view = {s["id"]: s for s in rules.public_view(b.state)["ships"]}
    assert view["a"]["undetected"] == ["b"]
    assert "undetected" not in view["b"]
    # the page's model of the public view reads the new key (and leaves it out when absent)
    dumped = PublicView.model_validate(rules.public_view(b.state)).model_dump(mode="json")
    assert [s.get("undetected") for s in dumped["ships"]] == [["b"], None]
    assert b.events[0].data["scenario"]["detection"] == "sensors"
    assert rules.state_to_dict(rules.replay(b.events)) == rules.state_to_dict(b.state)


def _corvettes(dice: list[int], **extra: Any) -> Battle:
    scenario = make_scenario("patrol_corvette", "patrol_corvette", "distant", **extra)
    return Battle(scenario, init_dice=dice)


def test_no_launch_at_distant_at_an_undetected_target_until_a_lock_finds_it() -> None:
    """Alpha misses Bravo ([2, 3] + 2 = 7); Bravo finds Alpha ([6, 6]). Alpha's gunners have
    no shot at Distant, so they are not awaited; a Sensor Lock (2D [4, 4] + 2 = 10) detects
    Bravo, and in round 2 the launch is in Alpha's legal list."""
    b = _corvettes([2, 3, 6, 6] + [4, 4] * 4, detection="sensors")
    assert (b.ship("a").undetected, b.ship("b").undetected) == (frozenset({"b"}), frozenset())
    b.until(lambda st: st.step == rules.Step.ACTIONS)
    attacks = [e for e in b.events if e.type == "turn_started" and e.data["step"] == "attack"]
    assert [e.data["ship"] for e in attacks] == ["b"]
    b.to(rules.Step.ACTIONS, "a")
    b.do({"type": "sensor_lock", "ship_id": "a", "target": "b"}, [4, 4])
    assert b.last("sensor_lock").data["locked"] is True
    assert b.ship("a").undetected == frozenset()
    b.to(rules.Step.ATTACK, "a", round_=2)
    kinds = [e["type"] for e in legal_commands(b.state, "a", "gunner:0")]
    assert "launch_missiles" in kinds


def test_an_undetected_target_is_refused_with_a_reason_and_nothing_changes() -> None:
    """Both detect ([3, 3] + 2 = 8); once Alpha's gunner is awaited, Bravo is made undetected:
    the launch is refused (`not_detected`) and leaves the legal list; at Long it is legal."""
    b = _corvettes([3, 3, 3, 3] + [4, 4] * 4, detection="sensors")
    b.to(rules.Step.ATTACK, "a")
    b.patch("a", undetected=frozenset({"b"}))
    v = b.refuse(_launch(b))
    assert v.code == "not_detected"
    assert v.message == (
        "Bravo is not detected: a launch at Distant needs the target detected"
        " (a sensor lock finds it)"
    )
    kinds = [e["type"] for e in legal_commands(b.state, "a", "gunner:0")]
    assert "launch_missiles" not in kinds
    assert not [s for s in stations_needed(b.state, b.ship("a")) if s.startswith("gunner")]
    ranges = dict(b.state.ranges)
    ranges["a|b"] = ("long", 0)
    b.state = replace(b.state, ranges=ranges)
    b.do(_launch(b))
    assert b.last("missiles_launched").data["target"] == "b"


def test_known_detection_is_the_default_and_changes_nothing() -> None:
    """No dice, no event, no `detection` key in the recorded scenario: battles as before."""
    b = _corvette([4, 4] * 4)
    assert "detection_rolled" not in b.types(b.events)
    assert "detection" not in b.events[0].data["scenario"]
    assert b.ship("a").undetected == frozenset()


def test_a_ce_scenario_refuses_sensor_detection() -> None:
    with pytest.raises(ValueError, match="MgT2e rule"):
        make_scenario(
            "patrol_frigate", "merchant_trader", "distant", ruleset="CE", detection="sensors"
        )


@pytest.mark.parametrize("target", [8, 12])
def test_the_detection_target_changes_play(target: int) -> None:
    """[4, 4] + 2 = 10: detected against 8+, not against 12+."""
    b = _corvette(
        [4, 4, 6, 6] + [4, 4] * 4, detection="sensors", config={"detection_target": target}
    )
    assert (b.ship("a").undetected == frozenset()) is (target == 8)


def test_bots_with_sensor_detection_lock_then_launch_and_are_never_refused() -> None:
    """The bot plays detection battles at Distant to their end with no refused command
    (`play_bots` asserts that): it locks the undetected enemy (which finds it), and no salvo
    is launched at Distant at a target its launcher had not detected."""
    scenario = make_scenario(
        "patrol_corvette", "system_defence_boat", "distant", detection="sensors", round_limit=6
    )
    locks = launches = 0
    for seed in range(3):
        state = rules.replay(
            rules.start_battle(scenario, seed, "t", None),
            rules.DiceSecret(seed, bytes(rules.SALT_BYTES)),
        )
        undetected = {sid: set(s.undetected) for sid, s in state.ships.items()}
        state, events = play_bots(state)
        assert state.is_over
        for e in events:
            if e.type == "sensor_lock" and e.data["locked"]:
                undetected[e.data["ship"]].discard(e.data["target"])
                locks += 1
            if e.type == "missiles_launched" and e.data["band"] == "distant":
                assert e.data["target"] not in undetected[e.data["launcher"]]
                launches += 1
    assert locks > 0
    assert launches > 0


def test_a_detection_battle_re_executes_from_its_exported_log() -> None:
    """An import plays every recorded command again: the opening's detection checks and the
    locks that found the enemy come out the same."""
    scenario = make_scenario(
        "patrol_corvette", "system_defence_boat", "distant", detection="sensors", round_limit=4
    )
    state, events = rules.open_battle(scenario, 7, "t", None)
    state, more = play_bots(state)
    log = json.loads(json.dumps([e.to_dict() for e in [*events, *more]]))
    decoded, dicts = rules.decode_events(log)
    again, produced = reexecute(decoded, dicts, rules.DiceSecret(7, bytes(rules.SALT_BYTES)))
    assert json.loads(json.dumps(produced)) == log
    assert again == state
    assert "detection_rolled" in [e["type"] for e in log]
