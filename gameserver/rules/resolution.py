"""MgT2e resolution functions: checks, initiative, attacks, damage and criticals, range, reactions.

Purely computational, no side effects beyond drawing from the `Dice` they are given. The battle
(`engine.py`) and the vector checker (`vectors.py`) call these same functions (RULES Part A).
Dice are consumed in the order RULES §16 / Part A lists them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, NamedTuple, Protocol

from gameserver.rules.config import RulesConfig, Ruleset
from gameserver.rules.dice import Dice, roll, roll_2d
from gameserver.rules.errors import RuleViolation
from gameserver.rules.tables_mgt2e import (
    BAND_DM,
    BAND_INDEX,
    BAND_THRUST,
    BANDS,
    LOCATION_INDEX,
    LOCATION_NAMES,
    MOUNT_MULTIPLE,
    MOUNT_PD_DM,
    UNSKILLED_DM,
    WEAPONS,
    RangeBand,
    characteristic_dm,
    task_chain_dm,
)

DEFAULT_CONFIG = RulesConfig()
TARGET = 8


def skill_dm(skill: int | None) -> int:
    """RULES §1.4: no skill at all is DM -3; level 0 is no bonus and no penalty."""
    return UNSKILLED_DM if skill is None else skill


def degree(effect: int) -> str:
    """RULES §1.2 degree of success from the Effect."""
    if effect <= -6:
        return "exceptional_failure"
    if effect < 0:
        return "failure"
    if effect < 6:
        return "success"
    return "exceptional_success"


def net_boon(boons: int, banes: int, cfg: RulesConfig = DEFAULT_CONFIG) -> int:
    """RULES §1.6 DEFAULT: boons and banes cancel; more than one net boon is still one."""
    net = boons - banes
    cap = cfg.boon_net_max
    return max(-cap, min(cap, net))


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A check itemised (RULES §0.3): roll, DMs, total, target, Effect, success, degree."""

    roll: int
    skill_dm: int
    characteristic_dm: int
    dm: int
    total: int
    target: int
    effect: int
    success: bool

    @property
    def degree(self) -> str:
        """RULES §1.2 degree of success."""
        return degree(self.effect)

    def to_dict(self) -> dict[str, int | bool | str]:
        """JSON form for event data."""
        return {
            "roll": self.roll,
            "skill_dm": self.skill_dm,
            "characteristic_dm": self.characteristic_dm,
            "dm": self.dm,
            "total": self.total,
            "target": self.target,
            "effect": self.effect,
            "success": self.success,
        }


def check(
    dice: Dice,
    skill: int | None,
    characteristic: int,
    target: int = TARGET,
    dm: int = 0,
    boon: int = 0,
    auto_results: bool = False,
) -> CheckResult:
    """RULES §1.2: 2D (boon/bane §1.6) + skill + characteristic DM + DMs against a target number.

    No automatic results on a natural 2 or 12 (§15 #29 DEFAULT); with `auto_results`
    (`RulesConfig.natural_auto_results`) a natural 2 fails and a natural 12 succeeds.
    """
    r = roll_2d(dice, boon)
    s = skill_dm(skill)
    c = characteristic_dm(characteristic)
    total = r + s + c + dm
    effect = total - target
    return CheckResult(r, s, c, dm, total, target, effect, succeeds(r, effect, auto_results))


def succeeds(natural: int, effect: int, auto_results: bool) -> bool:
    """§1.2: success on Effect >= 0; the natural-2/12 house rule decides those rolls alone."""
    if auto_results and natural in (2, 12):
        return natural == 12
    return effect >= 0


def initiative(
    dice: Dice,
    pilot_skill: int | None,
    thrust: int,
    tactics: tuple[int | None, int] | None = None,
    cfg: RulesConfig = DEFAULT_CONFIG,
) -> tuple[int, int, CheckResult | None]:
    """RULES §4.B: 2D + Pilot + Thrust + the Effect of the captain's optional Tactics check.

    Part A: the Tactics Effect counts even when negative. Returns (initiative, 2D, tactics check).
    """
    r = dice.d6() + dice.d6()
    value = r + skill_dm(pilot_skill) + thrust
    tac: CheckResult | None = None
    if tactics is not None:
        tac = check(dice, tactics[0], tactics[1], auto_results=cfg.natural_auto_results)
        if tac.effect >= 0 or cfg.tactics_negative_counts:
            value += tac.effect
    return value, r, tac


def critical_severity(
    damage: int, effect: int, ruleset: Ruleset, cfg: RulesConfig = DEFAULT_CONFIG
) -> int:
    """RULES §10.B.3: a critical needs Effect >= 6 and damage > 0; Severity capped at 6.

    2016: ceil(damage / 10); 2022: Effect - 5 (§15 #23).
    """
    if effect < 6 or damage <= 0:
        return 0
    formula = cfg.severity_formula
    if formula == "by_ruleset":
        formula = "effect" if ruleset == Ruleset.MGT2E_2022 else "damage"
    sev = effect - 5 if formula == "effect" else -(-damage // 10)
    return min(6, sev)


def sustained_count(
    hull_max: int, lost_before: int, lost_after: int, cfg: RulesConfig = DEFAULT_CONFIG
) -> int:
    """RULES §10.B.3: one Severity-1 critical per further 10% of starting Hull lost (§15 #25)."""
    if hull_max <= 0 or lost_after <= lost_before:
        return 0
    if cfg.sustained_threshold == "rounded_up":
        step = -(-hull_max // 10)
        return lost_after // step - lost_before // step
    return (10 * lost_after) // hull_max - (10 * lost_before) // hull_max


class AttackRoll(NamedTuple):
    """A direct-fire attack itemised: the DMs, total, Effect, hit, damage and critical Severity.

    A named tuple, not a frozen dataclass: built once per attack, and the frozen dataclass
    `__init__` (one `object.__setattr__` per field) was a quarter of the pure resolution time.
    """

    weapon: str
    roll: int
    dms: dict[str, int]
    boon: int
    total: int
    effect: int
    hit: bool
    damage_roll: int
    armour: int
    multiple: int
    damage: int
    severity: int

    def to_dict(self) -> dict[str, object]:
        """JSON form for event data."""
        return {
            "weapon": self.weapon,
            "roll": self.roll,
            "dms": dict(self.dms),
            "boon": self.boon,
            "total": self.total,
            "effect": self.effect,
            "hit": self.hit,
            "damage_roll": self.damage_roll,
            "armour": self.armour,
            "multiple": self.multiple,
            "damage": self.damage,
            "severity": self.severity,
        }


def weapon_reach_error(weapon: str, band: str) -> RuleViolation | None:
    """Part A: a weapon fires at its maximum band or closer; missiles and sand are not direct."""
    stats = WEAPONS.get(weapon)
    if stats is None:
        return RuleViolation("bad_weapon", f"unknown weapon {weapon!r}")
    if not stats.direct_fire:
        return RuleViolation(
            "not_direct_fire",
            f"a {weapon.replace('_', ' ')} does not make direct-fire attacks",
        )
    assert stats.max_range is not None
    if BAND_INDEX[band] > BAND_INDEX[stats.max_range]:
        return RuleViolation(
            "out_of_range",
            f"a {weapon.replace('_', ' ')} reaches {stats.max_range.value.replace('_', ' ')}"
            f" at most; the target is at {band.replace('_', ' ')}",
        )
    return None


def attack_dms(
    weapon: str,
    gunner_skill: int | None,
    dex: int,
    band: str,
    fire_control: int = 0,
    aid_dm: int = 0,
    evasive_dm: int = 0,
    other_dm: int = 0,
    called_shot_dm: int = 0,
) -> dict[str, int]:
    """RULES §7.B: every DM of a direct-fire attack, itemised (the UI previews this breakdown)."""
    return {
        "gunner": skill_dm(gunner_skill),
        "dex": characteristic_dm(dex),
        "range": BAND_DM[band],
        "weapon": WEAPONS[weapon].attack_dm,
        "fire_control": fire_control,
        "aid": aid_dm,
        "evasive": evasive_dm,
        "called_shot": called_shot_dm,
        "other": other_dm,
    }


# Part A reach, per (weapon, band) a weapon reaches: (damage dice, laser, AP) (§5.1, §8.B),
# built once so an attack does a single lookup; absent pairs are refused.
_DIRECT_FIRE: Final[dict[tuple[str, str], tuple[int, bool, int]]] = {
    (w, b.value): (st.damage_dice, st.laser, st.ap)
    for w, st in WEAPONS.items()
    if st.direct_fire and st.max_range is not None
    for b in BANDS
    if BAND_INDEX[b.value] <= BAND_INDEX[st.max_range.value]
}


def resolve_attack(
    dice: Dice,
    *,
    weapon: str,
    band: str,
    gunner_skill: int | None,
    dex: int,
    mount: str = "single",
    linked: int = 1,
    fire_control: int = 0,
    boon: int = 0,
    aid_dm: int = 0,
    evasive_dm: int = 0,
    other_dm: int = 0,
    called_shot_dm: int = 0,
    armour: int = 0,
    sand_armour: int = 0,
    ruleset: Ruleset = Ruleset.MGT2E_2016,
    cfg: RulesConfig = DEFAULT_CONFIG,
) -> AttackRoll:
    """RULES §7.B + §10.B.2: roll to hit, then damage, then the critical Severity.

    total = 2D (boon/bane) + Gunner + DEX DM + range DM + weapon DM + other DMs; hit on 8+.
    damage = max(0, dice + (linked - 1) x dice count + Effect - max(0, armour + sand - AP)) x
    mount multiple, where sand armour counts against lasers only. Dice: 2D/3D, then damage dice.
    """
    row = _DIRECT_FIRE.get((weapon, band))
    if row is None:
        err = weapon_reach_error(weapon, band)
        assert err is not None
        raise err
    n, laser, ap = row
    dms = attack_dms(
        weapon,
        gunner_skill,
        dex,
        band,
        fire_control,
        aid_dm,
        evasive_dm,
        other_dm,
        called_shot_dm,
    )
    d6 = dice.d6
    r = d6() + d6() if boon == 0 else roll_2d(dice, boon)
    total = r + sum(dms.values())
    effect = total - TARGET
    multiple = MOUNT_MULTIPLE[mount]
    if not succeeds(r, effect, cfg.natural_auto_results):
        return AttackRoll(weapon, r, dms, boon, total, effect, False, 0, 0, multiple, 0, 0)
    damage_roll = 0
    for _ in range(n):
        damage_roll += d6()
    armour_left = armour + sand_armour - ap if laser else armour - ap
    if armour_left < 0:
        armour_left = 0
    damage = damage_roll + (linked - 1) * n + effect - armour_left
    damage = damage * multiple if damage > 0 else 0
    sev = 0 if effect < 6 or damage <= 0 else critical_severity(damage, effect, ruleset, cfg)
    return AttackRoll(
        weapon, r, dms, boon, total, effect, True, damage_roll, armour_left, multiple, damage, sev
    )


# --- damage pipeline: Hull, attack critical, sustained criticals, recursion (§10.B.3) ---


@dataclass(slots=True)
class HullWork:
    """Mutable scratch copy of what damage touches; `crits` is the Severity per location."""

    hull: int
    hull_max: int
    crits: list[int]
    lost_total: int = 0


class CritRecord(NamedTuple):
    """One critical as applied: where, the Severity before and after, and why it happened.

    A named tuple for the same reason as `AttackRoll` (one per critical on the attack path).
    """

    source: str  # attack | sustained | hull_severity
    location: str
    previous: int
    severity: int
    extra_damage: int = 0


class CritEffects(Protocol):
    """Applies §10.B.4 rows to the ship; returns (Hull damage, Hull-Severity follow-up).

    The follow-up is 0 for none, n > 0 for "Hull Severity +n", -1 for "Hull Severity +1D".
    """

    def apply(
        self, work: HullWork, location: str, previous: int, severity: int, dice: Dice
    ) -> tuple[int, int]:
        """Apply the rows for a location moving from `previous` to `severity`."""
        ...

    def at_maximum(self, work: HullWork, location: str, dice: Dice) -> int:
        """§10.B.3: a critical on a location at Severity 6 does 6D Hull damage instead."""
        ...


_Queue = deque[tuple[str, int, str | None]]


def _lose_hull(
    work: HullWork, amount: int, queue: _Queue, cfg: RulesConfig, counts_sustained: bool
) -> None:
    if amount <= 0:
        return
    before = work.hull_max - work.hull
    work.hull = max(0, work.hull - amount)
    after = work.hull_max - work.hull
    work.lost_total += after - before
    if counts_sustained:
        for _ in range(sustained_count(work.hull_max, before, after, cfg)):
            queue.append(("sustained", 1, None))


def resolve_damage(
    dice: Dice,
    work: HullWork,
    damage: int,
    attack_severity: int,
    called_location: str | None = None,
    cfg: RulesConfig = DEFAULT_CONFIG,
    effects: CritEffects | None = None,
) -> list[CritRecord]:
    """RULES §10.B.3 resolution order (DEFAULT): Hull damage, the attack's critical, then the
    sustained criticals in roll order; Hull damage caused by criticals ignores armour and (by
    DEFAULT) counts toward sustained thresholds, queued after the ones already pending.

    Repeat hits: new Severity = max(new, current + 1), capped at 6; a location already at 6
    takes no more criticals (6D Hull damage instead, an effect). Each queued critical rolls its
    2D location when reached. Without `effects` (the vector op) no effect dice are rolled.
    """
    queue: _Queue = deque()
    if damage > 0:  # `_lose_hull` inlined for the attack's own damage (every hit comes here)
        hull, hull_max = work.hull, work.hull_max
        before = hull_max - hull
        hull = hull - damage if hull > damage else 0
        work.hull = hull
        work.lost_total += hull_max - hull - before
        for _ in range(sustained_count(hull_max, before, hull_max - hull, cfg)):
            queue.append(("sustained", 1, None))
    if attack_severity > 0:
        queue.appendleft(("attack", attack_severity, called_location))
    elif not queue:
        return []
    records: list[CritRecord] = []
    counts = cfg.crit_hull_damage_counts_sustained
    while queue:
        source, sev, loc = queue.popleft()
        if loc is None:
            loc = LOCATION_NAMES[dice.d6() + dice.d6() - 2]
        idx = LOCATION_INDEX[loc]
        current = work.crits[idx]
        if current >= 6:
            extra = effects.at_maximum(work, loc, dice) if effects is not None else 0
            records.append(CritRecord(source, loc, 6, 6, extra))
            _lose_hull(work, extra, queue, cfg, counts)
            continue
        if source == "hull_severity":
            sev = current + (sev if sev > 0 else dice.d6())
        new = min(6, max(sev, current + 1) if current > 0 else sev)
        work.crits[idx] = new
        extra = 0
        if effects is not None:
            extra, follow = effects.apply(work, loc, current, new, dice)
            _lose_hull(work, extra, queue, cfg, counts)
            if follow != 0:
                queue.append(("hull_severity", follow, "hull"))
        records.append(CritRecord(source, loc, current, new, extra))
    return records


# --- range (§5.3) ---


def band_step_cost(a: str, b: str, cfg: RulesConfig = DEFAULT_CONFIG) -> int:
    """§5.3 DEFAULT (#26): moving between neighbouring bands costs the outer band's Thrust."""
    ia, ib = BAND_INDEX[a], BAND_INDEX[b]
    if cfg.range_cost == "from_band":
        return BAND_THRUST[a]
    return BAND_THRUST[BANDS[max(ia, ib)].value]


def advance_range(
    band: str, progress: int, net: int, cfg: RulesConfig = DEFAULT_CONFIG
) -> tuple[str, int]:
    """One round of §5.3 movement for a pair: `net` < 0 closes, > 0 opens; returns (band, progress).

    Progress accumulates toward the next band's cost; reversing the net direction resets it; at
    most one band per round with the excess discarded (DEFAULT). Nothing moves past the ends.
    """
    if net == 0:
        return band, progress
    if cfg.range_reset_on_reverse and progress * net < 0:
        progress = 0
    progress += net
    i = BAND_INDEX[band]
    j = i - 1 if progress < 0 else i + 1
    if j < 0 or j >= len(BANDS):
        return band, 0
    nxt = BANDS[j].value
    cost = band_step_cost(band, nxt, cfg)
    if abs(progress) >= cost:
        left = 0 if cfg.range_discard_excess else (abs(progress) - cost) * (1 if net > 0 else -1)
        return nxt, left
    return band, progress


def range_change(
    start: str, end: str, thrust: int, other_thrust: int = 0, cfg: RulesConfig = DEFAULT_CONFIG
) -> tuple[int, int | None]:
    """The `range_change` vector op: total cost of the bands crossed, and rounds to get there.

    Uses `advance_range` round by round (the battle's own movement); None when net Thrust <= 0.
    """
    i, j = BAND_INDEX[start], BAND_INDEX[end]
    step = 1 if j > i else -1
    cost = sum(
        band_step_cost(BANDS[k].value, BANDS[k + step].value, cfg) for k in range(i, j, step)
    )
    net = thrust + other_thrust
    if net <= 0:
        return cost, None  # Part A: null when net <= 0, also for a move within one band
    if i == j:
        return 0, 0
    band, progress, rounds = start, 0, 0
    while band != end:
        band, progress = advance_range(band, progress, net * step, cfg)
        rounds += 1
    return cost, rounds


# --- reactions and other checks ---


@dataclass(frozen=True, slots=True)
class PointDefenceResult:
    """§11.B point defence: the check and how many missiles it removed."""

    check: CheckResult
    removed: int
    remaining: int


def point_defence(
    dice: Dice,
    gunner_skill: int | None,
    dex: int,
    mount: str,
    salvo: int,
    cfg: RulesConfig = DEFAULT_CONFIG,
    dm: int = 0,
) -> PointDefenceResult:
    """§11.B: Gunner check + mount DM (double +1, triple +2; no laser or Fire Control DMs);
    `dm`: other DMs on the gunner (an extra simultaneous task, §1.5).

    Part A: a success removes max(1, Effect) missiles, never more than the salvo.
    """
    c = check(
        dice,
        gunner_skill,
        dex,
        dm=MOUNT_PD_DM.get(mount, 0) + dm,
        auto_results=cfg.natural_auto_results,
    )
    removed = 0
    if c.success:
        removed = max(1, c.effect) if cfg.point_defence_min_one else c.effect
        removed = min(salvo, removed)
    return PointDefenceResult(c, removed, salvo - removed)


def sand(
    dice: Dice,
    gunner_skill: int | None,
    dex: int,
    cfg: RulesConfig = DEFAULT_CONFIG,
    dm: int = 0,
) -> tuple[CheckResult, int]:
    """§11.B Disperse Sand: on success armour +1D + Effect against that laser attack."""
    c = check(dice, gunner_skill, dex, dm=dm, auto_results=cfg.natural_auto_results)
    if not c.success:
        return c, 0
    return c, dice.d6() + c.effect


def repair_check(
    dice: Dice,
    engineer_skill: int | None,
    characteristic: int,
    severity: int,
    consecutive_rounds: int,
    cfg: RulesConfig = DEFAULT_CONFIG,
    dm: int = 0,
) -> CheckResult:
    """§12.B: Engineer check, DM -Severity, +1 per consecutive round already spent on it."""
    return check(
        dice,
        engineer_skill,
        characteristic,
        dm=consecutive_rounds - severity + dm,
        auto_results=cfg.natural_auto_results,
    )


def aid_gunners(
    dice: Dice, pilot_skill: int | None, dex: int, dm: int = 0, cfg: RulesConfig = DEFAULT_CONFIG
) -> tuple[CheckResult, int]:
    """§3.B Aid Gunners: a Pilot check whose Effect gives the task-chain DM (§1.5).

    `dm` carries M-Drive damage ("control checks -n", §10.B.4).
    """
    c = check(dice, pilot_skill, dex, dm=dm, auto_results=cfg.natural_auto_results)
    return c, task_chain_dm(c.effect)


def smart_dm(missile_tl: int, target_tl: int, band: str, cfg: RulesConfig = DEFAULT_CONFIG) -> int:
    """§8.B Smart: DM = TL difference, minimum +1, maximum +6; lost at Adjacent or Close."""
    if BAND_INDEX[band] <= BAND_INDEX[RangeBand.CLOSE.value]:
        return 0
    return max(cfg.smart_dm_min, min(cfg.smart_dm_max, missile_tl - target_tl))


@dataclass(frozen=True, slots=True)
class SalvoRoll:
    """§9.B salvo attack: one roll without Gunner skill; each surviving missile 4D - armour."""

    roll: int
    dms: dict[str, int]
    total: int
    effect: int
    hit: bool
    damage_rolls: tuple[int, ...]
    damage: int
    severity: int


def resolve_salvo(
    dice: Dice,
    *,
    missiles: int,
    smart: int,
    evasive_dm: int,
    armour: int,
    ruleset: Ruleset = Ruleset.MGT2E_2016,
    cfg: RulesConfig = DEFAULT_CONFIG,
) -> SalvoRoll:
    """§9.B.3 (⚠ DEFAULTS #27): 2D + Smart DM + 1 per missile + defender DMs; on a hit each
    missile does 4D - armour (no mount multiple) and the Effect is added once, to the first."""
    dms = {"smart": smart, "missiles": cfg.salvo_dm_per_missile * missiles, "evasive": evasive_dm}
    r = dice.d6() + dice.d6()
    total = r + sum(dms.values())
    effect = total - TARGET
    if not succeeds(r, effect, cfg.natural_auto_results) or missiles <= 0:
        return SalvoRoll(r, dms, total, effect, False, (), 0, 0)
    rolls: list[int] = []
    damage = 0
    for k in range(missiles):
        d = roll(dice, cfg.missile_damage_dice)
        rolls.append(d)
        bonus = effect if (k == 0 or not cfg.salvo_effect_once) else 0
        damage += max(0, d + bonus - armour)
    return SalvoRoll(
        r,
        dms,
        total,
        effect,
        True,
        tuple(rolls),
        damage,
        critical_severity(damage, effect, ruleset, cfg),
    )
