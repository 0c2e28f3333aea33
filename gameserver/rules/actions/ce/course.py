"""The course of a Cepheus Engine battle: initiative, the reaction pool, new turns, the
acting order, and the two ways a ship changes its place in it (Hasty, Delay).

Purely computational. RULES §3.A (ship turns), §4.A (initiative, the reaction pool).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.commands import Delay, Hasty
from gameserver.rules.decision import DecideContext, handles, refuse
from gameserver.rules.state import DISABLED, BattleState, ShipState, Step
from gameserver.rules.turns_ce import ce_skill

# ---------------------------------------------------------------- the course of the battle


def roll_initiative(ctx: DecideContext, roll_tactics: dict[str, bool]) -> None:
    """§4.A.1: 2D + 1 for the greater Thrust (#8) + the Captain's optional Tactics Effect;
    the reaction pool follows from it (§4.A.3)."""
    st = ctx.state
    thrusts = {sid: s.thrust for sid, s in st.ships.items()}
    for sid, ship in st.ships.items():
        captain = ship.crew_at("captain")
        tactics = None
        if roll_tactics.get(sid, True) and captain is not None:
            level = ce_skill(captain, "tactics")
            if level is not None:
                tactics = (level, captain.char("INT"), 0)
        others = [t for o, t in thrusts.items() if o != sid]
        res = ce.initiative(ctx.dice, thrusts[sid], others, tactics)
        extra = f", Tactics Effect {res.tactics_effect:+d}" if res.tactics is not None else ""
        ctx.emit(
            "initiative_rolled",
            {
                "ship": sid,
                "roll": res.roll,
                "greater_thrust": res.greater_thrust,
                "initiative": res.initiative,
                "tactics": res.tactics.to_dict() if res.tactics else None,
                "reactions": res.reactions,
            },
            f"{ship.name} rolls initiative {res.initiative} (2D {res.roll}"
            f"{', +1 greater Thrust' if res.greater_thrust else ''}{extra});"
            f" {res.reactions} reaction(s) a turn.",
            ships={sid: {"initiative": res.initiative, "reactions": res.reactions}},
        )


def round_fields(ship: ShipState) -> dict[str, Any]:
    """A new turn (§3.A): last turn's Increase Initiative lapses, this one's comes in force
    (§4.A.2), the reaction pool refills from the initiative (§4.A.3), every station acts again."""
    initiative = ship.initiative - ship.bonus_in_force + ship.init_bonus
    fields: dict[str, Any] = {
        "initiative": initiative,
        "bonus_in_force": ship.init_bonus,
        "init_bonus": 0,
        "reactions": ce.reactions_for(initiative, ship.status == DISABLED),
        "fired": frozenset(),
        "done": frozenset(),
        "delay": 0,
    }
    return {k: v for k, v in fields.items() if getattr(ship, k) != v}


def new_turn_fields(state: BattleState) -> dict[str, dict[str, Any]]:
    """`round_fields` of every ship; a ship that held its whole last turn (§3.A Delay) acts
    first: its initiative becomes the highest of the others + 1 (several such ships tie at
    that count, and Thrust orders them)."""
    ships = {sid: round_fields(s) for sid, s in state.ships.items()}
    held = [sid for sid, s in state.ships.items() if s.delay == 1 and s.is_active]
    if not held:
        return ships
    others = [
        ships[sid].get("initiative", s.initiative)
        for sid, s in state.ships.items()
        if s.is_active and sid not in held
    ]
    top = max(others, default=0) + 1
    for sid in held:
        ship = state.ships[sid]
        ships[sid] |= {
            "initiative": top,
            "reactions": ce.reactions_for(top, ship.status == DISABLED),
        }
    return ships


def simultaneous_next(state: BattleState) -> bool:
    """§4.A.1: the ship after the acting one ties it exactly (initiative and Thrust) and has
    still to act: the two act simultaneously, so the acting ship's hits wait for its crew too
    (a ship that delayed to interrupt another acts before it, never with it)."""
    sid = state.acting_ship
    if sid is None or state.turn + 1 >= len(state.order):
        return False
    ship = state.ships[sid]
    nxt = state.ships.get(state.order[state.turn + 1])
    if nxt is None or not nxt.is_active or ship.delay == 2 or nxt.delay == 2:
        return False
    return (nxt.initiative, nxt.thrust) == (ship.initiative, ship.thrust)


def turn_fields(ship: ShipState) -> dict[str, Any]:
    """The ship's own action starts (§3.A): its Evasive Maneuvers lapse (#14), and this turn's
    Line Up, Sensor Targeting and Coordinate Crew start from nothing, as do the tasks of
    people holding two stations (§1.5)."""
    fields: dict[str, Any] = {
        "evasive_dm": 0,
        "line_up_dm": 0,
        "targeting": {},
        "coordinate": 0,
        "hasty": False,
        "tasks": frozenset(),
    }
    return {k: v for k, v in fields.items() if getattr(ship, k) != v}


def initiative_key(state: BattleState, ship: ShipState, join: int) -> tuple[int, int, int]:
    """§4.A.1: higher initiative first, then higher Thrust; the rest act in joining order."""
    return (-ship.initiative, -ship.thrust, join)


# ---------------------------------------------------------------- hasty and delay


@handles(Hasty, step=Step.TURN, stations=("captain", "pilot"), free_action=True)
def hasty(ctx: DecideContext, cmd: Hasty, ship: ShipState, station: str) -> None:
    """§1.5 / §3.A: at the start of the ship's turn (before any of its crew has acted) the
    captain declares hasty: initiative +2 for this turn (so the reaction pool may grow) and
    DM -1 on every crew check until the ship's next turn."""
    if ship.hasty:
        refuse("already_hasty", f"{ship.name} is already hasty")
    if ship.done:
        refuse("too_late", "hasty is declared before any of the crew acts")
    ctx.valid()
    initiative = ship.initiative + 2
    extra = ce.reactions_for(initiative) - ce.reactions_for(ship.initiative)
    ctx.emit(
        "hasty",
        {"ship": ship.id, "initiative": initiative},
        f"{ship.name}'s captain orders haste: initiative {initiative}, every check -1.",
        ships={
            ship.id: {
                "hasty": True,
                "initiative": initiative,
                "bonus_in_force": ship.bonus_in_force + 2,
                "reactions": ship.reactions + extra,
            }
        },
    )


@handles(Delay, step=Step.TURN, stations=("captain", "pilot"), free_action=True)
def delay(ctx: DecideContext, cmd: Delay, ship: ShipState, station: str) -> None:
    """§3.A Delay: before any of its crew acts, a ship holds its action. It may act later this
    turn just before another ship still to act (interrupting it): its initiative becomes that
    ship's, and it keeps that count. Or it holds the whole turn: it loses this turn's actions
    and next turn acts first (initiative = the highest + 1)."""
    st = ctx.state
    if ship.delay:
        refuse("already_delayed", f"{ship.name} has already delayed this turn")
    if ship.done or ship.hasty:
        refuse("too_late", "a ship delays before any of its crew acts (and before haste)")
    later = st.order[st.turn + 1 :]
    if cmd.before is None:
        ctx.valid()
        ctx.emit(
            "delayed",
            {"ship": ship.id, "before": None},
            f"{ship.name} holds its action this turn; it will act first next turn.",
            ships={ship.id: {"delay": 1, "done": frozenset(ship.design.station_ids()) | ship.done}},
        )
        return
    other = st.ships.get(cmd.before)
    if other is None or cmd.before not in later or not other.is_active:
        refuse("bad_target", "delay until a ship that has still to act this turn")
    ctx.valid()
    rest = [s for s in st.order if s != ship.id]
    j = rest.index(cmd.before)
    order = (*rest[:j], ship.id, *rest[j:])
    initiative = other.initiative
    pool = ce.reactions_for(initiative) - ce.reactions_for(ship.initiative)
    ctx.emit(
        "delayed",
        {"ship": ship.id, "before": other.id, "initiative": initiative},
        f"{ship.name} holds its action until just before {other.name} (initiative {initiative}).",
        ships={
            ship.id: {
                "delay": 2,
                "initiative": initiative,
                "bonus_in_force": 0,
                "reactions": max(0, ship.reactions + pool),
            }
        },
        battle={"order": order, "turn": st.turn - 1},
    )
