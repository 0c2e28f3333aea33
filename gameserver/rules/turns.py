"""Who acts now and what they can still do: awaited stations, valid targets, ready weapons.

Purely computational; read by `decide` (is it this station's turn?), by the legal lists and by
the bot. Round structure: RULES §3.B (stations act in their step, ships in initiative order);
reactions: §4.B and §11.B.
"""

from __future__ import annotations

import threading
from typing import Any

from gameserver.rules.config import RulesConfig
from gameserver.rules.decision import refuse
from gameserver.rules.effects import REPAIRABLE
from gameserver.rules.resolution import weapon_reach_error
from gameserver.rules.state import (
    ACTIVE,
    CAPTURED,
    ESCAPED,
    JUMPED,
    SURRENDERED,
    WRECKED,
    BattleState,
    ShipState,
    Step,
)
from gameserver.rules.tables_mgt2e import LOCATIONS, WEAPONS
from gameserver.rules.turns_ce import stations_needed as ce_stations_needed

# §11.B: point defence uses a turret's beam or pulse lasers.
POINT_DEFENCE_WEAPONS = frozenset({"beam_laser", "pulse_laser"})


def enemies(state: BattleState, ship: ShipState) -> list[ShipState]:
    """The active ships of the other sides."""
    return [s for s in state.ships.values() if s.side != ship.side and s.is_active]


def target_ship(
    state: BattleState, ship: ShipState, target_id: str, enemy_only: bool = True
) -> ShipState:
    """The ship a command targets, refused when it is no valid target (§13.2: a ship out of
    the fight is no target; a surrendered ship may still be moved toward, not attacked)."""
    target = state.ships.get(target_id)
    if target is None:
        refuse("unknown_target", f"there is no ship {target_id!r}")
    if target.id == ship.id:
        refuse("bad_target", "a ship cannot target itself")
    if enemy_only and target.side == ship.side:
        refuse("friendly_target", f"{target.name} is on your side")
    if target.status == WRECKED:
        refuse("target_wrecked", f"{target.name} is a wreck")
    if target.status == SURRENDERED and enemy_only:
        refuse("target_surrendered", f"{target.name} has surrendered")
    if target.status in (ESCAPED, JUMPED):
        refuse("target_gone", f"{target.name} has left the battle")
    if target.status == CAPTURED:
        refuse("target_captured", f"{target.name} has been captured")
    return target


def boarding_station(ship: ShipState) -> str:
    """Who leads a boarding action (MgT2e §6.B Marines, §13.4 "the two Chief Security
    Officers (or Captains)"): the crews hold no marine station, so the captain, and the
    pilot on a ship without one (as for surrender)."""
    return "captain" if "captain" in ship.design.stations else "pilot"


def boarding_targets(state: BattleState, ship: ShipState) -> list[ShipState]:
    """Ships a boarding action may target now (§13.4): of another side, in the fight or
    surrendered (§13.1 "Boarding can follow"), adjacent or docked with this one, and no
    boarders already taking them."""
    out = []
    for s in state.ships.values():
        if s.side == ship.side or s.status not in (ACTIVE, SURRENDERED) or s.boarded_by:
            continue
        if ship.docked == s.id or state.band(ship.id, s.id) == "adjacent":
            out.append(s)
    return out


_NEEDED_MAX = 256
_needed: dict[tuple[int, int], tuple[BattleState, ShipState, tuple[str, ...]]] = {}
_needed_lock = threading.Lock()
"""Held to evict and insert (threads share the memo; see `ship_state._plans_lock`)."""


def stations_needed(state: BattleState, ship: ShipState) -> list[str]:
    """Stations of `ship` that still have something to do in the current step (§3.B; CE:
    on its turn, §3.A).

    Memoised per (state, ship) object: states are immutable, and one command asked this of the
    same state four times or more (authorising each legal-list candidate, the handler, `settle`,
    `awaiting`). The entry keeps both objects, so an id is never reused while it is cached."""
    key = (id(state), id(ship))
    hit = _needed.get(key)
    if hit is not None and hit[0] is state and hit[1] is ship:
        return list(hit[2])
    out = _stations_needed(state, ship)
    with _needed_lock:
        while len(_needed) >= _NEEDED_MAX:
            del _needed[next(iter(_needed))]
        _needed[key] = (state, ship, tuple(out))
    return out


def _stations_needed(state: BattleState, ship: ShipState) -> list[str]:
    if state.ruleset.is_ce:
        return ce_stations_needed(state, ship)
    if not ship.is_active:
        return []
    out: list[str] = []
    step = state.step
    if step == Step.MANOEUVRE:
        if "pilot" not in ship.done and ship.thrust_pool > 0 and ship.crew_at("pilot"):
            out.append("pilot")
        return out
    for t in range(len(ship.design.turrets)):
        st_id = f"gunner:{t}"
        if st_id in ship.done or ship.crew_at(st_id) is None:
            continue
        if step == Step.ATTACK:
            if turret_can_fire(state, ship, t):
                out.append(st_id)
        elif reload_options(ship, t, state.config):
            out.append(st_id)
    if step == Step.ACTIONS:
        if "captain" not in ship.done and ship.crew_at("captain"):
            out.insert(0, "captain")
        elif (
            state.config.boarding
            and boarding_station(ship) == "pilot"
            and "pilot" not in ship.done
            and ship.crew_at("pilot")
            and boarding_targets(state, ship)
        ):
            out.insert(0, "pilot")
        if (
            "sensors" not in ship.done
            and ship.crew_at("sensors")
            and not ship.sensors_disabled
            and (lock_targets(state, ship) or ew_options(state, ship))
        ):
            out.append("sensors")
        if (
            "engineer" not in ship.done
            and ship.crew_at("engineer")
            and (repair_options(ship) or power_attention(ship))
        ):
            out.append("engineer")
    return out


def turret_can_fire(state: BattleState, ship: ShipState, t: int) -> bool:
    """Whether turret `t` has a ready weapon with an enemy in reach (§7.B, §9.B)."""
    foes = enemies(state, ship)
    for flat in ship.turret_weapons(t):
        if not ship.weapon_ready(flat):
            continue
        kind = ship.weapon_kind(flat)
        stats = WEAPONS[kind]
        for e in foes:
            band = state.band(ship.id, e.id)
            if not ship.within_sensors(band):
                continue
            if stats.direct_fire and weapon_reach_error(kind, band) is None:
                return True
            # §9.B.2: no launch at Distant at a target not detected
            seen = band != "distant" or e.id not in ship.undetected
            if kind == "missile_rack" and ship.ammo[flat] > 0 and seen:
                return True
    return False


def reload_options(ship: ShipState, t: int, cfg: RulesConfig) -> list[int]:
    """§9.B.4: racks and sandcasters below their ready load, with stores left."""
    out = []
    for flat in ship.turret_weapons(t):
        kind = ship.weapon_kind(flat)
        if ship.weapons[flat] == "destroyed":
            continue
        if kind == "missile_rack" and ship.missile_reserve > 0:
            if ship.ammo[flat] < cfg.missile_rack_load:
                out.append(flat)
        elif (
            kind == "sandcaster" and ship.sand_reserve > 0 and ship.ammo[flat] < cfg.sandcaster_load
        ):
            out.append(flat)
    return out


def lock_targets(state: BattleState, ship: ShipState) -> list[str]:
    """Enemies the sensors reach and are not locked on yet (§6.B Sensor Lock)."""
    return [
        e.id
        for e in enemies(state, ship)
        if e.id != ship.sensor_lock and ship.within_sensors(state.band(ship.id, e.id))
    ]


def ew_options(state: BattleState, ship: ShipState) -> list[dict[str, Any]]:
    """Electronic warfare choices (§6.B, §11.B): jam a salvo flying at us, break a lock on us."""
    out: list[dict[str, Any]] = [
        {"mode": "missiles", "salvo_id": s.id} for s in state.salvos if s.target == ship.id
    ]
    out.extend(
        {"mode": "break_lock", "target": e.id}
        for e in enemies(state, ship)
        if e.sensor_lock == ship.id
    )
    return out


def repair_options(ship: ShipState) -> list[str]:
    """Locations with a critical the engineer may still repair in combat (§12.B)."""
    out = []
    for i, loc in enumerate(LOCATIONS):
        sev = ship.crits[i]
        if sev > 0 and loc.value not in ship.repaired and sev in REPAIRABLE[loc.value]:
            out.append(loc.value)
    return out


def power_attention(ship: ShipState) -> bool:
    """Whether the power budget waits for the engineer (§6.B): a system is offline (to
    restore), or one goes without power while an Overload Plant could still help. Otherwise
    an engineer with nothing to repair is not waited for, though they may still overload or
    shed load while their ship acts in the Actions step."""
    if not ship.plant:
        return False
    if ship.offline:
        return True
    return ship.power_pct > 0 and "plant" not in ship.overload_next and ship.power_plan.short


def engineer_systems(ship: ShipState) -> list[str]:
    """The systems the engineer may take offline or restore (§6.B Offline System)."""
    return ["m_drive"] + [f"turret:{t}" for t in range(len(ship.design.turrets))]


def sand_ready(ship: ShipState, t: int, cfg: RulesConfig) -> int | None:
    """The flat index of turret `t`'s loaded sandcaster, if it may cast (§4.B DEFAULT: once per
    turret per round, `sand_once_per_turret_per_round`)."""
    if cfg.sand_once_per_turret_per_round and t in ship.sand_used:
        return None
    if not ship.turret_powered(t):
        return None
    for f in ship.turret_weapons(t):
        if (
            ship.weapon_kind(f) == "sandcaster"
            and ship.ammo[f] > 0
            and ship.weapons[f] not in ("disabled", "destroyed")
        ):
            return f
    return None


def point_defence_ready(ship: ShipState, t: int) -> list[int]:
    """§11.B: a turret's beam and pulse lasers not yet used this round (once per round)."""
    if t in ship.pd_used:
        return []
    return [
        f
        for f in ship.turret_weapons(t)
        if ship.weapon_kind(f) in POINT_DEFENCE_WEAPONS and ship.weapon_ready(f)
    ]


def can_react(
    target: ShipState, station: str, kind: str, cfg: RulesConfig, laser: bool = True
) -> bool:
    """Whether a station of the target can answer a pending attack or salvo now (§4.B, §11.B):
    the pilot with unspent Thrust (evasive action), a gunner with sand against a laser attack
    or with point-defence lasers against a salvo; the crew member must be able."""
    if target.crew_at(station) is None:
        return False
    if station == "pilot":
        return target.thrust_pool > 0
    if not station.startswith("gunner:"):
        return False
    turret = int(station.split(":")[1])
    if kind == "attack":
        return laser and sand_ready(target, turret, cfg) is not None
    return bool(point_defence_ready(target, turret))


def reactors(target: ShipState, kind: str, cfg: RulesConfig, laser: bool = True) -> list[str]:
    """The target's stations that may react to a new attack (``kind`` "attack") or salvo."""
    stations = ["pilot"] + [f"gunner:{t}" for t in range(len(target.design.turrets))]
    return [s for s in stations if can_react(target, s, kind, cfg, laser)]


def awaiting(state: BattleState) -> list[tuple[str, str]]:
    """(ship_id, station) pairs that may act now; a pending reaction awaits the defender."""
    if state.is_over:
        return []
    if state.pending:
        head = state.pending[0]
        return [(head.target, st) for st in head.eligible]
    sid = state.acting_ship
    if sid is None:
        return []
    return [(sid, st) for st in stations_needed(state, state.ships[sid])]
