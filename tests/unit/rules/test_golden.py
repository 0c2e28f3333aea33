"""Golden logs: battles written by an earlier version must replay, in every later version, to
the public view committed beside them.

Events are patches keyed by state field names, so a renamed or re-shaped field would replay an
old (exported, stored) log to a wrong state. These logs pin that: when a change breaks them,
either it needs an event schema version bump with an upgrade step in `rules/events.py` (the
logs then still replay, through `decode_events`), or the change is meant to alter what the
recorded dice lead to, and the logs are regenerated honestly (say so in the commit):

    .venv/bin/python -m tests.unit.rules.test_golden

writes `golden/*.json` (each: the events as stored and the public view they replay to).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gameserver import rules

from .conftest import Battle, make_scenario, play_bots

GOLDEN = Path(__file__).parent / "golden"


def _bot_battle(a: str, b: str, band: str, seed: int, limit: int) -> list[rules.Event]:
    events = rules.start_battle(make_scenario(a, b, band, limit), seed, f"golden-{seed}", "t0")
    _, more = play_bots(rules.replay(events, rules.DiceSecret(seed, bytes(rules.SALT_BYTES))))
    return events + more


def _missiles_and_criticals() -> list[rules.Event]:
    """Patrol corvette against corsair from Long: missiles, point defence, sand, criticals."""
    return _bot_battle("patrol_corvette", "corsair", "long", 2024, 12)


def _scout_and_trader() -> list[rules.Event]:
    """Scout against free trader at Short: lasers, evasive action, repairs, a surrender."""
    return _bot_battle("scout", "free_trader", "short", 7, 10)


def _gm_ruling_and_undo() -> list[rules.Event]:
    """A GM ruling on Hull and on a Severity, a range ruling, undo, advance; then the bots."""
    b = Battle(make_scenario("corsair", "far_trader", "medium", 8), seed=99)
    b.to(rules.Step.ATTACK, b.state.order[0])
    b.gm({"type": "gm_ruling", "ship_id": "b", "field": "hull", "value": 30, "reason": "test"})
    b.gm({"type": "gm_ruling", "ship_id": "a", "field": "crit:sensors", "value": 2, "reason": "x"})
    ruling = {"type": "gm_ruling", "field": "band", "value": "short", "reason": "y"}
    b.gm(ruling | {"pair": ["a", "b"]})
    b.gm({"type": "gm_undo", "n": 2})
    b.gm({"type": "gm_advance"})
    state, more = play_bots(b.state)
    assert state.is_over
    return b.events + more


CASES: dict[str, Callable[[], list[rules.Event]]] = {
    "missiles_and_criticals": _missiles_and_criticals,
    "scout_and_trader": _scout_and_trader,
    "gm_ruling_and_undo": _gm_ruling_and_undo,
}


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text())
    return data


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_golden_log_replays_to_its_committed_public_view(name: str) -> None:
    """Every later version reads the log (through the one codec) to the same public view."""
    golden = _load(name)
    events, _ = rules.decode_events(golden["events"])
    assert rules.public_view(rules.replay(events)) == golden["public_view"]


def test_the_golden_logs_cover_the_rules_a_log_records() -> None:
    """The logs keep covering missiles, reactions, criticals, GM rulings and undo."""
    types: set[str] = set()
    crits = 0
    for name in CASES:
        for event in _load(name)["events"]:
            types.add(event["type"])
            crits += len(event["data"].get("criticals", ()))
    assert crits > 0
    assert {
        "missiles_launched",
        "salvo_resolved",
        "point_defence",
        "attack_resolved",
        "evasive_action",
        "gm_ruling",
        "gm_undo",
        "gm_advanced",
        "battle_ended",
    } <= types


def test_a_renamed_state_field_makes_replay_fail_clearly() -> None:
    """A log whose patches name `hull` differently (another state layout) is refused with
    `UnknownPatchField`, not replayed to a ship with full Hull."""
    text = json.dumps(_load("missiles_and_criticals")["events"])
    assert '"hull":' in text
    renamed = json.loads(text.replace('"hull":', '"hull_points":'))
    events, _ = rules.decode_events(renamed)
    with pytest.raises(rules.UnknownPatchField, match="ship field 'hull_points'"):
        rules.replay(events)


def test_an_unknown_battle_field_or_ship_in_a_patch_is_refused() -> None:
    """The battle level and the ship ids of a patch are checked too."""
    events, _ = rules.decode_events(_load("scout_and_trader")["events"])
    state = rules.replay(events[:5])
    bad_battle = rules.Event(seq=6, type="x", data={"set": {"battle": {"rounds": 3}}})
    with pytest.raises(rules.UnknownPatchField, match="battle field 'rounds'"):
        rules.evolve(state, bad_battle)
    bad_ship = rules.Event(seq=6, type="x", data={"set": {"ships": {"zz": {"hull": 1}}}})
    with pytest.raises(rules.UnknownPatchField, match="ship 'zz'"):
        rules.evolve(state, bad_ship)


def regenerate() -> None:
    """Write every golden log with this version (see the module docstring for when)."""
    GOLDEN.mkdir(exist_ok=True)
    for name, make in CASES.items():
        events = make()
        view = rules.public_view(rules.replay(events))
        body = {"events": [e.to_dict() for e in events], "public_view": view}
        (GOLDEN / f"{name}.json").write_text(json.dumps(body, separators=(",", ":")) + "\n")
        print(f"{name}: {len(events)} events")


if __name__ == "__main__":
    regenerate()


def test_a_version_1_log_keeps_the_preset_it_was_played_with() -> None:
    """Schema version 2 changed the Scout (printed crew: no captain) and the Fighter (one
    crew): the upgrade step pins a version-1 battle's presets as they were, so the Scout of
    this version-1 log keeps its captain (whose Improve Initiative the log records)."""
    raw = _load("scout_and_trader")["events"]
    assert raw[0]["v"] == 1, "the golden logs predate version 2: they exercise the upgrade"
    events, _ = rules.decode_events(raw[:30])
    scout = rules.replay(events).ships["a"]
    assert scout.preset == "scout"
    assert [c.station for c in scout.crew] == [
        "captain",
        "pilot",
        "engineer",
        "sensors",
        "gunner:0",
    ]
    assert any(e.type == "initiative_improved" and e.data["ship"] == "a" for e in events)
    fresh = rules.replay(
        rules.start_battle(make_scenario("scout", "free_trader", "short"), 7, "new", None)
    )
    assert [c.station for c in fresh.ships["a"].crew] == [
        "pilot",
        "sensors",
        "engineer",
        "gunner:0",
    ]
