"""Events: every event records the dice it used and a one-line summary; the dice are the
battle's stream in order; the JSON form round-trips and old schema versions upgrade (Part A)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gameserver import rules

from .conftest import make_scenario, play_bots


@pytest.fixture(scope="module")
def bot_battle() -> tuple[int, list[rules.Event], rules.BattleState]:
    """A whole corvette-vs-corsair battle (missiles, lasers, reactions, criticals)."""
    seed = 2024
    first, events = rules.open_battle(
        make_scenario("patrol_corvette", "corsair", "long"), seed, "ev", "t"
    )
    state, more = play_bots(first)
    return seed, events + more, state


def test_every_event_has_dice_and_a_one_line_summary(
    bot_battle: tuple[int, list[rules.Event], rules.BattleState],
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
    bot_battle: tuple[int, list[rules.Event], rules.BattleState],
) -> None:
    """Part A: decide draws from the position the state records; each event records its dice;
    together they are the stream for the seed, die for die, with nothing skipped."""
    seed, events, state = bot_battle
    dice = [d for e in events for d in e.dice]
    assert dice == [rules.die_at(seed, i) for i in range(len(dice))]
    assert state.dice_drawn == len(dice)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_json_round_trip_replays_to_the_same_state(
    bot_battle: tuple[int, list[rules.Event], rules.BattleState],
) -> None:
    """Event sourcing: the stored JSON form replays to the live state."""
    _, events, state = bot_battle
    wire = json.loads(json.dumps([e.to_dict() for e in events]))
    again = [rules.Event.from_dict(d) for d in wire]
    assert again == events
    assert rules.replay(again) == state
    assert rules.state_from_dict(json.loads(json.dumps(rules.state_to_dict(state)))) == state
    json.dumps(rules.public_view(state))


def test_version_0_events_are_upgraded_once_by_the_codec() -> None:
    """Part A: a server reads older event versions it knows. `decode_events` is the one
    place that upgrades: it hands back the current-version dicts beside the events (a current
    dict unchanged, the very object), and `Event.from_dict` alone refuses an old one."""
    old = {"sequence": 3, "kind": "note", "payload": {"x": 1}, "rolls": [2, 5], "text": "hi"}
    current = rules.Event(seq=4, type="note", data={"y": 2}).to_dict()
    (e, e2), dicts = rules.decode_events([old, current])
    assert (e.seq, e.type, e.data, e.dice, e.summary) == (3, "note", {"x": 1}, (2, 5), "hi")
    assert dicts[0] == e.to_dict()
    assert dicts[0]["v"] == rules.EVENT_SCHEMA_VERSION
    assert dicts[1] is current
    assert e2.seq == 4
    with pytest.raises(rules.UnsupportedSchemaVersion, match="upgraded first"):
        rules.Event.from_dict(old)


def test_to_dict_never_hands_out_the_events_own_data() -> None:
    """A frozen event's data (and the states folded from it) cannot be edited through the
    dict `to_dict` returns."""
    event = rules.Event(seq=1, type="note", data={"set": {"battle": {"moves": {"a|b": 1}}}})
    out = event.to_dict()
    out["data"]["set"]["battle"]["moves"]["a|b"] = 99
    out["data"]["extra"] = True
    assert event.data == {"set": {"battle": {"moves": {"a|b": 1}}}}


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        pytest.param({"v": rules.EVENT_SCHEMA_VERSION + 1, "seq": 1}, "newer", id="newer"),
        pytest.param({"v": -1, "seq": 1}, "unknown", id="unknown-older"),
        pytest.param({"v": "1", "seq": 1}, "not an integer", id="not-an-integer"),
    ],
)
def test_unknown_event_versions_are_refused_clearly(data: dict[str, Any], needle: str) -> None:
    """Part A: unknown versions are refused with a clear error."""
    with pytest.raises(rules.UnsupportedSchemaVersion, match=needle):
        rules.decode_events([data])
