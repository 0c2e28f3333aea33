"""Events: every event records the dice it used and a one-line summary; the dice are the
battle's stream in order; the JSON form round-trips and old schema versions upgrade (Part A)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gameserver import rules as R

from .conftest import make_scenario, play_bots


@pytest.fixture(scope="module")
def bot_battle() -> tuple[int, list[R.Event], R.BattleState]:
    """A whole corvette-vs-corsair battle (missiles, lasers, reactions, criticals)."""
    seed = 2024
    events = R.start_battle(make_scenario("patrol_corvette", "corsair", "long"), seed, "ev", "t")
    state, more = play_bots(R.replay(events))
    return seed, events + more, state


def test_every_event_has_dice_and_a_one_line_summary(
    bot_battle: tuple[int, list[R.Event], R.BattleState],
) -> None:
    """Issue: every event records the dice it used and a one-line human summary."""
    _, events, _ = bot_battle
    assert len(events) > 100
    for e in events:
        assert isinstance(e.dice, tuple)
        assert all(isinstance(d, int) and 1 <= d <= 6 for d in e.dice)
        assert e.summary.strip(), e.type
        assert "\n" not in e.summary
        assert len(e.summary) < 300
    assert {"attack_resolved", "initiative_rolled"} <= {e.type for e in events if e.dice}


def test_events_carry_the_seeded_stream_in_order(
    bot_battle: tuple[int, list[R.Event], R.BattleState],
) -> None:
    """Part A: decide draws from the position the state records; each event records its dice;
    together they are the stream for the seed, die for die, with nothing skipped."""
    seed, events, state = bot_battle
    dice = [d for e in events for d in e.dice]
    assert dice == [R.die_at(seed, i) for i in range(len(dice))]
    assert state.dice_drawn == len(dice)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_json_round_trip_replays_to_the_same_state(
    bot_battle: tuple[int, list[R.Event], R.BattleState],
) -> None:
    """Event sourcing: the stored JSON form replays to the live state."""
    _, events, state = bot_battle
    wire = json.loads(json.dumps([e.to_dict() for e in events]))
    again = [R.Event.from_dict(d) for d in wire]
    assert again == events
    assert R.replay(again) == state
    assert R.state_from_dict(json.loads(json.dumps(R.state_to_dict(state)))) == state
    json.dumps(R.public_view(state))


def test_version_0_events_are_upgraded() -> None:
    """Part A: a server reads older event versions it knows."""
    old = {"sequence": 3, "kind": "note", "payload": {"x": 1}, "rolls": [2, 5], "text": "hi"}
    e = R.Event.from_dict(old)
    assert (e.seq, e.type, e.data, e.dice, e.summary) == (3, "note", {"x": 1}, (2, 5), "hi")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        pytest.param({"v": R.EVENT_SCHEMA_VERSION + 1, "seq": 1}, "newer", id="newer"),
        pytest.param({"v": -1, "seq": 1}, "unknown", id="unknown-older"),
        pytest.param({"v": "1", "seq": 1}, "not an integer", id="not-an-integer"),
    ],
)
def test_unknown_event_versions_are_refused_clearly(data: dict[str, Any], needle: str) -> None:
    """Part A: unknown versions are refused with a clear error."""
    with pytest.raises(R.UnsupportedSchemaVersion, match=needle):
        R.Event.from_dict(data)
