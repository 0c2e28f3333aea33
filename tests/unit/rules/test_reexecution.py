"""The command record and re-execution: a log is genuine only if its commands, run again
through `decide` with the battle's secret, produce every one of its events (rules side)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gameserver import rules
from gameserver.rules.commands import GmRuling, GmUndo, command_from_record, command_record
from gameserver.rules.reexecution import LogDivergence, reexecute

from .conftest import make_scenario

SALT = bytes(range(32))
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _play(
    data: st.DataObject, state: rules.BattleState, limit: int = 400
) -> tuple[rules.BattleState, list[rules.Event]]:
    """Bots play every side; now and then the GM rules on a hull or undoes; the GM ends the
    battle if the limit of commands is reached first (so the dice are revealed)."""
    events: list[rules.Event] = []
    for _ in range(limit):
        if state.is_over:
            return state, events
        roll = data.draw(st.integers(0, 19), label="gm")
        if roll == 0 and state.undo_depth:
            cmd: Any = GmUndo(n=data.draw(st.integers(1, state.undo_depth)), actor=rules.GM)
        elif roll == 1:
            ship = data.draw(st.sampled_from(sorted(state.ships)))
            hull = data.draw(st.integers(1, state.ships[ship].design.hull_points))
            cmd = GmRuling(field="hull", value=hull, reason="house", ship_id=ship, actor=rules.GM)
        else:
            aw = rules.awaiting(state)
            cmd = rules.bot_command(state, state.ships[aw[0][0]].side)
            assert cmd is not None
        try:
            state, new = rules.decide(state, cmd.model_copy(update={"at": f"t{len(events)}"}))
        except rules.RuleViolation:
            continue
        events.extend(new)
    state, new = rules.decide(
        state, rules.parse_command({"type": "gm_end", "reason": "time"}, rules.GM)
    )
    return state, events + new


def _battle(
    data: st.DataObject,
) -> tuple[list[dict[str, Any]], rules.DiceSecret, rules.BattleState]:
    a = data.draw(st.sampled_from(["scout", "free_trader", "patrol_corvette", "corsair"]))
    b = data.draw(st.sampled_from(["scout", "far_trader", "fighter", "corsair"]))
    band = data.draw(st.sampled_from(["close", "short", "medium", "long"]))
    secret = rules.DiceSecret(
        data.draw(st.integers(0, 2**62), label="seed"),
        data.draw(st.binary(min_size=32, max_size=32), label="salt"),
    )
    state, events = rules.open_battle(
        make_scenario(a, b, band, 4), secret.seed, "rx", "t", salt=secret.salt
    )
    state, more = _play(data, state)
    # As exported: through JSON, so tuples are lists and nothing is shared with the engine.
    log = json.loads(json.dumps([e.to_dict() for e in events + more]))
    return log, secret, state


def _reexecute(log: list[dict[str, Any]], secret: rules.DiceSecret) -> rules.BattleState:
    events, dicts = rules.decode_events(log)
    state, produced = reexecute(events, dicts, secret)
    assert json.loads(json.dumps(produced)) == log
    return state


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    return [(path, value)]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    return 0 if value is None else None


def _flip_die(log: list[dict[str, Any]], pick: int) -> int:
    rolled = [(i, k) for i, e in enumerate(log) for k in range(len(e["dice"]))]
    i, k = rolled[pick % len(rolled)]
    log[i]["dice"][k] = log[i]["dice"][k] % 6 + 1
    return i


def _flip_patch(log: list[dict[str, Any]], pick: int) -> int:
    patched = [
        (i, path)
        for i, e in enumerate(log)
        for path, _ in _leaves(e["data"].get("set", {}))
        if path  # an empty patch part has no value to flip
    ]
    i, path = patched[pick % len(patched)]
    node = log[i]["data"]["set"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = _changed(node[path[-1]])
    return i


def _flip_type(log: list[dict[str, Any]], pick: int) -> int:
    i = pick % len(log)
    log[i]["type"] = "ship_wrecked" if log[i]["type"] != "ship_wrecked" else "ship_escaped"
    return i


@SETTINGS
@given(
    data=st.data(),
    flip=st.sampled_from([_flip_die, _flip_patch, _flip_type]),
    pick=st.integers(0, 10**9),
)
def test_random_battles_reexecute_exactly_and_any_flip_is_named(
    data: st.DataObject, flip: Any, pick: int
) -> None:
    """Export -> import reproduces the exact log and the live state; flipping any die, any
    patch value or any event type makes re-execution fail at that event's seq."""
    log, secret, live = _battle(data)
    assert rules.state_to_dict(_reexecute(log, secret)) == rules.state_to_dict(live)
    forged = copy.deepcopy(log)
    i = flip(forged, pick)
    events, dicts = rules.decode_events(forged)
    with pytest.raises(LogDivergence) as refused:
        reexecute(events, dicts, secret)
    assert refused.value.seq == forged[i]["seq"], refused.value.message
    assert f"event {forged[i]['seq']} " in refused.value.message


@pytest.fixture(scope="module")
def finished() -> tuple[list[dict[str, Any]], rules.DiceSecret]:
    secret = rules.DiceSecret(2**62 + 7, SALT)
    state, events = rules.open_battle(
        make_scenario("patrol_corvette", "corsair", "long", 4), secret.seed, "f", "t", salt=SALT
    )
    while not state.is_over:
        aw = rules.awaiting(state)
        cmd = rules.bot_command(state, state.ships[aw[0][0]].side)
        assert cmd is not None
        state, new = rules.decide(state, cmd)
        events += new
    return json.loads(json.dumps([e.to_dict() for e in events])), secret


def test_every_batch_records_its_command(
    finished: tuple[list[dict[str, Any]], rules.DiceSecret],
) -> None:
    log, _ = finished
    assert log[0]["cmd"] == {"type": "open_battle"}
    commands = [e["cmd"] for e in log if "cmd" in e]
    assert len(commands) > 20
    assert all(c["actor"]["role"] == "bot" for c in commands[1:])
    assert all(e["v"] == 4 for e in log)


@pytest.mark.parametrize(
    ("record", "value"),
    [
        pytest.param({"type": "gm_ruling", "field": "sensor_lock", "value": None,
                      "reason": "r", "ship_id": "a"}, None, id="null-value-kept"),
        pytest.param({"type": "gm_ruling", "field": "hull", "value": 3, "reason": "r",
                      "ship_id": "a", "pair": ["a", "b"]}, 3, id="pair"),
    ],
)  # fmt: skip
def test_a_command_record_round_trips(record: dict[str, Any], value: Any) -> None:
    cmd = rules.parse_command(record, rules.GM, "t1")
    written = json.loads(json.dumps(command_record(cmd)))
    assert written["actor"] == {"role": "gm", "ship_id": None, "stations": []}
    again = command_from_record(written, "t1")
    assert again == cmd
    assert getattr(again, "value") == value  # noqa: B009


def test_a_players_actor_is_recorded_with_the_stations_held() -> None:
    actor = rules.Actor(role="player", ship_id="a", stations=frozenset({"pilot", "gunner:0"}))
    cmd = rules.parse_command({"type": "end_step", "station": "pilot"}, actor)
    record = command_record(cmd)
    assert record["actor"] == {"role": "player", "ship_id": "a", "stations": ["gunner:0", "pilot"]}
    assert command_from_record(record, None) == cmd


def _third_command(log: list[dict[str, Any]]) -> dict[str, Any]:
    return [e for e in log if "cmd" in e][3]


def _remove_command(log: list[dict[str, Any]]) -> int:
    """The batch merges into the one before: its events are not that command's."""
    event = _third_command(log)
    del event["cmd"]
    return int(event["seq"])


def _forge_actor(log: list[dict[str, Any]]) -> int:
    event = _third_command(log)
    event["cmd"]["actor"] = {"role": "player", "ship_id": "zz", "stations": ["pilot"]}
    return int(event["seq"])


def _invent_event(log: list[dict[str, Any]]) -> int:
    log.append({**log[-1], "seq": len(log) + 1, "type": "battle_ended"})
    return len(log)


def _rename_ship(log: list[dict[str, Any]]) -> int:
    """The scenario is the opening command's input: the opening re-executes as the file says,
    and the first summary naming the ship differs."""
    log[0]["data"]["scenario"]["ships"][0]["name"] = "Z"
    return 2


def _edit_summary(log: list[dict[str, Any]]) -> int:
    log[3]["summary"] = "made up"
    return 4


def _drop_opening_record(log: list[dict[str, Any]]) -> int:
    del log[0]["cmd"]
    return 1


@pytest.mark.parametrize(
    ("tamper", "needle"),
    [
        pytest.param(_remove_command, "is not produced", id="cmd-removed"),
        pytest.param(_forge_actor, "refuse", id="actor-forged"),
        pytest.param(_invent_event, "is not produced", id="invented-event"),
        pytest.param(_rename_ship, "summary", id="scenario-edited"),
        pytest.param(_edit_summary, "summary", id="summary"),
        pytest.param(_drop_opening_record, "no command", id="no-opening-record"),
    ],
)
def test_a_tampered_log_is_refused_at_its_first_divergent_event(
    finished: tuple[list[dict[str, Any]], rules.DiceSecret], tamper: Any, needle: str
) -> None:
    log, secret = finished
    forged = copy.deepcopy(log)
    seq = tamper(forged)
    events, dicts = rules.decode_events(forged)
    with pytest.raises(LogDivergence) as refused:
        reexecute(events, dicts, secret)
    assert refused.value.seq == seq, refused.value.message
    assert needle in refused.value.message


def test_another_secret_diverges_at_the_opening(
    finished: tuple[list[dict[str, Any]], rules.DiceSecret],
) -> None:
    log, secret = finished
    events, dicts = rules.decode_events(log)
    with pytest.raises(LogDivergence) as refused:
        reexecute(events, dicts, rules.DiceSecret(secret.seed + 1, secret.salt))
    assert refused.value.seq == 1
    assert refused.value.path == "data.commitment.digest"


def test_a_version_3_log_is_upgraded_without_commands() -> None:
    """Version 3 -> 4 adds no command record (there was none): such a log replays, but it
    cannot be re-executed."""
    state, events = rules.open_battle(make_scenario(), 5, "v3", "t", salt=SALT)
    old = [dict(e.to_dict(), v=3) for e in events]
    for d in old:
        d.pop("cmd", None)
    decoded, dicts = rules.decode_events(old)
    assert all(d["v"] == rules.EVENT_SCHEMA_VERSION and "cmd" not in d for d in dicts)
    assert rules.public_view(rules.replay(decoded)) == rules.public_view(state)
    with pytest.raises(LogDivergence, match="no command"):
        reexecute(decoded, dicts, rules.DiceSecret(5, SALT))
