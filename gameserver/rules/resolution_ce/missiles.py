"""CE missiles (§9.A) and the chains against them: launch, the to-hit roll, point defence
and Fire Sand (§11.A), electronic warfare (§6.A EW (b)). Screens act in the damage pipeline.

Purely computational: dice only from the `Dice` given, in Part A's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gameserver.rules.dice import Dice, roll
from gameserver.rules.errors import RuleViolation
from gameserver.rules.resolution_ce.checks import AttackerDMs, CeCheck, DefenderDMs, check
from gameserver.rules.resolution_ce.damage import CeHull, DamageResult, Screen, damage_pipeline
from gameserver.rules.tables_ce import (
    DIFFICULTY_DM,
    LAUNCHERS,
    MISSILE_DICE,
    MISSILE_FLIGHT,
    MISSILE_LAST_TURN,
    POINT_DEFENCE_WEAPONS,
    PULSE_PENALTY,
    missile_to_hit,
)


@dataclass(frozen=True, slots=True)
class Launch:
    """§9.A.2-3: the launch check (None for smart missiles, A9), to-hit, flight and count."""

    check: CeCheck | None
    to_hit: int
    flight_turns: int
    missiles: int


def missile_launch(
    dice: Dice,
    *,
    band: str,
    missile: str,
    launcher: str,
    att: AttackerDMs,
    spent: bool = False,
) -> Launch:
    """§9.A: refusals, then the Average launch check with the attacker-side DMs."""
    if missile not in MISSILE_DICE:
        raise RuleViolation("unknown_missile", f"there is no missile {missile!r}")
    if launcher not in LAUNCHERS:
        raise RuleViolation("unknown_weapon", f"{launcher!r} is not a missile launcher")
    if att.mount_hits >= 2:
        raise RuleViolation("weapon_disabled", "that launcher is disabled")
    if spent:
        raise RuleViolation("spent", "the launcher's ready load is empty")
    flight = MISSILE_FLIGHT[band]
    if flight is None:
        raise RuleViolation("out_of_range", f"missiles cannot be launched at {band} range")
    if att.sensors_hits >= 2:
        raise RuleViolation("sensors_disabled", "the sensors are disabled")
    if missile == "smart":
        return Launch(None, 8, flight, LAUNCHERS[launcher])
    skill, char = att.gunner()
    c = check(dice, skill, char, att.total_dm())
    return Launch(c, missile_to_hit(c.effect), flight, LAUNCHERS[launcher])


@dataclass(frozen=True, slots=True)
class MissileAttack:
    """§9.A.4-5: one missile arriving."""

    total: int
    hit: bool
    continues: bool
    damage: DamageResult | None


def missile_attack(
    dice: Dice,
    work: CeHull,
    *,
    missile: str,
    to_hit: int,
    turn: int,
    dfn: DefenderDMs,
    screens: Sequence[Screen] = (),
) -> MissileAttack:
    """§9.A.4: 2D + the target's reaction and evasion DMs against the to-hit number; on a hit
    the missile's dice, never its Effect (A12)."""
    if missile not in MISSILE_DICE:
        raise RuleViolation("unknown_missile", f"there is no missile {missile!r}")
    if work.structure <= 0:
        raise RuleViolation("target_destroyed", "the target is destroyed")
    if turn > MISSILE_LAST_TURN:
        raise RuleViolation("missile_inert", "the missile is out of fuel")
    total = dice.d6() + dice.d6() + dfn.total_dm()
    if total < to_hit:
        cont = missile == "smart" and turn < MISSILE_LAST_TURN
        return MissileAttack(total, False, cont, None)
    raw = roll(dice, MISSILE_DICE[missile])
    dmg = damage_pipeline(
        dice, work, raw, source=missile, radiation=missile == "nuclear", screens=screens
    )
    return MissileAttack(total, True, False, dmg)


@dataclass(frozen=True, slots=True)
class Chain:
    """A point-defence or electronic-warfare chain (§11.A, §6.A EW (b))."""

    totals: tuple[int, ...]
    removed: int
    remaining: int


def _chain(dice: Dice, count: int, base_dm: int, skill: int | None, char: int | None) -> Chain:
    """Roll until a failure or no missile remains, -1 per extra roll (A10)."""
    totals: list[int] = []
    removed = 0
    while removed < count:
        c = check(dice, skill, char, base_dm - len(totals))
        totals.append(c.total)
        if not c.success:
            break
        removed += 1
    return Chain(tuple(totals), removed, count - removed)


def _turret_gunner(
    skill: int | None, dex: int, computer_gunner: bool, mount_hits: int, hasty: bool
) -> tuple[int | None, int | None, int]:
    """A turret gunner's reaction check (§11.A), shared by point defence and Fire Sand: refused
    on a disabled mount (2+ hits); the skill and DEX it rolls (a computer gunner: skill 0, no
    DEX) and its DMs: -2 for a damaged mount, -1 when hasty."""
    if mount_hits >= 2:
        raise RuleViolation("weapon_disabled", "that turret is disabled")
    roller = (0, None) if computer_gunner else (skill, dex)
    return *roller, -(2 if mount_hits == 1 else 0) - (1 if hasty else 0)


def point_defence(
    dice: Dice,
    *,
    weapon: str,
    salvo: int,
    gunner_skill: int | None = 0,
    dex: int = 7,
    computer_gunner: bool = False,
    mount_hits: int = 0,
    hasty: bool = False,
    other_dm: int = 0,
) -> Chain:
    """§11.A: turret lasers shoot down arriving missiles, one per success; pulse -2 always
    (A11); no §7.A.3 attack DM applies."""
    if weapon not in POINT_DEFENCE_WEAPONS:
        raise RuleViolation("not_point_defence", f"a {weapon} cannot fire point defence")
    skill, char, dm = _turret_gunner(gunner_skill, dex, computer_gunner, mount_hits, hasty)
    pulse = PULSE_PENALTY if weapon == "pulse_laser" else 0
    return _chain(dice, salvo, pulse + dm + other_dm, skill, char)


def fire_sand(
    dice: Dice,
    *,
    gunner_skill: int | None = 0,
    dex: int = 7,
    computer_gunner: bool = False,
    mount_hits: int = 0,
    hasty: bool = False,
    other_dm: int = 0,
    spent: bool = False,
) -> CeCheck:
    """§11.A Fire Sand: an Average Turret Weapons check; success cuts each beam by 1D."""
    skill, char, dm = _turret_gunner(gunner_skill, dex, computer_gunner, mount_hits, hasty)
    if spent:
        raise RuleViolation("spent", "the sandcaster is empty")
    return check(dice, skill, char, dm + other_dm)


def ew_missiles(
    dice: Dice,
    skill: int | None,
    intelligence: int,
    missiles: int,
    dm: int = 0,
    hasty: bool = False,
) -> Chain:
    """§6.A Electronic Warfare (b): Difficult Comms (INT) per smart missile, -1 per extra."""
    base = DIFFICULTY_DM["difficult"] - (1 if hasty else 0) + dm
    return _chain(dice, missiles, base, skill, intelligence)
