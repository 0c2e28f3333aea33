"""The pilot in the Manoeuvre step: move, aid the gunners, break off.

Purely computational. RULES §3.B (the Thrust pool), §5.3 (range change), §13.2 (breaking off).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.commands import AidGunners, BreakOff, Move
from gameserver.rules.decision import DecideContext, done, handles, refuse, task, task_dm
from gameserver.rules.leaving import leave, undock
from gameserver.rules.resolution import aid_gunners
from gameserver.rules.state import ESCAPED, ShipState, Step, pair_key
from gameserver.rules.turns import enemies, target_ship


def cast_off(ctx: DecideContext, ship: ShipState) -> None:
    """A docked ship whose pilot spends Thrust moving (or breaking off) casts off first: the
    pair separates (engine DEFAULT; RULES.md says nothing of undocking)."""
    if ship.docked is None:
        return
    other = ctx.state.ships.get(ship.docked)
    name = other.name if other is not None else ship.docked
    undock(ctx, ship.id, f"{ship.name} casts off from {name}.")


@handles(Move, step=Step.MANOEUVRE, stations=("pilot",))
def move(ctx: DecideContext, cmd: Move, ship: ShipState, station: str) -> None:
    """§5.3: Thrust spent closing on or opening from a ship builds up toward the band change;
    the pair's net Thrust moves the range at the end of the step."""
    st = ctx.state
    target = target_ship(st, ship, cmd.target, enemy_only=False)
    if cmd.thrust > ship.thrust_pool:
        refuse("not_enough_thrust", f"{ship.name} has {ship.thrust_pool} Thrust left this round")
    band = st.band(ship.id, target.id)
    if cmd.direction == "toward" and band == "adjacent":
        refuse("already_adjacent", f"{target.name} is already adjacent")
    if cmd.direction == "away" and band == "distant":
        refuse("already_distant", "already at Distant: use break_off to leave the battle")
    ctx.valid()
    cast_off(ctx, ship)
    key = pair_key(ship.id, target.id)
    delta = -cmd.thrust if cmd.direction == "toward" else cmd.thrust
    moves = dict(st.moves)
    moves[key] = moves.get(key, 0) + delta
    pool = ship.thrust_pool - cmd.thrust
    fields: dict[str, Any] = {"thrust_pool": pool}
    if pool == 0:
        fields.update(done(ship, station))
    ctx.emit(
        "thrust_spent",
        {"ship": ship.id, "target": target.id, "direction": cmd.direction, "thrust": cmd.thrust},
        f"{ship.name} spends {cmd.thrust} Thrust moving {cmd.direction} {target.name}"
        f" ({pool} left).",
        ships={ship.id: fields},
        battle={"moves": moves},
    )


@handles(AidGunners, step=Step.MANOEUVRE, stations=("pilot",))
def aid_the_gunners(ctx: DecideContext, cmd: AidGunners, ship: ShipState, station: str) -> None:
    """§3.B Aid Gunners: 1 Thrust (⚠ `aid_gunners_thrust`) and a Pilot check; its task-chain
    DM goes to this round's gunners."""
    cost = ctx.cfg.aid_gunners_thrust
    if ship.aid_dm != 0:
        refuse("already_aided", "the pilot already aided the gunners this round")
    if ship.thrust_pool < cost:
        refuse("not_enough_thrust", f"aiding the gunners costs {cost} Thrust")
    ctx.valid()
    pilot = ship.crew_at(station)
    assert pilot is not None
    extra = task_dm(ctx, ship, station)
    c, dm = aid_gunners(
        ctx.dice, pilot.skill("pilot"), pilot.char("DEX"), ship.control_dm + extra, ctx.cfg
    )
    pool = ship.thrust_pool - cost
    fields: dict[str, Any] = {"thrust_pool": pool, "aid_dm": dm} | task(ctx, ship, station)
    if pool == 0:
        fields.update(done(ship, station))
    ctx.emit(
        "gunners_aided",
        {"ship": ship.id, "check": c.to_dict(), "dm": dm},
        f"{ship.name}'s pilot lines up the shot: Effect {c.effect:+d}, gunners DM {dm:+d}"
        " this round.",
        ships={ship.id: fields},
    )


@handles(BreakOff, step=Step.MANOEUVRE, stations=("pilot",))
def break_off(ctx: DecideContext, cmd: BreakOff, ship: ShipState, station: str) -> None:
    """§13.2 DEFAULT: at Distant from every enemy, Thrust spent opening range accumulates;
    50 more (`break_off_thrust`) and the ship has escaped. The Thrust also opens the range
    from every enemy (§5.3), so a pursuer's closing Thrust nets out against it."""
    st = ctx.state
    foes = enemies(st, ship)
    near = [e.name for e in foes if st.band(ship.id, e.id) != "distant"]
    if near:
        refuse("not_distant", f"breaking off needs Distant from every enemy ({', '.join(near)})")
    if ship.thrust_pool <= 0:
        refuse("not_enough_thrust", "no Thrust left this round")
    ctx.valid()
    cast_off(ctx, ship)
    moves = dict(st.moves)
    for e in foes:
        key = pair_key(ship.id, e.id)
        moves[key] = moves.get(key, 0) + ship.thrust_pool
    progress = ship.escape_progress + ship.thrust_pool
    fields: dict[str, Any] = {"thrust_pool": 0, "escape_progress": progress, **done(ship, station)}
    goal = ctx.cfg.break_off_thrust
    ctx.emit(
        "breaking_off",
        {"ship": ship.id, "progress": progress, "needed": goal},
        f"{ship.name} opens away from the fight ({min(progress, goal)}/{goal}).",
        ships={ship.id: fields},
        battle={"moves": moves},
    )
    if progress >= goal:
        leave(ctx, ship.id, ESCAPED, f"{ship.name} breaks off and escapes.")
