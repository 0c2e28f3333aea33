"""CE turns: who still acts on a ship's turn, who may react, and the ship's CE figures.

Purely computational. RULES §3.A (each ship's crew acts on its turn), §4.A.3 (the reaction
pool), §6.A (positions), §10.A.5 (what hits stop), §11.A (reactions).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.pending import Salvo
from gameserver.rules.resolution_ce import skill_dm
from gameserver.rules.state import BattleState, CrewState, ShipState
from gameserver.rules.tables_ce import (
    BAND_INDEX,
    MISSILE_FLIGHT,
    POINT_DEFENCE_WEAPONS,
    RACK_LOAD,
    SAND_LOAD,
    SCREEN_MATCH,
    SYSTEMS,
    WEAPONS,
    characteristic_dm,
)

# §7.A.4 DEFAULT: the electronics DM of each sensor grade (CE: Standard -4, Basic Civilian -2,
# Basic Military 0, Advanced +1; "advanced" above that).
SENSOR_DM = {"basic": -4, "civilian": -2, "military": 0, "improved": 1, "advanced": 2}
JAMMER_GRADES = frozenset({"military", "improved", "advanced"})  # Basic Military or better


def ce_skill(crew: CrewState, name: str) -> int | None:
    """A CE skill level by its name (``turret_weapons``), whatever the sheet's spelling."""
    for key, level in crew.skills.items():
        if key.strip().lower().replace(" ", "_").replace("-", "_") == name:
            return level
    return None


def hits(ship: ShipState, system: str) -> int:
    """Hits on a system (``turret:<i>`` for one turret)."""
    return ship.systems.get(system, 0)


def turret_usable(ship: ShipState, t: int) -> bool:
    """§10.A.5: a turret with 2 hits is disabled, with 3 destroyed."""
    return hits(ship, f"turret:{t}") < 2


def present_systems(ship: ShipState) -> frozenset[str]:
    """The systems this ship has; a hit on one it lacks goes to Hull or Structure (A4)."""
    d = ship.design
    missing = {"bay"}  # the engine's CE designs carry turrets only
    if not d.turrets:
        missing.add("turret")
    if d.jump == 0:
        missing.add("j_drive")
    if d.cargo == 0:
        missing.add("hold")
    if d.fuel == 0:
        missing.add("fuel")
    return frozenset(SYSTEMS) - missing


def beam_weapons(ship: ShipState, t: int, band: str) -> list[int]:
    """The flat indices of turret `t`'s beam weapons (§7.A.2) that reach `band`."""
    out = []
    for f in ship.turret_weapons(t):
        stats = WEAPONS.get(ship.weapon_kind(f))
        if stats is None or not stats.beam or f in ship.fired:
            continue
        if stats.band_dm[BAND_INDEX[band]] is not None:
            out.append(f)
    return out


def sandcaster(ship: ShipState, t: int) -> int | None:
    """The flat index of turret `t`'s loaded sandcaster, if the turret works."""
    if not turret_usable(ship, t):
        return None
    for f in ship.turret_weapons(t):
        if ship.weapon_kind(f) == "sandcaster" and ship.ammo[f] > 0:
            return f
    return None


def foes(state: BattleState, ship: ShipState) -> list[ShipState]:
    """The active ships of the other sides."""
    return [s for s in state.ships.values() if s.side != ship.side and s.is_active]


def can_fire(state: BattleState, ship: ShipState, t: int) -> bool:
    """Whether turret `t` has a beam weapon that reaches an enemy or a loaded rack with an
    enemy at Short or beyond (§7.A, §9.A.1, §10.A.5 Sensors)."""
    if not turret_usable(ship, t):
        return False
    racks = bool(loaded_racks(ship, t)) and not any(f in ship.fired for f in loaded_racks(ship, t))
    for e in foes(state, ship):
        band = state.band(ship.id, e.id)
        if hits(ship, "sensors") >= 2 and band != "adjacent":
            continue
        if beam_weapons(ship, t, band):
            return True
        if racks and MISSILE_FLIGHT[band] is not None:
            return True
    return False


def can_reload(ship: ShipState, t: int) -> bool:
    """A working turret's rack or sandcaster below its ready load, with stores left (#16)."""
    if not turret_usable(ship, t):
        return False
    for f in ship.turret_weapons(t):
        kind = ship.weapon_kind(f)
        if kind == "missile_rack" and ship.missile_reserve > 0 and ship.ammo[f] < RACK_LOAD:
            return True
        if kind == "sandcaster" and ship.sand_reserve > 0 and ship.ammo[f] < SAND_LOAD:
            return True
    return False


def repairable(ship: ShipState) -> list[str]:
    """Systems with 1 or 2 hits (#21: not destroyed ones, never Hull, Structure or Armour)."""
    return [k for k, v in sorted(ship.systems.items()) if 0 < v < 3]


def stations_needed(state: BattleState, ship: ShipState) -> list[str]:
    """The stations of the acting ship that can still act this turn, in the §3.A order:
    pilot, sensors, captain, navigator, gunners, damage control."""
    if not ship.is_active:
        return []
    out: list[str] = []
    bridge_ok = hits(ship, "bridge") < 2
    enemies = foes(state, ship)

    def free(station: str) -> bool:
        return station not in ship.done and ship.crew_at(station) is not None

    if free("pilot") and bridge_ok:
        out.append("pilot")
    if free("sensors") and bridge_ok and hits(ship, "sensors") < 2 and enemies:
        out.append("sensors")
    if free("captain"):
        out.append("captain")
    if enemies and free("navigator"):
        out.append("navigator")
    for t in range(len(ship.design.turrets)):
        st = f"gunner:{t}"
        if free(st) and (can_fire(state, ship, t) or can_reload(ship, t)):
            out.append(st)
    if free("engineer") and repairable(ship):
        out.append("engineer")
    return out


def laser_defence(ship: ShipState, t: int) -> list[int]:
    """§11.A: the pulse and beam lasers of a working turret (point defence)."""
    if not turret_usable(ship, t):
        return []
    return [f for f in ship.turret_weapons(t) if ship.weapon_kind(f) in POINT_DEFENCE_WEAPONS]


def loaded_racks(ship: ShipState, t: int) -> list[int]:
    """The missile racks of a working turret with missiles in their ready load (#16)."""
    if not turret_usable(ship, t):
        return []
    return [
        f
        for f in ship.turret_weapons(t)
        if ship.weapon_kind(f) == "missile_rack" and ship.ammo[f] > 0
    ]


def reactors(
    state: BattleState, target: ShipState, kind: str = "attack", source: str = ""
) -> list[str]:
    """§4.A.3 / §11.A: the target's stations that may react now, while reactions are left: the
    pilot (Dodge) and, against a beam attack, each gunner at a loaded sandcaster; against
    missiles, each gunner at a laser turret (Point Defense); when the ship has a screen that
    matches `source` (the weapon or missile), the captain and each gunner with a Screens skill
    (Trigger Screens)."""
    stations = ["pilot"] + [f"gunner:{t}" for t in range(len(target.design.turrets))]
    if not can_still_react(target):
        return []
    screens = bool(matching_screens(target, source))
    out = [
        s
        for s in stations
        if target.crew_at(s) is not None
        and (
            (can_react(target, s, kind) and (s == "pilot" or _reaction(target, s, kind)))
            or (screens and screens_operator(target, s))
        )
    ]
    if screens and can_react(target, "captain", kind):
        out.append("captain")
    return out


def screens_operator(target: ShipState, station: str) -> bool:
    """§11.A: a gunner with Screens-0+ may trigger the ship's screens."""
    crew = target.crew_at(station)
    return (
        bool(target.design.screens) and crew is not None and ce_skill(crew, "screens") is not None
    )


def matching_screens(target: ShipState, source: str) -> list[int]:
    """The indices of the target's screens that act against `source` (§11.A, A8)."""
    return [i for i, s in enumerate(target.design.screens) if SCREEN_MATCH.get(s) == source]


def can_still_react(target: ShipState) -> bool:
    """An active ship with reactions left this turn."""
    return target.is_active and target.reactions > 0


def can_react(target: ShipState, station: str, kind: str = "attack") -> bool:
    """Whether one station of the target can still react now to an attack or a salvo."""
    if not can_still_react(target) or target.crew_at(station) is None:
        return False
    if station == "pilot":
        return hits(target, "bridge") < 2
    if station == "captain":
        return True  # the screens operator: `reactors` lists it only when a screen matches
    return _reaction(target, station, kind) or screens_operator(target, station)


def _reaction(target: ShipState, station: str, kind: str) -> bool:
    """A gunner's own weapon reaction: Point Defense against missiles, Fire Sand otherwise."""
    if not station.startswith("gunner:"):
        return False
    t = int(station.split(":")[1])
    if kind == "salvo":
        return bool(laser_defence(target, t))
    return sandcaster(target, t) is not None


def due_salvos(state: BattleState, ship_id: str) -> list[Salvo]:
    """§3.A DEFAULT (#18): the missiles of `ship_id` that strike at the start of its action."""
    return [s for s in state.salvos if s.launcher == ship_id and s.arrives_round <= state.round]


def best_navigator(ship: ShipState) -> CrewState | None:
    """§5.2 DEFAULT: the defender opposes with the best Navigation aboard (EDU DM counted)."""
    able = [c for c in ship.crew if c.able]
    if not able:
        return None
    return max(
        able,
        key=lambda c: skill_dm(ce_skill(c, "navigation")) + characteristic_dm(c.char("EDU")),
    )


def candidates(state: BattleState, ship: ShipState, station: str) -> list[dict[str, Any]]:
    """Every CE command shape the station could send now (the legal lists keep the legal ones)."""
    if state.is_over:
        return []
    base: dict[str, Any] = {"ship_id": ship.id}
    out: list[dict[str, Any]] = []
    if state.pending:
        head = state.pending[0]
        if head.target != ship.id or station not in head.eligible:
            return []
        if station == "pilot":
            out.append(base | {"type": "dodge"})
        elif station == "captain":
            source = getattr(head, "missile", None) if head.kind == "salvo" else head.weapon
            out.extend(
                base | {"type": "trigger_screens", "screen": i}
                for i in matching_screens(ship, str(source))
            )
        if station.startswith("gunner:") and screens_operator(ship, station):
            source = getattr(head, "missile", None) if head.kind == "salvo" else head.weapon
            out.extend(
                base | {"type": "trigger_screens", "screen": i, "station": station}
                for i in matching_screens(ship, str(source))
            )
        if station.startswith("gunner:"):
            t = int(station.split(":")[1])
            if head.kind == "salvo":
                out.append(base | {"type": "ce_point_defence", "turret": t})
            else:
                out.append(base | {"type": "fire_sand", "turret": t})
        out.append(base | {"type": "no_reaction", "station": station})
        return out
    if state.acting_ship != ship.id:
        return []
    enemies = foes(state, ship)
    if station == "pilot":
        out.append(base | {"type": "ce_pilot", "action": "line_up_the_shot"})
        out.append(base | {"type": "ce_pilot", "action": "evasive_maneuvers"})
    if station == "navigator" or (station == "pilot" and "navigator" not in ship.design.stations):
        for e in enemies:
            for wish in ("decrease", "increase", "keep"):
                out.append(base | {"type": "range_check", "target": e.id, "wish": wish})
    if station == "sensors":
        out.extend(base | {"type": "sensor_targeting", "target": e.id} for e in enemies)
    if station in ("captain", "pilot") and not ship.done and not ship.hasty:
        out.append(base | {"type": "hasty"})
    if station in ("captain", "pilot") and not ship.done and not ship.hasty and not ship.delay:
        out.append(base | {"type": "delay"})
        later = state.order[state.turn + 1 :]
        out.extend(base | {"type": "delay", "before": sid} for sid in later)
    if station == "sensors":
        out.append(base | {"type": "jam_missiles"})
    if station == "captain":
        out.extend(
            base | {"type": "board", "target": e.id}
            for e in enemies
            if state.band(ship.id, e.id) == "adjacent"
        )
        out.append(base | {"type": "ce_captain", "action": "coordinate_crew"})
        out.append(base | {"type": "ce_captain", "action": "increase_initiative"})
    if station.startswith("gunner:"):
        t = int(station.split(":")[1])
        out.extend(base | {"type": "ce_fire", "turret": t, "target": e.id} for e in enemies)
        out.extend(base | {"type": "ce_launch", "turret": t, "target": e.id} for e in enemies)
        out.append(base | {"type": "ce_reload", "turret": t})
    if station == "engineer":
        out.extend(base | {"type": "ce_repair", "system": k} for k in repairable(ship))
    if station not in ship.done:
        # §6.A Change Positions: to a station nobody able holds, acting there this turn; or
        # hold it as well as one's own (§3.A, §1.5: DM -2 per extra task)
        for s in ship.design.station_ids():
            if s != station and ship.crew_at(s) is None:
                out.append(base | {"type": "change_station", "station": station, "to": s})
                out.append(base | {"type": "hold_station", "station": station, "to": s})
    out.append(base | {"type": "end_step", "station": station})
    out.append(base | {"type": "surrender"})
    return out
