"""Ships as data: `ShipDesign` (pydantic, JSON in/out), MgT2e presets and the preset catalogue.

Preset figures follow RULES Part A: the "pub" MgT2e figures of §14 where given (Scout, Free
Trader, Far Trader, Patrol Corvette); otherwise the CE design converted (Hull = 0.4 x tons, CE
armour, thrust and weapons with MgT2e weapon stats): Corsair, System Defence Boat, Fighter.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gameserver.rules.tables_mgt2e import (
    MOUNT_CAPACITY,
    TURRET_MOUNTS,
    Mount,
    SensorGrade,
    WeaponKind,
)

CrewStation = Literal["captain", "pilot", "engineer", "sensors", "navigator"]


MAX_TURRETS = 8
"""Turrets, barbettes, bays and fixed mounts per ship (each is a gunner station)."""


class TurretSpec(BaseModel):
    """A turret, barbette, bay or fixed mount and the weapons in it (RULES §8.B)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mount: Mount
    weapons: tuple[WeaponKind, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _fits(self) -> TurretSpec:
        cap = MOUNT_CAPACITY[self.mount.value]
        if len(self.weapons) > cap:
            raise ValueError(f"a {self.mount.value} mount holds at most {cap} weapon(s)")
        if self.mount.value not in TURRET_MOUNTS and self.weapons[0] == WeaponKind.SANDCASTER:
            raise ValueError("sandcasters go in turrets, not barbettes or bays")
        return self


class ShipDesign(BaseModel):
    """A ship's MgT2e statistics (RULES §2, §10.B.1): what a scenario or preset provides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    tons: int = Field(ge=1, le=1_000_000)
    tl: int = Field(default=12, ge=0, le=25)
    hull: int | None = Field(
        default=None,
        ge=1,
        le=400_000,
        description="default: 0.4 x tons (MgT2e §10.B.1); CE: tons / 50 (§10.A.2)",
    )
    structure: int | None = Field(
        default=None, ge=1, le=20_000, description="CE only; default: tons / 50, at least 1"
    )
    stealth: bool = Field(default=False, description="CE stealth coating (-4 to lock on)")
    armour: int = Field(default=0, ge=0, le=50)
    thrust: int = Field(default=1, ge=0, le=15)
    jump: int = Field(default=0, ge=0, le=9)
    power: int = Field(default=0, ge=0, le=1_000_000)
    computer: int = Field(default=5, ge=0, le=50, description="computer rating")
    fire_control: int = Field(default=0, ge=0, le=5, description="Fire Control/n software")
    sensors: SensorGrade = SensorGrade.CIVILIAN
    # Bounded: every turret is a gunner station the server walks on each request.
    turrets: tuple[TurretSpec, ...] = Field(default=(), max_length=MAX_TURRETS)
    missile_reserve: int = Field(
        default=0, ge=0, le=10_000, description="missiles in stores for reloads"
    )
    sand_reserve: int = Field(default=0, ge=0, le=10_000, description="sand canisters in stores")
    missile: Literal["standard", "smart", "nuclear"] = Field(
        default="smart", description="CE: the missile the racks carry (§8.A)"
    )
    screens: tuple[Literal["meson_screen", "nuclear_damper"], ...] = Field(
        default=(), max_length=8, description="CE screens, each in a bay (§8.A, §11.A)"
    )
    stations: tuple[CrewStation, ...] = Field(
        default=("captain", "pilot", "engineer", "sensors"), max_length=12
    )
    held_by: dict[str, str] = Field(
        default_factory=dict,
        description="stations one person holds besides their own: station -> holder's station"
        ' (e.g. {"gunner:0": "pilot"}: the pilot fires the gun)',
    )
    cargo: int = Field(default=0, ge=0, le=1_000_000)
    fuel: int = Field(default=0, ge=0, le=1_000_000)

    @property
    def hull_points(self) -> int:
        """§10.B.1: Hull = tons x 0.4 unless the design gives it."""
        return self.hull if self.hull is not None else max(1, (self.tons * 2) // 5)

    def station_ids(self) -> tuple[str, ...]:
        """Every crew station: the listed ones plus one gunner per turret ("gunner:<index>")."""
        return tuple(self.stations) + tuple(f"gunner:{i}" for i in range(len(self.turrets)))

    @model_validator(mode="after")
    def _stations_unique(self) -> ShipDesign:
        if len(set(self.stations)) != len(self.stations):
            raise ValueError("stations must not repeat")
        ids = self.station_ids()
        for station, holder in self.held_by.items():
            if station not in ids or holder not in ids or holder in self.held_by:
                raise ValueError(
                    f"held_by: {station!r} -> {holder!r} must map a station to another"
                    f" crewed station; stations: {', '.join(ids)}"
                )
            if station == holder:
                raise ValueError(f"held_by: {station!r} cannot hold itself")
        return self

    def crewed_stations(self) -> tuple[str, ...]:
        """The stations with a person of their own (the rest are held by one of them)."""
        return tuple(s for s in self.station_ids() if s not in self.held_by)


def _t(mount: str, *weapons: str) -> TurretSpec:
    return TurretSpec(mount=Mount(mount), weapons=tuple(WeaponKind(w) for w in weapons))


_PRESETS: dict[str, ShipDesign] = {
    # §14.2 pub: Type S Scout, Hull 40, Armour 4, Thrust 2, Jump 2, military sensors; the
    # double turret fit varies by printing: engine fit pulse laser + sandcaster. Printed crew:
    # pilot, astrogator (at the sensors in combat), engineer, and a gunner when armed (CE).
    "scout": ShipDesign(
        name="Scout/Courier",
        tons=100,
        tl=12,
        hull=40,
        armour=4,
        thrust=2,
        jump=2,
        power=60,
        computer=5,
        fire_control=0,
        sensors=SensorGrade.MILITARY,
        turrets=(_t("double", "pulse_laser", "sandcaster"),),
        sand_reserve=20,
        stations=("pilot", "sensors", "engineer"),
        cargo=12,
        fuel=23,
    ),
    # §14.1 pub: Type A Free Trader, Hull 80, Armour 2, Thrust 1; engine "armed" variant:
    # two double turrets (beam laser + sandcaster), Fire Control/1.
    "free_trader": ShipDesign(
        name="Free Trader",
        tons=200,
        tl=12,
        hull=80,
        armour=2,
        thrust=1,
        jump=1,
        power=60,
        computer=5,
        fire_control=1,
        sensors=SensorGrade.CIVILIAN,
        turrets=(
            _t("double", "beam_laser", "sandcaster"),
            _t("double", "beam_laser", "sandcaster"),
        ),
        sand_reserve=40,
        cargo=82,
        fuel=41,
    ),
    # §14.4 pub: Type A2 Far Trader, Hull 80, Armour 2, Thrust 1, Jump 2, two double turrets
    # of beam lasers.
    "far_trader": ShipDesign(
        name="Far Trader",
        tons=200,
        tl=12,
        hull=80,
        armour=2,
        thrust=1,
        jump=2,
        power=65,
        computer=5,
        fire_control=1,
        sensors=SensorGrade.CIVILIAN,
        turrets=(
            _t("double", "beam_laser", "beam_laser"),
            _t("double", "beam_laser", "beam_laser"),
        ),
        cargo=64,
        fuel=61,
    ),
    # §14.3 / Part A: Type T Patrol Corvette, 400 t, Hull 160, Armour 4, Thrust 4, Jump 3;
    # weapons from the CE Patrol Frigate: 2 triple missile turrets + 1 triple beam laser,
    # Fire Control/2, improved sensors (+1).
    "patrol_corvette": ShipDesign(
        name="Patrol Corvette",
        tons=400,
        tl=12,
        hull=160,
        armour=4,
        thrust=4,
        jump=3,
        power=195,
        computer=15,
        fire_control=2,
        sensors=SensorGrade.IMPROVED,
        turrets=(
            _t("triple", "missile_rack", "missile_rack", "missile_rack"),
            _t("triple", "missile_rack", "missile_rack", "missile_rack"),
            _t("triple", "beam_laser", "beam_laser", "beam_laser"),
        ),
        missile_reserve=48,
        cargo=23,
        fuel=124,
    ),
    # §14.5 conv: CE Raider with errata, 600 t -> Hull 240, armour 8, Thrust 4, 6 triple beam
    # laser turrets, civilian sensors.
    "corsair": ShipDesign(
        name="Corsair",
        tons=600,
        tl=9,
        hull=240,
        armour=8,
        thrust=4,
        jump=1,
        power=270,
        computer=10,
        fire_control=0,
        sensors=SensorGrade.CIVILIAN,
        turrets=tuple(_t("triple", "beam_laser", "beam_laser", "beam_laser") for _ in range(6)),
        cargo=125,
        fuel=108,
    ),
    # §14.6 conv: CE System Defense Boat, 400 t -> Hull 160, armour 8, Thrust 6, no jump,
    # 2 triple missile turrets (360 smart missiles in all) + 2 triple beam laser turrets.
    "system_defence_boat": ShipDesign(
        name="System Defence Boat",
        tons=400,
        tl=12,
        hull=160,
        armour=8,
        thrust=6,
        jump=0,
        power=250,
        computer=10,
        fire_control=0,
        sensors=SensorGrade.CIVILIAN,
        turrets=(
            _t("triple", "missile_rack", "missile_rack", "missile_rack"),
            _t("triple", "missile_rack", "missile_rack", "missile_rack"),
            _t("triple", "beam_laser", "beam_laser", "beam_laser"),
            _t("triple", "beam_laser", "beam_laser", "beam_laser"),
        ),
        missile_reserve=288,
        fuel=20,
    ),
    # §14.6 conv: CE Fighter, 10 t -> Hull 4, no armour, Thrust 6, basic sensors (-4), fixed
    # single pulse laser; crew 1 (the pilot also fires the gun).
    "fighter": ShipDesign(
        name="Fighter",
        tons=10,
        tl=12,
        hull=4,
        armour=0,
        thrust=6,
        jump=0,
        power=5,
        computer=5,
        fire_control=0,
        sensors=SensorGrade.BASIC,
        turrets=(_t("fixed", "pulse_laser"),),
        stations=("pilot",),
        held_by={"gunner:0": "pilot"},
        fuel=1,
    ),
}


def _ce(
    name: str,
    tons: int,
    tl: int,
    armour: int,
    thrust: int,
    jump: int,
    computer: int,
    sensors: SensorGrade,
    turrets: tuple[tuple[int, str, str], ...],
    stations: tuple[CrewStation, ...],
    **other: Any,
) -> ShipDesign:
    """One row of `_CE_PRESETS`: the figures every CE block gives, in the table's column order;
    turrets as (how many, mount, "weapon weapon ..."), in order; anything else by name."""
    return ShipDesign(
        name=name,
        tons=tons,
        tl=tl,
        armour=armour,
        thrust=thrust,
        jump=jump,
        computer=computer,
        sensors=sensors,
        turrets=tuple(_t(mount, *guns.split()) for n, mount, guns in turrets for _ in range(n)),
        stations=stations,
        **other,
    )


_BASIC, _CIVILIAN, _IMPROVED = SensorGrade.BASIC, SensorGrade.CIVILIAN, SensorGrade.IMPROVED
_CPNE: tuple[CrewStation, ...] = ("captain", "pilot", "navigator", "engineer")
_PNE: tuple[CrewStation, ...] = ("pilot", "navigator", "engineer")

# RULES §14 CE blocks (Cepheus Engine SRD "Common Vessels", Open Game Content), with the
# engine's armed variants where the SRD ship is unarmed, and the Raider's errata (#6). Hull and
# Structure come from the tonnage (§10.A.2); sensors map Standard -4 to basic, Basic Civilian -2
# to civilian and Advanced +1 to improved. Crew stations: the SRD crew that fights (marines,
# stewards and fighter pilots are not stations).
# fmt: off
_CE_PRESETS: dict[str, ShipDesign] = {
    #                     name                tons  TL arm thr jmp cpu sensors
    #                     turrets: (how many, mount, weapons), stations, the rest
    # §14.1: 200 t, TS 2, Thrust 1, Jump 1, Model 2 + Fire Control/1 (armed variant), two
    # double turrets of beam laser + sandcaster; crew pilot, navigator, engineer, 2 gunners.
    "merchant_trader": _ce("Merchant Trader",     200,  9,  2,  1,  1, 10, _CIVILIAN,
                           ((2, "double", "beam_laser sandcaster"),), _PNE,
                           fire_control=1, sand_reserve=0, cargo=85, fuel=24),
    # §14.2: 100 t, TS 2, Thrust 4, Jump 2; armed variant: a double turret of pulse laser +
    # sandcaster; crew pilot, navigator, engineer + 1 gunner.
    "courier": _ce("Courier",                     100,  9,  2,  4,  2, 10, _CIVILIAN,
                   ((1, "double", "pulse_laser sandcaster"),), _PNE,
                   cargo=16, fuel=28),
    # §14.3: 300 t, Crystaliron 8 + stealth, Thrust 4, Jump 2, Model 3/fib + Fire Control/2,
    # Advanced sensors +1; two triple missile turrets (120 smart missiles) and a triple beam
    # laser turret; crew CO, pilot, navigator, engineer (2), 3 gunners.
    "patrol_frigate": _ce("Patrol Frigate",       300, 11,  8,  4,  2, 15, _IMPROVED,
                          ((2, "triple", "missile_rack missile_rack missile_rack"),
                           (1, "triple", "beam_laser beam_laser beam_laser")), _CPNE,
                          stealth=True, fire_control=2, missile_reserve=48, cargo=23),
    # §14.4: 300 t, TS 2, Thrust 2, Jump 1; two triple pulse-laser turrets and a triple
    # sandcaster turret (100 canisters); crew pilot, navigator, engineer, 3 gunners.
    "frontier_trader": _ce("Frontier Trader",     300,  9,  2,  2,  1, 10, _CIVILIAN,
                           ((2, "triple", "pulse_laser pulse_laser pulse_laser"),
                            (1, "triple", "sandcaster sandcaster sandcaster")), _PNE,
                           sand_reserve=40, cargo=75, fuel=42),
    # §14.5 with errata (#6): 600 t, Hull 12, Structure 12, six hardpoints; TS 8, Thrust 4,
    # Jump 1; six triple beam-laser turrets; crew CO, pilot, navigator, engineers, 6 gunners.
    "raider": _ce("Raider",                       600,  9,  8,  4,  1, 10, _CIVILIAN,
                  ((6, "triple", "beam_laser beam_laser beam_laser"),), _CPNE,
                  cargo=125, fuel=108),
    # §14.6: 400 t, no jump, Thrust 6, TS 8; two triple missile turrets (360 smart missiles)
    # and two triple beam-laser turrets; crew CO, pilot, engineers, 4 gunners.
    "system_defense_boat": _ce("System Defense Boat", 400, 12, 8, 6, 0, 10, _CIVILIAN,
                               ((2, "triple", "missile_rack missile_rack missile_rack"),
                                (2, "triple", "beam_laser beam_laser beam_laser")),
                               ("captain", "pilot", "engineer"),
                               missile_reserve=288, fuel=20),
    # §14.6: 10 t, Hull 0, Structure 1, Thrust 6, no armour, Standard sensors -4, a fixed
    # pulse laser; crew 1 (the pilot fires it). Small-craft column.
    "ce_fighter": _ce("Fighter",                   10,  9,  0,  6,  0,  5, _BASIC,
                      ((1, "fixed", "pulse_laser"),), ("pilot",),
                      held_by={"gunner:0": "pilot"}, fuel=1),
}
# fmt: on

# The profile each preset belongs to (a scenario may use only its own ruleset's presets).
PRESET_RULESET: Mapping[str, str] = MappingProxyType(
    {k: "MGT2E" for k in _PRESETS} | {k: "CE" for k in _CE_PRESETS}
)
PRESETS: Mapping[str, ShipDesign] = MappingProxyType(_PRESETS | _CE_PRESETS)


def preset_profile(ruleset: str) -> str:
    """The preset family of a ruleset: ``CE`` or ``MGT2E`` (both MgT2e editions)."""
    return "CE" if ruleset == "CE" else "MGT2E"


def preset_catalog() -> list[dict[str, Any]]:
    """JSON-able summary of every preset for ``/api/presets``."""
    out: list[dict[str, Any]] = []
    for pid, d in PRESETS.items():
        out.append(
            {
                "id": pid,
                "ruleset": PRESET_RULESET[pid],
                "name": d.name,
                "tons": d.tons,
                "tl": d.tl,
                "hull": d.hull_points if PRESET_RULESET[pid] != "CE" else d.tons // 50,
                "structure": max(1, d.tons // 50) if PRESET_RULESET[pid] == "CE" else None,
                "armour": d.armour,
                "thrust": d.thrust,
                "jump": d.jump,
                "computer": d.computer,
                "fire_control": d.fire_control,
                "sensors": d.sensors.value,
                "turrets": [
                    {"mount": t.mount.value, "weapons": [w.value for w in t.weapons]}
                    for t in d.turrets
                ],
                "stations": list(d.station_ids()),
                "design": d.model_dump(mode="json"),
            }
        )
    return out
