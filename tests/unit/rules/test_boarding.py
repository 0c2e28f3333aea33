"""MgT2e docking and boarding through `decide`, with scripted dice: the pilot's Dock (§5.2,
§3.B), the boarding action and its §13.4 table read for MgT2e, capture as an end state, and
what stays as it was (refusals change nothing; a captured battle replays and re-executes).

Default crews are Regular (§14.7): skill 1, characteristics 8 (MgT2e DM 0).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.config import recorded_config
from gameserver.rules.legal import legal_commands, legal_commands_dry_run
from gameserver.rules.reexecution import reexecute

from .conftest import Battle, crew, design, duel, make_scenario, play_bots

DOCK: dict[str, Any] = {"type": "dock", "ship_id": "a", "target": "b"}
BOARD: dict[str, Any] = {"type": "boarding_action", "ship_id": "a", "target": "b"}


def _three(band: str = "adjacent", config: dict[str, Any] | None = None) -> Battle:
    """Corsair (a, red) against a Free Trader (b) and a Far Trader (c), both blue."""
    scenario = make_scenario("corsair", "free_trader", band, config=config or {})
    ships = [*scenario.model_dump()["ships"]]
    ships.append({"id": "c", "name": "Charlie", "side": "blue", "preset": "far_trader"})
    data = scenario.model_dump() | {"ships": ships}
    return Battle(rules.Scenario.model_validate(data))


def _docked(b: Battle) -> tuple[str | None, str | None]:
    return b.ship("a").docked, b.ship("b").docked


# ---------------------------------------------------------------- docking


def test_docking_an_unwilling_enemy_is_opposed_piloting_at_dm_minus_2() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.MANOEUVRE, "a")
    pool = b.ship("a").thrust_pool
    # Alpha [6,6] + Pilot 1 - 2 = 11, Effect +3; Bravo's pilot [3,3] + 1 = 7, Effect -1
    b.do(DOCK, dice=[6, 6, 3, 3])
    event = b.last("docking")
    assert event.data["willing"] is False
    assert event.data["check"]["dm"] == -2
    assert (event.data["check"]["effect"], event.data["opposed"]["effect"]) == (3, -1)
    assert event.summary == "Alpha docks with Bravo (Piloting Effect +3 against -1)."
    assert _docked(b) == ("b", "a")
    assert b.ship("a").thrust_pool == pool - 1
    assert "pilot" in event.data["set"]["ships"]["a"]["done"], "the pilot's action for the step"
    view = {s["id"]: s for s in rules.public_view(b.state)["ships"]}
    assert (view["a"]["docked"], view["b"]["docked"]) == ("b", "a")


def test_an_unwilling_enemy_that_wins_the_opposed_check_is_not_docked() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.MANOEUVRE, "a")
    # Alpha [4,4] + 1 - 2 = 7 (Effect -1) against [4,4] + 1 = 9 (Effect +1)
    b.do(DOCK, dice=[4, 4, 4, 4])
    assert b.last("docking").summary.startswith("Alpha fails to dock with Bravo")
    assert _docked(b) == (None, None)
    assert "docked" not in rules.public_view(b.state)["ships"][0]


@pytest.mark.parametrize(
    ("helpless_willing", "dice", "willing"),
    [
        pytest.param(True, [4, 3], True, id="helpless-is-willing"),
        pytest.param(False, [4, 3, 1, 1], False, id="switch-off-opposed"),
    ],
)
def test_a_ship_that_cannot_manoeuvre_cannot_refuse_the_dock(
    helpless_willing: bool, dice: list[int], willing: bool
) -> None:
    scenario = duel(
        design(thrust=2),
        design(thrust=0),
        band="adjacent",
        config={"dock_helpless_willing": helpless_willing},
    )
    b = Battle(scenario)
    b.to(rules.Step.MANOEUVRE, "a")
    b.do(DOCK, dice=dice)  # [4,3] + Pilot 1 = 8: Average Piloting succeeds
    assert b.last("docking").data["willing"] is willing
    assert _docked(b) == ("b", "a")


def test_a_surrendered_ship_is_docked_with_average_piloting() -> None:
    b = _three()
    b.until(lambda st: st.acting_ship == "b" and not st.pending)
    b.do({"type": "surrender", "ship_id": "b"})
    assert b.ship("b").status == "surrendered"
    b.to(rules.Step.MANOEUVRE, "a")
    b.do(DOCK, dice=[3, 3])  # 6 + 1 = 7: fails
    assert _docked(b) == (None, None)
    b.to(rules.Step.MANOEUVRE, "a", round_=b.state.round + 1)
    b.do(DOCK, dice=[5, 2])  # 7 + 1 = 8: docked
    assert b.last("docking").data["willing"] is True
    assert _docked(b) == ("b", "a")


@pytest.mark.parametrize(
    ("setup", "command", "code"),
    [
        pytest.param({"band": "close"}, DOCK, "out_of_range", id="not-adjacent"),
        pytest.param({"docked": "c"}, DOCK, "already_docked", id="already-docked"),
        pytest.param({"target_docked": "c"}, DOCK, "target_docked", id="target-docked"),
        pytest.param({}, DOCK | {"ship_id": "b", "target": "a"}, "not_your_turn", id="turn"),
        pytest.param({"pool": 0}, DOCK, "not_enough_thrust", id="no-thrust"),
        pytest.param({}, DOCK | {"target": "zz"}, "unknown_target", id="unknown"),
        pytest.param({"config": {"boarding": False}}, DOCK, "boarding_off", id="switch-off"),
    ],
)
def test_a_bad_dock_is_refused_and_changes_nothing(
    setup: dict[str, Any], command: dict[str, Any], code: str
) -> None:
    b = _three(setup.get("band", "adjacent"), setup.get("config"))
    b.to(rules.Step.MANOEUVRE, "a")
    if "docked" in setup:
        b.patch("a", docked=setup["docked"])
    if "target_docked" in setup:
        b.patch("b", docked=setup["target_docked"])
    if "pool" in setup:
        b.patch("a", thrust_pool=setup["pool"])
    err = b.refuse(command)
    assert err.code == code
    if code == "out_of_range":
        assert err.message == "docking needs adjacent range; Bravo is at close range"


def test_docking_is_the_pilots_and_belongs_to_the_manoeuvre_step() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.MANOEUVRE, "a")
    captain = rules.Actor(role="player", ship_id="a", stations=frozenset({"captain"}))
    assert b.refuse(DOCK, captain).code == "not_your_station"
    b.to(rules.Step.ACTIONS, "a")
    assert b.refuse(DOCK).code == "wrong_step"


def test_a_docked_ship_that_moves_casts_off() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.MANOEUVRE, "a")
    b.do(DOCK, dice=[6, 6, 1, 1])
    b.to(rules.Step.MANOEUVRE, "b", round_=2)
    new = b.do({"type": "move", "ship_id": "b", "target": "a", "direction": "away", "thrust": 1})
    assert b.types(new)[:2] == ["undocked", "thrust_spent"]
    assert new[0].summary == "Bravo casts off from Alpha."
    assert _docked(b) == (None, None)


# ---------------------------------------------------------------- boarding


@pytest.mark.parametrize(
    ("dice", "result", "hull_b", "dm_a", "dm_b"),
    [
        # Tactics 1, INT 8: [5,4] + 1 = 10 (+2) against [3,3] + 1 = 7 (-1); 1D [4] Hull
        pytest.param([5, 4, 3, 3, 4], "attacker_success", 76, 2, 0, id="boarders-gain"),
        # [2,2] + 1 = 5 (-3) against [5,4] + 1 = 10 (+2); the boarded ship still takes 1D [3]
        pytest.param([2, 2, 5, 4, 3], "defender_success", 77, 0, 2, id="defenders-hold"),
        # [2,2] + 1 = 5 (-3) against [2,3] + 1 = 6 (-2): the winner failed (A15)
        pytest.param([2, 2, 2, 3], "none", 80, 0, 0, id="nobody-gains"),
    ],
)
def test_a_boarding_action_follows_the_table(
    dice: list[int], result: str, hull_b: int, dm_a: int, dm_b: int
) -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.ACTIONS, "a")
    b.do(BOARD, dice=dice)
    event = b.last("boarding")
    assert event.data["result"] == result
    assert b.ship("b").hull == hull_b, "no armour against boarders"
    assert (b.ship("a").boarding_dm, b.ship("b").boarding_dm) == (dm_a, dm_b)
    assert "captain" in event.data["set"]["ships"]["a"]["done"]
    assert b.ship("b").status == "active"


def test_exceptional_defenders_repel_the_boarders() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.ACTIONS, "a")
    b.patch("b", boarding_dm=2)
    # [1,1] + 1 = 3 (-5) against [6,5] + 1 + 2 = 14 (+6)
    b.do(BOARD, dice=[1, 1, 6, 5])
    assert b.last("boarding").data["result"] == "defender_exceptional"
    assert "repelled" in b.last("boarding").summary
    assert b.ship("b").boarded_by is None


def _strong_boarders(config: dict[str, Any] | None = None) -> Battle:
    """Alpha's captain: Tactics 3, INT 12 (+2); Bravo's: unskilled, INT 2 (-2). No guns."""
    return Battle(
        duel(
            design(thrust=2),
            design(thrust=2),
            band="adjacent",
            crew_a={"captain": crew(3, INT=12) | {"name": "Marine"}},
            crew_b={"captain": crew(None, INT=2) | {"name": "Purser"}},
            config=config,
        )
    )


def test_boarders_aboard_take_control_next_round_and_the_battle_ends() -> None:
    b = _strong_boarders()
    b.to(rules.Step.ACTIONS, "a")
    # [6,5] + 3 + 2 = 16 (+8) against [1,1] - 3 - 2 = -3 (-11); 2D [3,4] = 7 Hull
    b.do(BOARD, dice=[6, 5, 1, 1, 3, 4])
    assert b.last("boarding").data["result"] == "attacker_exceptional"
    bravo = b.ship("b")
    assert (bravo.hull, bravo.boarded_by, bravo.status) == (73, "a", "active")
    view = {s["id"]: s for s in rules.public_view(b.state)["ships"]}
    assert view["b"]["boarded_by"] == "a"
    b.until(lambda st: st.is_over)
    assert b.ship("b").status == "captured"
    assert b.last("ship_captured").summary == "Alpha takes control of Bravo: she is captured."
    assert b.state.outcome == {"result": "victory", "winner": "red", "reason": "last_side_standing"}


def test_control_at_once_when_the_table_says_so() -> None:
    b = _strong_boarders({"boarding_control_rounds": 0})
    b.to(rules.Step.ACTIONS, "a")
    new = b.do(BOARD, dice=[6, 5, 1, 1, 3, 4])
    assert "ship_captured" in b.types(new)
    assert b.ship("b").status == "captured"
    assert b.state.is_over


def _over_or_past(st: rules.BattleState, round_: int) -> bool:
    return st.is_over or st.round > round_


def test_a_captured_battle_replays_and_re_executes_exactly() -> None:
    """Seeded dice only (no script): board every round until the ship is taken."""
    b = _strong_boarders()
    for round_ in range(1, 10):
        if b.state.is_over:
            break
        b.to(rules.Step.ACTIONS, "a", round_=round_)
        b.do(BOARD)
        b.until(partial(_over_or_past, round_=round_))
    assert b.ship("b").status == "captured"
    assert b.state.outcome is not None
    live = rules.state_to_dict(b.state)
    assert rules.state_to_dict(rules.replay(b.events)) | {"prev": None} == live | {"prev": None}
    log = json.loads(json.dumps([e.to_dict() for e in b.events]))
    events, dicts = rules.decode_events(log)
    state, produced = reexecute(events, dicts, rules.DiceSecret(1, bytes(rules.SALT_BYTES)))
    assert json.loads(json.dumps(produced)) == log
    assert state.ships["b"].status == "captured"


def test_a_surrendered_ship_is_taken_without_a_roll_while_her_side_fights_on() -> None:
    b = _three()
    b.to(rules.Step.ACTIONS, "a")
    b.patch("b", status="surrendered")
    new = b.do(BOARD, dice=[])
    assert b.types(new)[:2] == ["boarding", "ship_captured"]
    assert b.ship("b").status == "captured"
    assert not b.state.is_over, "Charlie still fights"
    b.patch("a", done=frozenset())
    assert b.refuse(BOARD).code == "target_captured"


@pytest.mark.parametrize(
    ("setup", "command", "code"),
    [
        pytest.param({"band": "close"}, BOARD, "out_of_range", id="not-adjacent"),
        pytest.param({}, BOARD | {"ship_id": "b", "target": "a"}, "not_your_turn", id="turn"),
        pytest.param({"boarded": "a"}, BOARD, "already_boarded", id="boarded"),
        pytest.param({"config": {"boarding": False}}, BOARD, "boarding_off", id="switch-off"),
    ],
)
def test_a_bad_boarding_action_is_refused(
    setup: dict[str, Any], command: dict[str, Any], code: str
) -> None:
    b = _three(setup.get("band", "adjacent"), setup.get("config"))
    b.to(rules.Step.ACTIONS, "a")
    if "boarded" in setup:
        b.patch("b", boarded_by=setup["boarded"])
    err = b.refuse(command)
    assert err.code == code
    if code == "out_of_range":
        assert "adjacent or docked" in err.message


def test_docked_ships_may_board_whatever_the_band() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "close"))
    b.to(rules.Step.ACTIONS, "a")
    b.patch("a", docked="b")
    b.patch("b", docked="a")
    b.do(BOARD, dice=[2, 2, 2, 3])
    assert b.last("boarding").data["result"] == "none"


def test_boarding_is_the_captains_and_belongs_to_the_actions_step() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.ACTIONS, "a")
    pilot = rules.Actor(role="player", ship_id="a", stations=frozenset({"pilot"}))
    assert b.refuse(BOARD, pilot).code == "not_your_station"
    b.to(rules.Step.MANOEUVRE, "a", round_=2)
    assert b.refuse(BOARD).code == "wrong_step"


def test_a_ship_without_a_captain_boards_with_its_pilot() -> None:
    """The Scout has no captain: its pilot is awaited in the Actions step while an enemy is
    alongside, and offered the boarding action (judged directly as the dry run judges it)."""
    b = Battle(make_scenario("scout", "free_trader", "adjacent"))
    b.to(rules.Step.ACTIONS, "a")
    assert ("a", "pilot") in rules.awaiting(b.state)
    offered = legal_commands(b.state, "a", "pilot")
    assert {"type": "boarding_action", "ship_id": "a", "target": "b"} in [
        e["command"] for e in offered
    ]
    assert [e["label"] for e in offered if e["type"] == "boarding_action"] == ["Board Bravo"]
    assert offered == legal_commands_dry_run(b.state, "a", "pilot")


def test_the_legal_lists_offer_dock_and_board() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.MANOEUVRE, "a")
    pilot = legal_commands(b.state, "a", "pilot")
    assert [e["label"] for e in pilot if e["type"] == "dock"] == ["Dock with Bravo"]
    assert pilot == legal_commands_dry_run(b.state, "a", "pilot")
    b.to(rules.Step.ACTIONS, "a")
    captain = legal_commands(b.state, "a", "captain")
    assert "boarding_action" in [e["type"] for e in captain]
    assert captain == legal_commands_dry_run(b.state, "a", "captain")


def test_a_battle_recorded_before_boarding_replays_with_it_off() -> None:
    cfg = rules.RulesConfig().to_dict()
    del cfg["boarding"]
    assert recorded_config(cfg).boarding is False


# ---------------------------------------------------------------- the bot


def test_the_bot_docks_with_and_boards_a_helpless_enemy() -> None:
    b = Battle(duel(design(thrust=2), design(thrust=0), band="adjacent"))
    b.to(rules.Step.MANOEUVRE, "a")
    cmd = rules.bot_command(b.state, "red")
    assert cmd is not None
    assert (cmd.type, getattr(cmd, "target", None)) == ("dock", "b")
    b.do(DOCK, dice=[6, 6])
    b.to(rules.Step.ACTIONS, "a")
    cmd = rules.bot_command(b.state, "red")
    assert cmd is not None
    assert (cmd.type, getattr(cmd, "target", None)) == ("boarding_action", "b")
    b.to(rules.Step.MANOEUVRE, "a", round_=2)
    cmd = rules.bot_command(b.state, "red")
    assert cmd is not None
    assert cmd.type == "end_step", "the bot stays docked with its prize"


def test_the_bot_does_not_board_an_enemy_still_fighting() -> None:
    b = Battle(make_scenario("corsair", "free_trader", "adjacent"))
    b.to(rules.Step.ACTIONS, "a")
    cmd = rules.bot_command(b.state, "red")
    assert cmd is not None
    assert cmd.type != "boarding_action"


def test_bots_dock_board_and_capture_a_crippled_ship_and_the_log_re_executes() -> None:
    """Bot against bot from Adjacent: the crippled Bravo (Thrust 0) is a prize; Alpha's bot
    docks, boards round after round and takes her; the exported log re-executes exactly."""
    scenario = duel(design(thrust=2), design(thrust=0), band="adjacent")
    secret = rules.DiceSecret(11, bytes(rules.SALT_BYTES))
    state, events = rules.open_battle(scenario, secret.seed, "prize", None, salt=secret.salt)
    state, more = play_bots(state)
    events += more
    assert {"docking", "boarding", "ship_captured"} <= {e.type for e in events}
    assert state.ships["b"].status == "captured"
    assert state.outcome is not None
    assert state.outcome["winner"] == "red"
    log = json.loads(json.dumps([e.to_dict() for e in events]))
    decoded, dicts = rules.decode_events(log)
    again, produced = reexecute(decoded, dicts, secret)
    assert json.loads(json.dumps(produced)) == log
    assert again == state
