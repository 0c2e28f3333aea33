"""The legal lists: judging candidates directly from the state gives exactly the lists a dry
run of `decide` gives (random states of every ruleset, as played and as damage, stores and
ranges could leave them), and the labels read as they always did (the table of formats against
the branches it replaced)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, seed, settings, strategies as st

from gameserver import rules
from gameserver.rules.legal import (
    _DIRECT,
    _direct_legal,
    _label,
    candidate_commands,
    legal_commands,
    legal_commands_dry_run,
)
from gameserver.rules.tables_mgt2e import LOCATION_INDEX, LOCATION_NAMES
from gameserver.rules.turns import stations_needed

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
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
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


STATUSES = [
    "active",
    "wrecked",
    "surrendered",
    "escaped",
    "jumped",
    "destroyed",
    "disabled",
    "captured",
]
CE_SYSTEMS = ["bridge", "bridge", "sensors", "turret:0", "turret:1", "m_drive", "power_plant"]
EDGY_BANDS = [*BANDS, "adjacent", "distant", "distant"]  # the edges, where moves stop
WEAPON_STATES = ["ok", "ok", "bane", "disabled", "destroyed"]


def _perturbed(data: st.DataObject, state: rules.BattleState) -> rules.BattleState:
    """`state` with what damage, spent stores, moves and earlier actions could have left on
    its ships and ranges, drawn at random: the corners plain play reaches rarely (a disabled
    bridge, sensors beyond the target, a lock already on, a fired or destroyed weapon, no
    Thrust left, a target wrecked or gone, a done station)."""
    draw = data.draw

    def some(field: str) -> bool:
        """Perturb this field of this ship (one time in three: the rest stay as played)."""
        return draw(st.integers(0, 2), label=field) == 0

    ships = dict(state.ships)
    for sid, ship in state.ships.items():
        fields: dict[str, Any] = {}
        flats = st.integers(0, max(0, len(ship.weapons) - 1))
        if some("sensor_lock"):
            fields["sensor_lock"] = draw(st.sampled_from([None, *state.ships]))
        if some("fired") and ship.weapons:
            fields["fired"] = ship.fired | draw(st.frozensets(flats, max_size=2))
        if some("weapons"):
            fields["weapons"] = tuple(draw(st.sampled_from(WEAPON_STATES)) for _ in ship.weapons)
        if some("thrust_pool"):
            fields["thrust_pool"] = draw(st.sampled_from([0, 0, 1, ship.thrust_pool]))
        if some("aid_dm"):
            fields["aid_dm"] = 1 - min(1, ship.aid_dm)
        if some("status"):
            fields["status"] = draw(st.sampled_from(STATUSES))
        if some("done"):
            fields["done"] = ship.done | draw(
                st.frozensets(st.sampled_from(STATIONS[:6]), max_size=1)
            )
        if some("jump_plot_round"):
            fields["jump_plot_round"] = draw(st.sampled_from([0, state.round - 1, state.round]))
        if some("offline"):
            systems = ["m_drive", *(f"turret:{t}" for t in range(len(ship.design.turrets)))]
            fields["offline"] = draw(st.frozensets(st.sampled_from(systems), max_size=2))
        if some("overload_next"):
            fields["overload_next"] = draw(st.frozensets(st.sampled_from(["drive", "plant"])))
        if some("repaired"):
            fields["repaired"] = draw(st.frozensets(st.sampled_from(LOCATION_NAMES), max_size=2))
        if some("ammo"):
            fields["ammo"] = tuple(draw(st.sampled_from([0, a])) for a in ship.ammo)
        if some("hasty"):
            fields["hasty"] = not ship.hasty
        if some("delay"):
            fields["delay"] = draw(st.sampled_from([0, 1, 2]))
        if some("docked"):
            fields["docked"] = draw(st.sampled_from([None, *state.ships]))
        if some("boarded_by"):
            fields["boarded_by"] = draw(st.sampled_from([None, *state.ships]))
        if state.ruleset.is_ce and some("systems"):
            hits = st.sampled_from([0, 1, 2, 2, 3])
            hit = draw(st.dictionaries(st.sampled_from(CE_SYSTEMS), hits, max_size=3))
            fields["systems"] = dict(ship.systems) | hit
        elif not state.ruleset.is_ce and some("crits"):
            crits = list(ship.crits)
            for i in draw(st.sets(st.integers(0, len(crits) - 1), max_size=2)):
                crits[i] = draw(st.integers(0, 6))
            if some("sensors_out"):
                crits[LOCATION_INDEX["sensors"]] = 6
            fields["crits"] = tuple(crits)
        ships[sid] = replace(ship, **fields)
    ranges = {
        k: (draw(st.sampled_from(EDGY_BANDS)), v[1]) if some("range") else v
        for k, v in state.ranges.items()
    }
    return replace(state, ships=ships, ranges=ranges)


def _same_verdicts(state: rules.BattleState) -> int:
    """Every candidate of every station judged directly (where it is) as `decide` judges it
    dry; the count of candidates judged directly."""
    judged = 0
    for ship_id, ship in state.ships.items():
        needed = [] if state.pending else stations_needed(state, ship)
        for station in STATIONS[:-1]:
            actor = rules.Actor(role="player", ship_id=ship_id, stations=frozenset({station}))
            for cmd in candidate_commands(state, ship_id, station):
                if cmd["type"] not in _DIRECT or cmd["type"] == "surrender":
                    continue  # surrender: `_legal` asks `station_for` before either judgement
                if cmd["type"] == "move":
                    cmd = cmd | {"thrust": max(1, ship.thrust_pool)}
                verdict = _direct_legal(state, ship, station, cmd["type"], needed, cmd)
                if verdict is None:
                    continue
                judged += 1
                dry = rules.is_legal(state, rules.parse_command(cmd, actor))
                assert verdict == dry, (cmd, station, state.step, state.pending, verdict)
    return judged


@seed(19)
@settings(SETTINGS, max_examples=30)
@given(data=st.data(), seed_=st.integers(0, 2**64))
def test_direct_verdicts_equal_the_dry_run_on_damaged_states(
    data: st.DataObject, seed_: int
) -> None:
    """Random play, then random damage, stores, statuses and ranges on each state reached:
    each directly judged candidate gets the dry run's verdict, and the lists stay equal."""
    judged = 0

    def check(state: rules.BattleState) -> None:
        nonlocal judged
        damaged = _perturbed(data, state)
        judged += _same_verdicts(damaged)
        _same_lists(damaged)

    assert _visit(data, seed_, check, max_commands=30) > 0
    assert judged > 0


@seed(19)
@settings(SETTINGS, max_examples=30)
@given(data=st.data(), seed_=st.integers(0, 2**64))
def test_direct_verdicts_equal_the_dry_run_on_damaged_ce_states(
    data: st.DataObject, seed_: int
) -> None:
    """The same on CE battles only (reactions, haste, delay and hits to systems are CE's)."""
    judged = 0

    def check(state: rules.BattleState) -> None:
        nonlocal judged
        for _ in range(3):
            damaged = _perturbed(data, state)
            judged += _same_verdicts(damaged)
            _same_lists(damaged)

    assert _visit(data, seed_, check, max_commands=30, first=CE_PRESETS) > 0
    assert judged > 0


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
    if t == "dock":
        return f"Dock with {target}"
    if t == "boarding_action":
        return f"Board {target}"
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
