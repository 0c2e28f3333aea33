"""CE damage (§10.A): hit groups, location rolls and the resolution chain, the damage
pipeline (sand, screens, armour, radiation), crew hits, repairs (§12.A) and ship capacity.

Purely computational: dice only from the `Dice` given, in Part A's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gameserver.rules.config import RulesConfig
from gameserver.rules.dice import Dice
from gameserver.rules.errors import RuleViolation
from gameserver.rules.resolution_ce.checks import DEFAULT_CONFIG, CeCheck, check
from gameserver.rules.tables_ce import (
    GROUP_HITS,
    HIT_ROWS,
    LATER_HITS,
    LOCATION_TABLE,
    SCREEN_MATCH,
    SMALL_CRAFT_TONS,
    UNREPAIRABLE,
    crew_damage,
    repairs_for,
)

# ---------------------------------------------------------------- damage: hits and locations


def damage_hits(damage: int) -> list[str]:
    """§10.A.3 (#3, #4, A3): the hit groups of a net damage."""
    if damage <= 0:
        return []
    for top, groups in HIT_ROWS:
        if damage <= top:
            return list(groups)
    over = damage - 44
    return ["triple", "triple"] + ["single"] * (over // 3) + ["double"] * (over // 6)


def location_of(column: str, roll_2d: int) -> str:
    """§10.A.4: the location a 2D roll gives on a column."""
    return LOCATION_TABLE[column][roll_2d - 2]


@dataclass(slots=True)
class CeHull:
    """What the damage pipeline changes on a ship (mutable working copy)."""

    tons: int
    hull: int
    structure: int
    armour: int = 0
    thrust: int = 0
    systems: dict[str, int] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()

    @property
    def destroyed(self) -> bool:
        """§13.1: Structure 0."""
        return self.structure <= 0

    @property
    def disabled(self) -> bool:
        """§13.1: Power Plant destroyed (3rd hit)."""
        return self.systems.get("power_plant", 0) >= 3

    @property
    def status(self) -> str:
        """`destroyed`, `disabled` or `active`."""
        if self.destroyed:
            return "destroyed"
        if self.disabled:
            return "disabled"
        return "active"

    def systems_hit(self) -> dict[str, int]:
        """Every system whose counter is above 0."""
        return {k: v for k, v in self.systems.items() if v > 0}


@dataclass(slots=True)
class HitReport:
    """Step 5-7 of the damage pipeline: groups, location rolls, final locations, crew hits."""

    hits: list[str] = field(default_factory=list)
    rolls: list[int] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    crew_hits: list[str] = field(default_factory=list)


def column_for(work: CeHull, forced: str | None) -> str:
    """§10.A.4 column at the moment of a location roll."""
    if forced is not None:
        return forced
    if work.tons < SMALL_CRAFT_TONS:
        return "small_craft"
    return "external" if work.hull > 0 else "internal"


def _system_hit(work: CeHull, system: str, report: HitReport) -> None:
    """§10.A.5: one more hit on a system below 3 hits, with the effects this engine tracks."""
    n = work.systems.get(system, 0) + 1
    work.systems[system] = n
    if system == "m_drive":
        if n == 1:
            work.thrust = max(0, work.thrust - 1)
        elif n == 2:
            work.thrust //= 2  # #19: floor of what the 1st hit left
        else:
            work.thrust = 0
    elif system == "power_plant" and n == 2:
        report.crew_hits.append("radiation")
    elif system == "bridge" and n == 1:
        report.crew_hits.append("normal")


def resolve_hit(work: CeHull, column: str, row: int, report: HitReport) -> None:
    """§10.A.5 and its resolution chain for one hit starting at (column, row)."""
    loc = LOCATION_TABLE[column][row - 2]
    for _ in range(16):  # the chain always ends at a counter; the bound guards a bad table
        if loc == "hull":
            if work.hull > 0:
                work.hull -= 1
                break
            column = "internal"
            loc = LOCATION_TABLE[column][row - 2]
            continue
        if loc == "structure":
            work.structure = max(0, work.structure - 1)
            break
        if loc == "armour":
            if work.armour > 0:
                work.armour -= 1
                break
            loc = "hull"
            continue
        if loc == "crew":
            report.crew_hits.append("normal")
            break
        if loc in work.missing:
            loc = "structure" if column == "internal" else "hull"  # A4
            continue
        if work.systems.get(loc, 0) >= 3:
            loc = LATER_HITS[loc]
            continue
        _system_hit(work, loc, report)
        break
    report.locations.append(loc)


def apply_hits(
    dice: Dice, work: CeHull, groups: Sequence[str], forced_column: str | None = None
) -> HitReport:
    """Steps 6-7: each group rolls 2D for its location, each hit resolves alone, in order; the
    ship's destruction stops everything after it."""
    report = HitReport(hits=list(groups))
    for group in groups:
        if work.destroyed:
            break
        column = column_for(work, forced_column)
        r = dice.d6() + dice.d6()
        report.rolls.append(r)
        for _ in range(GROUP_HITS[group]):
            if work.destroyed:
                break
            resolve_hit(work, column, r, report)
    return report


@dataclass(frozen=True, slots=True)
class Screen:
    """A screen triggered against one attack (§11.A): its type and the operator's Screens."""

    type: str
    skill: int = 0


@dataclass(slots=True)
class DamageResult:
    """The damage pipeline's outputs (Part A "Pipeline outputs")."""

    raw: int = 0
    reduction: int = 0
    damage: int = 0
    report: HitReport = field(default_factory=HitReport)
    radiation: str | None = None
    radiation_total: int | None = None


def damage_pipeline(
    dice: Dice,
    work: CeHull,
    raw: int,
    *,
    source: str,
    laser: bool = False,
    meson: bool = False,
    radiation: bool = False,
    sand: bool = False,
    screens: Sequence[Screen] = (),
    reflec: bool = False,
) -> DamageResult:
    """Part A damage pipeline steps 2-8 for one hit: `source` is the weapon or missile name
    the screens match (`meson_bay`, `nuclear`)."""
    armour_before = work.armour
    out = DamageResult(raw=raw)
    if sand:
        out.reduction += dice.d6()
    matching = [s for s in screens if SCREEN_MATCH.get(s.type) == source]
    for s in matching:
        out.reduction += dice.d6() + dice.d6() + s.skill
    armour_used = 0 if meson else armour_before + (3 if reflec and laser else 0)
    out.damage = max(0, raw - out.reduction - armour_used)
    out.report = apply_hits(dice, work, damage_hits(out.damage), "internal" if meson else None)
    damper = source == "nuclear" and bool(matching)
    if radiation and not damper and not work.destroyed:
        dm = -2 * len(matching) if meson else -armour_before
        total = dice.d6() + dice.d6() + dm
        out.radiation_total = total
        out.radiation = crew_damage(total)
    return out


# ---------------------------------------------------------------- repairs


@dataclass(frozen=True, slots=True)
class Repair:
    """§12.A: the check and the hits it repairs."""

    check: CeCheck
    repairs: int
    hits_after: int


def repair_refusal(system: str, hits: int) -> None:
    """#21: systems only; not a system without hits or a destroyed one."""
    if system in UNREPAIRABLE or hits <= 0 or hits >= 3:
        raise RuleViolation("not_repairable", f"{system} cannot be repaired in combat")


def repair(
    dice: Dice,
    skill: int | None,
    education: int,
    system: str,
    hits: int,
    *,
    auto_repair: bool = False,
    hasty: bool = False,
    dm: int = 0,
    cfg: RulesConfig = DEFAULT_CONFIG,
) -> Repair:
    """§12.A Repair Damaged System: Mechanics (EDU) + `ce_repair_dm`, +1 with Auto-Repair."""
    repair_refusal(system, hits)
    c = check(
        dice, skill, education, dm + cfg.ce_repair_dm + (1 if auto_repair else 0), hasty=hasty
    )
    n = repairs_for(c.effect)
    return Repair(c, n, max(0, hits - n))


def m_drive_thrust(rating: int, hits: int) -> int:
    """A14: Thrust by M-Drive hits from the design rating (#19 sequential)."""
    if hits <= 0:
        return rating
    if hits == 1:
        return max(0, rating - 1)
    if hits == 2:
        return max(0, rating - 1) // 2
    return 0


# ---------------------------------------------------------------- crew hits, ship capacity


def crew_hit(dice: Dice, dm: int = 0) -> tuple[int, str]:
    """§10.A.6: 2D + DM on the Crew Damage table."""
    total = dice.d6() + dice.d6() + dm
    return total, crew_damage(total)


def ship_capacity(tons: int) -> tuple[int, int, str]:
    """§10.A.2 (#5) and §10.A.4: Hull, Structure and the column of a hull size."""
    hull = max(0, tons // 50)
    structure = max(1, tons // 50)
    return hull, structure, ("small_craft" if tons < SMALL_CRAFT_TONS else "external")
