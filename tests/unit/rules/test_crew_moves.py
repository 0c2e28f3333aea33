"""Flexible crew (MgT2e, engine DEFAULT): a crew member moves to a station nobody able holds;
the move takes the round (they act there from the next round) and leaves their old station."""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.legal import legal_commands

from .conftest import Battle, make_scenario

KNOCK_OUT = ({"field": "crew:pilot:END", "value": 0}, {"field": "crew:pilot:STR", "value": 0})


def _trader_without_pilot() -> Battle:
    """The Free Trader (a) with its pilot unconscious (END and STR 0), at Long range."""
    b = Battle(make_scenario("free_trader", "scout", "long"))
    for ruling in KNOCK_OUT:
        b.gm({"type": "gm_ruling", "ship_id": "a", "reason": "hit by debris"} | ruling)
    assert b.ship("a").crew_at("pilot") is None
    return b


def test_the_engineer_takes_over_from_a_wounded_pilot_from_the_next_round() -> None:
    b = _trader_without_pilot()
    b.to(rules.Step.ACTIONS, "a")
    offered = [e["command"] for e in legal_commands(b.state, "a", "captain")]
    assert {"type": "change_station", "ship_id": "a", "station": "captain", "to": "pilot"} in (
        offered
    )
    ev = b.do({"type": "change_station", "ship_id": "a", "station": "engineer", "to": "pilot"})[0]
    assert ev.summary == (
        "Alpha: Regular engineer leaves the engineer station for the pilot station"
        " (acting there from next round)."
    )
    ship = b.ship("a")
    assert ship.crew_at("pilot") is None, "the move takes the round"
    assert ship.crew_at("engineer") is None
    b.until(lambda st: st.round == 2)
    pilot = b.ship("a").crew_at("pilot")
    assert pilot is not None
    assert pilot.name == "Regular engineer"
    assert pilot.skill("pilot") is None, "an engineer flies unskilled"
    b.to(rules.Step.MANOEUVRE, "a", round_=2)
    assert ("a", "pilot") in rules.awaiting(b.state)


@pytest.mark.parametrize(
    ("command", "code"),
    [
        pytest.param({"station": "engineer", "to": "sensors"}, "station_manned", id="manned"),
        pytest.param({"station": "engineer", "to": "gunner:7"}, "unknown_station", id="unknown"),
        pytest.param({"station": "engineer", "to": "engineer"}, "same_station", id="same"),
        pytest.param({"station": "engineer", "to": "x" * 13}, "bad_command", id="oversized"),
    ],
)
def test_a_bad_move_is_refused_and_changes_nothing(command: dict[str, Any], code: str) -> None:
    b = _trader_without_pilot()
    b.to(rules.Step.ACTIONS, "a")
    assert b.refuse({"type": "change_station", "ship_id": "a"} | command).code == code


def test_a_player_moves_only_the_crew_member_at_their_own_station() -> None:
    b = _trader_without_pilot()
    b.to(rules.Step.ACTIONS, "a")
    captain = rules.Actor(role="player", ship_id="a", stations=frozenset({"captain"}))
    move = {"type": "change_station", "ship_id": "a", "station": "engineer", "to": "pilot"}
    assert b.refuse(move, captain).code == "not_your_station"


def test_nobody_is_offered_a_move_while_every_station_is_manned() -> None:
    b = Battle(make_scenario("free_trader", "scout", "long"))
    b.to(rules.Step.ACTIONS, "a")
    assert "change_station" not in [e["type"] for e in legal_commands(b.state, "a", "captain")]


def test_the_gm_reassigns_crew_at_once_swapping_two_stations() -> None:
    """A GM ruling `station:<from>` = `<to>`: logged with its reason, no round lost, undoable."""
    b = Battle(make_scenario("free_trader", "scout", "long"))
    ruling = {"type": "gm_ruling", "ship_id": "a", "reason": "the engineer flies better"}
    events = b.gm(ruling | {"field": "station:engineer", "value": "pilot"})
    assert events[0].summary == (
        "GM ruling: Alpha station:engineer = pilot (the engineer flies better)."
    )
    assert b.ship("a").crew_at("pilot").name == "Regular engineer"  # type: ignore[union-attr]
    assert b.ship("a").crew_at("engineer").name == "Regular pilot"  # type: ignore[union-attr]
    b.gm({"type": "gm_undo", "n": len(events)})
    assert b.ship("a").crew_at("pilot").name == "Regular pilot"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("station:engineer", "engineer", id="same"),
        pytest.param("station:engineer", "bridge", id="unknown-target"),
        pytest.param("station:galley", "pilot", id="unknown-origin"),
        pytest.param("station:engineer", 3, id="not-a-station"),
    ],
)
def test_a_bad_reassignment_is_refused(field: str, value: Any) -> None:
    b = Battle(make_scenario("free_trader", "scout", "long"))
    ruling = {"type": "gm_ruling", "ship_id": "a", "field": field, "value": value, "reason": "r"}
    assert b.refuse(ruling, rules.GM).code == "bad_ruling"
