"""Ship state and what derives from it: steps, stations, the power budget, crew, `ShipState`.

Purely computational. Split from `rules.state` (which re-exports every name here) so the
ship's own rules read apart from the battle's fold and its JSON round trip.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from gameserver.rules.ships import ShipDesign
from gameserver.rules.tables_mgt2e import (
    BAND_INDEX,
    BASIC_POWER_PCT,
    DRIVE_POWER_PCT,
    LOCATION_INDEX,
    MOUNT_POWER,
    SENSOR_CAP,
    SENSOR_DM,
    WEAPONS,
)


class Step(StrEnum):
    """RULES §3.B: the three steps of a MgT2e round (CE: the single ship-turn step, §3.A)."""

    MANOEUVRE = "manoeuvre"
    ATTACK = "attack"
    ACTIONS = "actions"
    # RULES §3.A: a CE turn has one step; each ship's whole crew acts on its turn.
    TURN = "turn"


class Station(StrEnum):
    """Crew stations; a gunner station is per turret, written ``"gunner:<turret index>"``."""

    CAPTAIN = "captain"
    PILOT = "pilot"
    GUNNER = "gunner"
    ENGINEER = "engineer"
    SENSORS = "sensors"
    NAVIGATOR = "navigator"


def station_id(station: Station | str, turret: int | None = None) -> str:
    """The station id used in commands and `awaiting`: ``"pilot"``, ``"gunner:1"``..."""
    base = Station(station).value
    if base == "gunner":
        if turret is None:
            raise ValueError("a gunner station needs a turret index")
        return f"gunner:{turret}"
    return base


class PowerPlan(NamedTuple):
    """Where the Power goes this moment (the MgT2e power budget, `RulesConfig.power_budget`).

    `available` is the plant's output less its critical losses, plus an overload; `need` what
    every system online would draw; `basic` whether the basic systems (sensors among them) run;
    `thrust` the M-Drive's Thrust (0 offline); `turrets` the turrets that have power.
    """

    available: int
    need: int
    basic: bool
    thrust: int
    turrets: frozenset[int]

    @property
    def short(self) -> bool:
        """Some system online goes without power."""
        return self.available < self.need


def basic_power(design: ShipDesign) -> int:
    """Basic systems' draw: 20% of the tonnage (High Guard), at least 1."""
    return max(1, math.ceil(design.tons * BASIC_POWER_PCT / 100))


def drive_power(design: ShipDesign) -> int:
    """The M-Drive's draw per point of Thrust: 10% of the tonnage (High Guard), at least 1."""
    return max(1, math.ceil(design.tons * DRIVE_POWER_PCT / 100))


def turret_power(design: ShipDesign, turret: int, weapons: tuple[str, ...] = ()) -> int:
    """§8.B: a turret's mount power plus its weapons' (destroyed ones draw nothing; `weapons`
    are the turret's statuses, all working when not given)."""
    spec = design.turrets[turret]
    out = MOUNT_POWER.get(spec.mount.value, 0)
    for j, w in enumerate(spec.weapons):
        if not weapons or weapons[j] != "destroyed":
            out += WEAPONS[w.value].power
    return out


def design_power_need(design: ShipDesign) -> int:
    """What every system of an undamaged design draws at once (basic, full Thrust, turrets)."""
    return (
        basic_power(design)
        + drive_power(design) * design.thrust
        + sum(turret_power(design, t) for t in range(len(design.turrets)))
    )


ACTIVE = "active"
WRECKED = "wrecked"
SURRENDERED = "surrendered"
ESCAPED = "escaped"
JUMPED = "jumped"
DESTROYED = "destroyed"  # CE §13.1: Structure 0
DISABLED = "disabled"  # CE §13.1: Power Plant destroyed
CAPTURED = "captured"  # MgT2e §13.4: boarders took control of the ship


@dataclass(frozen=True, slots=True)
class CrewState:
    """A crew member at a station; characteristics are current (damage lowers END, STR, DEX).

    `covers` are further stations the same person holds (a Fighter's pilot fires its gun).
    """

    station: str
    name: str
    chars: Mapping[str, int]
    skills: Mapping[str, int | None]
    covers: tuple[str, ...] = ()

    @property
    def able(self) -> bool:
        """Traveller: two of STR, DEX and END at 0 leave a person unconscious (cannot act)."""
        # Asked for every station on every legality check: plain comparisons, no generator.
        get = self.chars.get
        return (get("STR", 7) <= 0) + (get("DEX", 7) <= 0) + (get("END", 7) <= 0) < 2

    def skill(self, name: str) -> int | None:
        """Skill level, None when the crew member has no such skill (unskilled, DM -3)."""
        return self.skills.get(name)

    def char(self, name: str) -> int:
        """Characteristic score (7 when not given)."""
        return self.chars.get(name, 7)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``covers`` only when the person holds more than one station)."""
        out = {
            "station": self.station,
            "name": self.name,
            "chars": dict(self.chars),
            "skills": dict(self.skills),
        }
        if self.covers:
            out["covers"] = list(self.covers)
        return out

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> CrewState:
        """Inverse of `to_dict`."""
        return CrewState(
            d["station"],
            d["name"],
            dict(d["chars"]),
            dict(d["skills"]),
            tuple(d.get("covers", ())),
        )


_PLANS_MAX = 512
_plans: dict[int, tuple[ShipState, PowerPlan]] = {}
"""`ShipState.power_plan` by ship object id; the entry keeps the ship, so an id is never reused
while it is cached (the oldest entry goes first)."""
_plans_lock = threading.Lock()
"""Held to evict and insert: the server opens battles in executor threads while its loop plays
others, and two threads evicting the same oldest entry raised `KeyError` in a bot's move."""


@dataclass(frozen=True, slots=True)
class ShipState:
    """One ship in the battle: design (static) plus everything combat changes."""

    id: str
    name: str
    side: str
    preset: str | None
    design: ShipDesign
    turret_start: tuple[int, ...]  # flat index of each turret's first weapon (static)
    hull: int
    armour: int
    status: str
    initiative: int
    init_bonus: int
    thrust_pool: int
    crits: tuple[int, ...]
    pp_thrust_loss: int
    md_thrust_loss: int
    power_loss: int
    computer_loss: int
    weapons: tuple[str, ...]  # per weapon: ok | bane | disabled | destroyed
    ammo: tuple[int, ...]
    fired: frozenset[int]
    pd_used: frozenset[int]
    sand_used: frozenset[int]
    missile_reserve: int
    sand_reserve: int
    crew: tuple[CrewState, ...]
    done: frozenset[str]
    aid_dm: int
    sensor_lock: str | None
    repaired: frozenset[str]
    repair_loc: str | None
    repair_count: int
    repair_round: int
    escape_progress: int
    jump_plot_round: int  # round of a successful jump plot; 0 = none (§13.1 (a))
    fuel_lost_pct: int
    cargo_lost_pct: int
    rads: int
    life_support: str | None
    # --- CE (RULES §4.A, §7.A, §10.A); unused under MgT2e ---
    structure: int = 0
    systems: Mapping[str, int] = field(default_factory=dict)  # hits per system, "turret:<i>"
    reactions: int = 0  # reactions left this turn (§4.A.3)
    evasive_dm: int = 0  # Evasive Maneuvers in force against attacks on this ship
    line_up_dm: int = 0  # Line Up The Shot this turn
    targeting: Mapping[str, int] = field(default_factory=dict)  # Sensor Targeting per target
    coordinate: int = 0  # Coordinate Crew points left this turn
    bonus_in_force: int = 0  # last Increase Initiative, in force for this turn only
    # beam hits on this ship waiting for the attacker's crew to finish (§3.A c): each
    # {"attacker", "weapon", "raw", "sand"}
    incoming: tuple[Mapping[str, Any], ...] = ()
    hasty: bool = False  # the captain declared hasty on the ship's last turn (§1.5)
    boarding_dm: int = 0  # +2 on this ship's next boarding roll after a success (§13.4)
    # §3.A Delay: 1 = held its whole turn (acts first next turn), 2 = acting later this turn
    # at another ship's count (an interruption: never simultaneous with that ship)
    delay: int = 0
    # --- MgT2e power budget and engineer actions (§6.B); unused under CE ---
    plant: int = 0  # the plant's full output in Power; 0: no power budget (old battles, CE)
    offline: frozenset[str] = frozenset()  # systems the engineer shed: "m_drive", "turret:<i>"
    overload: frozenset[str] = frozenset()  # overloads in force this round: "drive", "plant"
    overload_next: frozenset[str] = frozenset()  # overloads that take effect next round
    overload_thrust: int = 0  # Thrust an Overload Drive adds (the config's, at the overload)
    overload_power: int = 0  # Power an Overload Plant adds (the config's % of the plant)
    # --- MgT2e fuel (`RulesConfig.fuel_tracking`), in tenths of a ton ---
    fuel_leak: int = 0  # lost at the start of each round (§10.B.4 Fuel rows 1-2)
    fuel_leaked: int = 0  # lost to leaks so far
    # stations at which a person holding several acted with a check this step (MgT2e, §1.5)
    tasks: frozenset[str] = frozenset()
    # enemies this ship's sensors have not detected (§3.B setup with `detection: sensors`)
    undetected: frozenset[str] = frozenset()
    # the round at whose start life support fails (§10.B.4 Crew rows 2 and 4); 0 = none
    life_support_fails: int = 0
    # stations a crew member moved to this round: they act there from the next round (MgT2e)
    moved: frozenset[str] = frozenset()
    # Who runs the ship besides its crew's players (`gm_bot`): a tactic (the server's bot plays
    # it), "off" (taken back from the bot, also from its side's), None: not set.
    bot: str | None = None
    # --- MgT2e docking and boarding (`RulesConfig.boarding`) ---
    docked: str | None = None  # the ship this one is docked with (both ships record it)
    boarded_by: str | None = None  # boarders aboard who take control (§13.4 exceptional)
    boarded_round: int = 0  # the round they came aboard

    # --- derived values (RULES §10.B.4 effects applied to the design) ---

    def sev(self, location: str) -> int:
        """Current Severity at a location; 0 when its effects are suppressed by a repair."""
        if location in self.repaired:
            return 0
        return self.crits[LOCATION_INDEX[location]]

    @property
    def drive_thrust(self) -> int:
        """The M-Drive's Thrust before the power budget: design minus one-shot losses; 0 at
        Power Plant 4+ or M-Drive 5+ (§10.B.4)."""
        if self.sev("power_plant") >= 4 or self.sev("m_drive") >= 5:
            return 0
        loss = 0
        if "power_plant" not in self.repaired:
            loss += self.pp_thrust_loss
        if "m_drive" not in self.repaired:
            loss += self.md_thrust_loss
        return max(0, self.design.thrust - loss)

    @property
    def thrust(self) -> int:
        """Current Thrust: the drive's (0 while the engineer has it offline), plus an Overload
        Drive in force (§6.B)."""
        if not self.plant:
            on = "drive" in self.overload and self.drive_thrust > 0
            return self.drive_thrust + (self.overload_thrust if on else 0)
        plan = self.power_plan
        on = "drive" in self.overload and plan.thrust > 0
        bonus = self.overload_thrust if on else 0
        return plan.thrust + bonus

    @property
    def power_pct(self) -> int:
        """Power left in percent (§10.B.4 Power Plant row)."""
        if self.sev("power_plant") >= 4:
            return 0
        if "power_plant" in self.repaired:
            return 100
        return max(0, 100 - self.power_loss)

    @property
    def power_plan(self) -> PowerPlan:
        """The power budget now (see `PowerPlan`): the plant less its critical losses (plus an
        Overload Plant) powers basic systems, then the M-Drive, then the turrets in order; what
        the engineer took offline draws nothing. The drive is never cut by the budget (the
        critical rows set its Thrust); the shortfall falls on the basic systems (sensors) and
        the turrets. Without a budget everything has power.

        Memoised per ship object (ship states are immutable): one command asked it of the same
        ship five times or more (every ready weapon, the sensors, the Thrust, the lists)."""
        key = id(self)
        hit = _plans.get(key)
        if hit is not None and hit[0] is self:
            return hit[1]
        plan = self._power_plan()
        with _plans_lock:
            while len(_plans) >= _PLANS_MAX:
                del _plans[next(iter(_plans))]
            _plans[key] = (self, plan)
        return plan

    def _power_plan(self) -> PowerPlan:
        design = self.design
        n = len(design.turrets)
        if not self.plant:
            return PowerPlan(0, 0, True, self.drive_thrust, frozenset(range(n)))
        pct = self.power_pct
        available = self.plant * pct // 100
        if pct > 0 and "plant" in self.overload:
            available += self.overload_power
        left = available
        basic = basic_power(design)
        per = drive_power(design)
        want = 0 if "m_drive" in self.offline else self.drive_thrust
        need = basic + per * want
        basic_ok = left >= basic
        # The drive runs at the Thrust the critical rows leave it (§10.B.4 already takes
        # Thrust off for a Power Plant critical): its draw comes before the turrets'.
        left = max(0, left - basic - per * want)
        thrust = want
        turrets: set[int] = set()
        for t in range(n):
            if f"turret:{t}" in self.offline:
                continue
            draw = turret_power(design, t, self.weapons[self.turret_start[t] :])
            need += draw
            if available > 0 and draw <= left:
                turrets.add(t)
                left -= draw
        return PowerPlan(available, need, basic_ok, thrust, frozenset(turrets))

    @property
    def fuel_left(self) -> int:
        """Fuel in the tanks, in tenths of a ton: the design's less the share criticals took
        (§10.B.4 Fuel rows 3+) and what leaked."""
        full = self.design.fuel * 10 * (100 - self.fuel_lost_pct) // 100
        return max(0, full - self.fuel_leaked)

    @property
    def leaking(self) -> int:
        """Tenths of a ton the tanks lose at the next round's start (0 once repaired or dry)."""
        if "fuel" in self.repaired or self.fuel_left <= 0:
            return 0
        return min(self.fuel_leak, self.fuel_left)

    def turret_powered(self, turret: int) -> bool:
        """Whether a turret has power (always without a budget; §8.B, `power_budget`)."""
        return not self.plant or turret in self.power_plan.turrets

    @property
    def fire_control(self) -> int:
        """Fire Control software, limited by computer damage (rating loss; disabled at 5+)."""
        if self.sev("computer") >= 5:
            return 0
        loss = 0 if "computer" in self.repaired else self.computer_loss
        return max(0, self.design.fire_control - loss)

    @property
    def sensor_cap(self) -> str | None:
        """Farthest band the sensors work at (§10.B.4 Sensors row), None when undamaged."""
        s = self.sev("sensors")
        return SENSOR_CAP[s].value if s >= 2 else None

    @property
    def sensor_dm(self) -> int:
        """DM to sensor checks: the grade, -2 for a Severity-1 sensor or computer critical.

        §10.B.4 (row_only DEFAULT): stateful DMs are replaced by the row the location has
        reached, so the "checks -2" of row 1 gives way to row 2+ (range caps, rating loss).
        """
        dm = SENSOR_DM[self.design.sensors.value]
        if self.sev("sensors") == 1:
            dm -= 2
        if self.sev("computer") == 1:
            dm -= 2
        return dm

    @property
    def control_dm(self) -> int:
        """M-Drive critical: control (Pilot) checks -Severity up to -4 (§10.B.4)."""
        return -min(4, self.sev("m_drive"))

    @property
    def sensors_disabled(self) -> bool:
        """Sensors at Severity 6 are disabled; without power for the basic systems they are
        dark (`power_budget`)."""
        return self.sev("sensors") >= 6 or (bool(self.plant) and not self.power_plan.basic)

    def within_sensors(self, band: str) -> bool:
        """Whether the sensors still reach `band`."""
        cap = self.sensor_cap
        return cap is None or BAND_INDEX[band] <= BAND_INDEX[cap]

    @property
    def coordinate_dm(self) -> int:
        """CE Coordinate Crew: +1 on the next crew check while points are left (§6.A)."""
        return 1 if self.coordinate > 0 else 0

    @property
    def helpless(self) -> bool:
        """Cannot manoeuvre: no Thrust, or nobody able at the helm (a docking it cannot
        refuse, `RulesConfig.dock_helpless_willing`)."""
        return self.thrust <= 0 or self.crew_at("pilot") is None

    @property
    def is_active(self) -> bool:
        """Still a combatant (not wrecked, surrendered or escaped)."""
        return self.status == ACTIVE

    def crew_at(self, station: str) -> CrewState | None:
        """The crew member at a station (or holding it besides their own), if able to act:
        the first able one (someone who moved there to cover a casualty acts from the next
        round, `moved`)."""
        if self.moved and station in self.moved:
            return None
        for c in self.crew:
            if (c.station == station or (c.covers and station in c.covers)) and c.able:
                return c
        return None

    def holder_stations(self, station: str) -> tuple[str, ...]:
        """Every station the person acting at `station` holds (their own and those they
        cover); just `station` when nobody able is there."""
        c = self.crew_at(station)
        return (c.station, *c.covers) if c is not None else (station,)

    def extra_tasks(self, station: str) -> int:
        """Tasks the person at `station` already performed at their other stations this step
        (§1.5 Multiple simultaneous tasks)."""
        if not self.tasks:
            return 0
        return sum(1 for s in self.holder_stations(station) if s != station and s in self.tasks)

    def turret_weapons(self, turret: int) -> range:
        """Flat weapon indices of a turret."""
        start = self.turret_start[turret]
        return range(start, start + len(self.design.turrets[turret].weapons))

    def weapon_kind(self, flat: int) -> str:
        """Weapon kind at a flat index (turrets hold consecutive flat indices)."""
        t = bisect_right(self.turret_start, flat) - 1
        if t < 0 or not 0 <= flat < len(self.weapons):
            raise IndexError(flat)
        return self.design.turrets[t].weapons[flat - self.turret_start[t]].value

    def weapon_ready(self, flat: int) -> bool:
        """Not destroyed or disabled, powered, not yet used this round (with a power budget a
        weapon needs its turret powered, missiles and sand too)."""
        if self.weapons[flat] in ("disabled", "destroyed") or flat in self.fired:
            return False
        if self.plant:
            return self.turret_powered(bisect_right(self.turret_start, flat) - 1)
        kind = self.weapon_kind(flat)
        return not (WEAPONS[kind].power > 0 and self.power_pct <= 0)
