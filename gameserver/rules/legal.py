"""What a station may do now, as clients show it: legal commands, labels, attack previews.

Purely computational. Candidates are every command shape the station could send; the legal
ones are those `decide` would accept (a dry run, no dice drawn), so the lists never offer what
the rules refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from gameserver.rules.actions.attack import attack_boon
from gameserver.rules.actions.crew import vacant_stations
from gameserver.rules.authorise import station_for
from gameserver.rules.commands import COMMAND_ADAPTER, GM, Actor, Command
from gameserver.rules.decision import COMMAND_RULES
from gameserver.rules.engine import is_legal
from gameserver.rules.resolution import attack_dms
from gameserver.rules.state import BattleState, Step
from gameserver.rules.tables_mgt2e import WEAPONS
from gameserver.rules.turns import enemies, engineer_systems, ew_options, repair_options
from gameserver.rules.turns_ce import candidates as ce_candidates


def _cmd(data: dict[str, Any], actor: Actor = GM) -> Command:
    key = tuple((k, tuple(v) if type(v) is list else v) for k, v in data.items())
    return _validated(key, actor)


@lru_cache(maxsize=4096)
def _validated(key: tuple[tuple[str, Any], ...], actor: Actor) -> Command:
    """A candidate validated once: the same few shapes recur on every state of every battle
    (the engine never changes a command), and validation was a fifth of the legal lists' cost."""
    return COMMAND_ADAPTER.validate_python(
        {k: list(v) if type(v) is tuple else v for k, v in key} | {"actor": actor}
    )


def candidate_commands(state: BattleState, ship_id: str, station: str) -> list[dict[str, Any]]:
    """Every command shape the station could send now (before validation), as client JSON."""
    ship = state.ships.get(ship_id)
    if ship is None or state.is_over:
        return []
    if state.ruleset.is_ce:
        return ce_candidates(state, ship, station)
    out: list[dict[str, Any]] = []
    base = {"ship_id": ship_id}
    foes = enemies(state, ship)
    if state.pending:
        head = state.pending[0]
        if head.target != ship_id or station not in head.eligible:
            return []
        if station == "pilot":
            out.append(base | {"type": "evasive_action"})
        elif station.startswith("gunner:"):
            t = int(station.split(":")[1])
            out.append(
                base | {"type": "sand" if head.kind == "attack" else "point_defence", "turret": t}
            )
        out.append(base | {"type": "no_reaction", "station": station})
        return out
    if state.acting_ship != ship_id:
        return []
    if station == "pilot" and state.step == Step.MANOEUVRE:
        for e in state.ships.values():
            if e.id == ship_id or not e.is_active:
                continue
            for direction in ("toward", "away"):
                out.append(
                    base | {"type": "move", "target": e.id, "direction": direction, "thrust": 1}
                )
        out.append(base | {"type": "aid_gunners"})
        out.append(base | {"type": "break_off"})
    elif station.startswith("gunner:"):
        t = int(station.split(":")[1])
        if state.step == Step.ATTACK:
            kinds: dict[str, list[int]] = {}
            flats = list(ship.turret_weapons(t))
            for j, f in enumerate(flats):
                if ship.weapon_ready(f):
                    kinds.setdefault(ship.weapon_kind(f), []).append(j)
            for kind, idxs in kinds.items():
                for e in foes:
                    if WEAPONS[kind].direct_fire:
                        out.append(
                            base | {"type": "attack", "turret": t, "target": e.id, "weapons": idxs}
                        )
                    elif kind == "missile_rack":
                        loaded = [j for j in idxs if ship.ammo[flats[j]] > 0]
                        if loaded:
                            out.append(
                                base
                                | {
                                    "type": "launch_missiles",
                                    "turret": t,
                                    "target": e.id,
                                    "weapons": loaded,
                                }
                            )
        elif state.step == Step.ACTIONS:
            out.append(base | {"type": "reload", "turret": t})
    elif station == "captain" and state.step == Step.ACTIONS:
        out.append(base | {"type": "improve_initiative"})
    elif station == "sensors" and state.step == Step.ACTIONS:
        out.append(base | {"type": "plot_jump"})
        for e in foes:
            out.append(base | {"type": "sensor_lock", "target": e.id})
        for opt in ew_options(state, ship):
            out.append(base | {"type": "electronic_warfare"} | opt)
    elif station == "engineer" and state.step == Step.ACTIONS:
        for loc in repair_options(ship):
            out.append(base | {"type": "repair", "location": loc})
        # §6.B power actions (Overload Plant first: what a ship short of power wants most)
        out.append(base | {"type": "overload_plant"})
        out.append(base | {"type": "overload_drive"})
        for system in engineer_systems(ship):
            kind = "restore_system" if system in ship.offline else "offline_system"
            out.append(base | {"type": kind, "system": system})
        out.append(base | {"type": "jump"})
    for vacant in vacant_stations(ship):
        if vacant != station:
            out.append(base | {"type": "change_station", "station": station, "to": vacant})
    out.append(base | {"type": "end_step", "station": station})
    out.append(base | {"type": "surrender"})
    return out


def legal_commands(state: BattleState, ship_id: str, station: str) -> list[dict[str, Any]]:
    """The actions a station may take now, with choices and, for attacks, the DM breakdown.

    Each entry: ``type``, ``command`` (JSON to send as is), ``label`` and, where relevant,
    ``choices`` (e.g. Thrust amounts) and ``preview`` (attack DMs, boon, band).
    """
    out: list[dict[str, Any]] = []
    ship = state.ships.get(ship_id)
    if ship is None:
        return out
    actor = Actor(role="player", ship_id=ship_id, stations=frozenset({station}))
    for data in candidate_commands(state, ship_id, station):
        if (
            data["type"] == "surrender"
            and station_for(_cmd(data), ship, state, COMMAND_RULES["surrender"]) != station
        ):
            continue
        cmd = _cmd(data, actor)
        if not is_legal(state, cmd):
            continue
        entry: dict[str, Any] = {
            "type": data["type"],
            "command": data,
            "label": _label(state, data),
        }
        if data["type"] == "move":
            entry["choices"] = {"thrust": list(range(1, ship.thrust_pool + 1))}
        if data["type"] == "attack":
            entry["preview"] = attack_preview(
                state, ship_id, data["turret"], data["target"], data["weapons"]
            )
        out.append(entry)
    return out


def _label(state: BattleState, data: Mapping[str, Any]) -> str:
    t = str(data["type"])
    ship = state.ships.get(str(data.get("target", "")))
    target = ship.name if ship is not None else ""
    if t == "move":
        return f"Move {data.get('direction', '')} {target}"
    if t == "attack":
        return f"Fire turret {data.get('turret')} at {target}"
    if t == "launch_missiles":
        return f"Launch missiles at {target}"
    if t == "sensor_lock":
        return f"Sensor lock on {target}"
    if t == "repair":
        return f"Repair {str(data.get('location', '')).replace('_', ' ')}"
    if t == "ce_fire":
        return f"Fire turret {int(data.get('turret', 0)) + 1} at {target}"
    if t == "range_check":
        return f"Range check: {data.get('wish', '')} range to {target}"
    if t == "sensor_targeting":
        return f"Sensor targeting on {target}"
    if t == "ce_repair":
        return f"Repair {str(data.get('system', '')).replace('_', ' ').replace(':', ' ')}"
    if t in ("ce_pilot", "ce_captain"):
        return str(data.get("action", "")).replace("_", " ").capitalize()
    if t == "trigger_screens":
        return f"Trigger screen {int(data.get('screen', 0)) + 1}"
    if t == "delay":
        before = state.ships.get(str(data.get("before", "")))
        return f"Delay until just before {before.name}" if before else "Hold the whole turn"
    return t.replace("_", " ").capitalize()


def attack_preview(
    state: BattleState, ship_id: str, turret: int, target_id: str, weapons: list[int]
) -> dict[str, Any]:
    """The §7.B DM breakdown an attack would roll with now (before any reaction)."""
    ship = state.ships[ship_id]
    target = state.ships[target_id]
    flats = list(ship.turret_weapons(turret))
    kind = ship.weapon_kind(flats[weapons[0]])
    gunner = ship.crew_at(f"gunner:{turret}")
    band = state.band(ship_id, target_id)
    dms = attack_dms(
        kind,
        gunner.skill("gunner") if gunner else None,
        gunner.char("DEX") if gunner else 7,
        band,
        ship.fire_control,
        ship.aid_dm,
    )
    return {
        "band": band,
        "dms": dms,
        "total_dm": sum(dms.values()),
        "boon": attack_boon(ship, target_id, [flats[w] for w in weapons], state.config),
        "linked": len(weapons),
        "target_armour": target.armour,
    }
