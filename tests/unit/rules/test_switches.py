"""House-rule switches of `RulesConfig` that change play: each test shows both settings give a
different game (a switch that is recorded but ignored would pass neither way)."""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules

from .conftest import Battle, crew, design, duel

GUNBOAT = design(
    "Gunboat",
    thrust=2,
    fire_control=1,
    turrets=[("triple", ["beam_laser"] * 3), ("double", ["pulse_laser", "pulse_laser"])],
)
GUNNERS = {"gunner:0": crew(2, DEX=9), "gunner:1": crew(2, DEX=9)}
BARGE = design("Barge", armour=2, hull=400, thrust=0)
SANDY = design(
    "Sandy", armour=2, hull=400, thrust=0, turrets=[("double", ["sandcaster", "sandcaster"])]
)


def _duel(target: dict[str, Any], **config: Any) -> Battle:
    return Battle(duel(GUNBOAT, target, crew_a=GUNNERS, config=config))


@pytest.mark.parametrize(
    ("auto", "hit"),
    [pytest.param(False, True, id="default-no-auto"), pytest.param(True, False, id="auto")],
)
def test_natural_auto_results(auto: bool, hit: bool) -> None:
    """§1.2 (#29): a natural 2 is no automatic failure by default: [1, 1] + 9 = 11 hits (1D
    damage [1]); with `natural_auto_results` the natural 2 misses (no damage die rolled)."""
    b = _duel(BARGE, natural_auto_results=auto)
    b.to(rules.Step.ATTACK, "a")
    b.do(
        {"type": "attack", "ship_id": "a", "turret": 0, "target": "b"}, [1, 1, 1] if hit else [1, 1]
    )
    assert b.last("attack_resolved").data["attack"]["hit"] is hit


def test_natural_12_succeeds_with_auto_results() -> None:
    """§1.2 option: a natural 12 succeeds whatever the DMs (a sensor lock at DM -12)."""
    for auto, locked in ((False, False), (True, True)):
        b = Battle(
            duel(
                design("Blind", sensors="basic"),
                BARGE,
                crew_a={"sensors": crew(None, INT=2)},
                config={"natural_auto_results": auto},
            )
        )
        b.to(rules.Step.ACTIONS, "a")
        b.do({"type": "sensor_lock", "ship_id": "a", "target": "b"}, [6, 6])
        assert b.last("sensor_lock").data["locked"] is locked


@pytest.mark.parametrize(
    ("cap", "boon", "dice"),
    [
        pytest.param(1, 1, [1, 1, 2, 1], id="default-one-boon"),
        pytest.param(0, 0, [1, 1, 1], id="boons-off"),
    ],
)
def test_boon_net_max(cap: int, boon: int, dice: list[int]) -> None:
    """§1.6 DEFAULT: a sensor lock gives a Boon (3D keep the best two); `boon_net_max` 0
    turns boons and banes off (2D)."""
    b = _duel(BARGE, boon_net_max=cap)
    b.patch("a", sensor_lock="b")
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"}, dice)
    assert b.last("attack_resolved").data["attack"]["boon"] == boon


@pytest.mark.parametrize("once", [True, False])
def test_sand_once_per_turret_per_round(once: bool) -> None:
    """§4.B DEFAULT: each sandcaster turret reacts at most once per round; switched off, the
    turret may sand a second laser attack in the same round."""
    b = Battle(
        duel(GUNBOAT, SANDY, crew_a=GUNNERS, config={"sand_once_per_turret_per_round": once})
    )
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    assert b.state.pending[0].eligible == ("gunner:0",)
    # sand fails ([1, 1]); the attack then hits: [1, 1] + 9, 1D [1]
    b.do({"type": "sand", "ship_id": "b", "turret": 0}, [1, 1, 1, 1, 1])
    second = {"type": "attack", "ship_id": "a", "turret": 1, "target": "b"}
    if once:
        declared = b.do(second, [1, 1, 1, 1])  # no reaction left: it resolves at once
        assert declared[0].data["eligible"] == []
    else:
        b.do(second)
        assert b.state.pending[0].eligible == ("gunner:0",)


LAUNCHER = design("Launcher", thrust=2, turrets=[("triple", ["missile_rack"] * 3)])


@pytest.mark.parametrize(("endurance", "strikes"), [(10, True), (3, False)])
def test_missile_endurance_rounds(endurance: int, strikes: bool) -> None:
    """§9.B.2: missiles are inert after 10 rounds (DEFAULT); at Very Long they fly 4 rounds,
    so with an endurance of 3 they go inert before they arrive."""
    b = Battle(
        duel(LAUNCHER, BARGE, band="very_long", config={"missile_endurance_rounds": endurance})
    )
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "launch_missiles", "ship_id": "a", "turret": 0, "target": "b"})
    b.until(lambda st: st.round == 5 and st.step == rules.Step.ACTIONS)
    types = b.types(b.events)
    assert ("salvo_resolved" in types) is strikes
    assert ("salvos_inert" in types) is not strikes
    assert not b.state.salvos
