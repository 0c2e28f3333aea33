"""Checks and dice: characteristic DMs, skills, target numbers, Effect, boon/bane, task chains.

RULES §1 (MgT2e columns) and Part A ("a boon rolls 3 dice and keeps the highest two").
"""

from __future__ import annotations

import hashlib

import pytest

from gameserver.rules import DiceExhausted, RulesConfig, ScriptedDice, SeededDice, die_at
from gameserver.rules.dice import d3, d66, roll, roll_2d
from gameserver.rules.resolution import check, degree, net_boon, skill_dm
from gameserver.rules.tables_mgt2e import characteristic_dm, task_chain_dm


@pytest.mark.parametrize(
    ("score", "dm"),
    [
        pytest.param(0, -3, id="0-is-minus-3-in-MgT2e"),
        pytest.param(1, -2, id="1"),
        pytest.param(2, -2, id="2"),
        pytest.param(3, -1, id="3"),
        pytest.param(5, -1, id="5"),
        pytest.param(6, 0, id="6"),
        pytest.param(8, 0, id="8"),
        pytest.param(9, 1, id="9"),
        pytest.param(11, 1, id="11"),
        pytest.param(12, 2, id="12"),
        pytest.param(14, 2, id="14"),
        pytest.param(15, 3, id="15"),
        pytest.param(20, 3, id="capped-at-plus-3"),
    ],
)
def test_characteristic_dm_follows_the_mgt2e_column(score: int, dm: int) -> None:
    """§1.3 MgT2e column."""
    assert characteristic_dm(score) == dm


@pytest.mark.parametrize(
    ("level", "dm"),
    [
        pytest.param(None, -3, id="unskilled"),
        pytest.param(0, 0, id="level-0-no-penalty"),
        pytest.param(2, 2, id="level-2"),
    ],
)
def test_skill_dm(level: int | None, dm: int) -> None:
    """§1.4: no skill at all is DM -3; level 0 is neither bonus nor penalty."""
    assert skill_dm(level) == dm


def test_check_adds_skill_characteristic_and_dms() -> None:
    """§1.2: 2D + skill + characteristic DM + other DMs against 8+; Effect = total - 8."""
    dice = ScriptedDice([3, 4])
    c = check(dice, 1, 9, dm=-1)
    assert (c.roll, c.skill_dm, c.characteristic_dm, c.dm) == (7, 1, 1, -1)
    assert (c.total, c.effect, c.success) == (8, 0, True)
    assert dice.used == 2


@pytest.mark.parametrize(
    ("difficulty", "target"),
    [
        pytest.param("simple", 2, id="simple-2"),
        pytest.param("easy", 4, id="easy-4"),
        pytest.param("routine", 6, id="routine-6"),
        pytest.param("average", 8, id="average-8"),
        pytest.param("difficult", 10, id="difficult-10"),
        pytest.param("very_difficult", 12, id="very-difficult-12"),
        pytest.param("formidable", 14, id="formidable-14"),
    ],
)
def test_target_numbers_meet_exactly(difficulty: str, target: int) -> None:
    """§1.2 MgT2e targets: a total equal to the target succeeds with Effect 0, one less fails."""
    need = target - 2  # skill 0, characteristic 7 (DM 0) and a roll of [1, 1]
    hit = check(ScriptedDice([1, 1]), 0, 7, target=target, dm=need)
    miss = check(ScriptedDice([1, 1]), 0, 7, target=target, dm=need - 1)
    assert (hit.success, hit.effect) == (True, 0)
    assert (miss.success, miss.effect) == (False, -1)


def test_natural_twelve_is_not_an_automatic_success() -> None:
    """§1.2 / §15 #29 DEFAULT: no automatic results on a natural 2 or 12."""
    c = check(ScriptedDice([6, 6]), None, 0, target=14)
    assert c.total == 12 - 3 - 3
    assert not c.success
    lucky = check(ScriptedDice([1, 1]), 6, 15, target=8)
    assert lucky.success


@pytest.mark.parametrize(
    ("effect", "name"),
    [
        pytest.param(-7, "exceptional_failure", id="-7"),
        pytest.param(-6, "exceptional_failure", id="-6"),
        pytest.param(-5, "failure", id="-5"),
        pytest.param(-1, "failure", id="-1"),
        pytest.param(0, "success", id="0"),
        pytest.param(5, "success", id="5"),
        pytest.param(6, "exceptional_success", id="6"),
    ],
)
def test_degree_of_success(effect: int, name: str) -> None:
    """§1.2 degree table."""
    assert degree(effect) == name


@pytest.mark.parametrize(
    ("dice", "boon", "kept"),
    [
        pytest.param([5, 4, 1], 1, 9, id="boon-keeps-highest-two"),
        pytest.param([5, 4, 1], -1, 5, id="bane-keeps-lowest-two"),
        pytest.param([1, 6, 6], 1, 12, id="boon-drops-first-low-die"),
        pytest.param([6, 1, 6], -1, 7, id="bane-drops-one-six"),
    ],
)
def test_boon_and_bane_roll_three_dice(dice: list[int], boon: int, kept: int) -> None:
    """§1.6: boon = 3D keep the highest two; bane = 3D keep the lowest two."""
    scripted = ScriptedDice(dice)
    assert roll_2d(scripted, boon) == kept
    assert scripted.used == 3


def test_a_check_with_a_boon_uses_three_dice() -> None:
    """Part A `check` op: 2 dice, 3 with boon/bane."""
    c = check(ScriptedDice([2, 6, 3]), 0, 7, boon=1)
    assert c.roll == 9


@pytest.mark.parametrize(
    ("boons", "banes", "net"),
    [
        pytest.param(0, 0, 0, id="none"),
        pytest.param(1, 0, 1, id="one-boon"),
        pytest.param(2, 0, 1, id="two-boons-are-one"),
        pytest.param(1, 1, 0, id="cancel"),
        pytest.param(0, 1, -1, id="one-bane"),
        pytest.param(0, 3, -1, id="three-banes-are-one"),
        pytest.param(2, 1, 1, id="net-one-boon"),
    ],
)
def test_boons_and_banes_net_out(boons: int, banes: int, net: int) -> None:
    """§1.6 DEFAULT: one boon and one bane cancel; more than one net boon is still one."""
    assert net_boon(boons, banes) == net


def test_boon_cap_is_a_house_option() -> None:
    """§1.6 DEFAULT lives in RulesConfig (boon_net_max)."""
    assert net_boon(3, 0, RulesConfig(boon_net_max=2)) == 2


@pytest.mark.parametrize(
    ("effect", "dm"),
    [
        pytest.param(-8, -3, id="-8"),
        pytest.param(-6, -3, id="-6"),
        pytest.param(-5, -2, id="-5"),
        pytest.param(-2, -2, id="-2"),
        pytest.param(-1, -1, id="-1"),
        pytest.param(0, 1, id="0"),
        pytest.param(1, 2, id="1"),
        pytest.param(5, 2, id="5"),
        pytest.param(6, 3, id="6"),
        pytest.param(9, 3, id="9"),
    ],
)
def test_task_chain_dm(effect: int, dm: int) -> None:
    """§1.5 task chain: the first check's Effect gives a DM to the next."""
    assert task_chain_dm(effect) == dm


def test_task_chain_feeds_the_next_check() -> None:
    """§1.5: a chained check adds the DM of the first Effect (here Effect +3 -> DM +2)."""
    first = check(ScriptedDice([5, 6]), 0, 7)
    second = check(ScriptedDice([3, 3]), 0, 7, dm=task_chain_dm(first.effect))
    assert first.effect == 3
    assert (second.total, second.success) == (8, True)


@pytest.mark.parametrize(
    ("die", "value"),
    [
        pytest.param(1, 1, id="1"),
        pytest.param(2, 1, id="2"),
        pytest.param(3, 2, id="3"),
        pytest.param(4, 2, id="4"),
        pytest.param(5, 3, id="5"),
        pytest.param(6, 3, id="6"),
    ],
)
def test_d3_is_half_a_die_rounded_up(die: int, value: int) -> None:
    """§1.1: D3 = ceil(1D / 2)."""
    assert d3(ScriptedDice([die])) == value


def test_d66_and_nd() -> None:
    """§1.1: D66 = first die x 10 + second; nD sums n dice."""
    assert d66(ScriptedDice([3, 5])) == 35
    assert roll(ScriptedDice([1, 2, 3, 4]), 4) == 10


def test_scripted_dice_refuse_impossible_faces_and_run_out_loudly() -> None:
    """Part A: a case fails if the engine asks for more dice than listed."""
    for bad in (0, 7, True):
        with pytest.raises(ValueError, match="1-6"):
            ScriptedDice([bad])
    dice = ScriptedDice([4])
    assert dice.d6() == 4
    with pytest.raises(DiceExhausted):
        dice.d6()
    assert dice.take() == (4,)


def test_seeded_stream_is_positional_and_resumable() -> None:
    """Part A: die i of a battle is a pure function of (seed, i); decide resumes mid-stream."""
    whole = SeededDice(42)
    values = [whole.d6() for _ in range(20)]
    assert values == [die_at(42, i) for i in range(20)]
    assert all(1 <= v <= 6 for v in values)
    resumed = SeededDice(42, position=13)
    assert [resumed.d6() for _ in range(7)] == values[13:]
    assert resumed.take() == tuple(values[13:])
    assert values != [die_at(43, i) for i in range(20)]


def test_seeded_stream_is_pinned_to_the_keyed_blake2b_of_part_a() -> None:
    """Part A: die i = word i % 8 of blake2b(i // 8, key=seed) mod 6 + 1; pinned values so a
    faster implementation cannot shift a battle's dice (logs replay the dice they recorded)."""
    assert [die_at(42, i) for i in range(16)] == [6, 4, 2, 1, 4, 2, 5, 3, 1, 1, 1, 3, 2, 2, 3, 6]
    assert [die_at(-7, i) for i in range(16)] == [3, 1, 6, 2, 5, 6, 4, 3, 2, 3, 1, 2, 2, 1, 6, 3]
    for seed in (0, 42, -7, 2**100):
        key = seed.to_bytes(16, "little", signed=True)
        stream = SeededDice(seed, position=5)
        for i in range(5, 40):
            digest = hashlib.blake2b(
                (i // 8).to_bytes(8, "little"), key=key, digest_size=64, person=b"tvtt-dice-v1"
            ).digest()
            word = int.from_bytes(digest[(i % 8) * 8 : (i % 8) * 8 + 8], "little")
            assert stream.d6() == word % 6 + 1 == die_at(seed, i)
