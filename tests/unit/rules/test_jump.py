"""Leaving by jump (§6.B engineer Jump, §13.1 (a), §6 Calculate Jump Plot): plot, then jump in
a later round's Actions step, outside the 100-diameter limit; the ship is then `jumped`."""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules

from .conftest import Battle, make_scenario


def _scout(**extra: Any) -> Battle:
    return Battle(make_scenario("scout", "free_trader", "long", **extra))


def test_a_plotted_jump_takes_the_ship_out_of_the_fight_a_round_later() -> None:
    """Plot: 2D + Astrogation (none: -3) + EDU 8 (0) - 1 haste vs 4+: [4, 4] -> 4, plotted.
    The jump follows in a later round: Engineer 1 + 0 vs 8+: [4, 3] -> 8, jumped. (A Severity-1
    computer critical keeps the engineer busy in round 1, so the same-round jump can be tried.)"""
    b = _scout()
    crits = list(b.ship("a").crits)
    crits[10] = 1  # computer
    b.patch("a", crits=tuple(crits))
    b.to(rules.Step.ACTIONS, "a")
    ev = b.do({"type": "plot_jump", "ship_id": "a"}, [4, 4])[0]
    assert (ev.type, ev.data["plotted"], ev.data["check"]["total"]) == ("jump_plotted", True, 4)
    v = b.refuse({"type": "jump", "ship_id": "a"})
    assert (v.code, v.message) == ("no_jump_plot", "the jump follows the plot in a later round")
    b.to(rules.Step.ACTIONS, "a", round_=2)
    b.do({"type": "jump", "ship_id": "a"}, [4, 3])
    assert b.ship("a").status == "jumped"
    assert b.state.outcome is not None
    assert b.state.outcome["winner"] == "blue"
    assert b.types(b.events[-5:]) == [
        "jump_attempted",
        "ship_jumped",
        "ship_out",
        "battle_ended",
        "dice_revealed",
    ]


def test_a_failed_plot_leaves_nothing_to_jump_on() -> None:
    """[1, 2] -> 3 - 4 < 4: no plot; the engineer cannot jump next round."""
    b = _scout()
    b.to(rules.Step.ACTIONS, "a")
    b.do({"type": "plot_jump", "ship_id": "a"}, [1, 2])
    b.to(rules.Step.ACTIONS, "a", round_=2)
    assert b.refuse({"type": "jump", "ship_id": "a"}).code == "no_jump_plot"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param({"jump_limit": "inside"}, "100-diameter", id="inside-the-limit"),
        pytest.param({"crit": 2}, "disabled", id="j-drive-disabled"),
    ],
)
def test_no_jump_inside_the_limit_or_with_a_disabled_drive(
    setup: dict[str, Any], message: str
) -> None:
    """§13.1 (a): outside the 100-diameter limit only (the scenario says where the battle is,
    default outside); J-Drive Severity 2+ is disabled (§10.B.4)."""
    crit = setup.pop("crit", 0)
    b = _scout(**setup)
    if crit:
        crits = list(b.ship("a").crits)
        crits[8] = crit  # j_drive
        b.patch("a", crits=tuple(crits))
    b.to(rules.Step.ACTIONS, "a")
    v = b.refuse({"type": "plot_jump", "ship_id": "a"})
    assert (v.code, message in v.message) == ("cannot_jump", True)
    sensors = [e["type"] for e in rules.legal_commands(b.state, "a", "sensors")]
    assert "plot_jump" not in sensors


def test_plot_jump_is_offered_to_the_sensors_station() -> None:
    """The astrogator (at the sensors in combat) sees Calculate Jump Plot in the Actions step."""
    b = _scout()
    b.to(rules.Step.ACTIONS, "a")
    assert "plot_jump" in [e["type"] for e in rules.legal_commands(b.state, "a", "sensors")]
