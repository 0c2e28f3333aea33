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


# --- one person holding two stations (§1.5 Multiple simultaneous tasks, `extra_task_dm`) ---

SENSORS_OUT = (("crew:sensors:END", 0), ("crew:sensors:STR", 0))


def _trader(**config: Any) -> Battle:
    return Battle(make_scenario("free_trader", "scout", "long", config=config))


def _gm(b: Battle, field: str, value: Any) -> list[rules.Event]:
    return b.gm(
        {"type": "gm_ruling", "ship_id": "a", "field": field, "value": value, "reason": "r"}
    )


def test_the_engineer_holds_the_helm_as_well_and_keeps_their_own_station() -> None:
    b = _trader_without_pilot()
    b.to(rules.Step.ACTIONS, "a")
    offered = [e["command"] for e in legal_commands(b.state, "a", "engineer")]
    hold = {"type": "hold_station", "ship_id": "a", "station": "engineer", "to": "pilot"}
    assert hold in offered
    ev = b.do(hold)[0]
    assert ev.summary == (
        "Alpha: Regular engineer holds the pilot station as well as the engineer station"
        " (acting there from next round)."
    )
    ship = b.ship("a")
    assert ship.crew_at("pilot") is None, "taking the helm takes the round"
    assert ship.crew_at("engineer").name == "Regular engineer"  # type: ignore[union-attr]
    b.until(lambda st: st.round == 2)
    ship = b.ship("a")
    assert ship.crew_at("pilot").name == "Regular engineer"  # type: ignore[union-attr]
    assert ship.crew_at("engineer").name == "Regular engineer"  # type: ignore[union-attr]
    assert ship.holder_stations("pilot") == ("engineer", "pilot")
    assert rules.state_to_dict(rules.replay(b.events)) == rules.state_to_dict(b.state)


@pytest.mark.parametrize(
    ("command", "code"),
    [
        pytest.param({"station": "engineer", "to": "sensors"}, "station_manned", id="manned"),
        pytest.param({"station": "engineer", "to": "gunner:7"}, "unknown_station", id="unknown"),
        pytest.param({"station": "engineer", "to": "engineer"}, "same_station", id="same"),
        pytest.param({"station": "pilot", "to": "pilot"}, "station_unmanned", id="unmanned"),
        pytest.param({"station": "engineer", "to": "x" * 13}, "bad_command", id="oversized"),
    ],
)
def test_a_bad_hold_is_refused_and_changes_nothing(command: dict[str, Any], code: str) -> None:
    b = _trader_without_pilot()
    b.to(rules.Step.ACTIONS, "a")
    assert b.refuse({"type": "hold_station", "ship_id": "a"} | command).code == code


def test_a_hold_out_of_turn_or_from_another_station_is_refused() -> None:
    b = _trader_without_pilot()
    hold = {"type": "hold_station", "ship_id": "a", "station": "engineer", "to": "pilot"}
    assert b.state.step == rules.Step.MANOEUVRE
    v = b.refuse(hold)
    assert (v.code, v.message) == ("not_your_turn", "it is Bravo's turn, not Alpha's")
    b.to(rules.Step.ACTIONS, "a")
    captain = rules.Actor(role="player", ship_id="a", stations=frozenset({"captain"}))
    assert b.refuse(hold, captain).code == "not_your_station"
    ce = Battle(make_scenario("merchant_trader", "courier", "long", ruleset="CE"))
    ce_hold = {"type": "hold_station", "ship_id": "a", "station": "engineer", "to": "pilot"}
    # CE allows holding a station as well (§3.A), only one nobody able holds
    assert ce.refuse(ce_hold, rules.GM).code == "station_manned"


def _captain_holds_sensors(**config: Any) -> Battle:
    """The sensors operator is knocked out; the GM gives the captain the sensors as well."""
    b = _trader(**config)
    for field, value in SENSORS_OUT:
        _gm(b, field, value)
    ev = _gm(b, "cover:sensors", "captain")[0]
    assert ev.summary == "GM ruling: Alpha cover:sensors = captain (r)."
    assert b.ship("a").crew_at("sensors").name == "Regular captain"  # type: ignore[union-attr]
    b.to(rules.Step.ACTIONS, "a")
    return b


LOCK = {"type": "sensor_lock", "ship_id": "a", "target": "b"}
RALLY = {"type": "improve_initiative", "ship_id": "a"}


def test_a_second_task_in_the_same_step_takes_dm_minus_2() -> None:
    """The captain rallies the crew, then locks: the lock's check carries the civilian
    sensors' -2 and -2 for the extra task; the next round's first task has no penalty."""
    b = _captain_holds_sensors()
    b.do(RALLY, [4, 4])
    assert b.last("initiative_improved").data["check"]["dm"] == 0
    b.do(LOCK, [4, 4])
    assert b.last("sensor_lock").data["check"]["dm"] == -4
    b.to(rules.Step.ACTIONS, "a", round_=2)
    assert b.ship("a").tasks == frozenset()
    b.do({"type": "sensor_lock", "ship_id": "a", "target": "b"}, [4, 4])
    assert b.last("sensor_lock").data["check"]["dm"] == -2


def test_the_first_task_has_no_penalty_and_a_pass_is_no_task() -> None:
    b = _captain_holds_sensors()
    b.do({"type": "end_step", "ship_id": "a", "station": "captain"})
    b.do(LOCK, [4, 4])
    assert b.last("sensor_lock").data["check"]["dm"] == -2


@pytest.mark.parametrize(
    ("config", "dm"),
    [
        pytest.param({}, -4, id="penalty"),
        pytest.param({"extra_task_dm": -4}, -6, id="harsher"),
        pytest.param({"extra_task_penalty": False}, -2, id="off"),
    ],
)
def test_the_extra_task_switches_change_play(config: dict[str, Any], dm: int) -> None:
    b = _captain_holds_sensors(**config)
    b.do(RALLY, [4, 4])
    b.do(LOCK, [4, 4])
    assert b.last("sensor_lock").data["check"]["dm"] == dm


def test_the_gm_lets_go_of_a_held_station_and_refuses_bad_covers() -> None:
    b = _captain_holds_sensors()
    _gm(b, "cover:sensors", None)
    assert b.ship("a").crew_at("sensors") is None
    for field, value in (
        ("cover:sensors", "pilot-x"),
        ("cover:galley", "captain"),
        ("cover:engineer", "captain"),  # the engineer is able: manned
        ("cover:captain", "captain"),
        ("cover:pilot", None),  # nobody holds it besides their own
        ("cover:sensors", 3),
    ):
        ruling = {"type": "gm_ruling", "ship_id": "a", "field": field, "value": value}
        assert b.refuse(ruling | {"reason": "r"}, rules.GM).code == "bad_ruling", field


def test_the_bot_takes_the_helm_as_well_and_never_leaves_a_station() -> None:
    """With the pilot out, the bot's engineer holds the helm as well in the Actions step (the
    only crew command it sends); the ship then manoeuvres again."""
    b = _trader_without_pilot()
    b.to(rules.Step.ACTIONS, "a")
    sent: list[str] = []
    for _ in range(40):
        if b.state.round > 2:
            break
        cmd = rules.next_bot_command(b.state, ("red", "blue"))
        assert cmd is not None
        sent.append(cmd.type)
        b.state, new = rules.decide(b.state, cmd)
        b.events.extend(new)
    assert "change_station" not in sent
    assert sent.count("hold_station") == 1
    assert b.ship("a").crew_at("pilot") is not None
    assert any(
        e.type == "turn_started" and e.data["step"] == "manoeuvre" and e.data["ship"] == "a"
        for e in b.events[-60:]
    )


def test_one_gunner_at_two_turrets_fires_the_second_at_dm_minus_2() -> None:
    """Gunner 2 is knocked out; the GM has Gunner 1 hold turret 2 as well. Turret 1 fires
    first; turret 2's preview and its attack roll carry -2 ("other": the extra task)."""
    b = Battle(make_scenario("free_trader", "corsair", "medium"))
    for char in ("END", "STR"):
        _gm(b, f"crew:gunner:1:{char}", 0)
    _gm(b, "cover:gunner:1", "gunner:0")
    b.to(rules.Step.ATTACK, "a")
    fire = {"type": "attack", "ship_id": "a", "target": "b", "weapons": [0]}
    preview = next(
        e["preview"] for e in legal_commands(b.state, "a", "gunner:1") if e["type"] == "attack"
    )
    assert "extra_tasks" not in preview["dms"]
    b.do(fire | {"turret": 0})
    b.until(lambda st: st.acting_ship == "a" and not st.pending)
    assert b.last("attack_resolved").data["attack"]["dms"]["other"] == 0
    preview = next(
        e["preview"] for e in legal_commands(b.state, "a", "gunner:1") if e["type"] == "attack"
    )
    assert preview["dms"]["extra_tasks"] == -2
    b.do(fire | {"turret": 1})
    b.until(lambda st: st.acting_ship != "a" or not st.pending)
    assert b.last("attack_resolved").data["attack"]["dms"]["other"] == -2


# --- CE §6.A Change Positions (a minor action: the crew member acts at the new station) ---


def test_ce_the_navigator_takes_the_empty_helm_and_flies_this_turn() -> None:
    """The Merchant Trader's pilot is knocked out; on its turn the navigator changes positions
    and, in the same turn, makes the pilot's Evasive Maneuvers check (Piloting: none, -3)."""
    b = Battle(make_scenario("merchant_trader", "raider", "long", ruleset="CE"))
    for char in ("END", "STR"):
        _gm(b, f"crew:pilot:{char}", 0)
    b.until(lambda st: st.acting_ship == "a" and not st.pending)
    move = {"type": "change_station", "ship_id": "a", "station": "navigator", "to": "pilot"}
    assert move in [e["command"] for e in legal_commands(b.state, "a", "navigator")]
    ev = b.do(move)[0]
    assert ev.summary.endswith("for the pilot station (acting there this turn).")
    assert ("a", "pilot") in rules.awaiting(b.state)
    assert b.ship("a").crew_at("pilot").name == "Regular navigator"  # type: ignore[union-attr]
    b.do({"type": "ce_pilot", "ship_id": "a", "action": "evasive_maneuvers"}, [4, 4])
    assert b.last("ce_pilot").data["check"]["skill_dm"] == -3


def test_ce_a_crew_member_who_has_acted_cannot_change_positions_that_turn() -> None:
    b = Battle(make_scenario("merchant_trader", "raider", "long", ruleset="CE"))
    for char in ("END", "STR"):
        _gm(b, f"crew:pilot:{char}", 0)
    b.until(lambda st: st.acting_ship == "a" and not st.pending)
    b.do({"type": "end_step", "ship_id": "a", "station": "navigator"})
    move = {"type": "change_station", "ship_id": "a", "station": "navigator", "to": "pilot"}
    v = b.refuse(move)
    assert (v.code, v.message) == ("station_done", "the navigator of Alpha is done for this step")
    assert "change_station" not in [e["type"] for e in legal_commands(b.state, "a", "navigator")]
