"""The legal lists: judging the commonest candidates directly from the state gives exactly the
lists a dry run of `decide` gives (random states of every ruleset), and the labels read as they
always did (the table of formats against the branches it replaced)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, seed, settings, strategies as st

from gameserver import rules
from gameserver.rules.legal import (
    _label,
    candidate_commands,
    legal_commands,
    legal_commands_dry_run,
)

from .conftest import make_scenario

MGT_PRESETS = [k for k, v in rules.PRESET_RULESET.items() if v != "CE"]
CE_PRESETS = [k for k, v in rules.PRESET_RULESET.items() if v == "CE"]
CE_MISSILE_PRESETS = [
    k
    for k in CE_PRESETS
    if any(w == "missile_rack" for t in rules.PRESETS[k].turrets for w in t.weapons)
]
BANDS = [b.value for b in rules.RangeBand]
STATIONS = (
    ["pilot", "captain", "sensors", "engineer", "navigator"]
    + [f"gunner:{t}" for t in range(4)]
    + ["gunner:x"]
)
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _scenario(data: st.DataObject, first: list[str] | None = None) -> rules.Scenario:
    """A random scenario; `first` (CE presets) forces the ruleset and the first ship's kind."""
    ruleset = "CE" if first else data.draw(st.sampled_from(["MGT2E_2016", "MGT2E_2022", "CE"]))
    presets = CE_PRESETS if ruleset == "CE" else MGT_PRESETS
    return make_scenario(
        data.draw(st.sampled_from(first or presets)),
        data.draw(st.sampled_from(presets)),
        data.draw(st.sampled_from(BANDS)),
        round_limit=data.draw(st.integers(1, 6)),
        ruleset=ruleset,
    )


def _visit(
    data: st.DataObject,
    seed_: int,
    check: Any,
    max_commands: int = 60,
    first: list[str] | None = None,
) -> int:
    """Play random legal commands (chosen from the dry-run lists) from a random scenario and
    call `check(state)` on every state reached; returns how many states were checked."""
    state = rules.open_battle(_scenario(data, first), seed_, "legal", None).state
    checked = 0
    for _ in range(max_commands):
        check(state)
        checked += 1
        if state.is_over:
            break
        ship, station = data.draw(st.sampled_from(rules.awaiting(state)))
        options = legal_commands_dry_run(state, ship, station)
        assert options, f"awaited {ship}/{station} has no legal command"
        command = dict(data.draw(st.sampled_from(options))["command"])
        if command["type"] == "move":
            command["thrust"] = data.draw(st.integers(1, state.ships[ship].thrust_pool))
        actor = rules.Actor(role="player", ship_id=ship, stations=frozenset({station}))
        state = rules.decide(state, rules.parse_command(command, actor)).state
    return checked


def _same_lists(state: rules.BattleState) -> None:
    """Every station of every ship (held or not, awaited or not): direct = dry run."""
    for ship_id in [*state.ships, "zz"]:
        for station in STATIONS:
            direct = legal_commands(state, ship_id, station)
            assert direct == legal_commands_dry_run(state, ship_id, station), (
                ship_id,
                station,
                state.step,
                state.pending,
            )


@seed(19)
@SETTINGS
@given(data=st.data(), seed_=st.integers(0, 2**64))
def test_direct_lists_equal_the_dry_run(data: st.DataObject, seed_: int) -> None:
    """Random scenarios of MgT2e 2016, 2022 and CE, on every state reached."""
    assert _visit(data, seed_, _same_lists) > 0


@seed(19)
@SETTINGS
@given(data=st.data(), seed_=st.integers(0, 2**64))
def test_direct_lists_equal_the_dry_run_with_ce_missiles(data: st.DataObject, seed_: int) -> None:
    """CE ships with missile racks (launch and reload judged directly) against any CE ship."""
    assert _visit(data, seed_, _same_lists, first=CE_MISSILE_PRESETS) > 0


def _old_label(state: rules.BattleState, data: Mapping[str, Any]) -> str:
    """The branches `_LABELS` replaced, verbatim: the reference the table must read like."""
    t = str(data["type"])
    ship = state.ships.get(str(data.get("target", "")))
    target = ship.name if ship is not None else ""
    if t == "move":
        return f"Move {data.get('direction', '')} {target}"
    if t == "attack":
        return f"Fire turret {data.get('turret')} at {target}"
    if t == "launch_missiles":
        return f"Launch missiles at {target}"
    if t == "sensor_lock":
        return f"Sensor lock on {target}"
    if t == "repair":
        return f"Repair {str(data.get('location', '')).replace('_', ' ')}"
    if t == "ce_fire":
        return f"Fire turret {int(data.get('turret', 0)) + 1} at {target}"
    if t == "range_check":
        return f"Range check: {data.get('wish', '')} range to {target}"
    if t == "sensor_targeting":
        return f"Sensor targeting on {target}"
    if t == "ce_repair":
        return f"Repair {str(data.get('system', '')).replace('_', ' ').replace(':', ' ')}"
    if t in ("ce_pilot", "ce_captain"):
        return str(data.get("action", "")).replace("_", " ").capitalize()
    if t == "trigger_screens":
        return f"Trigger screen {int(data.get('screen', 0)) + 1}"
    if t == "delay":
        before = state.ships.get(str(data.get("before", "")))
        return f"Delay until just before {before.name}" if before else "Hold the whole turn"
    return t.replace("_", " ").capitalize()


@seed(19)
@SETTINGS
@given(data=st.data(), seed_=st.integers(0, 2**64))
def test_labels_read_as_before_on_every_candidate(data: st.DataObject, seed_: int) -> None:
    """Every candidate of every station on random states, legal or not."""

    def check(state: rules.BattleState) -> None:
        for ship_id in state.ships:
            for station in STATIONS:
                for cmd in candidate_commands(state, ship_id, station):
                    assert _label(state, cmd) == _old_label(state, cmd), cmd

    assert _visit(data, seed_, check, max_commands=40) > 0


def test_labels_of_odd_commands_read_as_before() -> None:
    """Missing fields, unknown ships and types: the same text as the old branches."""
    state = rules.open_battle(make_scenario("scout", "free_trader", "short"), 1, "x", None).state
    odd: list[dict[str, Any]] = [
        {"type": "move"},
        {"type": "move", "direction": "toward", "target": "b"},
        {"type": "attack", "target": "nobody"},
        {"type": "attack", "turret": 2, "target": "a"},
        {"type": "repair", "location": "power_plant"},
        {"type": "repair"},
        {"type": "ce_fire", "target": "b"},
        {"type": "ce_repair", "system": "turret:0"},
        {"type": "ce_pilot", "action": "line_up_the_shot"},
        {"type": "ce_captain"},
        {"type": "trigger_screens", "screen": 1},
        {"type": "delay"},
        {"type": "delay", "before": "b"},
        {"type": "delay", "before": "zz"},
        {"type": "range_check", "wish": "keep", "target": "a"},
        {"type": "plot_jump"},
        {"type": "some_new_thing"},
    ]
    labels = [_label(state, d) for d in odd]
    assert labels == [_old_label(state, d) for d in odd]
    assert labels[1] == "Move toward Bravo"
    assert labels[12] == "Delay until just before Bravo"
    assert labels[13] == "Hold the whole turn"
    assert labels[7] == "Repair turret 0"
