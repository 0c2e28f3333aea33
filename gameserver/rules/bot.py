"""A bot that picks sensible legal commands for a side (solo play, tests, benchmarks).

Purely computational: it reads the state and returns commands; it never rolls dice. Tactics: close
to the best weapon's reach keeping 1 Thrust for evasive action, aid the gunners when Thrust allows,
fire everything at the nearest enemy, react whenever it can, lock sensors, repair the worst
critical, reload, and strike colours when the hull is nearly gone.
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.commands import BOT, COMMAND_ADAPTER, Command
from gameserver.rules.engine import is_legal
from gameserver.rules.legal import candidate_commands, legal_commands
from gameserver.rules.state import BattleState, ShipState, Step
from gameserver.rules.tables_mgt2e import BAND_INDEX, LOCATION_INDEX, WEAPONS
from gameserver.rules.turns import awaiting, enemies


def _cmd(data: dict[str, Any]) -> Command:
    return COMMAND_ADAPTER.validate_python(data | {"actor": BOT})


def _nearest(state: BattleState, ship: ShipState) -> ShipState | None:
    foes = enemies(state, ship)
    if not foes:
        return None
    return min(foes, key=lambda e: (BAND_INDEX[state.band(ship.id, e.id)], e.hull, e.id))


def _reach(ship: ShipState) -> int:
    best = -1
    for flat, kind in enumerate(_kinds(ship)):
        if ship.weapons[flat] == "destroyed":
            continue
        stats = WEAPONS[kind]
        if stats.max_range is not None:
            best = max(best, BAND_INDEX[stats.max_range.value])
        elif kind == "missile_rack":
            best = max(best, BAND_INDEX["medium"])
    return best


def _kinds(ship: ShipState) -> list[str]:
    return [w.value for t in ship.design.turrets for w in t.weapons]


def _nearly_gone(state: BattleState, ship: ShipState) -> bool:
    """Time to strike colours: MgT2e Hull at a tenth; CE Hull gone and Structure at a quarter."""
    if state.ruleset.is_ce:
        most = ship.design.structure or max(1, ship.design.tons // 50)
        return ship.hull == 0 and ship.structure * 4 <= most
    return ship.hull * 10 <= ship.design.hull_points


def _ce_range_wanted(state: BattleState, ship: ShipState, option: dict[str, Any]) -> bool:
    """CE: close in from beyond Medium (every beam's optimum is Medium or nearer); else the
    navigator's Range Check is not worth the action."""
    if option.get("type") != "range_check":
        return True
    band = BAND_INDEX[state.band(ship.id, option["target"])]
    return option["wish"] == "decrease" and band > BAND_INDEX["medium"]


def _first_legal(state: BattleState, options: list[dict[str, Any]]) -> Command | None:
    for data in options:
        cmd = _cmd(data)
        if is_legal(state, cmd):
            return cmd
    return None


def choose(state: BattleState, ship_id: str, station: str) -> Command | None:
    """The bot's command for one awaited station (None if it has nothing legal)."""
    ship = state.ships[ship_id]
    base: dict[str, Any] = {"ship_id": ship_id}
    options: list[dict[str, Any]] = []
    if state.pending:
        # react whenever it can: the reaction first, declining last
        return _first_legal(state, candidate_commands(state, ship_id, station))
    target = _nearest(state, ship)
    if station == "pilot" and state.step == Step.MANOEUVRE:
        if target is not None:
            band = BAND_INDEX[state.band(ship_id, target.id)]
            hurt = ship.hull * 5 <= ship.design.hull_points
            if hurt:
                options.append(base | {"type": "break_off"})
            if band > _reach(ship) and ship.thrust_pool > 1 and not hurt:
                options.append(
                    base
                    | {
                        "type": "move",
                        "target": target.id,
                        "direction": "toward",
                        "thrust": ship.thrust_pool - 1,
                    }
                )
            elif ship.aid_dm == 0 and ship.thrust_pool >= 2 and band <= _reach(ship):
                options.append(base | {"type": "aid_gunners"})
        options.append(base | {"type": "end_step", "station": station})
        return _first_legal(state, options)
    if station == "captain" and _nearly_gone(state, ship):
        options.append(base | {"type": "surrender"})
    for entry in legal_commands(state, ship_id, station):
        options.append(entry["command"])
    if target is not None:
        # prefer the nearest enemy, then the rest in the engine's order
        options.sort(key=lambda d: 0 if d.get("target") == target.id else 1)
    if station == "engineer" and not state.ruleset.is_ce:
        options.sort(
            key=lambda d: -ship.crits[LOCATION_INDEX[d["location"]]] if "location" in d else 1
        )
    options = [o for o in options if o["type"] != "surrender" or station == "captain"]
    # leaving by jump is the players' (or a later tactic's) choice, not this bot's
    options = [o for o in options if o["type"] not in ("plot_jump", "jump")]
    # holding the action (CE Delay) is a players' tactic; the bot acts on its count
    options = [o for o in options if o["type"] != "delay"]
    options.sort(key=lambda d: 1 if d["type"] in ("end_step", "surrender") else 0)
    if station == "captain" and _nearly_gone(state, ship):
        options.sort(key=lambda d: 0 if d["type"] == "surrender" else 1)
    if state.ruleset.is_ce:
        options = [o for o in options if _ce_range_wanted(state, ship, o)]
    return _first_legal(state, options)


def bot_commands(state: BattleState, side_id: str) -> list[Command]:
    """Sensible legal commands for every awaited station of `side_id` right now.

    Each is legal against `state`; apply the first, then ask again (later ones may go stale).
    """
    out: list[Command] = []
    if state.is_over:
        return out
    for ship_id, station in awaiting(state):
        if state.ships[ship_id].side != side_id:
            continue
        cmd = choose(state, ship_id, station)
        if cmd is not None:
            out.append(cmd)
    return out


def bot_command(state: BattleState, side_id: str) -> Command | None:
    """The first of `bot_commands` (or None when the side is not awaited)."""
    cmds = bot_commands(state, side_id)
    return cmds[0] if cmds else None
