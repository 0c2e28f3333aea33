"""CE beam attacks (§7.A): refusals, the attack roll, and the damage of a hit.

Purely computational: dice only from the `Dice` given, in Part A's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gameserver.rules.config import RulesConfig
from gameserver.rules.dice import Dice, roll
from gameserver.rules.errors import RuleViolation
from gameserver.rules.resolution_ce.checks import (
    DEFAULT_CONFIG,
    AttackerDMs,
    CeCheck,
    DefenderDMs,
    check,
)
from gameserver.rules.resolution_ce.damage import CeHull, DamageResult, Screen, damage_pipeline
from gameserver.rules.tables_ce import BAND_INDEX, LAUNCHERS, PULSE_PENALTY, WEAPONS, CeWeapon


@dataclass(frozen=True, slots=True)
class CeAttack:
    """One CE attack: the check and, on a hit, the damage."""

    check: CeCheck
    damage: DamageResult | None

    @property
    def hit(self) -> bool:
        """Hit on total >= 8."""
        return self.check.success


def attack_refusal(weapon: str, band: str, target_structure: int, att: AttackerDMs) -> CeWeapon:
    """§7.A refusals in Part A's order; returns the weapon's row."""
    if weapon in LAUNCHERS:
        raise RuleViolation("not_direct_fire", f"{weapon} launches missiles; it does not attack")
    stats = WEAPONS.get(weapon)
    if stats is None:
        raise RuleViolation("unknown_weapon", f"there is no CE weapon {weapon!r}")
    if target_structure <= 0:
        raise RuleViolation("target_destroyed", "the target is destroyed")
    if att.mount_hits >= 2:
        raise RuleViolation("weapon_disabled", "that mount is disabled")
    if stats.band_dm[BAND_INDEX[band]] is None:
        raise RuleViolation("out_of_range", f"a {weapon} cannot fire at {band} range")
    if att.sensors_hits >= 2 and band != "adjacent":
        raise RuleViolation("sensors_disabled", "with the sensors disabled, only adjacent")
    return stats


def roll_attack(
    dice: Dice,
    *,
    weapon: str,
    band: str,
    target_structure: int,
    att: AttackerDMs,
    dfn: DefenderDMs,
    cfg: RulesConfig = DEFAULT_CONFIG,
) -> tuple[CeCheck, int | None]:
    """§7.A: one weapon's attack roll and, on a hit, its raw damage (the dice, + Effect under
    `ce_add_effect_to_damage`); None on a miss. The battle resolves the raw damage after the
    ship's crew have acted (§3.A c)."""
    stats = attack_refusal(weapon, band, target_structure, att)
    band_dm = stats.band_dm[BAND_INDEX[band]] or 0
    pulse = PULSE_PENALTY if weapon == "pulse_laser" and cfg.ce_pulse_penalty_stacks else 0
    skill, char = att.gunner()
    c = check(dice, skill, char, band_dm + pulse + att.total_dm() + dfn.total_dm())
    if not c.success:
        return c, None
    raw = roll(dice, stats.damage_dice) if stats.damage_dice else 1
    if cfg.ce_add_effect_to_damage:
        raw += c.effect
    return c, raw


def weapon_damage(
    dice: Dice,
    work: CeHull,
    weapon: str,
    raw: int,
    *,
    sand: bool = False,
    screens: Sequence[Screen] = (),
    reflec: bool = False,
) -> DamageResult:
    """Steps 2-8 of the damage pipeline for a beam weapon's raw damage."""
    stats = WEAPONS[weapon]
    return damage_pipeline(
        dice,
        work,
        raw,
        source=weapon,
        laser=stats.laser,
        meson=stats.meson,
        radiation=stats.radiation,
        sand=sand and stats.beam,
        screens=screens,
        reflec=reflec,
    )


def resolve_attack(
    dice: Dice,
    work: CeHull,
    *,
    weapon: str,
    band: str,
    att: AttackerDMs,
    dfn: DefenderDMs,
    sand: bool = False,
    screens: Sequence[Screen] = (),
    reflec: bool = False,
    cfg: RulesConfig = DEFAULT_CONFIG,
) -> CeAttack:
    """§7.A: one weapon's attack roll and, on a hit, the damage pipeline on `work`."""
    c, raw = roll_attack(
        dice,
        weapon=weapon,
        band=band,
        target_structure=work.structure,
        att=att,
        dfn=dfn,
        cfg=cfg,
    )
    if raw is None:
        return CeAttack(c, None)
    dmg = weapon_damage(dice, work, weapon, raw, sand=sand, screens=screens, reflec=reflec)
    return CeAttack(c, dmg)
