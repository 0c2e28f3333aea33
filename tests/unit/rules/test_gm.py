"""GM commands (Part A): advance a step, a house ruling with a reason, undo the last N events —
all recorded as events; undo never rewinds the dice stream."""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules

from .conftest import Battle, crew, design, duel, make_scenario

GUNBOAT = design("Gunboat", thrust=2, hull=400, turrets=[("triple", ["beam_laser"] * 3)])
TARGET = design("Target", armour=2, hull=400, thrust=2)


def _battle(**kw: Any) -> Battle:
    return Battle(duel(GUNBOAT, TARGET, crew_a={"gunner:0": crew(2, DEX=9)}, **kw), seed=11)


def _without(state: rules.BattleState, *keys: str) -> dict[str, Any]:
    d = rules.state_to_dict(state)
    for k in ("prev", *keys):
        d.pop(k)
    return d


def test_gm_advance_ends_the_current_step() -> None:
    """Part A: the GM can advance a step when players stall."""
    b = _battle()
    before = b.state.step
    ev = b.gm({"type": "gm_advance"})
    assert before == rules.Step.MANOEUVRE
    assert ev[0].type == "gm_advanced"
    assert (ev[0].data["what"], ev[0].data["step"]) == ("step", "manoeuvre")
    assert b.state.step == rules.Step.ATTACK
    assert rules.awaiting(b.state) == [("a", "gunner:0")]


def test_gm_advance_resolves_a_pending_reaction_without_more_reactions() -> None:
    """Part A: advancing past a stalled defender resolves the attack as declared."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    assert b.state.pending
    b.gm({"type": "gm_advance"}, [1, 1, 2])
    assert b.last("gm_advanced").data["what"] == "reaction"
    res = b.last("attack_resolved")
    assert res.data["attack"]["dms"]["evasive"] == 0
    assert not b.state.pending


def test_only_the_gm_may_use_gm_commands() -> None:
    """Part A: GM commands need the GM role."""
    b = _battle()
    player = rules.Actor(role="player", ship_id="a", stations=frozenset({"pilot", "captain"}))
    for data in ({"type": "gm_advance"}, {"type": "gm_undo", "n": 1}):
        assert b.refuse(data, actor=player).code == "gm_only"
    assert b.refuse({"type": "gm_advance"}, actor=rules.BOT).code == "gm_only"


def test_house_ruling_sets_a_value_and_records_the_reason() -> None:
    """Part A: a house ruling is logged as an event with a reason."""
    b = _battle()
    ev = b.gm(
        {"type": "gm_ruling", "ship_id": "b", "field": "armour", "value": 5, "reason": "reflec"}
    )[0]
    assert ev.type == "gm_ruling"
    assert ev.data["reason"] == "reflec"
    assert "reflec" in ev.summary
    assert b.ship("b").armour == 5


@pytest.mark.parametrize(
    ("data", "check"),
    [
        pytest.param(
            {"field": "band", "value": "close", "pair": ["a", "b"]},
            lambda st: st.band("a", "b") == "close",
            id="range-band",
        ),
        pytest.param(
            {"field": "round_limit", "value": 3},
            lambda st: st.round_limit == 3,
            id="round-limit",
        ),
        pytest.param(
            {"ship_id": "b", "field": "crit:m_drive", "value": 2},
            lambda st: st.ships["b"].sev("m_drive") == 2,
            id="critical-severity",
        ),
        pytest.param(
            {"ship_id": "b", "field": "hull", "value": 0},
            lambda st: st.ships["b"].status == "wrecked" and st.is_over,
            id="hull-0-wrecks",
        ),
        pytest.param(
            {"ship_id": "b", "field": "status", "value": "surrendered"},
            lambda st: st.outcome is not None and st.outcome["winner"] == "red",
            id="status-ends-battle",
        ),
    ],
)
def test_rulings(data: dict[str, Any], check: Any) -> None:
    """Part A: the GM can set ship values, a pair's band and the round limit."""
    b = _battle()
    b.gm({"type": "gm_ruling", "reason": "table ruling"} | data)
    assert check(b.state)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"ship_id": "b", "field": "hull", "value": 401}, id="hull-above-max"),
        pytest.param({"ship_id": "b", "field": "hull", "value": -1}, id="negative-hull"),
        pytest.param({"ship_id": "b", "field": "speed", "value": 1}, id="unknown-field"),
        pytest.param({"field": "armour", "value": 1}, id="no-ship"),
        pytest.param({"field": "band", "value": "near", "pair": ["a", "b"]}, id="bad-band"),
        pytest.param({"ship_id": "b", "field": "crit:bridge", "value": 1}, id="bad-location"),
        pytest.param({"field": "round_limit", "value": 0}, id="limit-in-the-past"),
    ],
)
def test_bad_rulings_are_refused(data: dict[str, Any]) -> None:
    """A ruling must name a settable value within bounds (hull never below 0)."""
    b = _battle()
    v = b.refuse({"type": "gm_ruling", "reason": "why"} | data, actor=rules.GM)
    assert v.code == "bad_ruling"


def test_a_ruling_needs_a_reason() -> None:
    """Part A: a house ruling carries its reason."""
    with pytest.raises(rules.RuleViolation) as exc:
        rules.parse_command(
            {"type": "gm_ruling", "field": "hull", "value": 1, "reason": ""}, rules.GM
        )
    assert exc.value.code == "bad_command"


def test_undo_reverts_the_last_events_but_not_the_dice_stream() -> None:
    """Part A: undo reverts the effects of the last N events, is itself an event, and never
    rewinds the dice stream: the same attack again rolls the next dice of the stream."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    before = b.state
    first = b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    first += b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    drawn = sum(len(e.dice) for e in first)
    assert drawn >= 2
    undo = b.gm({"type": "gm_undo", "n": len(first)})
    assert undo[0].type == "gm_undo"
    assert undo[0].data == {"n": len(first)}
    assert "does not rewind" in undo[0].summary
    assert _without(b.state, "seq", "dice_drawn", "undo_depth") == _without(
        before, "seq", "dice_drawn", "undo_depth"
    )
    assert b.state.dice_drawn == before.dice_drawn + drawn
    assert b.state.seq == before.seq + len(first) + len(undo)
    again = b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    again += b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    rolled = [d for e in again for d in e.dice]
    start = before.dice_drawn + drawn
    seed = b.state.seed
    assert seed is not None
    assert rolled == [rules.die_at(seed, start + i) for i in range(len(rolled))]


def test_undo_into_the_middle_of_a_command_does_not_stall() -> None:
    """Undo of the last event after a GM advance leaves an attack nobody may react to any
    more: it resolves again (with the next dice of the stream) instead of waiting forever."""
    b = _battle()
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    b.gm({"type": "gm_advance"})
    first = b.last("attack_resolved")
    b.gm({"type": "gm_undo", "n": b.state.seq - first.seq + 1})
    again = b.last("attack_resolved")
    assert again.seq > first.seq
    assert not b.state.pending
    assert rules.awaiting(b.state)


def test_undo_cannot_reopen_a_battle_whose_dice_are_revealed() -> None:
    """The end reveals the seed, so reopening the battle would let everyone predict its dice:
    undo after the end is refused (the GM ends battles with care, or undoes before)."""
    b = _battle()
    b.gm(
        {
            "type": "gm_ruling",
            "ship_id": "b",
            "field": "status",
            "value": "surrendered",
            "reason": "x",
        }
    )
    assert b.state.is_over
    assert b.events[-1].type == "dice_revealed"
    n = len(b.events) - next(i for i, e in enumerate(b.events) if e.type == "gm_ruling")
    assert b.refuse({"type": "gm_undo", "n": n}, actor=rules.GM).code == "dice_revealed"


def test_undo_is_bounded() -> None:
    """RulesConfig.undo_limit: the GM may undo at most that many events."""
    b = _battle(config={"undo_limit": 3})
    b.until(lambda st: st.seq > 12)
    assert b.state.undo_depth == 3
    assert b.refuse({"type": "gm_undo", "n": 4}, actor=rules.GM).code == "undo_too_far"
    undo = b.gm({"type": "gm_undo", "n": 3})
    assert undo[0].data == {"n": 3}
    assert b.state.undo_depth == len(undo) - 1  # only what settled after the undo


def test_gm_commands_replay_exactly() -> None:
    """Event sourcing: the log with GM rulings and undos replays to the live state."""
    b = _battle()
    b.gm({"type": "gm_ruling", "ship_id": "b", "field": "armour", "value": 7, "reason": "x"})
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"})
    b.gm({"type": "gm_advance"})
    b.gm({"type": "gm_undo", "n": 2})
    assert rules.replay(b.events) == b.state
    assert rules.state_to_dict(rules.replay(b.events)) == rules.state_to_dict(b.state)


def test_the_undo_chain_stays_bounded_and_undo_reaches_full_depth() -> None:
    """Memory and replay speed: only the last `undo_limit` states can be undone to, so the
    chain of earlier states is trimmed; an undo of the full limit still lands exactly."""
    limit = rules.RulesConfig().undo_limit
    b = _battle()
    b.until(lambda st: st.seq > 10 * limit)
    length, node = 0, b.state.prev
    while node is not None:
        length, node = length + 1, node.prev
    assert 2 * limit <= length < 3 * limit
    back = rules.replay(b.events[:-limit])
    head = b.state
    undo = b.gm({"type": "gm_undo", "n": limit})[0]
    undone = rules.evolve(head, undo)  # the state the undo event itself leaves
    assert _without(undone, "seq", "dice_drawn", "undo_depth") == _without(
        back, "seq", "dice_drawn", "undo_depth"
    )


def test_a_severity_ruling_applies_that_rows_one_shot_effect() -> None:
    """Part A / §10.B.4: ruling Armour to Severity 1 takes its one-shot armour -1 (no dice);
    M-Drive 5 (Thrust 0) also comes off this round's pool at once. Undo restores both."""
    b = _battle()
    b.gm({"type": "gm_ruling", "ship_id": "b", "field": "crit:armour", "value": 1, "reason": "r"})
    ev = b.last("gm_ruling")
    assert b.ship("b").armour == 1
    assert ev.data["effects"] == ["armour -1"]
    assert ev.dice == ()
    assert b.ship("b").thrust_pool == 2
    b.gm({"type": "gm_ruling", "ship_id": "b", "field": "crit:m_drive", "value": 5, "reason": "r"})
    assert (b.ship("b").thrust, b.ship("b").thrust_pool) == (0, 0)
    b.gm({"type": "gm_undo", "n": 2})
    assert (b.ship("b").armour, b.ship("b").thrust_pool, b.ship("b").crits) == (2, 2, (0,) * 11)


@pytest.mark.parametrize(
    ("data", "check"),
    [
        pytest.param(
            {"ship_id": "a", "field": "weapon:1", "value": "disabled"},
            lambda st: st.ships["a"].weapons == ("ok", "disabled", "ok"),
            id="weapon-status",
        ),
        pytest.param(
            {"ship_id": "a", "field": "crew:gunner:0:END", "value": 0},
            lambda st: st.ships["a"].crew_at("gunner:0").chars["END"] == 0,
            id="crew-injury",
        ),
        pytest.param(
            {"ship_id": "a", "field": "crew:gunner:0:DEX", "value": 0},
            lambda st: st.ships["a"].crew_at("gunner:0").chars["DEX"] == 0,
            id="crew-injury-still-able",
        ),
        pytest.param(
            {"ship_id": "a", "field": "sensor_lock", "value": "b"},
            lambda st: st.ships["a"].sensor_lock == "b",
            id="sensor-lock",
        ),
    ],
)
def test_rulings_on_weapons_crew_and_sensor_lock_are_logged_and_undoable(
    data: dict[str, Any], check: Any
) -> None:
    """Part A: the GM can also set a weapon's status, a crew member's injuries (a current
    characteristic) and a sensor lock, with a reason; the ruling is an event and undoable."""
    b = _battle()
    before = rules.state_to_dict(b.state)
    ev = b.gm({"type": "gm_ruling", "reason": "table ruling"} | data)[0]
    assert (ev.type, ev.data["reason"]) == ("gm_ruling", "table ruling")
    assert check(b.state)
    b.gm({"type": "gm_undo", "n": 1})
    after = rules.state_to_dict(b.state)
    for key in ("seq", "dice_drawn", "undo_depth", "prev"):
        before.pop(key), after.pop(key)
    assert after == before


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"field": "weapon:9", "value": "ok"}, id="no-such-weapon"),
        pytest.param({"field": "weapon:0", "value": "melted"}, id="bad-status"),
        pytest.param({"field": "crew:bosun:END", "value": 1}, id="no-such-station"),
        pytest.param({"field": "crew:gunner:0:LUCK", "value": 1}, id="bad-characteristic"),
        pytest.param({"field": "crew:gunner:0:END", "value": -1}, id="negative-score"),
        pytest.param({"field": "sensor_lock", "value": "a"}, id="lock-on-itself"),
        pytest.param({"field": "sensor_lock", "value": "zz"}, id="lock-on-nothing"),
    ],
)
def test_bad_weapon_crew_and_lock_rulings_are_refused(data: dict[str, Any]) -> None:
    """Each new ruling checks its value."""
    b = _battle()
    v = b.refuse({"type": "gm_ruling", "reason": "why", "ship_id": "a"} | data, actor=rules.GM)
    assert v.code == "bad_ruling"


def test_a_pinned_undo_chain_survives_the_trim_of_later_events() -> None:
    """The server encodes snapshots off the loop: the chain it encodes keeps its full undo
    depth however far the battle moves on (evolve trims old links in place)."""
    from gameserver.rules.state import pinned_undo_chain

    state = rules.open_battle(make_scenario(), 3, "pin", None).state
    advance = rules.parse_command({"type": "gm_advance"}, rules.GM)
    for _ in range(25):
        state = rules.decide(state, advance).state
    pinned = pinned_undo_chain(state)
    before = rules.state_to_dict(pinned)
    assert pinned == state
    for _ in range(25):
        state = rules.decide(state, advance).state
    assert rules.state_to_dict(pinned) == before
    depth, node = 0, pinned
    while node.prev is not None:
        depth, node = depth + 1, node.prev
    assert depth == pinned.undo_depth == state.config.undo_limit
