"""What a station may do now, as clients show it: legal commands, labels, attack previews.

Purely computational. Candidates are every command shape the station could send; the legal
ones are those `decide` would accept, so the lists never offer what the rules refuse. The
commonest candidates (ending a step, declining a reaction, surrendering: one or more in every
list; CE reloads and launches, mostly refused; the step commands of `_ON_TURN`: MgT2e attack,
sensor lock, move, aid gunners, break off, dock and the Actions step's captain, sensors,
engineer, boarding and reload commands; CE pilot actions, range checks, fire) are judged
directly from the state; the rest by a dry run of `decide` (no dice drawn). Property tests hold
the direct judgement equal to the dry run on random states of every ruleset, as played and
with random damage, stores, statuses and ranges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from gameserver.rules.actions.attack import attack_boon
from gameserver.rules.actions.boarding import boarding_refusal, dock_refusal
from gameserver.rules.actions.ce.missiles import reloadable
from gameserver.rules.actions.crew import vacant_stations
from gameserver.rules.actions.ship import jump_refusal
from gameserver.rules.authorise import station_for
from gameserver.rules.commands import COMMAND_ADAPTER, GM, Actor, Command
from gameserver.rules.decision import COMMAND_RULES
from gameserver.rules.effects import REPAIRABLE
from gameserver.rules.engine import is_legal
from gameserver.rules.pending import PendingAttack
from gameserver.rules.resolution import attack_dms, weapon_reach_error
from gameserver.rules.resolution_ce import PILOT_ACTIONS
from gameserver.rules.state import (
    ACTIVE,
    CAPTURED,
    DESTROYED,
    DISABLED,
    ESCAPED,
    JUMPED,
    SURRENDERED,
    WRECKED,
    BattleState,
    ShipState,
    Step,
)
from gameserver.rules.tables_mgt2e import LOCATION_INDEX, WEAPONS
from gameserver.rules.turns import (
    boarding_station,
    boarding_targets,
    enemies,
    engineer_systems,
    ew_options,
    reload_options,
    repair_options,
    stations_needed,
)
from gameserver.rules.turns_ce import (
    beam_weapons,
    candidates as ce_candidates,
    hits,
    loaded_racks,
    sandcaster,
)


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
        prizes = state.config.boarding  # a surrendered ship may be closed on to board her
        for e in state.ships.values():
            if e.id == ship_id or not (e.is_active or (prizes and e.status == SURRENDERED)):
                continue
            for direction in ("toward", "away"):
                out.append(
                    base | {"type": "move", "target": e.id, "direction": direction, "thrust": 1}
                )
        out.append(base | {"type": "aid_gunners"})
        out.append(base | {"type": "break_off"})
        if state.config.boarding and ship.docked is None:
            # §5.2 Dock: any ship adjacent, in the fight or surrendered
            for e in state.ships.values():
                alongside = e.id != ship_id and state.band(ship_id, e.id) == "adjacent"
                if alongside and e.status in (ACTIVE, SURRENDERED):
                    out.append(base | {"type": "dock", "target": e.id})
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
    if state.step == Step.ACTIONS and state.config.boarding and station == boarding_station(ship):
        for e in boarding_targets(state, ship):
            out.append(base | {"type": "boarding_action", "target": e.id})
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
    on_turn = _ON_TURN.get(kind)
    if on_turn is not None:
        # `authorise` of a step's command, then the handler's own checks up to `ctx.valid()`.
        return _turn_station(state, ship, station, kind, data) and on_turn(state, ship, data)
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


def _turn_station(
    state: BattleState, ship: ShipState, station: str, kind: str, data: Mapping[str, Any]
) -> bool:
    """`authorise` for a command sent by a player holding only `station` (the ship is active
    and the station manned: checked): the station the command acts from (`station_for`) is
    that one; a reaction answers the pending head aimed at the ship, from one of its eligible
    stations; anything else needs nothing pending and the ship's turn, and (but for a free
    action) the command's step with the station not done yet."""
    rule = COMMAND_RULES[kind]
    if rule.stations == ("gunner",):
        turret = int(data["turret"])
        if turret >= len(ship.design.turrets) or station != f"gunner:{turret}":
            return False
    elif station != next(
        (s for s in rule.stations if s in ship.design.stations), rule.stations[-1]
    ):
        return False
    if rule.reaction:
        return bool(state.pending) and (
            state.pending[0].target == ship.id and station in state.pending[0].eligible
        )
    if rule.free_action:
        return not state.pending and state.acting_ship == ship.id
    return (
        not state.pending
        and state.acting_ship == ship.id
        and (rule.step is None or rule.step == state.step)
        and station not in ship.done
    )


def _target(
    state: BattleState, ship: ShipState, target_id: Any, enemy_only: bool = True
) -> ShipState | None:
    """`target_ship` without the refusal: the ship, or None where it would refuse."""
    target = state.ships.get(str(target_id))
    if target is None or target.id == ship.id:
        return None
    if enemy_only and (target.side == ship.side or target.status == SURRENDERED):
        return None
    if target.status in (WRECKED, ESCAPED, JUMPED, CAPTURED):
        return None
    return target


def _attack(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool | None:
    """`declare_attack` (§7.B) with the weapons named, as the candidates name them."""
    given = data.get("weapons")
    if given is None or data.get("called_shot") is not None:
        return None  # default weapons or a called shot: the candidates offer neither
    flats = list(ship.turret_weapons(int(data["turret"])))
    if not given or len(set(given)) != len(given):
        return False
    kinds = set()
    for w in given:
        if not 0 <= w < len(flats):
            return False
        f = flats[w]
        if f in ship.fired or ship.weapons[f] in ("disabled", "destroyed"):
            return False
        if not ship.weapon_ready(f):
            return False
        kinds.add(ship.weapon_kind(f))
    if len(kinds) > 1:
        return False
    kind = kinds.pop()
    target = _target(state, ship, data["target"])
    if not WEAPONS[kind].direct_fire or target is None:
        return False
    band = state.band(ship.id, target.id)
    return weapon_reach_error(kind, band) is None and ship.within_sensors(band)


def _sensor_lock(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`sensor_lock` (§6.B): working sensors, an enemy they reach, not locked on yet."""
    target = _target(state, ship, data["target"])
    return (
        not ship.sensors_disabled
        and target is not None
        and ship.within_sensors(state.band(ship.id, target.id))
        and ship.sensor_lock != target.id
    )


def _move(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`move` (§5.3): any other ship still there, Thrust enough, a band left that way."""
    target = _target(state, ship, data["target"], enemy_only=False)
    if target is None or int(data["thrust"]) > ship.thrust_pool:
        return False
    band = state.band(ship.id, target.id)
    direction = data["direction"]
    return not (direction == "toward" and band == "adjacent") and not (
        direction == "away" and band == "distant"
    )


def _aid_gunners(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`aid_the_gunners` (§3.B): once a round, with the Thrust it costs."""
    return ship.aid_dm == 0 and ship.thrust_pool >= state.config.aid_gunners_thrust


def _break_off(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`break_off` (§13.2): at Distant from every enemy, with Thrust left."""
    return ship.thrust_pool > 0 and all(
        state.band(ship.id, e.id) == "distant" for e in enemies(state, ship)
    )


def _dock(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`dock` (§5.2): a ship in the battle or surrendered, neither docked, adjacent, Thrust."""
    target = _target(state, ship, data["target"], enemy_only=False)
    return target is not None and dock_refusal(state, ship, target) is None


def _boarding_action(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`boarding_action` (§13.4): an enemy in the battle or surrendered, adjacent or docked,
    no boarders already aboard."""
    target = _target(state, ship, data["target"], enemy_only=False)
    return target is not None and boarding_refusal(state, ship, target) is None


def _ce_pilot(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """CE `pilot_action` (§6.A, §10.A.5): a disabled bridge forbids both actions."""
    return not (data["action"] in PILOT_ACTIONS and hits(ship, "bridge") >= 2)


def _range_check(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """CE `range_check` (§5.2): a ship of another side still in the battle."""
    target = _target(state, ship, data["target"], enemy_only=False)
    return ship.status != DISABLED and target is not None and target.side != ship.side


def _ce_fire(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """CE `fire` (§7.A, §10.A.5): a working turret, an enemy neither destroyed nor disabled
    that the sensors allow, and a beam weapon of the turret reaching it."""
    turret = int(data["turret"])
    target = _target(state, ship, data["target"])
    if hits(ship, f"turret:{turret}") >= 2 or target is None:
        return False
    if target.status in (DESTROYED, DISABLED):
        return False
    band = state.band(ship.id, target.id)
    if hits(ship, "sensors") >= 2 and band != "adjacent":
        return False
    return bool(beam_weapons(ship, turret, band))


def _always(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """A handler that checks nothing past `authorise` (`improve_initiative`, §4.B)."""
    return True


def _repair(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`repair` (§12.B): a critical there, not patched yet, of a Severity combat repairs fix."""
    loc = str(data["location"])
    sev = ship.crits[LOCATION_INDEX[loc]]
    return sev > 0 and loc not in ship.repaired and sev in REPAIRABLE[loc]


def _reload(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool | None:
    """`reload` (§9.B.4) of the turret's first rack or sandcaster that needs it."""
    if data.get("weapon") is not None:
        return None  # the candidates name no weapon
    return bool(reload_options(ship, int(data["turret"]), state.config))


def _plot_jump(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`plot_jump` (§13.1 (a)): a jump drive that may jump here, not plotted yet."""
    return jump_refusal(state, ship) is None and not ship.jump_plot_round


def _jump(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`jump` (§13.1 (a)): as the plot, and the plot made in an earlier round."""
    return jump_refusal(state, ship) is None and 0 < ship.jump_plot_round < state.round


def _overload_drive(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`overload_drive` (§6.B): an M-Drive giving Thrust, online, not overloaded for next round."""
    return (
        ship.drive_thrust > 0
        and "m_drive" not in ship.offline
        and "drive" not in ship.overload_next
    )


def _overload_plant(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`overload_plant` (§6.B): a power budget, Power left, not overloaded for next round."""
    return bool(ship.plant) and ship.power_pct > 0 and "plant" not in ship.overload_next


def _system(ship: ShipState, system: str) -> bool:
    """`_system_refusal` of the engineer's power actions: a system the ship has, a budget."""
    if system.startswith("turret:") and int(system.split(":")[1]) >= len(ship.design.turrets):
        return False
    return bool(ship.plant)


def _offline_system(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`offline_system` (§6.B): a system still online."""
    system = str(data["system"])
    return _system(ship, system) and system not in ship.offline


def _restore_system(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """`restore_system` (§6.B): a system taken offline."""
    system = str(data["system"])
    return _system(ship, system) and system in ship.offline


def _hasty(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """CE `hasty` (§1.5, a free action): once, before any of the crew acts."""
    return not ship.hasty and not ship.done


def _delay(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """CE `delay` (§3.A, a free action): once, before the crew acts and before haste; until
    a ship still to act this turn, or the whole turn."""
    if ship.delay or ship.done or ship.hasty:
        return False
    before = data.get("before")
    if before is None:
        return True
    other = state.ships.get(str(before))
    return other is not None and before in state.order[state.turn + 1 :] and other.is_active


def _dodge(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """CE `dodge` (§11.A, a reaction): a CE battle, a bridge still working."""
    return state.ruleset.is_ce and hits(ship, "bridge") < 2


def _fire_sand(state: BattleState, ship: ShipState, data: Mapping[str, Any]) -> bool:
    """CE `fire_sand` (§11.A, a reaction): against a beam attack, a working loaded sandcaster."""
    return (
        state.ruleset.is_ce
        and isinstance(state.pending[0], PendingAttack)
        and sandcaster(ship, int(data["turret"])) is not None
    )


_ON_TURN: dict[str, Callable[[BattleState, ShipState, Mapping[str, Any]], bool | None]] = {
    "attack": _attack,
    "sensor_lock": _sensor_lock,
    "move": _move,
    "aid_gunners": _aid_gunners,
    "break_off": _break_off,
    "dock": _dock,
    "boarding_action": _boarding_action,
    "improve_initiative": _always,
    "repair": _repair,
    "reload": _reload,
    "plot_jump": _plot_jump,
    "jump": _jump,
    "overload_drive": _overload_drive,
    "overload_plant": _overload_plant,
    "offline_system": _offline_system,
    "restore_system": _restore_system,
    "ce_pilot": _ce_pilot,
    "range_check": _range_check,
    "ce_fire": _ce_fire,
    "hasty": _hasty,
    "delay": _delay,
    "dodge": _dodge,
    "fire_sand": _fire_sand,
}
"""Step commands judged directly: the handler's checks before `ctx.valid()`, as a predicate
(None: ask the dry run). Each mirrors its handler; the property test holds them to it."""

_DIRECT = frozenset({"end_step", "no_reaction", "surrender", "ce_reload", "ce_launch", *_ON_TURN})


_LABELS: dict[str, str] = {
    "move": "Move {direction} {target}",
    "attack": "Fire turret {turret} at {target}",
    "launch_missiles": "Launch missiles at {target}",
    "sensor_lock": "Sensor lock on {target}",
    "dock": "Dock with {target}",
    "boarding_action": "Board {target}",
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
