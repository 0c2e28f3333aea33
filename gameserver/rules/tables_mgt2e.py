"""MgT2e tables (RULES §1, §5, §7.B, §8.B, §9.B, §10.B): facts and figures only, as constants.

Kept per profile so the CE profile can slot in beside it with its own `tables_ce.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class RangeBand(StrEnum):
    """RULES §5.1 range bands, nearest first."""

    ADJACENT = "adjacent"
    CLOSE = "close"
    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"
    VERY_LONG = "very_long"
    DISTANT = "distant"


BANDS: Final[tuple[RangeBand, ...]] = tuple(RangeBand)
BAND_INDEX: Final[dict[str, int]] = {b.value: i for i, b in enumerate(BANDS)}

# §5.1: Thrust to change band (MgT2e) and the attack DM of the band.
BAND_THRUST: Final[dict[str, int]] = {
    "adjacent": 1,
    "close": 1,
    "short": 2,
    "medium": 5,
    "long": 10,
    "very_long": 25,
    "distant": 50,
}
BAND_DM: Final[dict[str, int]] = {
    "adjacent": 0,
    "close": 0,
    "short": 1,
    "medium": 0,
    "long": -2,
    "very_long": -4,
    "distant": -6,
}


class WeaponKind(StrEnum):
    """RULES §8.B turret weapons (names as in the vector format)."""

    PULSE_LASER = "pulse_laser"
    BEAM_LASER = "beam_laser"
    PARTICLE_BEAM = "particle_beam"
    RAILGUN = "railgun"
    PLASMA_GUN = "plasma_gun"
    FUSION_GUN = "fusion_gun"
    LASER_DRILL = "laser_drill"
    MISSILE_RACK = "missile_rack"
    SANDCASTER = "sandcaster"


@dataclass(frozen=True, slots=True)
class WeaponStats:
    """One row of §8.B: max band, damage dice, attack DM, AP, power and traits."""

    kind: WeaponKind
    tl: int
    max_range: RangeBand | None  # None: special (missiles, sand)
    damage_dice: int
    attack_dm: int
    ap: int
    power: int
    laser: bool
    radiation: bool
    direct_fire: bool


WEAPONS: Final[dict[str, WeaponStats]] = {
    w.kind.value: w
    for w in (
        WeaponStats(WeaponKind.BEAM_LASER, 10, RangeBand.MEDIUM, 1, 4, 0, 4, True, False, True),
        WeaponStats(WeaponKind.PULSE_LASER, 9, RangeBand.LONG, 2, 2, 0, 4, True, False, True),
        WeaponStats(
            WeaponKind.PARTICLE_BEAM, 12, RangeBand.VERY_LONG, 3, 0, 0, 8, False, True, True
        ),
        WeaponStats(WeaponKind.RAILGUN, 10, RangeBand.SHORT, 2, 0, 4, 2, False, False, True),
        WeaponStats(WeaponKind.FUSION_GUN, 14, RangeBand.MEDIUM, 4, 0, 0, 12, False, True, True),
        WeaponStats(WeaponKind.PLASMA_GUN, 11, RangeBand.MEDIUM, 3, 0, 0, 6, False, False, True),
        WeaponStats(WeaponKind.LASER_DRILL, 8, RangeBand.ADJACENT, 2, 0, 4, 4, True, False, True),
        WeaponStats(WeaponKind.MISSILE_RACK, 7, None, 4, 0, 0, 0, False, False, False),
        WeaponStats(WeaponKind.SANDCASTER, 9, None, 0, 0, 0, 0, False, False, False),
    )
}


class Mount(StrEnum):
    """RULES Part A mounts; the damage multiple applies after armour, never to missiles."""

    FIXED = "fixed"
    SINGLE = "single"
    DOUBLE = "double"
    TRIPLE = "triple"
    BARBETTE = "barbette"
    SMALL_BAY = "small_bay"
    MEDIUM_BAY = "medium_bay"
    LARGE_BAY = "large_bay"


MOUNT_MULTIPLE: Final[dict[str, int]] = {
    "fixed": 1,
    "single": 1,
    "double": 1,
    "triple": 1,
    "barbette": 3,
    "small_bay": 10,
    "medium_bay": 20,
    "large_bay": 100,
}
MOUNT_CAPACITY: Final[dict[str, int]] = {
    "fixed": 1,
    "single": 1,
    "double": 2,
    "triple": 3,
    "barbette": 1,
    "small_bay": 1,
    "medium_bay": 1,
    "large_bay": 1,
}
# §11.B point defence: double turret +1, triple +2.
MOUNT_PD_DM: Final[dict[str, int]] = {"double": 1, "triple": 2}
TURRET_MOUNTS: Final[frozenset[str]] = frozenset({"fixed", "single", "double", "triple"})
# §8.B mount power: a turret draws 1 Power besides its weapons; a fixed mount none. RULES gives
# no figure for barbettes and bays: the engine charges their weapons' power only.
MOUNT_POWER: Final[dict[str, int]] = {"single": 1, "double": 1, "triple": 1}
# The power budget's other loads (High Guard design figures; RULES §2 lists `power` without
# them): basic systems (life support, bridge, sensors) draw 20% of the hull's tonnage, the
# M-Drive 10% of the tonnage per point of Thrust. Percentages, rounded up, at least 1.
BASIC_POWER_PCT: Final[int] = 20
DRIVE_POWER_PCT: Final[int] = 10


class Location(StrEnum):
    """RULES §10.B.3 critical locations, in 2D order 2..12."""

    SENSORS = "sensors"
    POWER_PLANT = "power_plant"
    FUEL = "fuel"
    WEAPON = "weapon"
    ARMOUR = "armour"
    HULL = "hull"
    M_DRIVE = "m_drive"
    CARGO = "cargo"
    J_DRIVE = "j_drive"
    CREW = "crew"
    COMPUTER = "computer"


LOCATIONS: Final[tuple[Location, ...]] = tuple(Location)
LOCATION_INDEX: Final[dict[str, int]] = {loc.value: i for i, loc in enumerate(LOCATIONS)}
# The location names in the same order (a plain str per 2D total, no enum `.value` per lookup).
LOCATION_NAMES: Final[tuple[str, ...]] = tuple(loc.value for loc in LOCATIONS)


class SensorGrade(StrEnum):
    """HG sensor grades (§8.B); the DM applies to sensor checks, not to attacks."""

    BASIC = "basic"
    CIVILIAN = "civilian"
    MILITARY = "military"
    IMPROVED = "improved"
    ADVANCED = "advanced"


SENSOR_DM: Final[dict[str, int]] = {
    "basic": -4,
    "civilian": -2,
    "military": 0,
    "improved": 1,
    "advanced": 2,
}

# §10.B.4 Sensors row: "inoperative beyond" band by Severity (2..5); 6 = disabled.
SENSOR_CAP: Final[dict[int, RangeBand]] = {
    2: RangeBand.MEDIUM,
    3: RangeBand.SHORT,
    4: RangeBand.CLOSE,
    5: RangeBand.ADJACENT,
    6: RangeBand.ADJACENT,
}

# §1.5 task chain: Effect of the first check -> DM to the next.


def task_chain_dm(effect: int) -> int:
    """RULES §1.5 task chain (MgT2e): the DM the next check gets from this Effect."""
    if effect <= -6:
        return -3
    if effect <= -2:
        return -2
    if effect == -1:
        return -1
    if effect == 0:
        return 1
    if effect <= 5:
        return 2
    return 3


# §1.3 MgT2e characteristic DMs.


def characteristic_dm(score: int) -> int:
    """RULES §1.3 MgT2e column: 0 -> -3, 1-2 -> -2, 3-5 -> -1, 6-8 -> 0, ..., 15+ -> +3 (cap)."""
    if score <= 0:
        return -3
    if score <= 2:
        return -2
    if score <= 5:
        return -1
    if score <= 8:
        return 0
    if score <= 11:
        return 1
    if score <= 14:
        return 2
    return 3


UNSKILLED_DM: Final[int] = -3
