"""Battle state: frozen slotted dataclasses, cheap to fold (replay), with an exact dict round trip.

Purely computational. Events change state through field patches (``data["set"]``) that
`evolve` decodes with the per-field decoders here, so the rules live once, in `decide`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from gameserver.rules.config import RulesConfig, Ruleset
from gameserver.rules.errors import UnsupportedSchemaVersion
from gameserver.rules.events import EVENT_SCHEMA_VERSION
from gameserver.rules.pending import (
    Pending,
    PendingAttack,
    PendingSalvo,
    Salvo,
    pending_from_dict,
    salvos_from_json,
)
from gameserver.rules.ships import ShipDesign
from gameserver.rules.tables_mgt2e import (
    BAND_INDEX,
    BASIC_POWER_PCT,
    DRIVE_POWER_PCT,
    LOCATION_INDEX,
    LOCATIONS,
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


_T = TypeVar("_T")


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
    # stations a crew member moved to this round: they act there from the next round (MgT2e)
    moved: frozenset[str] = frozenset()
    # Who runs the ship besides its crew's players (`gm_bot`): a tactic (the server's bot plays
    # it), "off" (taken back from the bot, also from its side's), None: not set.
    bot: str | None = None

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
        the turrets. Without a budget everything has power."""
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


def fast_replacer(cls: type[_T]) -> Callable[[_T, Mapping[str, Any]], _T]:
    """A `dataclasses.replace` for one frozen slotted dataclass, generated once.

    Why: `evolve` copies the battle and a ship on every event, and `dataclasses.replace`
    re-reads the field list and goes through the keyword `__init__` each time; replay of a
    10,000-event log must stay under 100 ms. Like dataclasses' own generated `__init__`, the
    body is compiled from the field names; it sets each slot through its descriptor (what the
    frozen `__init__` does by name). Unknown keys are ignored: callers pass field names only.
    Purely computational.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for i, n in enumerate(names):
        namespace[f"_set{i}"] = cls.__dict__[n].__set__
    params = "".join(f", _set{i}=_set{i}" for i in range(len(names)))
    body = "".join(
        f"    _set{i}(new, changes[{n!r}] if {n!r} in changes else obj.{n})\n"
        for i, n in enumerate(names)
    )
    source = (
        f"def replace_fields(obj, changes, _new=_new, _cls=_cls{params}):\n"
        f"    new = _new(_cls)\n{body}    return new\n"
    )
    exec(source, namespace)
    fn: Callable[[_T, Mapping[str, Any]], _T] = namespace["replace_fields"]
    return fn


def _fs(v: Any) -> frozenset[Any]:
    return frozenset(v)


def _tup(v: Any) -> tuple[Any, ...]:
    return tuple(v)


def _crew(v: Any) -> tuple[CrewState, ...]:
    return tuple(CrewState.from_dict(c) for c in v)


def _design(v: Any) -> ShipDesign:
    return v if isinstance(v, ShipDesign) else ShipDesign.model_validate(v)


def _same(v: Any) -> Any:
    return v


# JSON -> internal value for the ship fields whose JSON form differs (the rest pass as is).
SHIP_PATCH_DECODERS: dict[str, Callable[[Any], Any]] = {
    "design": _design,
    "turret_start": _tup,
    "crits": _tup,
    "weapons": _tup,
    "ammo": _tup,
    "fired": _fs,
    "pd_used": _fs,
    "sand_used": _fs,
    "crew": _crew,
    "done": _fs,
    "repaired": _fs,
    "systems": dict,
    "targeting": dict,
    "incoming": _tup,
    "offline": _fs,
    "overload": _fs,
    "overload_next": _fs,
    "moved": _fs,
}
SHIP_DECODERS: dict[str, Callable[[Any], Any]] = {
    f.name: SHIP_PATCH_DECODERS.get(f.name, _same) for f in dataclasses.fields(ShipState)
}


replace_ship = fast_replacer(ShipState)


# CE design fields left out of the JSON while they hold their default, so a MgT2e design's
# JSON (in snapshots and recorded battles) is the same as before they existed.
_OPTIONAL_DESIGN_FIELDS: dict[str, Any] = {"missile": "smart", "screens": []}


def _design_dump(design: ShipDesign) -> dict[str, Any]:
    out = design.model_dump(mode="json")
    for key, default in _OPTIONAL_DESIGN_FIELDS.items():
        if out.get(key) == default:
            del out[key]
    return out


@functools.lru_cache(maxsize=256)
def _cached_design_json(design: ShipDesign) -> dict[str, Any]:
    return _design_dump(design)


def _design_json(design: ShipDesign) -> dict[str, Any]:
    """A design's JSON, dumped once: designs are frozen and every state of a battle (the undo
    chain of a snapshot included) repeats them. Callers treat the dict as read-only. A design
    that holds a mapping (`held_by`) cannot be hashed, so it is dumped each time."""
    try:
        return _cached_design_json(design)
    except TypeError:
        return _design_dump(design)


def encode_value(v: Any) -> Any:
    """Internal value -> JSON (frozensets sorted, tuples as lists, crew and designs as dicts)."""
    if isinstance(v, frozenset):
        return sorted(v)
    if isinstance(v, Salvo):
        return v.to_dict()
    if isinstance(v, tuple):
        return [encode_value(x) for x in v]
    if isinstance(v, CrewState):
        return v.to_dict()
    if isinstance(v, ShipDesign):
        return _design_json(v)
    if isinstance(v, StrEnum):
        return v.value
    if isinstance(v, PendingAttack | PendingSalvo):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {k: encode_value(x) for k, x in v.items()}
    return v


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


# The CE fields (those with a default) and their defaults: a ship's JSON leaves them out while
# they hold it, so a MgT2e snapshot is the same as before the CE profile (a server of the
# previous version, e.g. mid rolling update, still reads it) and `ship_from_dict` restores them.
_OPTIONAL_SHIP_FIELDS: dict[str, Any] = {
    f.name: _field_default(f)
    for f in dataclasses.fields(ShipState)
    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
}
_SHIP_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(ShipState))


def ship_to_dict(s: ShipState) -> dict[str, Any]:
    """Exact JSON form of a ship (CE fields only when they differ from their default)."""
    out: dict[str, Any] = {}
    optional = _OPTIONAL_SHIP_FIELDS
    for name in _SHIP_FIELD_NAMES:
        value = getattr(s, name)
        if name in optional and value == optional[name]:
            continue
        out[name] = encode_value(value)
    return out


def ship_from_dict(d: Mapping[str, Any]) -> ShipState:
    """Inverse of `ship_to_dict`."""
    return ShipState(**{k: SHIP_DECODERS[k](v) for k, v in d.items()})


def pair_key(a: str, b: str) -> str:
    """Range is stored per pair of ships (RULES §2): key ``"a|b"`` with the ids sorted."""
    return f"{a}|{b}" if a < b else f"{b}|{a}"


@dataclass(frozen=True, slots=True)
class BattleState:
    """The fold of a battle's events. `prev` links the state before the last event (for undo)."""

    seq: int
    battle_id: str
    # The secret (`rules.secret`): not compared, so a fold without it equals the live state.
    seed: int | None = field(compare=False)
    dice_drawn: int
    ruleset: Ruleset
    config: RulesConfig
    scenario_name: str
    round_limit: int
    jump_allowed: bool  # outside the 100-diameter limit (a scenario field)
    sides: tuple[tuple[str, str], ...]
    ships: Mapping[str, ShipState]
    ranges: Mapping[str, tuple[str, int]]
    moves: Mapping[str, int]
    round: int
    step: Step
    order: tuple[str, ...]
    turn: int
    pending: tuple[Pending, ...]
    # The salvos in flight as the events record them (JSON); `salvos` is their typed view.
    # Why: a patch lists every salvo in flight, and decoding them all on each such event was
    # the largest cost of a replay, while a replay reads almost none of its states' salvos.
    salvos_json: tuple[Mapping[str, Any], ...]
    next_id: int
    outcome: Mapping[str, Any] | None
    undo_depth: int = 0
    dice_salt: str | None = field(default=None, compare=False)
    prev: BattleState | None = field(default=None, compare=False, repr=False)
    _salvos: tuple[Salvo, ...] | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def salvos(self) -> tuple[Salvo, ...]:
        """The salvos in flight (§9.B), decoded once per state when first asked for."""
        cached = self._salvos
        if cached is None:
            cached = salvos_from_json(self.salvos_json)
            object.__setattr__(self, "_salvos", cached)
        return cached

    @property
    def is_over(self) -> bool:
        """The battle has ended (victory, all others out, or the round limit: a draw)."""
        return self.outcome is not None

    def band(self, a: str, b: str) -> str:
        """Current range band between two ships."""
        return self.ranges[pair_key(a, b)][0]

    @property
    def acting_ship(self) -> str | None:
        """The ship whose turn it is in the current step (None when no pending turn)."""
        return self.order[self.turn] if 0 <= self.turn < len(self.order) else None


replace_battle = fast_replacer(BattleState)


def _ranges(v: Any) -> dict[str, tuple[str, int]]:
    return {k: (x[0], x[1]) for k, x in v.items()}


def _ships(v: Any) -> dict[str, ShipState]:
    return {k: ship_from_dict(x) for k, x in v.items()}


def _pending(v: Any) -> tuple[Pending, ...]:
    return tuple(pending_from_dict(p) for p in v)


BATTLE_DECODERS: dict[str, Callable[[Any], Any]] = {
    "ruleset": Ruleset,
    "config": lambda v: RulesConfig.from_dict(v),
    "sides": lambda v: tuple((x[0], x[1]) for x in v),
    "ships": _ships,
    "ranges": _ranges,
    "moves": dict,
    "step": Step,
    "order": _tup,
    "pending": _pending,
    "salvos_json": tuple,
}

# The seed and salt are the battle's secret (`rules.commitment`): never in a state's JSON, which
# GM frames and snapshots carry; the server keeps them in the battle's metadata instead.
SECRET_FIELDS = frozenset({"seed", "dice_salt"})
_BATTLE_FIELDS = [
    f.name
    for f in dataclasses.fields(BattleState)
    if f.name not in ("prev", "_salvos") and f.name not in SECRET_FIELDS
]
# State fields whose JSON key differs (the name event patches use).
_JSON_KEY = {"salvos_json": "salvos"}


def pinned_undo_chain(state: BattleState) -> BattleState:
    """The state with its own copy of the undo chain (the `undo_depth` states an undo may
    reach), which no later `evolve` can cut.

    Why: `evolve` trims old links of the chain in place; a reader in another thread (the
    server encodes snapshots off the event loop) must not see the chain shortened meanwhile.
    Copies `undo_depth` + 1 state shells; ships and the rest are shared.
    """
    chain: list[BattleState] = []
    node: BattleState | None = state
    while node is not None and len(chain) <= state.undo_depth:
        chain.append(node)
        node = node.prev
    out: BattleState | None = None
    for s in reversed(chain):
        out = replace_battle(s, {"prev": out})
    assert out is not None
    return out


def state_to_dict(
    state: BattleState,
    _depth: int | None = None,
    _ships: dict[int, dict[str, Any]] | None = None,
    *,
    undo: bool = True,
) -> dict[str, Any]:
    """Exact JSON form of a state, including the prior states a GM undo may still reach.

    With ``undo=False`` the prior states are left out (``prev`` is null): what the GM's page
    is shown. Why: the undo chain is up to `undo_limit` whole states, 20 times the state
    itself, and encoding it for a snapshot frame of the largest battle stalled the loop.

    Stamped ``v`` with the event schema version: events are patches of these very fields, so a
    snapshot and the events folded after it must agree on the layout (`state_from_dict` refuses
    another version and the caller replays the events instead). A ship an event did not touch
    is the same object in the prior states, so it is encoded once per call (the dicts are
    shared within the result: read it, do not edit it).
    """
    memo: dict[int, dict[str, Any]] = {} if _ships is None else _ships
    out: dict[str, Any] = {"v": EVENT_SCHEMA_VERSION}
    for name in _BATTLE_FIELDS:
        v = getattr(state, name)
        if name == "config":
            out[name] = v.to_dict()
        elif name == "ships":
            ships: dict[str, Any] = {}
            for k, ship in v.items():
                encoded = memo.get(id(ship))
                if encoded is None:
                    encoded = memo[id(ship)] = ship_to_dict(ship)
                ships[k] = encoded
            out[name] = ships
        elif name == "ranges":
            out[name] = {k: [b, p] for k, (b, p) in v.items()}
        else:
            out[_JSON_KEY.get(name, name)] = encode_value(v)
    depth = (state.undo_depth if _depth is None else _depth) if undo else 0
    out["prev"] = (
        state_to_dict(state.prev, depth - 1, memo) if depth > 0 and state.prev is not None else None
    )
    return out


def state_from_dict(d: Mapping[str, Any]) -> BattleState:
    """Inverse of `state_to_dict` (snapshots); `UnsupportedSchemaVersion` for another layout.

    The state has no seed (`rules.with_secret` gives it back on the server).
    """
    version = d.get("v")
    if version != EVENT_SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(
            f"a snapshot of schema version {version!r}; this server reads {EVENT_SCHEMA_VERSION}"
        )
    kwargs = {
        name: BATTLE_DECODERS.get(name, _same)(d[_JSON_KEY.get(name, name)])
        for name in _BATTLE_FIELDS
    }
    prev = d.get("prev")
    kwargs["prev"] = state_from_dict(prev) if prev is not None else None
    kwargs["seed"] = None
    return BattleState(**kwargs)


def ce_ship_view(s: ShipState) -> dict[str, Any]:
    """The CE figures of a ship (RULES §10.A): Hull and Structure boxes, hits per location,
    the reaction pool and the DMs in force; shown only in CE battles."""
    tons = s.design.tons
    return {
        "hull_max": s.design.hull if s.design.hull is not None else tons // 50,
        "structure": s.structure,
        "structure_max": (
            s.design.structure if s.design.structure is not None else max(1, tons // 50)
        ),
        "systems": dict(s.systems),
        "reactions": s.reactions,
        "evasive_dm": s.evasive_dm,
        "line_up_dm": s.line_up_dm,
        "targeting": dict(s.targeting),
        "coordinate": s.coordinate,
        "column": "small_craft" if tons < 100 else ("external" if s.hull > 0 else "internal"),
    }


def power_view(s: ShipState) -> dict[str, Any]:
    """The power budget for the page (``{"power": ...}``), only while it matters: a system
    without power, one offline or an overload pending or in force (so a view of a battle
    where power never ran short is what it was before the budget existed)."""
    if not s.plant:
        return {}
    plan = s.power_plan
    unpowered = [
        f"turret:{t}"
        for t in range(len(s.design.turrets))
        if t not in plan.turrets and f"turret:{t}" not in s.offline
    ]
    if not (plan.short or unpowered or s.offline or s.overload or s.overload_next):
        return {}
    return {
        "power": {
            "available": plan.available,
            "need": plan.need,
            "unpowered": unpowered,
            "offline": sorted(s.offline),
            "overload": sorted(s.overload | s.overload_next),
            "sensors_dark": not plan.basic,
        }
    }


def fuel_view(s: ShipState) -> dict[str, Any]:
    """The fuel a leak drains, for the page (``{"fuel": ...}``), only once a leak has begun
    (a battle without one shows what it did before leaks were applied)."""
    if not (s.fuel_leak or s.fuel_leaked):
        return {}
    return {"fuel": {"left_tenths": s.fuel_left, "leak_tenths": s.leaking}}


def public_view(state: BattleState) -> dict[str, Any]:
    """What every client may see: ships, damage, ranges, order, step, pending reactions, salvos."""
    ships = []
    ce = state.ruleset is Ruleset.CE
    for s in state.ships.values():
        ships.append(
            {
                "id": s.id,
                "name": s.name,
                "side": s.side,
                "preset": s.preset,
                "design": s.design.name,
                "tons": s.design.tons,
                "status": s.status,
                "hull": s.hull,
                "hull_max": s.design.hull_points,
                "armour": s.armour,
                "thrust": s.thrust,
                "thrust_rating": s.design.thrust,
                "thrust_pool": s.thrust_pool,
                "power_pct": s.power_pct,
                "initiative": s.initiative,
                "criticals": {
                    loc.value: s.crits[i] for i, loc in enumerate(LOCATIONS) if s.crits[i] > 0
                },
                "repaired": sorted(s.repaired),
                "sensor_cap": s.sensor_cap,
                "sensor_lock": s.sensor_lock,
                "turrets": [
                    {
                        "mount": t.mount.value,
                        "weapons": [
                            {
                                "kind": w.value,
                                "status": s.weapons[s.turret_start[i] + j],
                                "ammo": s.ammo[s.turret_start[i] + j],
                                "fired": (s.turret_start[i] + j) in s.fired,
                            }
                            for j, w in enumerate(t.weapons)
                        ],
                    }
                    for i, t in enumerate(s.design.turrets)
                ],
                "crew": [
                    {
                        "station": c.station,
                        "name": c.name,
                        "able": c.able,
                        "chars": dict(c.chars),
                        "skills": dict(c.skills),
                    }
                    for c in s.crew
                ],
                "done": sorted(s.done),
                "missile_reserve": s.missile_reserve,
                "sand_reserve": s.sand_reserve,
                "fuel_lost_pct": s.fuel_lost_pct,
                "cargo_lost_pct": s.cargo_lost_pct,
                "rads": s.rads,
                "life_support": s.life_support,
                "escape_progress": s.escape_progress,
            }
            | (ce_ship_view(s) if ce else {})
            | power_view(s)
            | fuel_view(s)
            # only once the GM set it: logs written before per-ship bots keep their view
            | ({"bot": s.bot} if s.bot is not None else {})
        )
    return {
        "battle_id": state.battle_id,
        "seq": state.seq,
        "ruleset": state.ruleset.value,
        "scenario": state.scenario_name,
        "round": state.round,
        "round_limit": state.round_limit,
        "step": state.step.value,
        "initiative_order": list(state.order),
        "acting_ship": state.acting_ship,
        "sides": [{"id": a, "name": b} for a, b in state.sides],
        "ships": ships,
        "ranges": [
            {"a": k.split("|")[0], "b": k.split("|")[1], "band": b, "progress": p}
            for k, (b, p) in state.ranges.items()
        ],
        "pending": [p.to_dict() for p in state.pending],
        "salvos": [x.to_dict() for x in state.salvos],
        "outcome": dict(state.outcome) if state.outcome is not None else None,
        "undo_available": state.undo_depth,
    }
