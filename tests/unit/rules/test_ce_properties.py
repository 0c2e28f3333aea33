"""The engine's hypothesis properties for the CE profile: replay equals the live state, a
refused command changes nothing (and `is_legal` agrees), nothing is accepted out of turn, Hull
and Structure stay in their boxes, and bot battles end within the round limit."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameserver import rules
from gameserver.rules.legal import candidate_commands

from .conftest import make_scenario, play_bots
from .test_properties import _legal_step

CE_PRESETS = [k for k, v in rules.PRESET_RULESET.items() if v == "CE"]
BANDS = [b.value for b in rules.RangeBand]
SYSTEMS = ["sensors", "m_drive", "j_drive", "power_plant", "bridge", "fuel", "hold", "turret:0"]
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _scenario(data: st.DataObject, limit: int = 8) -> rules.Scenario:
    return make_scenario(
        data.draw(st.sampled_from(CE_PRESETS)),
        data.draw(st.sampled_from(CE_PRESETS)),
        data.draw(st.sampled_from(BANDS)),
        round_limit=data.draw(st.integers(1, limit)),
        ruleset="CE",
    )


def _invariants(state: rules.BattleState) -> None:
    for ship in state.ships.values():
        view = rules.ce_ship_view(ship)
        assert 0 <= ship.hull <= view["hull_max"], ship.id
        assert 0 <= ship.structure <= view["structure_max"], ship.id
        assert (ship.structure == 0) == (ship.status == "destroyed"), ship.id
        assert all(0 < n <= 3 for n in ship.systems.values()), ship.systems
        assert ship.reactions >= 0
        assert ship.armour >= 0
        assert 0 <= ship.thrust <= ship.design.thrust
        assert all(a >= 0 for a in ship.ammo)
    assert state.round <= state.round_limit


def _any_command(data: st.DataObject, state: rules.BattleState) -> dict[str, Any]:
    ships = [*state.ships, "zz"]
    cmd: dict[str, Any] = {
        "ship_id": data.draw(st.sampled_from(ships)),
        "type": data.draw(
            st.sampled_from(
                [
                    "ce_fire",
                    "ce_pilot",
                    "range_check",
                    "sensor_targeting",
                    "ce_captain",
                    "ce_repair",
                    "dodge",
                    "fire_sand",
                    "no_reaction",
                    "end_step",
                    "surrender",
                    "attack",
                    "move",
                    "ce_launch",
                    "ce_point_defence",
                    "ce_reload",
                    "hasty",
                    "jam_missiles",
                    "board",
                ]
            )
        ),
    }
    target = data.draw(st.sampled_from(ships))
    kind = cmd["type"]
    if kind in ("ce_fire", "fire_sand", "attack", "ce_launch", "ce_point_defence", "ce_reload"):
        cmd["turret"] = data.draw(st.integers(0, 6))
    if kind in ("ce_fire", "range_check", "sensor_targeting", "attack", "ce_launch", "board"):
        cmd["target"] = target
    if kind == "range_check":
        cmd["wish"] = data.draw(st.sampled_from(["increase", "decrease", "keep"]))
    if kind == "ce_pilot":
        cmd["action"] = data.draw(st.sampled_from(["evasive_maneuvers", "line_up_the_shot"]))
    if kind == "ce_captain":
        cmd["action"] = data.draw(st.sampled_from(["coordinate_crew", "increase_initiative"]))
    if kind == "ce_repair":
        cmd["system"] = data.draw(st.sampled_from([*SYSTEMS, "hull", "structure"]))
    if kind == "move":
        cmd |= {"target": target, "direction": "toward", "thrust": 1}
    if kind in ("end_step", "no_reaction"):
        cmd["station"] = data.draw(
            st.sampled_from(["captain", "pilot", "navigator", "engineer", "gunner:0", "gunner:1"])
        )
    return cmd


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**64))
def test_ce_random_play_replays_to_the_live_state(data: st.DataObject, seed: int) -> None:
    state, events = rules.open_battle(_scenario(data), seed, "p", None)
    _invariants(state)
    for _ in range(data.draw(st.integers(5, 80))):
        if state.is_over:
            break
        roll = data.draw(st.integers(0, 19))
        if roll == 0 and state.undo_depth:
            cmd: Any = rules.parse_command(
                {"type": "gm_undo", "n": data.draw(st.integers(1, state.undo_depth))}, rules.GM
            )
        elif roll == 1:
            cmd = rules.parse_command({"type": "gm_advance"}, rules.GM)
        else:
            cmd = _legal_step(data, state)
        decided, new = rules.decide(state, cmd)
        assert new
        for e in new:
            state = rules.evolve(state, e)
            _invariants(state)
        assert decided == state
        events.extend(new)
    assert rules.replay(events) == state
    assert rules.state_to_dict(rules.replay(events)) == rules.state_to_dict(state)
    assert rules.state_from_dict(rules.state_to_dict(state)) == state


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**64))
def test_ce_refused_commands_change_nothing(data: st.DataObject, seed: int) -> None:
    state = rules.open_battle(_scenario(data), seed, "p", None).state
    for _ in range(data.draw(st.integers(5, 60))):
        if state.is_over:
            break
        if data.draw(st.booleans()):
            raw = _any_command(data, state)
        else:
            ship, station = data.draw(st.sampled_from(rules.awaiting(state)))
            pool = candidate_commands(state, ship, station) or [{"type": "end_step"}]
            raw = dict(data.draw(st.sampled_from(pool)))
        actor_ship = data.draw(st.sampled_from(list(state.ships)))
        station = data.draw(st.sampled_from(state.ships[actor_ship].design.station_ids()))
        actor = rules.Actor(role="player", ship_id=actor_ship, stations=frozenset({station}))
        try:
            cmd = rules.parse_command(raw, actor)
        except rules.RuleViolation:
            continue
        before = rules.state_to_dict(state)
        awaited = rules.awaiting(state)
        legal = rules.is_legal(state, cmd)
        refused: rules.RuleViolation | None = None
        try:
            new = rules.decide(state, cmd).events
        except rules.RuleViolation as exc:
            refused = exc
        if refused is not None:
            assert not legal, f"is_legal said yes but decide refused: {refused.code}"
            assert rules.state_to_dict(state) == before
            continue
        assert legal
        assert new
        if cmd.type == "surrender":
            assert state.acting_ship == actor_ship
        else:
            assert (actor_ship, station) in awaited, (cmd.type, actor_ship, station, awaited)
        for e in new:
            state = rules.evolve(state, e)
        _invariants(state)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**64))
def test_ce_bot_battles_end_within_the_round_limit(data: st.DataObject, seed: int) -> None:
    scenario = _scenario(data, limit=6)
    state, _ = play_bots(rules.open_battle(scenario, seed, "p", None).state)
    assert state.is_over
    assert state.round <= scenario.round_limit
    _invariants(state)
