"""Cepheus Engine tables (RULES §1, §4.A, §5.2, §7.A, §8.A, §9.A, §10.A, §12.A, §13.4).

Constants only, beside `tables_mgt2e.py`: a profile is its tables plus a few rule functions
(`resolution_ce.py`). The figures are derived from the Cepheus Engine System Reference Document,
Open Game Content under the OGL 1.0a (see LICENSE-OGL and its Section 15).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gameserver.rules.tables_mgt2e import BAND_INDEX, BANDS, RangeBand

__all__ = ["BANDS", "BAND_INDEX", "RangeBand"]

TARGET: Final = 8  # §1.2: every CE check is against 8+; difficulty is a DM.
UNSKILLED_DM: Final = -3  # §1.4

# §1.2 difficulty DMs.
DIFFICULTY_DM: Final[dict[str, int]] = {
    "simple": 6,
    "easy": 4,
    "routine": 2,
    "average": 0,
    "difficult": -2,
    "very_difficult": -4,
    "formidable": -6,
}


def characteristic_dm(score: int) -> int:
    """§1.3 CE column: floor(score / 3) - 2, no cap (0-2 give -2)."""
    return score // 3 - 2


# §4.A.3: reactions per turn by the current initiative (upper bound of each row).
REACTION_ROWS: Final[tuple[tuple[int, int], ...]] = ((4, 1), (8, 2), (12, 3))
REACTIONS_MAX: Final = 4


@dataclass(frozen=True, slots=True)
class CeWeapon:
    """One `attack` weapon of §7.A.2 / §8.A: mount kind, damage dice and DM per band."""

    name: str
    bay: bool
    damage_dice: int  # 0: the sandcaster's 1 point
    band_dm: tuple[int | None, ...]  # None: cannot fire at that band
    laser: bool = False
    radiation: bool = False
    meson: bool = False

    @property
    def beam(self) -> bool:
        """A7: every direct-fire weapon but the sandcaster is a beam (Fire Sand, reactions)."""
        return self.name != "sandcaster"


_N = None
WEAPONS: Final[dict[str, CeWeapon]] = {
    w.name: w
    for w in (
        CeWeapon("pulse_laser", False, 2, (-2, -2, 0, -2, -2, -4, _N), laser=True),
        CeWeapon("beam_laser", False, 1, (-2, -2, -2, 0, -2, -2, -2), laser=True),
        CeWeapon("particle_beam", False, 3, (-4, -2, -2, -2, 0, -2, -2), radiation=True),
        CeWeapon("particle_beam_bay", True, 6, (-4, -2, -2, -2, 0, -2, -2), radiation=True),
        CeWeapon("fusion_bay", True, 5, (-2, -2, -2, 0, -2, -2, -2), radiation=True),
        CeWeapon("meson_bay", True, 5, (-4, -4, -2, -2, 0, -2, -2), radiation=True, meson=True),
        CeWeapon("sandcaster", False, 0, (2, 0, -2, _N, _N, _N, _N)),
    )
}
PULSE_PENALTY: Final = -2  # §8.A: pulse lasers take -2 on all attack rolls (#2).
LAUNCHERS: Final[dict[str, int]] = {"missile_rack": 1, "missile_bank": 12}  # missiles per launch
POINT_DEFENCE_WEAPONS: Final = frozenset({"pulse_laser", "beam_laser"})

# §8.A missiles: damage dice; nuclear adds a radiation hit.
MISSILE_DICE: Final[dict[str, int]] = {"standard": 1, "smart": 1, "nuclear": 2}
# §9.A.3: turns to impact by the band at launch (None: cannot launch).
MISSILE_FLIGHT: Final[dict[str, int | None]] = {
    "adjacent": None,
    "close": None,
    "short": 1,
    "medium": 1,
    "long": 1,
    "very_long": 2,
    "distant": 2,
}
MISSILE_LAST_TURN: Final = 4  # #17: a missile acts on turns L+1 ... L+4, then it is inert.
RACK_LOAD: Final = 12  # §8.A DEFAULT ready load of a missile rack
SAND_LOAD: Final = 20  # §8.A DEFAULT ready load of a sandcaster
SCREEN_MATCH: Final[dict[str, str]] = {"meson_screen": "meson_bay", "nuclear_damper": "nuclear"}


def missile_to_hit(effect: int) -> int:
    """§9.A.2: the launch Effect sets the missile's to-hit number."""
    if effect <= -6:
        return 11
    if effect < 0:
        return 10
    if effect == 0:
        return 8
    if effect < 6:
        return 7
    return 6


# §10.A.3 with #3 and #4: damage rows (upper bound, groups in the row's written order, A3).
HIT_ROWS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (4, ("single",)),
    (8, ("single", "single")),
    (12, ("double",)),
    (16, ("single", "single", "single")),
    (20, ("single", "single", "double")),
    (24, ("double", "double")),
    (28, ("triple",)),
    (32, ("triple", "single")),
    (36, ("triple", "double")),
    (40, ("triple", "double", "single")),
    (44, ("triple", "triple")),
)
GROUP_HITS: Final[dict[str, int]] = {"single": 1, "double": 2, "triple": 3}

SYSTEMS: Final[tuple[str, ...]] = (
    "sensors",
    "m_drive",
    "j_drive",
    "power_plant",
    "bridge",
    "fuel",
    "hold",
    "turret",
    "bay",
)
LOCATIONS: Final[tuple[str, ...]] = (*SYSTEMS, "hull", "structure", "armour", "crew")
COLUMNS: Final[tuple[str, ...]] = ("external", "internal", "small_craft")

# §10.A.4: location by 2D (index 0 = roll 2).
LOCATION_TABLE: Final[dict[str, tuple[str, ...]]] = {
    "external": (
        "hull",
        "sensors",
        "m_drive",
        "turret",
        "hull",
        "armour",
        "hull",
        "fuel",
        "m_drive",
        "sensors",
        "hull",
    ),
    "internal": (
        "structure",
        "power_plant",
        "j_drive",
        "bay",
        "structure",
        "crew",
        "structure",
        "hold",
        "j_drive",
        "power_plant",
        "bridge",
    ),
    "small_craft": (
        "hull",
        "power_plant",
        "hold",
        "fuel",
        "hull",
        "armour",
        "hull",
        "turret",
        "m_drive",
        "crew",
        "bridge",
    ),
}
# §10.A.5 "later hits become": where a hit on a destroyed (3-hit) system goes.
LATER_HITS: Final[dict[str, str]] = {
    "turret": "hull",
    "m_drive": "hull",
    "sensors": "hull",
    "bay": "structure",
    "j_drive": "structure",
    "power_plant": "structure",
    "bridge": "structure",
    "fuel": "structure",
    "hold": "structure",
}
SMALL_CRAFT_TONS: Final = 100  # §10.A.4: below this the Small Craft column


def crew_damage(total: int) -> str:
    """§10.A.6 Crew Damage results (both columns read the same rows)."""
    if total <= 4:
        return "none"
    if total <= 8:
        return "one_2d"
    if total <= 10:
        return "one_4d"
    if total == 11:
        return "all_2d"
    return "all_4d"


# §12.A: hits repaired by the Effect of the repair check.
def repairs_for(effect: int) -> int:
    """§12.A table: <0 none, 0 one, 1-5 two, 6+ three."""
    if effect < 0:
        return 0
    if effect == 0:
        return 1
    if effect < 6:
        return 2
    return 3


UNREPAIRABLE: Final = frozenset({"hull", "structure", "armour", "crew"})  # #21

# §5.2 Avoid Collision hazards.
HAZARD_DM: Final[dict[str, int]] = {
    "traffic": 0,
    "debris": 0,
    "light_asteroids": -2,
    "average_asteroids": -4,
    "heavy_asteroids": -6,
}
PURSUIT_MAX_DM: Final = 4  # §5.2: +1 per pursued turn after the first, max +4
