"""`Scenario`: the body of ``POST /api/battles`` — sides, ships, crews, starting ranges, limits.

Pydantic v2 with cross-field checks as validators, so a bad scenario is refused with a readable
message before a battle starts.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gameserver.rules.config import RulesConfig, Ruleset
from gameserver.rules.errors import RuleViolation
from gameserver.rules.ships import PRESET_RULESET, PRESETS, ShipDesign, preset_profile
from gameserver.rules.tables_mgt2e import RangeBand

ID_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"
CHARACTERISTICS = ("STR", "DEX", "END", "INT", "EDU", "SOC")

# The skill each station uses (RULES §1.4 MgT2e names, lower case, no speciality).
STATION_SKILLS: dict[str, tuple[str, ...]] = {
    "captain": ("leadership", "tactics"),
    "pilot": ("pilot",),
    "engineer": ("engineer",),
    "sensors": ("electronics",),
    "gunner": ("gunner",),
    "navigator": ("astrogation",),
}
# RULES §1.4 CE skill names (lower case, words joined by "_") each station uses.
CE_STATION_SKILLS: dict[str, tuple[str, ...]] = {
    "captain": ("leadership", "tactics"),
    "pilot": ("piloting",),
    "engineer": ("mechanics", "engineering"),
    "sensors": ("comms",),
    "gunner": ("turret_weapons",),
    "navigator": ("navigation",),
}


def station_skills(ruleset: Ruleset) -> dict[str, tuple[str, ...]]:
    """The skill names a ruleset's stations use."""
    return CE_STATION_SKILLS if ruleset is Ruleset.CE else STATION_SKILLS


class CrewQuality(StrEnum):
    """RULES §14.7 default crew skill sets."""

    GREEN = "green"
    REGULAR = "regular"
    VETERAN = "veteran"
    ELITE = "elite"


# §14.7: (skill level, characteristic score)
QUALITY: dict[str, tuple[int, int]] = {
    "green": (0, 7),
    "regular": (1, 8),
    "veteran": (2, 9),
    "elite": (3, 10),
}


class CrewMemberSpec(BaseModel):
    """One crew member at a station: name, characteristics (2-15) and skills (null = none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    characteristics: dict[str, int] = Field(default_factory=dict)
    skills: dict[str, int | None] = Field(default_factory=dict, max_length=40)

    @field_validator("characteristics")
    @classmethod
    def _chars(cls, v: dict[str, int]) -> dict[str, int]:
        for key, score in v.items():
            if key not in CHARACTERISTICS:
                raise ValueError(
                    f"unknown characteristic {key!r}; use {', '.join(CHARACTERISTICS)}"
                )
            if not 0 <= score <= 20:
                raise ValueError(f"characteristic {key} must be 0-20, not {score}")
        return v

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: dict[str, int | None]) -> dict[str, int | None]:
        """Check levels and fold MgT2e specialities into the skill a station uses.

        RULES §1.4 names skills with specialities as a character sheet writes them ("Gunner
        (turret) 3", also "gunner_turret"). The one that applies aboard (Gunner (turret),
        Pilot (spacecraft or small craft), Electronics (sensors), Tactics (naval), any
        Engineer) gives its level; any other speciality of the skill gives level 0 (MgT2e: a
        speciality at 1+ means 0 in the rest). Other names are kept as given (no station
        uses them).
        """
        known = {
            "gunner": ("turret", "ortillery", "screen", "capital"),
            "pilot": ("spacecraft", "smallcraft", "capital", "capitalships"),
            "engineer": ("mdrive", "jdrive", "power", "lifesupport"),
            "electronics": ("sensors", "comms", "computers", "remoteops"),
            "tactics": ("naval", "military"),
        }
        applies = {"turret", "spacecraft", "smallcraft", "mdrive", "jdrive", "power"}
        applies |= {"lifesupport", "sensors", "naval"}
        out: dict[str, int | None] = {}
        for key, level in v.items():
            if level is not None and not 0 <= level <= 6:
                raise ValueError(f"skill {key} must be 0-6 or null, not {level}")
            match = re.fullmatch(r"\s*([a-z]+)\s*(?:\(\s*(.+?)\s*\)|[_ ]+(.+?))\s*", key.lower())
            base = match.group(1) if match else ""
            spec = re.sub(r"[^a-z]", "", (match.group(2) or match.group(3)) if match else "")
            if spec not in known.get(base, ()):
                out[key] = level if out.get(key) is None else max(out[key] or 0, level or 0)
                continue
            got = (level if spec in applies else 0) if level is not None else None
            if got is not None:
                out[base] = max(out.get(base) or 0, got)
        return out


class SideSpec(BaseModel):
    """A side of the battle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=60)


class ShipEntry(BaseModel):
    """A ship in the scenario: a preset id or a custom design, and its crew.

    A preset with a design too is that preset as the battle recorded it (`start_battle` pins
    every preset's figures, so a later change to the presets never alters a recorded battle).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=60)
    side: str
    preset: str | None = None
    design: ShipDesign | None = None
    crew: dict[str, CrewMemberSpec] | None = None
    crew_quality: CrewQuality = CrewQuality.REGULAR
    roll_tactics: bool = Field(
        default=True,
        description="the captain's choice to make the optional Tactics check for initiative",
    )

    @model_validator(mode="after")
    def _one_design(self) -> ShipEntry:
        if self.preset is None and self.design is None:
            raise ValueError(f"ship {self.id!r}: give a 'preset' or a 'design'")
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(
                f"ship {self.id!r}: unknown preset {self.preset!r}; known: {', '.join(PRESETS)}"
            )
        design = self.resolved_design()
        stations = set(design.crewed_stations())
        for station in self.crew or {}:
            if station not in stations:
                raise ValueError(
                    f"ship {self.id!r}: no station {station!r} on this design; "
                    f"stations: {', '.join(sorted(stations))}"
                )
        return self

    def pinned(self) -> ShipEntry:
        """This entry with its preset's current figures recorded beside the name."""
        if self.preset is None or self.design is not None:
            return self
        return self.model_copy(update={"design": PRESETS[self.preset]})

    def resolved_design(self) -> ShipDesign:
        """The design this entry uses."""
        if self.design is not None:
            return self.design
        assert self.preset is not None
        return PRESETS[self.preset]


class PairRange(BaseModel):
    """A starting range band for one pair of ships (overrides `starting_range`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    a: str
    b: str
    band: RangeBand


class Scenario(BaseModel):
    """A battle to start (RULES Part A): ruleset, config overrides, sides, ships, ranges, limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="Skirmish", min_length=1, max_length=80)
    ruleset: Ruleset = Ruleset.MGT2E_2016
    config: dict[str, Any] = Field(default_factory=dict)
    sides: tuple[SideSpec, ...] = Field(min_length=2, max_length=8)
    ships: tuple[ShipEntry, ...] = Field(min_length=2, max_length=24)
    starting_range: RangeBand = RangeBand.LONG
    ranges: tuple[PairRange, ...] = ()
    round_limit: int = Field(default=30, ge=1, le=500)
    jump_limit: Literal["outside", "inside"] = Field(
        default="outside",
        description="whether the battle is outside the 100-diameter limit (jumps allowed)",
    )
    detection: Literal["known", "sensors"] = Field(
        default="known",
        description="§3.B setup: 'known' (every ship has detected every enemy, as before this"
        " field) or 'sensors' (MgT2e: each ship's sensors roll to detect each enemy at the"
        " starting range; a missile launch at Distant needs the target detected, §9.B.2)",
    )

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            RulesConfig.from_dict(v)
        except RuleViolation as exc:
            raise ValueError(exc.message) from None
        return v

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        side_ids = [s.id for s in self.sides]
        if len(set(side_ids)) != len(side_ids):
            raise ValueError("side ids must be unique")
        ship_ids = [s.id for s in self.ships]
        if len(set(ship_ids)) != len(ship_ids):
            raise ValueError("ship ids must be unique")
        family = preset_profile(self.ruleset.value)
        for ship in self.ships:
            if ship.side not in side_ids:
                raise ValueError(f"ship {ship.id!r}: unknown side {ship.side!r}")
            if ship.preset is not None and PRESET_RULESET[ship.preset] != family:
                same = ", ".join(k for k, v in PRESET_RULESET.items() if v == family)
                raise ValueError(
                    f"ship {ship.id!r}: preset {ship.preset!r} is not a {self.ruleset.value}"
                    f" ship; {self.ruleset.value} presets: {same}"
                )
        if self.detection != "known" and self.ruleset.is_ce:
            raise ValueError(
                "detection 'sensors' is a MgT2e rule (§3.B, §9.B.2); CE battles start known"
            )
        with_ships = {s.side for s in self.ships}
        if len(with_ships) < 2:
            raise ValueError("at least two sides need ships")
        for pr in self.ranges:
            for sid in (pr.a, pr.b):
                if sid not in ship_ids:
                    raise ValueError(f"ranges: unknown ship {sid!r}")
            if pr.a == pr.b:
                raise ValueError("ranges: a pair needs two different ships")
        return self

    def rules_config(self) -> RulesConfig:
        """The `RulesConfig` with this scenario's overrides applied."""
        return RulesConfig.from_dict(self.config)
