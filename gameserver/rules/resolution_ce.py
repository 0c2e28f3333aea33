"""Cepheus Engine resolution functions (RULES Part B, CE sections; Part A "CE test vectors").

Purely computational: they draw only from the `Dice` they are given, in the order Part A lists.
The CE battle and the vector checker (`vectors_ce.py`) call these same functions. Refusals are
`RuleViolation`s raised before any die is rolled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gameserver.rules.config import RulesConfig
from gameserver.rules.dice import Dice, roll
from gameserver.rules.errors import RuleViolation
from gameserver.rules.tables_ce import (
    BAND_INDEX,
    BANDS,
    DIFFICULTY_DM,
    GROUP_HITS,
    HAZARD_DM,
    HIT_ROWS,
    LATER_HITS,
    LAUNCHERS,
    LOCATION_TABLE,
    MISSILE_DICE,
    MISSILE_FLIGHT,
    MISSILE_LAST_TURN,
    POINT_DEFENCE_WEAPONS,
    PULSE_PENALTY,
    PURSUIT_MAX_DM,
    REACTION_ROWS,
    REACTIONS_MAX,
    SCREEN_MATCH,
    SMALL_CRAFT_TONS,
    TARGET,
    UNREPAIRABLE,
    UNSKILLED_DM,
    WEAPONS,
    CeWeapon,
    characteristic_dm,
    crew_damage,
    missile_to_hit,
    repairs_for,
)

DEFAULT_CONFIG = RulesConfig()


def degree(effect: int) -> str:
    """§1.2 degree of success."""
    if effect <= -6:
        return "exceptional_failure"
    if effect < 0:
        return "failure"
    if effect < 6:
        return "success"
    return "exceptional_success"


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
    """§1.2 opposed check: who won, the deciding Effects and how many re-rolls it took."""

    a_wins: bool
    effect_a: int
    effect_b: int
    rerolls: int


def opposed(dice: Dice, a: Side, b: Side, max_rolls: int = 1000) -> Opposed:
    """§1.2: both roll (a first); higher Effect wins even if both failed (A2); equal Effects:
    higher characteristic; equal again: both re-roll in the same order."""
    for rerolls in range(max_rolls):
        ca = check(dice, a.skill, a.characteristic, a.dm, hasty=a.hasty)
        cb = check(dice, b.skill, b.characteristic, b.dm, hasty=b.hasty)
        if ca.effect != cb.effect:
            return Opposed(ca.effect > cb.effect, ca.effect, cb.effect, rerolls)
        if a.characteristic != b.characteristic:
            return Opposed(a.characteristic > b.characteristic, ca.effect, cb.effect, rerolls)
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


# ---------------------------------------------------------------- attacks


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


# ---------------------------------------------------------------- missiles


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
    if mount_hits >= 2:
        raise RuleViolation("weapon_disabled", "that turret is disabled")
    dm = (
        (PULSE_PENALTY if weapon == "pulse_laser" else 0)
        - (2 if mount_hits == 1 else 0)
        - (1 if hasty else 0)
        + other_dm
    )
    skill, char = (0, None) if computer_gunner else (gunner_skill, dex)
    return _chain(dice, salvo, dm, skill, char)


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
    if mount_hits >= 2:
        raise RuleViolation("weapon_disabled", "that turret is disabled")
    if spent:
        raise RuleViolation("spent", "the sandcaster is empty")
    skill, char = (0, None) if computer_gunner else (gunner_skill, dex)
    dm = -(2 if mount_hits == 1 else 0) - (1 if hasty else 0) + other_dm
    return check(dice, skill, char, dm)


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
    dice: Dice, attacker: Side, defender: Side, band: str | None, docked: bool
) -> Boarding:
    """§13.4: opposed INT Tactics; the winner's own Effect picks the row (A15)."""
    if not docked and band != "adjacent":
        raise RuleViolation("out_of_range", "boarding needs adjacent range or docking")
    o = opposed(dice, attacker, defender)
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


def crew_hit(dice: Dice, dm: int = 0) -> tuple[int, str]:
    """§10.A.6: 2D + DM on the Crew Damage table."""
    total = dice.d6() + dice.d6() + dm
    return total, crew_damage(total)


def ship_capacity(tons: int) -> tuple[int, int, str]:
    """§10.A.2 (#5) and §10.A.4: Hull, Structure and the column of a hull size."""
    hull = max(0, tons // 50)
    structure = max(1, tons // 50)
    return hull, structure, ("small_craft" if tons < SMALL_CRAFT_TONS else "external")
