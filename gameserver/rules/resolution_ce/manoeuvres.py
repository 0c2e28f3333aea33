"""CE range and contact: range bands after a Range Check, Pursuit, Ram, Avoid Collision
(§5.2) and abstract boarding (§13.4).

Purely computational: dice only from the `Dice` given, in Part A's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gameserver.rules.dice import Dice, roll
from gameserver.rules.errors import RuleViolation
from gameserver.rules.resolution_ce.checks import (
    CeCheck,
    Opposed,
    Side,
    ce_roll,
    check,
    opposed,
)
from gameserver.rules.resolution_ce.damage import damage_hits
from gameserver.rules.tables_ce import BAND_INDEX, BANDS, HAZARD_DM

# ---------------------------------------------------------------- range, pursuit, ram, collision


def range_after(band: str, wish: str) -> str:
    """#15: one band at most; Distant cannot increase, Adjacent cannot decrease."""
    i = BAND_INDEX[band]
    if wish == "increase":
        i = min(len(BANDS) - 1, i + 1)
    elif wish == "decrease":
        i = max(0, i - 1)
    elif wish != "keep":
        raise ValueError(f"unknown range wish {wish!r}")
    return BANDS[i].value


def pursuit_refusal(band: str, speed_a: int, speed_b: int) -> None:
    """§5.2 Pursuit needs Short or Close and equal speeds."""
    if band not in ("short", "close") or speed_a != speed_b:
        raise RuleViolation(
            "pursuit_not_possible", "pursuit needs short or close range and the same speed"
        )


def ram_refusal(band: str, speed_a: int, speed_b: int) -> None:
    """§5.2 Ram: only at Close and only when faster than the target."""
    if band != "close" or speed_a <= speed_b:
        raise RuleViolation("ram_not_possible", "ramming needs close range and more speed")


def avoid_collision(
    dice: Dice,
    skill: int | None,
    dex: int,
    hazard: str,
    *,
    speed: int = 0,
    speed_difference: bool = False,
    hasty: bool = False,
    dm: int = 0,
) -> tuple[CeCheck, int]:
    """§5.2 Avoid Collision: Piloting + hazard DM; on failure 1D per point of speed."""
    if hazard not in HAZARD_DM:
        raise ValueError(f"unknown hazard {hazard!r}")
    total_dm = HAZARD_DM[hazard] - (2 if speed_difference else 0) + dm
    c = check(dice, skill, dex, total_dm, hasty=hasty)
    return c, (0 if c.success else roll(dice, max(0, speed)))


# ---------------------------------------------------------------- boarding


@dataclass(frozen=True, slots=True)
class Boarding:
    """§13.4 abstract boarding, one turn."""

    opposed: Opposed
    result: str
    damage: int
    internal_hits: tuple[str, ...]

    @property
    def winner(self) -> str:
        """`attacker` or `defender`."""
        return "attacker" if self.opposed.a_wins else "defender"

    def outcome(self) -> dict[str, Any]:
        """The row's effects (Part A `boarding`)."""
        r = self.result
        return {
            "defender_loses_reactions": r == "attacker_success",
            "next_attacker_dm": 2 if r == "attacker_success" else 0,
            "next_defender_dm": 2 if r == "defender_success" else 0,
            "damage": self.damage,
            "internal_hits": list(self.internal_hits),
            "boarded": r == "attacker_exceptional",
            "repelled": r == "defender_exceptional",
        }


def boarding(
    dice: Dice,
    attacker: Side,
    defender: Side,
    band: str | None,
    docked: bool,
    roll: Callable[[Dice, Side], Any] = ce_roll,
) -> Boarding:
    """§13.4: opposed INT Tactics; the winner's own Effect picks the row (A15). `roll` is one
    side's check (CE's; MgT2e boarding passes its own, `rules.actions.boarding`)."""
    if not docked and band != "adjacent":
        raise RuleViolation("out_of_range", "boarding needs adjacent range or docking")
    o = opposed(dice, attacker, defender, roll=roll)
    who = "attacker" if o.a_wins else "defender"
    effect = o.effect_a if o.a_wins else o.effect_b
    if effect < 0:
        return Boarding(o, "none", 0, ())
    if effect < 6:
        return Boarding(o, f"{who}_success", 0, ("single",))
    if o.a_wins:
        dmg = dice.d6() + dice.d6()
        return Boarding(o, "attacker_exceptional", dmg, tuple(damage_hits(dmg)))
    return Boarding(o, "defender_exceptional", 0, ())
