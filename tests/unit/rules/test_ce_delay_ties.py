"""CE Delay and exact initiative ties in battle, with scripted dice (RULES §3.A, §4.A.1): a
ship may hold its action until just before a later ship (taking that ship's initiative) or
hold its whole turn and act first the next; ships tied on initiative and Thrust act
simultaneously, so neither's hits land before both have acted."""

from __future__ import annotations

from gameserver import rules
from gameserver.rules.actions import ce

from .conftest import Battle, make_scenario

# Raider 2D [3,4] + greater Thrust 1 + Tactics Effect 2 = 10; Merchant Trader [5,4] = 9.
INIT = [3, 4, 4, 5, 5, 4]


def ce_battle(a: str = "raider", b: str = "merchant_trader", init: list[int] = INIT) -> Battle:
    return Battle(make_scenario(a, b, "medium", 30, ruleset="CE"), init_dice=init)


def finish(b: Battle, sid: str, dice: list[int] | None = None) -> None:
    """End every station of `sid`'s turn; the last end_step draws `dice`."""
    while True:
        waiting = [st for s, st in rules.awaiting(b.state) if s == sid]
        assert waiting
        assert not b.state.pending
        last = len(waiting) == 1
        b.do(
            {"type": "end_step", "ship_id": sid, "station": waiting[0]},
            dice=dice if last else [],
        )
        if last:
            return


def test_delay_until_just_before_a_later_ship_takes_its_initiative() -> None:
    b = ce_battle()
    assert (b.state.order, b.state.acting_ship) == (("a", "b"), "a")
    b.do({"type": "delay", "ship_id": "a", "before": "b"}, dice=[])
    data = b.last("delayed").data
    assert (data["ship"], data["before"], data["initiative"]) == ("a", "b", 9)
    # a now acts at 9, just before b: it is still a's action, with its crew all to act
    assert b.state.order == ("a", "b")
    assert b.state.acting_ship == "a"
    assert b.ship("a").initiative == 9
    assert b.ship("a").reactions == 3  # 9 keeps the pool of 10 (9-12: 3)
    assert b.refuse({"type": "delay", "ship_id": "a", "before": "b"}).code == "already_delayed"


def test_delay_comes_before_the_crew_acts_and_names_a_ship_still_to_act() -> None:
    b = ce_battle()
    for bad in ("a", "nobody"):
        assert b.refuse({"type": "delay", "ship_id": "a", "before": bad}).code == "bad_target"
    b.do({"type": "ce_pilot", "ship_id": "a", "action": "line_up_the_shot"}, dice=[4, 4])
    assert b.refuse({"type": "delay", "ship_id": "a"}).code == "too_late"


def test_holding_the_whole_turn_loses_it_and_acts_first_next_turn() -> None:
    b = ce_battle()
    b.do({"type": "delay", "ship_id": "a"}, dice=[])
    assert b.ship("a").delay == 1
    assert b.state.acting_ship == "b"  # a's crew lose this turn's actions
    assert all(s == "b" for s, _ in rules.awaiting(b.state))
    finish(b, "b")
    assert b.state.round == 2
    # highest of the others (9) + 1 = 10; the pool follows (3)
    assert (b.ship("a").initiative, b.ship("a").reactions, b.ship("a").delay) == (10, 3, 0)
    assert b.state.order == ("a", "b")
    assert b.state.acting_ship == "a"


def test_two_holders_tie_at_the_top_and_thrust_orders_them() -> None:
    b = ce_battle()
    b.do({"type": "delay", "ship_id": "a"}, dice=[])
    b.do({"type": "delay", "ship_id": "b"}, dice=[])
    assert b.state.round == 2
    # nobody else: both at 0 + 1; the Raider's Thrust 4 beats the trader's 1
    assert (b.ship("a").initiative, b.ship("b").initiative) == (1, 1)
    assert b.state.order == ("a", "b")


def test_an_exact_tie_acts_simultaneously_hits_land_once_both_have_acted() -> None:
    # two Merchant Traders, no captains, equal Thrust: 2D [4,4] each = 8, Thrust 1 each
    b = ce_battle("merchant_trader", "merchant_trader", [4, 4, 4, 4])
    assert [(s.initiative, s.thrust) for s in b.state.ships.values()] == [(8, 1), (8, 1)]
    b.do({"type": "ce_fire", "ship_id": "a", "turret": 0, "target": "b"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:0"})
    # Turret Weapons 1, DEX 8: [6,6] 13 hits; 1D [6]
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:1"}, dice=[6, 6, 6])
    finish(b, "a")
    assert b.state.acting_ship == "b"
    assert len(b.ship("b").incoming) == 1  # not landed: b acts at the same moment
    assert b.ship("b").hull == 4
    # once b's crew have acted: 6 - armour 2 = 4, a Single at [4,4] = Hull
    finish(b, "b", dice=[4, 4])
    assert b.ship("b").incoming == ()
    assert b.ship("b").hull == 3


def test_unequal_initiative_lands_hits_before_the_next_ship_acts() -> None:
    b = ce_battle("merchant_trader", "merchant_trader", [4, 4, 4, 3])  # 8 against 7
    b.do({"type": "ce_fire", "ship_id": "a", "turret": 0, "target": "b"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "pilot"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:0"})
    b.do({"type": "no_reaction", "ship_id": "b", "station": "gunner:1"}, dice=[6, 6, 6])
    finish(b, "a", dice=[4, 4])
    assert b.state.acting_ship == "b"
    assert (b.ship("b").incoming, b.ship("b").hull) == ((), 3)


def test_a_delaying_ship_interrupts_a_later_one_and_never_acts_with_it() -> None:
    ships = [
        {"id": "a", "name": "Alpha", "side": "red", "preset": "raider"},
        {"id": "b", "name": "Bravo", "side": "blue", "preset": "merchant_trader"},
        {"id": "c", "name": "Charlie", "side": "blue", "preset": "courier"},
    ]
    scenario = make_scenario("raider", "merchant_trader", "medium", 30, ruleset="CE", ships=ships)
    # Raider [3,4] + 1 (Thrust 4, the highest) + Tactics 2 = 10; trader [5,4] = 9; Courier
    # [2,1] + 1 (Thrust 4 too) = 4
    b = Battle(scenario, init_dice=[3, 4, 4, 5, 5, 4, 2, 1])
    assert b.state.order == ("a", "b", "c")
    assert [b.ship(s).initiative for s in "abc"] == [10, 9, 4]
    b.do({"type": "delay", "ship_id": "a", "before": "c"}, dice=[])
    assert b.state.order == ("b", "a", "c")
    assert b.state.acting_ship == "b"
    assert (b.ship("a").initiative, b.ship("a").reactions) == (4, 1)  # 0-4: one reaction
    finish(b, "b")
    assert b.state.acting_ship == "a"
    # a and c now tie on initiative and Thrust, but a interrupted c: no simultaneity
    assert (b.ship("a").initiative, b.ship("a").thrust) == (b.ship("c").initiative, 4)
    assert not ce.simultaneous_next(b.state)
    finish(b, "a")
    assert b.state.acting_ship == "c"
    finish(b, "c")
    # the Delay's count carries over (§3.A: initiative is not re-rolled); Thrust ties, and the
    # Raider joined first
    assert (b.state.round, b.ship("a").initiative, b.ship("a").delay) == (2, 4, 0)
    assert b.state.order == ("b", "a", "c")
