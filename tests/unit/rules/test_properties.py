"""Hypothesis properties of the engine, for each ruleset profile (STYLE.md "Tests"):

* replay(events) equals the live state;
* a refused command changes nothing (state unchanged, no events) and `is_legal` agrees with
  `decide`;
* hull (CE: Hull and Structure) stays in its box (and a ship at 0 is a wreck);
* no command is accepted out of turn;
* bot-vs-bot battles always end within the scenario's round limit.

The MgT2e and CE profiles share the tests: the `profile` fixture gives each its presets, its
invariants and its command shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gameserver import rules
from gameserver.rules.legal import candidate_commands

from .conftest import make_scenario, play_bots

FAST = ["scout", "free_trader", "far_trader", "fighter", "patrol_corvette"]
ALL = [*FAST, "corsair", "system_defence_boat"]
CE_PRESETS = [k for k, v in rules.PRESET_RULESET.items() if v == "CE"]
BANDS = [b.value for b in rules.RangeBand]
LOCATIONS = [loc.value for loc in rules.Location]
CE_SYSTEMS = ["sensors", "m_drive", "j_drive", "power_plant", "bridge", "fuel", "hold", "turret:0"]
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _mgt2e_invariants(state: rules.BattleState) -> None:
    for ship in state.ships.values():
        assert 0 <= ship.hull <= ship.design.hull_points, ship.id
        assert ship.armour >= 0
        assert ship.thrust_pool >= 0
        assert all(0 <= s <= 6 for s in ship.crits)
        assert all(a >= 0 for a in ship.ammo)
        assert (ship.hull == 0) == (ship.status == "wrecked"), ship.id
    assert state.round <= state.round_limit


def _ce_invariants(state: rules.BattleState) -> None:
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


def _mgt2e_any_command(data: st.DataObject, state: rules.BattleState) -> dict[str, Any]:
    """A command shape of any type, any ship, any values (mostly illegal)."""
    ships = [*state.ships, "zz"]
    ship = data.draw(st.sampled_from(ships))
    base = {"ship_id": ship}
    kind = data.draw(
        st.sampled_from(
            [
                "move",
                "aid_gunners",
                "break_off",
                "attack",
                "launch_missiles",
                "evasive_action",
                "point_defence",
                "sand",
                "no_reaction",
                "sensor_lock",
                "electronic_warfare",
                "improve_initiative",
                "repair",
                "reload",
                "overload_drive",
                "overload_plant",
                "offline_system",
                "restore_system",
                "change_station",
                "surrender",
                "end_step",
            ]
        )
    )
    cmd: dict[str, Any] = base | {"type": kind}
    target = data.draw(st.sampled_from(ships))
    turret = data.draw(st.integers(0, 6))
    if kind == "move":
        cmd |= {
            "target": target,
            "direction": data.draw(st.sampled_from(["toward", "away"])),
            "thrust": data.draw(st.integers(1, 8)),
        }
    elif kind in ("attack", "launch_missiles"):
        cmd |= {"turret": turret, "target": target}
        if data.draw(st.booleans()):
            cmd["weapons"] = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    elif kind in ("point_defence", "sand", "reload"):
        cmd["turret"] = turret
    elif kind == "sensor_lock":
        cmd["target"] = target
    elif kind == "electronic_warfare":
        cmd |= {"mode": "break_lock", "target": target}
    elif kind == "repair":
        cmd["location"] = data.draw(st.sampled_from(LOCATIONS))
    elif kind == "change_station":
        stations = ["captain", "pilot", "engineer", "sensors", "gunner:0", "gunner:9"]
        cmd |= {"station": data.draw(st.sampled_from(stations))}
        cmd |= {"to": data.draw(st.sampled_from(stations))}
    elif kind in ("offline_system", "restore_system"):
        cmd["system"] = data.draw(st.sampled_from(["m_drive", "turret:0", "turret:1", "turret:7"]))
    elif kind in ("end_step", "no_reaction"):
        stations = ["captain", "pilot", "engineer", "sensors", "gunner:0", "gunner:1", "gunner:5"]
        cmd["station"] = data.draw(st.sampled_from(stations))
    return cmd


def _ce_any_command(data: st.DataObject, state: rules.BattleState) -> dict[str, Any]:
    """A CE command shape of any type, any ship, any values (mostly illegal)."""
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
        cmd["system"] = data.draw(st.sampled_from([*CE_SYSTEMS, "hull", "structure"]))
    if kind == "move":
        cmd |= {"target": target, "direction": "toward", "thrust": 1}
    if kind in ("end_step", "no_reaction"):
        cmd["station"] = data.draw(
            st.sampled_from(["captain", "pilot", "navigator", "engineer", "gunner:0", "gunner:1"])
        )
    return cmd


def _legal_step(data: st.DataObject, state: rules.BattleState) -> rules.Command:
    """A random legal command of an awaited station (what a human might click)."""
    awaited = rules.awaiting(state)
    ship, station = data.draw(st.sampled_from(awaited))
    options = rules.legal_commands(state, ship, station)
    assert options, f"awaited {ship}/{station} has no legal command"
    choice = data.draw(st.sampled_from(options))
    command = dict(choice["command"])
    if command["type"] == "move":
        command["thrust"] = data.draw(st.sampled_from(choice["choices"]["thrust"]))
    actor = rules.Actor(role="player", ship_id=ship, stations=frozenset({station}))
    return rules.parse_command(command, actor)


@dataclass(frozen=True)
class Profile:
    """What the shared properties need to know of one ruleset."""

    play: list[str]
    """Presets for random play (the faster ones)."""
    bots: list[str]
    """Presets for bot battles."""
    invariants: Callable[[rules.BattleState], None]
    any_command: Callable[[st.DataObject, rules.BattleState], dict[str, Any]]
    scenario: dict[str, Any] = field(default_factory=dict)
    """Extra scenario fields (the ruleset)."""

    def make(self, data: st.DataObject, presets: list[str], limit: int = 8) -> rules.Scenario:
        """Two random presets of the profile at a random band and round limit."""
        return make_scenario(
            data.draw(st.sampled_from(presets)),
            data.draw(st.sampled_from(presets)),
            data.draw(st.sampled_from(BANDS)),
            round_limit=data.draw(st.integers(1, limit)),
            **self.scenario,
        )


PROFILES = {
    "MGT2E": Profile(FAST, ALL, _mgt2e_invariants, _mgt2e_any_command),
    "CE": Profile(CE_PRESETS, CE_PRESETS, _ce_invariants, _ce_any_command, {"ruleset": "CE"}),
}


@pytest.fixture(params=list(PROFILES), scope="module")
def profile(request: pytest.FixtureRequest) -> Profile:
    """Each ruleset profile in turn (module scope: hypothesis runs many examples per test)."""
    return PROFILES[request.param]


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**64))
def test_random_play_replays_to_the_live_state(
    profile: Profile, data: st.DataObject, seed: int
) -> None:
    """Event sourcing: whatever legal commands (and GM undos) are played, replay(events) equals
    the live state, the dict round trip is exact and the invariants hold at every step."""
    state, events = rules.open_battle(profile.make(data, profile.play), seed, "p", None)
    profile.invariants(state)
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
        assert new, "an accepted command records at least one event"
        for e in new:
            state = rules.evolve(state, e)
            profile.invariants(state)
        assert decided == state, "decide returns the fold of its events"
        events.extend(new)
    assert rules.replay(events) == state
    assert rules.state_to_dict(rules.replay(events)) == rules.state_to_dict(state)
    assert rules.state_from_dict(rules.state_to_dict(state)) == state
    assert state.dice_drawn == sum(len(e.dice) for e in events)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**64))
def test_refused_commands_change_nothing_and_none_is_accepted_out_of_turn(
    profile: Profile, data: st.DataObject, seed: int
) -> None:
    """A refused command raises, returns no events and leaves the state as it was; `is_legal`
    agrees with `decide`; a player's accepted command always comes from an awaited station
    (surrender: on the ship's own turn)."""
    state = rules.open_battle(profile.make(data, profile.play), seed, "p", None).state
    for _ in range(data.draw(st.integers(5, 60))):
        if state.is_over:
            break
        if data.draw(st.booleans()):
            raw = profile.any_command(data, state)
        else:
            ship, station = data.draw(st.sampled_from(rules.awaiting(state)))
            pool = candidate_commands(state, ship, station) or [{"type": "end_step"}]
            raw = dict(data.draw(st.sampled_from(pool)))
        ships = list(state.ships)
        actor_ship = data.draw(st.sampled_from(ships))
        stations = state.ships[actor_ship].design.station_ids()
        station = data.draw(st.sampled_from(stations))
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
            assert refused.code
            assert refused.message
            assert rules.state_to_dict(state) == before
            continue
        assert legal, "decide accepted what is_legal refused"
        assert new
        if cmd.type == "surrender":
            assert state.acting_ship == actor_ship
            assert not state.pending
        else:
            assert (actor_ship, station) in awaited, (cmd.type, actor_ship, station, awaited)
        for e in new:
            state = rules.evolve(state, e)
        profile.invariants(state)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**64))
def test_bot_battles_always_end_within_the_round_limit(
    profile: Profile, data: st.DataObject, seed: int
) -> None:
    """Part A: a scenario sets a round limit; bot battles therefore always end, and the bot
    always has a legal command for every awaited station."""
    scenario = profile.make(data, profile.bots, limit=6)
    state, events = play_bots(rules.open_battle(scenario, seed, "p", None).state)
    assert state.is_over
    assert state.round <= scenario.round_limit
    assert len(events) < 2_000 * scenario.round_limit
    profile.invariants(state)
    if state.outcome is not None and state.outcome["reason"] == "round_limit":
        assert state.round == scenario.round_limit


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**64))
def test_replay_merges_old_patches_into_the_same_state_with_its_undo_chain(
    data: st.DataObject, seed: int
) -> None:
    """`replay` merges the patches before its last 2 x undo_limit events: it must give the state
    that folding every event gives, and a GM undo from it must land where the live one does."""
    limit = data.draw(st.sampled_from([0, 1, 3, 20]))
    scenario = make_scenario(
        data.draw(st.sampled_from(FAST)),
        data.draw(st.sampled_from(FAST)),
        data.draw(st.sampled_from(BANDS)),
        round_limit=data.draw(st.integers(1, 6)),
        config={"undo_limit": limit},
    )
    opened, events = rules.open_battle(scenario, seed, "m", None)
    _, more = play_bots(opened)
    events += more
    cut = data.draw(st.integers(1, len(events)))
    folded = None
    for event in events[:cut]:
        folded = rules.evolve(folded, event)
    assert folded is not None
    replayed = rules.replay(events[:cut])
    assert replayed == folded
    assert rules.state_to_dict(replayed) == rules.state_to_dict(folded)
    # An undo may resolve a pending attack again, which rolls: both states get the battle's seed.
    assert opened.seed is not None
    assert opened.dice_salt is not None
    secret = rules.DiceSecret(opened.seed, bytes.fromhex(opened.dice_salt))
    replayed = rules.with_secret(replayed, secret)
    folded = rules.with_secret(folded, secret)
    # A cut between battle_ended and dice_revealed (one batch in a real log) is over: no undo.
    if folded.undo_depth and not folded.is_over:
        n = data.draw(st.integers(1, folded.undo_depth))
        undo = rules.parse_command({"type": "gm_undo", "n": n}, rules.GM)
        assert rules.decide(replayed, undo).state == rules.decide(folded, undo).state
