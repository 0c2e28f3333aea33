"""CE checks and DMs: §1.2 checks and opposed checks, §4.A initiative and the reaction pool,
the crew actions' grants and refusals (§6.A, §7.A.3-4, §10.A.5), the attacker and defender
DMs of §7.A.3-4.

Purely computational: dice only from the `Dice` given, in Part A's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gameserver.rules.config import RulesConfig
from gameserver.rules.dice import Dice
from gameserver.rules.errors import RuleViolation
from gameserver.rules.resolution import degree  # §1.2 reads the same in both rulesets
from gameserver.rules.tables_ce import (
    DIFFICULTY_DM,
    PURSUIT_MAX_DM,
    REACTION_ROWS,
    REACTIONS_MAX,
    TARGET,
    UNSKILLED_DM,
    characteristic_dm,
)

DEFAULT_CONFIG = RulesConfig()


def skill_dm(skill: int | None, jot: int = 0) -> int:
    """§1.4: the level; unskilled -3, which Jack-of-all-Trades cancels but never exceeds (A1)."""
    if skill is None:
        return min(0, UNSKILLED_DM + max(0, jot))
    return skill


@dataclass(frozen=True, slots=True)
class CeCheck:
    """One CE check itemised (§0.3): always against 8, difficulty already in `dm`."""

    roll: int
    skill_dm: int
    char_dm: int
    dm: int
    total: int

    @property
    def effect(self) -> int:
        """Effect = total - 8."""
        return self.total - TARGET

    @property
    def success(self) -> bool:
        """Success on Effect >= 0; a natural 2 or 12 means nothing (#29)."""
        return self.effect >= 0

    @property
    def degree(self) -> str:
        """§1.2 degree."""
        return degree(self.effect)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for event data."""
        return {
            "roll": self.roll,
            "skill_dm": self.skill_dm,
            "char_dm": self.char_dm,
            "dm": self.dm,
            "total": self.total,
            "effect": self.effect,
            "success": self.success,
        }


def check(
    dice: Dice,
    skill: int | None,
    characteristic: int | None,
    dm: int = 0,
    *,
    difficulty: str = "average",
    hasty: bool = False,
    jot: int = 0,
) -> CeCheck:
    """§1.2: 2D + skill DM + characteristic DM + difficulty DM + DMs, against 8 (no boon/bane).

    `characteristic` None means no characteristic DM (a computer gunner, §7.A.3 DEFAULT).
    """
    if difficulty not in DIFFICULTY_DM:
        raise ValueError(f"unknown difficulty {difficulty!r}")
    r = dice.d6() + dice.d6()
    s = skill_dm(skill, jot)
    c = 0 if characteristic is None else characteristic_dm(characteristic)
    total_dm = dm + DIFFICULTY_DM[difficulty] - (1 if hasty else 0)
    return CeCheck(r, s, c, total_dm, r + s + c + total_dm)


# ---------------------------------------------------------------- opposed checks


@dataclass(frozen=True, slots=True)
class Side:
    """One side of an opposed check: skill level (None unskilled), characteristic score, DMs."""

    skill: int | None
    characteristic: int
    dm: int = 0
    hasty: bool = False


@dataclass(frozen=True, slots=True)
class Opposed:
    """§1.2 opposed check: who won, the deciding Effects and how many re-rolls it took;
    `check_a` and `check_b` are the deciding checks themselves (for the log's roll card)."""

    a_wins: bool
    effect_a: int
    effect_b: int
    rerolls: int
    check_a: Any = field(default=None, compare=False, repr=False)
    check_b: Any = field(default=None, compare=False, repr=False)


class _Rolled(Protocol):
    @property
    def effect(self) -> int: ...


def ce_roll(dice: Dice, side: Side) -> CeCheck:
    """One CE side's check (§1.2): what `opposed` rolls unless told otherwise."""
    return check(dice, side.skill, side.characteristic, side.dm, hasty=side.hasty)


def opposed(
    dice: Dice,
    a: Side,
    b: Side,
    max_rolls: int = 1000,
    roll: Callable[[Dice, Side], _Rolled] = ce_roll,
) -> Opposed:
    """§1.2: both roll (a first); higher Effect wins even if both failed (A2); equal Effects:
    higher characteristic; equal again: both re-roll in the same order.

    `roll` is one side's check: CE's by default; MgT2e passes its own (§1.2 reads the same in
    both rulesets, only the check differs: the MgT2e characteristic DMs, §1.3)."""
    for rerolls in range(max_rolls):
        ca = roll(dice, a)
        cb = roll(dice, b)
        if ca.effect != cb.effect:
            return Opposed(ca.effect > cb.effect, ca.effect, cb.effect, rerolls, ca, cb)
        if a.characteristic != b.characteristic:
            return Opposed(
                a.characteristic > b.characteristic, ca.effect, cb.effect, rerolls, ca, cb
            )
    raise RuleViolation("opposed_undecided", "the opposed check tied too many times")


# ---------------------------------------------------------------- initiative and reactions


def reactions_for(initiative: int, disabled: bool = False) -> int:
    """§4.A.3: reactions per turn by initiative; a disabled ship has none (§13.1 DEFAULT)."""
    if disabled:
        return 0
    for top, count in REACTION_ROWS:
        if initiative <= top:
            return count
    return REACTIONS_MAX


def greater_thrust(thrust: int, others: Iterable[int]) -> int:
    """§4.A.1 with #8: +1 for every ship at the highest Thrust, unless all are equal."""
    rest = list(others)
    return int(bool(rest) and all(thrust >= t for t in rest) and any(t < thrust for t in rest))


@dataclass(frozen=True, slots=True)
class CeInitiative:
    """§4.A initiative itemised."""

    roll: int
    greater_thrust: int
    tactics: CeCheck | None
    initiative: int

    @property
    def tactics_effect(self) -> int | None:
        """The Captain's Tactics Effect (added even when negative), None without the check."""
        return None if self.tactics is None else self.tactics.effect

    @property
    def reactions(self) -> int:
        """§4.A.3 reactions from this initiative."""
        return reactions_for(self.initiative)


def initiative(
    dice: Dice,
    thrust: int,
    other_thrusts: Sequence[int],
    tactics: tuple[int | None, int, int] | None = None,
    *,
    surprise: bool = False,
    hasty: bool = False,
    bonus: int = 0,
) -> CeInitiative:
    """§4.A: 2D (12 without dice when this ship surprises, #9) + greater Thrust + the optional
    Average Tactics (INT) Effect + 2 if hasty + other changes in force."""
    r = 12 if surprise else dice.d6() + dice.d6()
    g = greater_thrust(thrust, other_thrusts)
    tac = None
    if tactics is not None:
        skill, int_score, dm = tactics
        tac = check(dice, skill, int_score, dm)
    value = r + g + (tac.effect if tac else 0) + (2 if hasty else 0) + bonus
    return CeInitiative(r, g, tac, value)


def initiative_order(ships: Sequence[tuple[str, int, int]]) -> list[list[str]]:
    """§4.A.1: higher initiative first, then higher Thrust; equal on both act simultaneously."""
    keys: list[tuple[int, int]] = []
    groups: dict[tuple[int, int], list[str]] = {}
    for sid, init, thrust in ships:
        key = (init, thrust)
        if key not in groups:
            groups[key] = []
            keys.append(key)
        groups[key].append(sid)
    return [groups[k] for k in sorted(keys, reverse=True)]


# ---------------------------------------------------------------- crew actions


def grant(action: str, c: CeCheck) -> int:
    """§6.A / §7.A.3 / §1.5: what a crew action's check grants."""
    e = c.effect
    if action == "evasive_maneuvers":
        return 0 if e < 0 else (-2 if e >= 6 else -1)
    if action == "dodge":
        return -2 if e >= 0 else 0
    if action in ("line_up_the_shot", "sensor_targeting"):
        return 0 if e < 0 else (2 if e >= 6 else 1)
    if action == "coordinate_crew":
        return max(1, e) if e >= 0 else 0
    if action == "increase_initiative":
        return e if e >= 0 else 0
    if action == "aid_another":
        if e >= 6:
            return 2
        if e >= 0:
            return 1
        return -2 if e <= -6 else -1
    raise ValueError(f"unknown crew action {action!r}")


PILOT_ACTIONS = frozenset({"evasive_maneuvers", "dodge", "line_up_the_shot"})
GRANTING_ACTIONS = (
    "evasive_maneuvers",
    "dodge",
    "line_up_the_shot",
    "sensor_targeting",
    "coordinate_crew",
    "increase_initiative",
    "aid_another",
)


def crew_action_refusal(action: str, bridge_hits: int, sensors_hits: int) -> None:
    """§10.A.5: a disabled bridge stops pilot and sensor actions; disabled sensors stop
    Sensor Targeting (A13: a destroyed one keeps the 2nd-hit effect)."""
    if (action in PILOT_ACTIONS or action == "sensor_targeting") and bridge_hits >= 2:
        raise RuleViolation("bridge_disabled", "the bridge is disabled")
    if action == "sensor_targeting" and sensors_hits >= 2:
        raise RuleViolation("sensors_disabled", "the sensors are disabled")


def sensor_targeting_dm(
    own_sensors_dm: int,
    target_sensors_dm: int,
    target_jammers: bool,
    target_stealth: bool,
    sensors_hits: int,
) -> int:
    """§7.A.4 DEFAULT: own electronics DM - the target's (only if it jams) - 4 against stealth;
    §10.A.5: -2 with one Sensors hit."""
    dm = own_sensors_dm
    if target_jammers:
        dm -= target_sensors_dm
    if target_stealth:
        dm -= 4
    if sensors_hits == 1:
        dm -= 2
    return dm


# ---------------------------------------------------------------- attack and defence DMs (§7.A.3-4)


@dataclass(frozen=True, slots=True)
class AttackerDMs:
    """§7.A.3 attacker-side inputs (the gunner, the ship's state and this turn's aids)."""

    gunner_skill: int | None = 0
    dex: int = 7
    computer_gunner: bool = False
    sensor_targeting: int = 0
    line_up: int = 0
    computer_targeting: int = 0
    pursuit_turn: int = 0
    coordinate: int = 0
    intercept: bool = False
    aid_dm: int = 0
    hasty: bool = False
    mount_hits: int = 0
    bridge_hits: int = 0
    sensors_hits: int = 0
    other_dm: int = 0

    def total_dm(self) -> int:
        """Every attacker DM but skill, characteristic, range and weapon."""
        return (
            self.sensor_targeting
            + self.line_up
            + self.computer_targeting
            + min(PURSUIT_MAX_DM, max(0, self.pursuit_turn - 1))
            + self.coordinate
            + (4 if self.intercept else 0)
            + self.aid_dm
            - (1 if self.hasty else 0)
            - (2 if self.mount_hits == 1 else 0)
            - (2 if self.bridge_hits >= 2 else 0)
            + self.other_dm
        )

    def gunner(self) -> tuple[int | None, int | None]:
        """(skill, characteristic) the roll uses: the Fire Control program is skill 0, no DEX."""
        if self.computer_gunner:
            return 0, None
        return self.gunner_skill, self.dex


@dataclass(frozen=True, slots=True)
class DefenderDMs:
    """§7.A.4 defender-side DMs in force against one attack or missile."""

    evasive_dm: int = 0
    dodge: bool = False
    evade_software: int = 0

    def total_dm(self) -> int:
        """Summed (negative) DM to the attacker."""
        return self.evasive_dm - (2 if self.dodge else 0) - self.evade_software
