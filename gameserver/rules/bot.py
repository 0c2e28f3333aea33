"""A bot that picks sensible legal commands for a ship or a side (solo play, NPC ships the GM
hands over, tests, benchmarks).

Purely computational: it reads the state and returns commands; it never rolls dice. Every
command it offers passed `is_legal`, so `decide` accepts it. Its tactic level (`rules.tactics`)
sets when it evades, closes, launches, flees or strikes colours; at ``standard`` it closes to
its best weapon's reach keeping 1 Thrust for evasive action, aids the gunners when Thrust
allows, fires everything at the nearest enemy, reacts whenever it can, locks sensors, repairs
the worst critical, reloads, breaks off at a fifth of its Hull and strikes at a tenth. It docks
with and boards a prize alongside (an enemy that surrendered or cannot manoeuvre, MgT2e). In CE
a crew member changes positions to a more vital station whose crew is hurt (the helm first).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from gameserver.rules.commands import BOT, COMMAND_ADAPTER, Command
from gameserver.rules.engine import is_legal
from gameserver.rules.legal import candidate_commands, legal_commands
from gameserver.rules.state import SURRENDERED, BattleState, ShipState, Step
from gameserver.rules.tables_mgt2e import BAND_INDEX, LOCATION_INDEX, WEAPONS
from gameserver.rules.tactics import BOT_OFF, PROFILES, TACTICS, Tactic, TacticProfile
from gameserver.rules.turns import awaiting, enemies

_REACTIONS = frozenset({"evasive_action", "dodge"})


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


def _hull_at(state: BattleState, ship: ShipState, pct: int) -> bool:
    """The ship's Hull is at or below `pct` percent (CE: Hull and Structure together)."""
    if pct <= 0:
        return False
    if state.ruleset.is_ce:
        most = (ship.design.hull if ship.design.hull is not None else ship.design.tons // 50) + (
            ship.design.structure or max(1, ship.design.tons // 50)
        )
        return (ship.hull + ship.structure) * 100 <= most * pct
    return ship.hull * 100 <= ship.design.hull_points * pct


def _nearly_gone(state: BattleState, ship: ShipState, profile: TacticProfile) -> bool:
    """Time to strike colours: MgT2e Hull at the tactic's share (a tenth at standard); CE Hull
    gone and Structure at its share (a quarter at standard)."""
    if state.ruleset.is_ce:
        pct = profile.ce_surrender_pct
        most = ship.design.structure or max(1, ship.design.tons // 50)
        return pct > 0 and ship.hull == 0 and ship.structure * 100 <= most * pct
    pct = profile.surrender_pct
    return pct > 0 and ship.hull * 100 <= ship.design.hull_points * pct


def _ce_range_wanted(
    state: BattleState, ship: ShipState, option: dict[str, Any], profile: TacticProfile
) -> bool:
    """CE: close in from beyond the tactic's band (Medium at standard: every beam's optimum
    is Medium or nearer); open the range when fleeing (§5.2: outrun at the last band); else
    the navigator's Range Check is not worth the action."""
    if option.get("type") != "range_check":
        return True
    band = BAND_INDEX[state.band(ship.id, option["target"])]
    if _hull_at(state, ship, profile.flee_pct):
        return bool(option["wish"] == "increase")
    close_to = BAND_INDEX["medium"] if profile.close_to is None else profile.close_to
    if profile.launch_to < BAND_INDEX["very_long"]:
        close_to = min(close_to, profile.launch_to)
    return option["wish"] == "decrease" and band > close_to


def _prize(state: BattleState, ship: ShipState, other_id: str) -> bool:
    """A ship of another side the bot docks with and boards (§13.1 "Boarding can follow"):
    one that surrendered, or one still in the fight that cannot manoeuvre (`helpless`), with
    no boarders aboard yet."""
    other = state.ships.get(other_id)
    if other is None or other.side == ship.side or other.boarded_by is not None:
        return False
    return other.status == SURRENDERED or (other.is_active and other.helpless)


# CE stations by what a ship loses with nobody able at them (§6.A): the helm first (dodge,
# evasive maneuvers, one pilot only), then a working turret, then the captain.
_CE_RANK = {"pilot": 0, "gunner": 1, "captain": 2, "sensors": 3, "navigator": 4, "engineer": 5}


def _ce_rank(ship: ShipState, station: str) -> int:
    base = station.split(":")[0]
    if base == "gunner" and ship.systems.get(station.replace("gunner", "turret"), 0) >= 2:
        return 9  # a disabled turret (§10.A.5): its gunner has nothing to fire
    return _CE_RANK.get(base, 9)


def _ce_worth_moving(state: BattleState, option: dict[str, Any]) -> bool:
    """CE Change Positions (§6.A, a minor action before acting): when a station more vital
    than the mover's has nobody able (its crew hurt), a crew member from the sensors,
    navigator or engineer station (or a disabled turret) takes it over, acting there at once.
    A working gunner or the pilot never leaves. MgT2e: never (the move takes the round)."""
    if not state.ruleset.is_ce:
        return False
    ship = state.ships[option["ship_id"]]
    mine = _ce_rank(ship, option["station"])
    return mine >= _CE_RANK["sensors"] and _ce_rank(ship, option["to"]) < mine


def _first_legal(state: BattleState, options: list[dict[str, Any]]) -> Command | None:
    for data in options:
        cmd = _cmd(data)
        if is_legal(state, cmd):
            return cmd
    return None


def _flee_plan(state: BattleState, ship: ShipState, profile: TacticProfile) -> list[dict[str, Any]]:
    """MgT2e: leave by jump (§13.1 (a)) when the tactic says to: plot it ahead (the sensors
    station), then jump in a later round (the engineer), in the ship's Actions step."""
    if state.ruleset.is_ce or state.step != Step.ACTIONS or state.acting_ship != ship.id:
        return []
    if ship.design.jump <= 0 or not state.jump_allowed or profile.flee_pct <= 0:
        return []
    base: dict[str, Any] = {"ship_id": ship.id}
    fleeing = _hull_at(state, ship, profile.flee_pct)
    if ship.jump_plot_round:
        return [base | {"type": "jump"}] if fleeing else []
    if fleeing or _hull_at(state, ship, profile.plot_pct):
        return [base | {"type": "plot_jump"}]
    return []


_PLAN_STATION = {"plot_jump": "sensors", "jump": "engineer"}


def choose(
    state: BattleState,
    ship_id: str,
    station: str,
    tactic: Tactic = Tactic.STANDARD,
    whole_ship: bool = False,
) -> Command | None:
    """The bot's command for one awaited station (None if it has nothing legal).

    With `whole_ship` (the bot runs every station of the ship) the command may come from
    another station of the ship when the tactic wants it now (the sensors plotting a jump
    while the captain is awaited); without, it is always the awaited station's own.
    """
    profile = PROFILES[tactic]
    ship = state.ships[ship_id]
    base: dict[str, Any] = {"ship_id": ship_id}
    options: list[dict[str, Any]] = []
    if state.pending:
        # react whenever it can (the reaction first, declining last); the aggressive pilot
        # keeps his Thrust unless badly hurt
        options = candidate_commands(state, ship_id, station)
        if not _hull_at(state, ship, profile.evade_below_pct):
            options = [o for o in options if o["type"] not in _REACTIONS]
        return _first_legal(state, options)
    target = _nearest(state, ship)
    fleeing = _hull_at(state, ship, profile.flee_pct)
    if station == "pilot" and state.step == Step.MANOEUVRE:
        if not fleeing and state.config.boarding:
            if ship.docked is not None and _prize(state, ship, ship.docked):
                # docked with a prize: stay docked for the boarders (moving casts off)
                return _first_legal(state, [base | {"type": "end_step", "station": station}])
            options.extend(
                base | {"type": "dock", "target": e.id}
                for e in state.ships.values()
                if _prize(state, ship, e.id) and state.band(ship_id, e.id) == "adjacent"
            )
        if target is not None:
            band = BAND_INDEX[state.band(ship_id, target.id)]
            reach = _reach(ship)
            wanted = reach if profile.close_to is None else min(reach, profile.close_to)
            if fleeing:
                options.append(base | {"type": "break_off"})
            keep = profile.keep_thrust
            if band > wanted and ship.thrust_pool > keep and not fleeing:
                options.append(
                    base
                    | {
                        "type": "move",
                        "target": target.id,
                        "direction": "toward",
                        "thrust": ship.thrust_pool - keep,
                    }
                )
            elif ship.aid_dm == 0 and ship.thrust_pool >= profile.aid_from and band <= reach:
                options.append(base | {"type": "aid_gunners"})
        options.append(base | {"type": "end_step", "station": station})
        return _first_legal(state, options)
    surrender = station == "captain" and _nearly_gone(state, ship, profile)
    if surrender:
        options.append(base | {"type": "surrender"})
    plan = [
        o
        for o in _flee_plan(state, ship, profile)
        if whole_ship or _PLAN_STATION[o["type"]] == station
    ]
    options.extend(plan)
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
    # leaving by jump follows the tactic's plan only, never the legal list's order
    options = [o for o in options if o["type"] not in ("plot_jump", "jump") or o in plan]
    # holding the action (CE Delay) is a players' tactic; the bot acts on its count
    options = [o for o in options if o["type"] != "delay"]
    # boarding (§13.4) only of a prize, and before anything else the station might do
    options = [
        o for o in options if o["type"] != "boarding_action" or _prize(state, ship, o["target"])
    ]
    options.sort(key=lambda d: 0 if d["type"] == "boarding_action" else 1)
    # missiles only where the tactic launches them (§9: a long flight is a long warning)
    options = [o for o in options if not _launch_too_far(state, ship, o, profile)]
    # flexible crew: the bot keeps every station it holds manned (it never moves a crew member
    # off one, but for CE Change Positions to a more vital station, `_ce_worth_moving`); in
    # the Actions step a crew member takes the helm as well when nobody able holds it (a ship
    # without a pilot cannot move or evade), otherwise a vacant station only once their own
    # has nothing better to do
    moves = [o for o in options if o["type"] == "change_station" and _ce_worth_moving(state, o)]
    options = moves + [o for o in options if o["type"] != "change_station"]
    if state.step == Step.ACTIONS:
        options.sort(key=lambda d: 0 if d["type"] == "hold_station" and d["to"] == "pilot" else 1)
    options.sort(key=lambda d: 1 if d["type"] in ("end_step", "surrender") else 0)
    if surrender:
        options.sort(key=lambda d: 0 if d["type"] == "surrender" else 1)
    if state.ruleset.is_ce:
        options = [o for o in options if _ce_range_wanted(state, ship, o, profile)]
        if profile.evasive_first or fleeing:
            options.sort(key=lambda d: 0 if d.get("action") == "evasive_maneuvers" else 1)
    return _first_legal(state, options)


def _launch_too_far(
    state: BattleState, ship: ShipState, option: dict[str, Any], profile: TacticProfile
) -> bool:
    if option["type"] not in ("launch_missiles", "ce_launch"):
        return False
    return BAND_INDEX[state.band(ship.id, option["target"])] > profile.launch_to


def tactic_of(state: BattleState, ship_id: str, bot_sides: Collection[str] = ()) -> Tactic | None:
    """The tactic the bot runs a ship with, or None when people run it: the GM's choice for the
    ship (`gm_bot`), else ``standard`` when the ship's side is a bot side."""
    ship = state.ships.get(ship_id)
    if ship is None:
        return None
    if ship.bot is not None:
        return Tactic(ship.bot) if ship.bot in TACTICS else None
    return Tactic.STANDARD if ship.side in bot_sides else None


def next_bot_command(state: BattleState, bot_sides: Collection[str] = ()) -> Command | None:
    """The bot's next command for an awaited station of a ship it runs (`tactic_of`), or None.

    Apply it, then ask again: one command at a time keeps every choice an event of its own.
    """
    if state.is_over:
        return None
    for ship_id, station in awaiting(state):
        tactic = tactic_of(state, ship_id, bot_sides)
        if tactic is None:
            continue
        cmd = choose(state, ship_id, station, tactic, whole_ship=True)
        if cmd is not None:
            return cmd
    return None


def bot_commands(state: BattleState, side_id: str) -> list[Command]:
    """Sensible legal commands for every awaited station of `side_id` right now (each ship at
    the tactic the GM gave it, else ``standard``; also ships the GM took back).

    Each is legal against `state`; apply the first, then ask again (later ones may go stale).
    """
    out: list[Command] = []
    if state.is_over:
        return out
    for ship_id, station in awaiting(state):
        ship = state.ships[ship_id]
        if ship.side != side_id:
            continue
        tactic = Tactic(ship.bot) if ship.bot not in (None, BOT_OFF) else Tactic.STANDARD
        cmd = choose(state, ship_id, station, tactic)
        if cmd is not None:
            out.append(cmd)
    return out


def bot_command(state: BattleState, side_id: str) -> Command | None:
    """The first of `bot_commands` (or None when the side is not awaited)."""
    cmds = bot_commands(state, side_id)
    return cmds[0] if cmds else None
