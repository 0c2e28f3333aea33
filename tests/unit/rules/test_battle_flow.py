"""Battle flow: start, decide/evolve/replay, turn order, refusals, bot battles end."""

from __future__ import annotations

import pytest

from gameserver import rules

from .conftest import make_scenario, play_bots


def test_first_event_records_ruleset_config_and_schema() -> None:
    events = rules.start_battle(make_scenario(), 7, "b1", "t0")
    first = events[0]
    assert first.type == "battle_started"
    assert first.seq == 1
    assert first.data["schema_version"] == rules.EVENT_SCHEMA_VERSION
    assert first.data["ruleset"] == "MGT2E_2016"
    assert rules.RulesConfig.from_dict(first.data["config"]) == rules.RulesConfig()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.at == "t0" for e in events)


@pytest.mark.parametrize("seed", [1, 2, 3, 99, 2024])
def test_bot_battle_ends_and_replays_exactly(seed: int) -> None:
    first, events = rules.open_battle(make_scenario(round_limit=12), seed, "b", None)
    state, more = play_bots(first)
    assert state.is_over
    assert state.round <= 12
    log = events + more
    again = rules.replay(log)
    assert again == state
    assert rules.state_to_dict(again) == rules.state_to_dict(state)
    assert again.dice_drawn == sum(len(e.dice) for e in log)


def test_wrong_station_and_turn_are_refused() -> None:
    state = rules.open_battle(make_scenario(band="medium"), 5, "b", None).state
    assert state.step == rules.Step.MANOEUVRE
    acting = state.acting_ship
    assert acting is not None
    other = "b" if acting == "a" else "a"
    pilot_other = rules.Actor(role="player", ship_id=other, stations=frozenset({"pilot"}))
    cmd = rules.parse_command(
        {"type": "move", "target": acting, "direction": "toward", "thrust": 1}, pilot_other
    )
    with pytest.raises(rules.RuleViolation) as exc:
        rules.decide(state, cmd)
    assert exc.value.code == "not_your_turn"
    gunner = rules.Actor(role="player", ship_id=acting, stations=frozenset({"gunner:0"}))
    cmd = rules.parse_command({"type": "attack", "turret": 0, "target": other}, gunner)
    with pytest.raises(rules.RuleViolation) as exc:
        rules.decide(state, cmd)
    assert exc.value.code == "wrong_step"
    pilot = rules.Actor(role="player", ship_id=acting, stations=frozenset({"pilot"}))
    cmd = rules.parse_command({"type": "attack", "turret": 0, "target": other}, pilot)
    with pytest.raises(rules.RuleViolation) as exc:
        rules.decide(state, cmd)
    assert exc.value.code == "not_your_station"
    stranger = rules.Actor(role="player", ship_id=other, stations=frozenset({"gunner:0"}))
    cmd = rules.parse_command(
        {"type": "attack", "turret": 0, "target": other, "ship_id": acting}, stranger
    )
    with pytest.raises(rules.RuleViolation) as exc:
        rules.decide(state, cmd)
    assert exc.value.code == "not_your_ship"


def test_gm_only_commands() -> None:
    state = rules.open_battle(make_scenario(), 5, "b", None).state
    player = rules.Actor(role="player", ship_id="a", stations=frozenset({"pilot"}))
    with pytest.raises(rules.RuleViolation) as exc:
        rules.decide(state, rules.parse_command({"type": "gm_advance"}, player))
    assert exc.value.code == "gm_only"


def test_bad_command_is_readable() -> None:
    with pytest.raises(rules.RuleViolation) as exc:
        rules.parse_command({"type": "move", "thrust": "lots"}, rules.GM)
    assert exc.value.code == "bad_command"
    assert "thrust" in exc.value.message
