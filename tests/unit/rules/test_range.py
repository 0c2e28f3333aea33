"""Thrust pool and range changes (§3.B Manoeuvre step, §5.3, §15 #26)."""

from __future__ import annotations

import pytest

from gameserver import rules
from gameserver.rules.resolution import advance_range, band_step_cost, range_change
from gameserver.rules.tables_mgt2e import LOCATION_INDEX

from .conftest import Battle, design, duel


@pytest.mark.parametrize(
    ("a", "b", "outer", "from_band"),
    [
        pytest.param("distant", "very_long", 50, 50, id="leaving-distant-50"),
        pytest.param("very_long", "distant", 50, 25, id="reaching-distant-50"),
        pytest.param("long", "medium", 10, 10, id="long-medium-10"),
        pytest.param("medium", "long", 10, 5, id="medium-long-10"),
        pytest.param("short", "medium", 5, 2, id="short-medium-5"),
        pytest.param("close", "short", 2, 1, id="close-short-2"),
        pytest.param("adjacent", "close", 1, 1, id="adjacent-close-1"),
    ],
)
def test_band_step_cost(a: str, b: str, outer: int, from_band: int) -> None:
    """§5.3 DEFAULT (#26): the outer band's Thrust in either direction; option: band moved from."""
    assert band_step_cost(a, b) == outer
    assert band_step_cost(a, b, rules.RulesConfig(range_cost="from_band")) == from_band


@pytest.mark.parametrize(
    ("start", "end", "thrust", "other", "cost", "rounds"),
    [
        pytest.param("long", "medium", 4, -2, 10, 5, id="MG-10-net-2"),
        pytest.param("long", "medium", 4, 2, 10, 2, id="MG-10-both-close"),
        pytest.param("long", "short", 6, 0, 15, 3, id="two-bands-excess-discarded"),
        pytest.param("medium", "long", 10, 0, 10, 1, id="opening"),
        pytest.param("long", "medium", 2, -2, 10, None, id="no-net-thrust"),
        pytest.param("short", "short", 3, 0, 0, 0, id="already-there"),
        pytest.param("short", "short", 0, 0, 0, None, id="same-band-no-net-thrust"),
        pytest.param("short", "short", 2, -3, 0, None, id="same-band-net-against"),
    ],
)
def test_range_change_cost_and_rounds(
    start: str, end: str, thrust: int, other: int, cost: int, rounds: int | None
) -> None:
    """§5.3 / Part A `range_change`: cost is the sum of the bands crossed; each band takes
    ceil(cost / net) rounds (excess discarded), None when the net Thrust is 0 or less."""
    assert range_change(start, end, thrust, other) == (cost, rounds)


@pytest.mark.parametrize(
    ("band", "progress", "net", "after"),
    [
        pytest.param("long", 0, -4, ("long", -4), id="builds-up"),
        pytest.param("long", -8, -4, ("medium", 0), id="crosses-excess-discarded"),
        pytest.param("long", -8, 3, ("long", 3), id="reversal-resets"),
        pytest.param("adjacent", 0, -5, ("adjacent", 0), id="nothing-closer-than-adjacent"),
        pytest.param("distant", 0, 60, ("distant", 0), id="nothing-beyond-distant"),
        pytest.param("medium", 4, 0, ("medium", 4), id="no-movement"),
    ],
)
def test_advance_range_one_round(
    band: str, progress: int, net: int, after: tuple[str, int]
) -> None:
    """§5.3 DEFAULT: progress per pair, excess discarded, reset when the net direction reverses."""
    assert advance_range(band, progress, net) == after


def test_excess_can_be_kept_and_reversal_kept_as_house_options() -> None:
    """§5.3 DEFAULT flags in RulesConfig."""
    cfg = rules.RulesConfig(range_discard_excess=False, range_reset_on_reverse=False)
    assert advance_range("long", -8, -4, cfg) == ("medium", -2)
    assert advance_range("long", -8, 3, cfg) == ("long", -5)


MOVER = design("Mover", thrust=4, hull=400)


def _pilots_battle(band: str = "medium", b_thrust: int = 2) -> Battle:
    return Battle(duel(MOVER, MOVER | {"thrust": b_thrust}, band=band))


def test_thrust_pool_is_the_current_thrust_each_round() -> None:
    """§3.B: each pilot divides a pool equal to the ship's current Thrust; damage to the drive
    shrinks next round's pool."""
    b = _pilots_battle()
    assert (b.ship("a").thrust_pool, b.ship("b").thrust_pool) == (4, 2)
    crits = [0] * 11
    crits[LOCATION_INDEX["m_drive"]] = 2
    b.patch("a", crits=tuple(crits), md_thrust_loss=1)
    b.until(lambda st: st.round == 2)
    assert b.ship("a").thrust_pool == 3


def test_moves_spend_the_pool_and_change_range_at_the_end_of_the_step() -> None:
    """§5.3: Medium -> Short costs 5 (the outer band); 4 this round, 4 more the next crosses
    (excess discarded). Spending the whole pool ends the pilot's step."""
    b = _pilots_battle()
    b.to(rules.Step.MANOEUVRE, "a")
    spent = b.do(
        {"type": "move", "ship_id": "a", "target": "b", "direction": "toward", "thrust": 4}
    )[0]
    assert b.ship("a").thrust_pool == 0
    assert spent.data["set"]["ships"]["a"]["done"] == ["pilot"]
    assert b.state.band("a", "b") == "medium"
    b.until(lambda st: st.step != rules.Step.MANOEUVRE)
    assert b.last("ranges_changed").data["pairs"][0]["progress"] == -4
    b.to(rules.Step.MANOEUVRE, "a", round_=2)
    b.do({"type": "move", "ship_id": "a", "target": "b", "direction": "toward", "thrust": 4})
    b.until(lambda st: st.step != rules.Step.MANOEUVRE)
    assert b.state.band("a", "b") == "short"
    assert b.state.ranges["a|b"] == ("short", 0)


@pytest.mark.parametrize(
    ("a_dir", "a_thrust", "b_dir", "b_thrust", "band", "progress"),
    [
        pytest.param("toward", 3, "toward", 2, "short", 0, id="both-closing-add"),
        pytest.param("toward", 4, "away", 2, "medium", -2, id="difference-to-the-stronger"),
        pytest.param("away", 1, "away", 1, "medium", 2, id="both-opening"),
        pytest.param("toward", 2, "away", 2, "medium", 0, id="cancel-out"),
    ],
)
def test_relative_thrust_of_both_ships(
    a_dir: str, a_thrust: int, b_dir: str, b_thrust: int, band: str, progress: int
) -> None:
    """§5.3: both closing add; one closing, one opening: the difference counts (cost 5)."""
    b = _pilots_battle()
    moves = {"a": ("b", a_dir, a_thrust), "b": ("a", b_dir, b_thrust)}
    for sid in b.state.order:  # pilots move in initiative order
        other, d, t = moves[sid]
        b.to(rules.Step.MANOEUVRE, sid)
        b.do({"type": "move", "ship_id": sid, "target": other, "direction": d, "thrust": t})
    b.until(lambda st: st.step != rules.Step.MANOEUVRE)
    assert b.state.ranges["a|b"] == (band, progress)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param({"thrust": 5}, "not_enough_thrust", id="more-than-the-pool"),
        pytest.param({"target": "a"}, "bad_target", id="itself"),
        pytest.param({"target": "zz"}, "unknown_target", id="unknown"),
    ],
)
def test_bad_moves_are_refused(data: dict[str, object], code: str) -> None:
    """§3.B: a pilot spends at most the pool left, on another ship of the battle."""
    b = _pilots_battle()
    b.to(rules.Step.MANOEUVRE, "a")
    move = {"type": "move", "ship_id": "a", "target": "b", "direction": "toward", "thrust": 1}
    assert b.refuse(move | data).code == code


def test_nothing_closer_than_adjacent_nor_farther_than_distant() -> None:
    """§5.1 ends of the band ladder; leaving the battle from Distant is `break_off` (§13.2)."""
    near = _pilots_battle("adjacent")
    near.to(rules.Step.MANOEUVRE, "a")
    move = {"type": "move", "ship_id": "a", "target": "b", "direction": "toward", "thrust": 1}
    assert near.refuse(move).code == "already_adjacent"
    far = _pilots_battle("distant")
    far.to(rules.Step.MANOEUVRE, "a")
    assert far.refuse(move | {"direction": "away"}).code == "already_distant"


def test_unspent_thrust_is_the_evasive_reserve() -> None:
    """§3.B: an unspent reserve funds Evasive Action in the Attack step (§11.B)."""
    b = _pilots_battle()
    b.to(rules.Step.MANOEUVRE, "b")
    b.do({"type": "move", "ship_id": "b", "target": "a", "direction": "toward", "thrust": 1})
    b.until(lambda st: st.step != rules.Step.MANOEUVRE)
    assert b.ship("b").thrust_pool == 1
