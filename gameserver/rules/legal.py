"""What a station may do now, as clients show it: legal commands, labels, attack previews.

Purely computational. Candidates are every command shape the station could send; the legal
ones are those `decide` would accept, so the lists never offer what the rules refuse. The
commonest candidates (ending a step, declining a reaction, surrendering: one or more in every
list; CE reloads and launches, mostly refused) are judged directly from the state; the rest by
a dry run of `decide` (no dice drawn). A property test holds the direct judgement equal to the
dry run on random states of every ruleset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from gameserver.rules.actions.attack import attack_boon
from gameserver.rules.actions.ce.missiles import reloadable
from gameserver.rules.actions.crew import vacant_stations
from gameserver.rules.authorise import station_for
from gameserver.rules.commands import COMMAND_ADAPTER, GM, Actor, Command
from gameserver.rules.decision import COMMAND_RULES
from gameserver.rules.engine import is_legal
from gameserver.rules.resolution import attack_dms
from gameserver.rules.state import BattleState, ShipState, Step
from gameserver.rules.tables_mgt2e import WEAPONS
from gameserver.rules.turns import (
    enemies,
    engineer_systems,
    ew_options,
    repair_options,
    stations_needed,
)
from gameserver.rules.turns_ce import candidates as ce_candidates, loaded_racks


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
    if station.startswith("gunner:"):
        # A turret the ship does not have (the GM may ask about any station) offers nothing.
        turret = station.removeprefix("gunner:")
        if not turret.isdigit() or int(turret) >= len(ship.design.turrets):
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
            out.append(base | {"type": "hold_station", "station": station, "to": vacant})
    out.append(base | {"type": "end_step", "station": station})
    out.append(base | {"type": "surrender"})
    return out


def legal_commands(state: BattleState, ship_id: str, station: str) -> list[dict[str, Any]]:
    """The actions a station may take now, with choices and, for attacks, the DM breakdown.

    Each entry: ``type``, ``command`` (JSON to send as is), ``label`` and, where relevant,
    ``choices`` (e.g. Thrust amounts) and ``preview`` (attack DMs, boon, band).
    """
    return _legal(state, ship_id, station, direct=True)


def legal_commands_dry_run(state: BattleState, ship_id: str, station: str) -> list[dict[str, Any]]:
    """`legal_commands` with every candidate dry-run through `decide`: the reference the direct
    judgement is tested against (slower; not used when serving)."""
    return _legal(state, ship_id, station, direct=False)


def _legal(state: BattleState, ship_id: str, station: str, direct: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ship = state.ships.get(ship_id)
    if ship is None:
        return out
    actor = Actor(role="player", ship_id=ship_id, stations=frozenset({station}))
    needed: list[str] | None = None
    for data in candidate_commands(state, ship_id, station):
        kind = data["type"]
        verdict = None
        if direct and kind in _DIRECT:
            if needed is None:
                needed = [] if state.pending else stations_needed(state, ship)
            verdict = _direct_legal(state, ship, station, kind, needed, data)
        if verdict is None:
            if (
                kind == "surrender"
                and station_for(_cmd(data), ship, state, COMMAND_RULES["surrender"]) != station
            ):
                continue
            verdict = is_legal(state, _cmd(data, actor))
        if not verdict:
            continue
        entry: dict[str, Any] = {"type": kind, "command": data, "label": _label(state, data)}
        if kind == "move":
            entry["choices"] = {"thrust": list(range(1, ship.thrust_pool + 1))}
        if kind == "attack":
            entry["preview"] = attack_preview(
                state, ship_id, data["turret"], data["target"], data["weapons"]
            )
        out.append(entry)
    return out


_DIRECT = frozenset({"end_step", "no_reaction", "surrender", "ce_reload", "ce_launch"})


def _direct_legal(
    state: BattleState,
    ship: ShipState,
    station: str,
    kind: str,
    needed: list[str],
    data: Mapping[str, Any],
) -> bool | None:
    """Whether `decide` would accept a candidate of `kind` (one of `_DIRECT`) from a player
    holding `station`, judged from the state: what `authorise` and the handler check, in short;
    None: ask the dry run.

    `candidate_commands` only offers these to the pending reaction's eligible stations of its
    target, or to the acting ship's stations when nothing is pending; `needed` is
    `stations_needed` of the ship (empty while a reaction is pending)."""
    if not ship.is_active or ship.crew_at(station) is None:
        return False
    if kind in ("ce_reload", "ce_launch"):
        # CE gunner actions of the ship's turn (§6.A, §9.A), from the turret's own station.
        turret = int(data["turret"])
        if (
            station != f"gunner:{turret}"
            or state.pending
            or state.acting_ship != ship.id
            or state.step != Step.TURN
            or station in ship.done
        ):
            return False
        if kind == "ce_reload":
            return bool(reloadable(ship, turret))
        # No loaded rack: the launch is refused whatever the target (§9.A); else the dry run.
        return None if loaded_racks(ship, turret) else False
    if state.pending:
        head = state.pending[0]
        # end_step while a reaction is pending declines it, like no_reaction (§11.B).
        return kind != "surrender" and head.target == ship.id and station in head.eligible
    if state.acting_ship != ship.id or kind == "no_reaction":
        return False
    if kind == "surrender":
        # A free action of the captain (the pilot on a ship without one), §13.2.
        rule = COMMAND_RULES["surrender"]
        return station == next(
            (s for s in rule.stations if s in ship.design.stations), rule.stations[-1]
        )
    return station in needed and station not in ship.done


_LABELS: dict[str, str] = {
    "move": "Move {direction} {target}",
    "attack": "Fire turret {turret} at {target}",
    "launch_missiles": "Launch missiles at {target}",
    "sensor_lock": "Sensor lock on {target}",
    "repair": "Repair {location}",
    "ce_fire": "Fire turret {turret_1} at {target}",
    "range_check": "Range check: {wish} range to {target}",
    "sensor_targeting": "Sensor targeting on {target}",
    "ce_repair": "Repair {system}",
    "ce_pilot": "{action}",
    "ce_captain": "{action}",
    "trigger_screens": "Trigger screen {screen_1}",
    "delay": "Delay until just before {before}",
    "delay:whole_turn": "Hold the whole turn",
}
"""A label format per command type (any other type: its name, capitalised). Placeholders are
`_LabelFields` of the command; a `delay` with no ship to wait for is ``delay:whole_turn``."""


def _ship_name(state: BattleState, ship_id: Any) -> str:
    ship = state.ships.get(str(ship_id))
    return ship.name if ship is not None else ""


_FIELDS: dict[str, Callable[[BattleState, Mapping[str, Any]], str]] = {
    "target": lambda state, d: _ship_name(state, d.get("target", "")),
    "before": lambda state, d: _ship_name(state, d.get("before", "")),
    "direction": lambda state, d: str(d.get("direction", "")),
    "wish": lambda state, d: str(d.get("wish", "")),
    "turret": lambda state, d: str(d.get("turret")),
    "turret_1": lambda state, d: str(int(d.get("turret", 0)) + 1),
    "screen_1": lambda state, d: str(int(d.get("screen", 0)) + 1),
    "location": lambda state, d: str(d.get("location", "")).replace("_", " "),
    "system": lambda state, d: str(d.get("system", "")).replace("_", " ").replace(":", " "),
    "action": lambda state, d: str(d.get("action", "")).replace("_", " ").capitalize(),
}
"""How each label placeholder reads from the command (turrets and screens count from one)."""


class _LabelFields(dict[str, str]):
    """A command's label placeholders, each computed only when its format names it."""

    def __init__(self, state: BattleState, data: Mapping[str, Any]) -> None:
        super().__init__()
        self.state = state
        self.data = data

    def __missing__(self, key: str) -> str:
        return _FIELDS[key](self.state, self.data)


def _label(state: BattleState, data: Mapping[str, Any]) -> str:
    t = str(data["type"])
    if t == "delay" and str(data.get("before", "")) not in state.ships:
        t = "delay:whole_turn"
    fmt = _LABELS.get(t)
    if fmt is None:
        return t.replace("_", " ").capitalize()
    return fmt.format_map(_LabelFields(state, data))


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
    cfg = state.config
    extra = ship.extra_tasks(f"gunner:{turret}") if not state.ruleset.is_ce else 0
    if extra and cfg.extra_task_penalty:
        # §1.5: the gunner already acted at another of their stations this step
        dms["extra_tasks"] = cfg.extra_task_dm * extra
    return {
        "band": band,
        "dms": dms,
        "total_dm": sum(dms.values()),
        "boon": attack_boon(ship, target_id, [flats[w] for w in weapons], state.config),
        "linked": len(weapons),
        "target_armour": target.armour,
    }
