"""A bot per ship: the GM hands a ship to the bot (an event: logged, undoable, replayed) at one
of three tactic levels, which differ in when they evade, close, launch, flee or strike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.bot import choose
from gameserver.rules.tactics import TACTICS, Tactic

from .conftest import Battle, make_scenario

CAUTIOUS, STANDARD, AGGRESSIVE = Tactic.CAUTIOUS, Tactic.STANDARD, Tactic.AGGRESSIVE


def _hand(b: Battle, ship_id: str, tactic: str | None) -> list[rules.Event]:
    return b.gm({"type": "gm_bot", "ship_id": ship_id, "tactic": tactic})


def _view_ship(state: rules.BattleState, ship_id: str) -> dict[str, Any]:
    return next(s for s in rules.public_view(state)["ships"] if s["id"] == ship_id)


def _bots_until(b: Battle, done: Callable[[rules.BattleState], bool]) -> None:
    """Let the standard bot play both sides until `done` holds."""
    for _ in range(3_000):
        if done(b.state):
            return
        assert not b.state.is_over, "the battle ended first"
        cmd = rules.next_bot_command(b.state, ("red", "blue"))
        assert cmd is not None
        b.state, new = rules.decide(b.state, cmd)
        b.events.extend(new)
    raise AssertionError("never reached")


def test_the_gm_hands_a_ship_to_the_bot_and_takes_it_back_as_events() -> None:
    """`gm_bot` is an event with a log line; the ship's tactic is in the state and the public
    view; replay gives the same state; taking the ship back leaves it to people again."""
    b = Battle(make_scenario("corsair", "far_trader", "long"), seed=3)
    assert rules.tactic_of(b.state, "b") is None
    assert "bot" not in _view_ship(b.state, "b")
    ev = _hand(b, "b", "aggressive")
    assert [e.type for e in ev] == ["bot_assigned"]
    assert ev[0].data == {
        "ship": "b",
        "tactic": "aggressive",
        "set": {"ships": {"b": {"bot": "aggressive"}}},
    }
    assert ev[0].summary == "The GM hands Bravo to the bot (aggressive tactics)."
    assert ev[0].cmd is not None
    assert ev[0].cmd["tactic"] == "aggressive"
    assert rules.tactic_of(b.state, "b") is AGGRESSIVE
    assert _view_ship(b.state, "b")["bot"] == "aggressive"
    assert rules.replay(b.events, rules.DiceSecret(3, bytes(rules.SALT_BYTES))) == b.state
    ev = _hand(b, "b", None)
    assert ev[0].summary == "The GM takes Bravo back from the bot."
    assert rules.tactic_of(b.state, "b") is None
    assert _view_ship(b.state, "b")["bot"] == "off"


def test_a_ship_taken_back_leaves_its_bot_side_and_a_ship_handed_over_keeps_its_tactic() -> None:
    """The side's bot (solo battles) runs a ship at ``standard`` unless the GM chose for it."""
    b = Battle(make_scenario("corsair", "far_trader", "long"), seed=3)
    assert rules.tactic_of(b.state, "a", {"red"}) is STANDARD
    _hand(b, "a", "cautious")
    assert rules.tactic_of(b.state, "a", {"red"}) is CAUTIOUS
    _hand(b, "a", None)
    assert rules.tactic_of(b.state, "a", {"red"}) is None
    assert rules.tactic_of(b.state, "nope", {"red"}) is None


def test_undo_takes_the_bot_back_off_the_ship() -> None:
    """Part A: the GM's undo reverts `gm_bot` like any other event."""
    b = Battle(make_scenario("corsair", "far_trader", "long"), seed=3)
    before = rules.state_to_dict(b.state)
    _hand(b, "a", "standard")
    b.gm({"type": "gm_undo", "n": 1})
    assert rules.tactic_of(b.state, "a") is None
    after = rules.state_to_dict(b.state)
    for d in (before, after):
        d.pop("prev")
        d.pop("seq")
        d.pop("undo_depth")
    assert after == before


def test_the_bot_plays_only_the_ships_it_runs() -> None:
    """`next_bot_command` acts for a ship the GM handed over, never for the others."""
    b = Battle(make_scenario("corsair", "far_trader", "long"), seed=5)
    assert rules.next_bot_command(b.state) is None
    for sid in ("a", "b"):
        _hand(b, sid, "standard")
    _hand(b, "a", None)
    for _ in range(200):
        if b.state.is_over:
            break
        cmd = rules.next_bot_command(b.state)
        if cmd is None:
            assert {s for s, _ in rules.awaiting(b.state)} == {"a"}
            return
        assert cmd.ship_id == "b"
        b.state = rules.decide(b.state, cmd).state
    raise AssertionError("the ship nobody runs was never awaited")


@pytest.mark.parametrize(
    ("data", "actor", "code"),
    [
        pytest.param({"tactic": "reckless"}, rules.GM, "bad_command", id="unknown-tactic"),
        pytest.param({"tactic": 3}, rules.GM, "bad_command", id="tactic-not-a-name"),
        pytest.param({"ship_id": None}, rules.GM, "bad_command", id="no-ship"),
        pytest.param({"ship_id": "zz"}, rules.GM, "unknown_ship", id="unknown-ship"),
        pytest.param(
            {}, rules.Actor("player", "a", frozenset({"captain"})), "gm_only", id="player"
        ),
        pytest.param({}, rules.BOT, "gm_only", id="bot"),
    ],
)
def test_a_bad_hand_over_is_refused_and_changes_nothing(
    data: dict[str, Any], actor: rules.Actor, code: str
) -> None:
    """Unknown tactic, no or unknown ship, a player (or the bot itself) handing a ship:
    refused with a reason; the state is unchanged."""
    b = Battle(make_scenario("corsair", "far_trader", "long"), seed=3)
    cmd = {"type": "gm_bot", "ship_id": "b", "tactic": "standard"} | data
    before = rules.state_to_dict(b.state)
    with pytest.raises(rules.RuleViolation) as exc:
        rules.decide(b.state, rules.parse_command(cmd, actor))
    assert exc.value.code == code
    assert rules.state_to_dict(b.state) == before
    if code == "bad_command" and "tactic" in data:
        assert "tactic" in exc.value.message
        assert "cautious" in exc.value.message


@pytest.mark.parametrize("status", ["wrecked", "surrendered", "escaped", "jumped"])
def test_the_bot_cannot_take_a_ship_that_is_gone(status: str) -> None:
    """A ship out of the fight has nothing left to run: refused, nothing changes."""
    ships = [
        {"id": "a", "name": "Alpha", "side": "red", "preset": "corsair"},
        {"id": "b", "name": "Bravo", "side": "blue", "preset": "far_trader"},
        {"id": "c", "name": "Charlie", "side": "blue", "preset": "free_trader"},
    ]
    b = Battle(make_scenario(ships=ships), seed=3)
    b.gm({"type": "gm_ruling", "ship_id": "b", "field": "status", "value": status, "reason": "x"})
    assert not b.state.is_over
    err = b.refuse({"type": "gm_bot", "ship_id": "b", "tactic": "standard"}, rules.GM)
    assert err.code == "ship_out_of_action"
    assert err.message == f"Bravo is {status}: nobody runs it any more"


def test_the_bot_cannot_take_a_ship_after_the_battle() -> None:
    b = Battle(make_scenario("corsair", "far_trader", "long", 5), seed=3)
    b.gm({"type": "gm_end", "reason": "done"})
    err = b.refuse({"type": "gm_bot", "ship_id": "a", "tactic": "standard"}, rules.GM)
    assert err.code == "battle_over"


def test_handing_over_twice_at_the_same_tactic_is_refused() -> None:
    b = Battle(make_scenario("corsair", "far_trader", "long"), seed=3)
    _hand(b, "a", "cautious")
    assert b.refuse({"type": "gm_bot", "ship_id": "a", "tactic": "cautious"}, rules.GM).code == (
        "bot_unchanged"
    )
    _hand(b, "a", None)
    assert b.refuse({"type": "gm_bot", "ship_id": "a", "tactic": None}, rules.GM).code == (
        "bot_unchanged"
    )


# ----------------------------------------------------------------- the tactic levels differ


def _manoeuvre(a: str, b: str, band: str) -> Battle:
    battle = Battle(make_scenario(a, b, band), seed=8)
    battle.to(rules.Step.MANOEUVRE, "a")
    return battle


def test_closing_aggressive_spends_all_thrust_standard_keeps_one_cautious_two() -> None:
    """When to close: every level closes from beyond its reach; the Thrust kept for evasive
    action differs (§11.B)."""
    b = _manoeuvre("corsair", "far_trader", "distant")
    pool = b.ship("a").thrust_pool
    assert pool >= 3
    moves = {t: choose(b.state, "a", "pilot", t) for t in Tactic}
    assert {t: (m.type, getattr(m, "thrust", None)) for t, m in moves.items() if m} == {
        CAUTIOUS: ("move", pool - 2),
        STANDARD: ("move", pool - 1),
        AGGRESSIVE: ("move", pool),
    }


def test_closing_aggressive_closes_to_short_where_standard_aids_the_gunners() -> None:
    """Within its weapons' reach the standard pilot aids the gunners; the aggressive one
    keeps closing to Short."""
    b = _manoeuvre("corsair", "far_trader", "medium")
    assert choose(b.state, "a", "pilot", STANDARD).type == "aid_gunners"  # type: ignore[union-attr]
    cmd = choose(b.state, "a", "pilot", AGGRESSIVE)
    assert cmd is not None
    assert (cmd.type, cmd.direction) == ("move", "toward")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("hull_pct", "breaks_off"),
    [(55, {CAUTIOUS}), (15, {CAUTIOUS, STANDARD}), (100, set())],
)
def test_fleeing_cautious_breaks_off_first_aggressive_never(
    hull_pct: int, breaks_off: set[Tactic]
) -> None:
    """When to flee (§13.2 break off, from Distant): cautious at 60 % Hull, standard at 20 %,
    aggressive never."""
    b = _manoeuvre("corsair", "far_trader", "distant")
    b.patch("a", hull=b.ship("a").design.hull_points * hull_pct // 100)
    chosen = {t: choose(b.state, "a", "pilot", t) for t in Tactic}
    assert {t for t, c in chosen.items() if c is not None and c.type == "break_off"} == breaks_off


@pytest.mark.parametrize(
    ("hull_pct", "strikes"),
    [(20, {CAUTIOUS}), (8, {CAUTIOUS, STANDARD}), (60, set())],
)
def test_surrender_cautious_strikes_first_aggressive_never(
    hull_pct: int, strikes: set[Tactic]
) -> None:
    """When to strike colours (§13.2): cautious at a quarter of its Hull, standard at a
    tenth, aggressive never."""
    b = Battle(make_scenario("corsair", "far_trader", "long"), seed=8)
    b.to(rules.Step.ACTIONS, "a")
    b.patch("a", hull=b.ship("a").design.hull_points * hull_pct // 100)
    chosen = {t: choose(b.state, "a", "captain", t) for t in Tactic}
    assert {t for t, c in chosen.items() if c is not None and c.type == "surrender"} == strikes


def test_evading_the_aggressive_pilot_keeps_his_thrust_until_badly_hurt() -> None:
    """When to evade (§11.B evasive action): cautious and standard always, aggressive only at
    half Hull or less."""
    b = Battle(make_scenario("corsair", "free_trader", "short"), seed=4)
    _bots_until(
        b,
        lambda st: bool(
            st.pending and st.pending[0].kind == "attack" and "pilot" in st.pending[0].eligible
        ),
    )
    head = b.state.pending[0]
    react = {t: choose(b.state, head.target, "pilot", t) for t in Tactic}
    assert {t: c.type for t, c in react.items() if c} == {
        CAUTIOUS: "evasive_action",
        STANDARD: "evasive_action",
        AGGRESSIVE: "no_reaction",
    }
    b.patch(head.target, hull=b.ship(head.target).design.hull_points // 2)
    late = choose(b.state, head.target, "pilot", AGGRESSIVE)
    assert late is not None
    assert late.type == "evasive_action"


def test_launching_cautious_holds_its_missiles_beyond_long_range() -> None:
    """When to launch (§9): the cautious gunner launches at Long or nearer only."""
    b = Battle(make_scenario("patrol_corvette", "corsair", "very_long"), seed=2)
    b.to(rules.Step.ATTACK, "a")
    station = rules.awaiting(b.state)[0][1]
    assert station.startswith("gunner:")
    launched = {t: choose(b.state, "a", station, t) for t in Tactic}
    assert {t: c.type for t, c in launched.items() if c} == {
        CAUTIOUS: "end_step",
        STANDARD: "launch_missiles",
        AGGRESSIVE: "launch_missiles",
    }


def test_jumping_cautious_plots_a_jump_at_once_where_the_scenario_allows_it() -> None:
    """When to leave by jump (§13.1 (a)): the cautious captain has the plot made at once; the
    standard one at half Hull; inside the 100-diameter limit nobody plots. The bot runs the
    whole ship: the sensors plot while the captain is the station awaited."""
    for limit, plots in (("outside", {CAUTIOUS}), ("inside", set())):
        b = Battle(make_scenario("corsair", "far_trader", "long", jump_limit=limit), seed=8)
        b.to(rules.Step.ACTIONS, "a")
        station = rules.awaiting(b.state)[0][1]
        chosen = {t: choose(b.state, "a", station, t, whole_ship=True) for t in Tactic}
        assert {t for t, c in chosen.items() if c and c.type == "plot_jump"} == plots
        b.patch("a", hull=b.ship("a").design.hull_points // 2)
        chosen = {t: choose(b.state, "a", station, t, whole_ship=True) for t in Tactic}
        if limit == "outside":
            assert {t for t, c in chosen.items() if c and c.type == "plot_jump"} == {
                CAUTIOUS,
                STANDARD,
            }


def test_a_side_bot_acts_only_from_the_station_awaited() -> None:
    """`bot_commands` (a side's bot, whose commands the test clients send from the awaited
    seat) never answers for another station: the plot waits for the sensors' turn."""
    b = Battle(make_scenario("corsair", "far_trader", "long"), seed=8)
    b.to(rules.Step.ACTIONS, "a")
    assert rules.awaiting(b.state)[0] == ("a", "captain")
    b.patch("a", hull=b.ship("a").design.hull_points // 2)
    cmd = choose(b.state, "a", "captain", STANDARD)
    assert cmd is not None
    assert cmd.type != "plot_jump"
    whole = choose(b.state, "a", "captain", STANDARD, whole_ship=True)
    assert whole is not None
    assert whole.type == "plot_jump"


def test_the_cepheus_pilot_evades_when_cautious_and_lines_up_otherwise() -> None:
    """CE §6.A: the cautious pilot takes Evasive Maneuvers, the others Line Up The Shot."""
    b = Battle(
        make_scenario("patrol_frigate", "raider", "medium", ruleset="CE"),
        seed=6,
    )
    ship_id = b.state.acting_ship
    assert ship_id is not None
    chosen = {t: choose(b.state, ship_id, "pilot", t) for t in Tactic}
    assert {t: getattr(c, "action", None) for t, c in chosen.items()} == {
        CAUTIOUS: "evasive_maneuvers",
        STANDARD: "line_up_the_shot",
        AGGRESSIVE: "line_up_the_shot",
    }


def test_every_tactic_name_is_one_the_command_accepts() -> None:
    """The names the page offers (`TACTICS`) are the command's enum, mildest first."""
    schema = rules.command_json_schema()
    gm_bot = schema["$defs"]["GmBot"]["properties"]["tactic"]
    names = next(x for x in gm_bot["anyOf"] if "$ref" in x)["$ref"].rsplit("/", 1)[1]
    assert schema["$defs"][names]["enum"] == list(TACTICS)
    assert TACTICS == ("cautious", "standard", "aggressive")
