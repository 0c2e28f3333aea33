"""Cepheus Engine crew actions: the pilot, sensors, captain, navigator and engineer
stations (§5.2 Range Check, §6.A, §7.A.3 Sensor Targeting, §12.A repairs, §13.1 (b) outran).

Purely computational; the rules are `resolution_ce`'s, this module reads and patches the battle.
"""

from __future__ import annotations

from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.actions.ce.common import check_text, enemy, manned, spent
from gameserver.rules.commands import CeCaptain, CePilot, CeRepair, RangeCheck, SensorTargeting
from gameserver.rules.decision import (
    DecideContext,
    band_text,
    done,
    handles,
    refuse,
    task,
    task_dm,
)
from gameserver.rules.leaving import leave
from gameserver.rules.state import DISABLED, ESCAPED, ShipState, Step, pair_key
from gameserver.rules.tables_ce import BANDS
from gameserver.rules.turns import target_ship
from gameserver.rules.turns_ce import (
    JAMMER_GRADES,
    SENSOR_DM,
    best_navigator,
    ce_skill,
    foes,
    hits,
    present_systems,
)


@handles(CePilot, step=Step.TURN, stations=("pilot",))
def pilot_action(ctx: DecideContext, cmd: CePilot, ship: ShipState, station: str) -> None:
    """§6.A Evasive Maneuvers (attacks on this ship -1/-2 until its next action) or Line Up
    The Shot (+1/+2 to this ship's attacks this turn); a disabled bridge forbids both."""
    ce.crew_action_refusal(cmd.action, hits(ship, "bridge"), hits(ship, "sensors"))
    pilot = manned(ship, station)
    ctx.valid()
    c = ce.check(
        ctx.dice,
        ce_skill(pilot, "piloting"),
        pilot.char("DEX"),
        ship.coordinate_dm + task_dm(ctx, ship, station),
        hasty=ship.hasty,
    )
    granted = ce.grant(cmd.action, c)
    field = "evasive_dm" if cmd.action == "evasive_maneuvers" else "line_up_dm"
    what = cmd.action.replace("_", " ")
    effect = f"DM {granted:+d}" if granted else "no effect"
    ctx.emit(
        "ce_pilot",
        {"ship": ship.id, "action": cmd.action, "check": c.to_dict(), "grants": granted},
        f"{ship.name}'s pilot: {what} ({check_text(c)}): {effect}.",
        ships={
            ship.id: {field: granted} | done(ship, station) | spent(ship) | task(ctx, ship, station)
        },
    )


@handles(SensorTargeting, step=Step.TURN, stations=("sensors",))
def sensor_targeting(
    ctx: DecideContext, cmd: SensorTargeting, ship: ShipState, station: str
) -> None:
    """§7.A.3/§7.A.4 DEFAULT: Comms (EDU) + own electronics - the target's if it jams - 4
    against stealth; gunners +1 (+2 exceptional) at that target this turn."""
    ce.crew_action_refusal("sensor_targeting", hits(ship, "bridge"), hits(ship, "sensors"))
    target = enemy(ctx.state, ship, cmd.target)
    op = manned(ship, station)
    ctx.valid()
    grade = target.design.sensors.value
    dm = ce.sensor_targeting_dm(
        SENSOR_DM[ship.design.sensors.value],
        SENSOR_DM[grade],
        grade in JAMMER_GRADES,
        target.design.stealth,
        hits(ship, "sensors"),
    )
    dm += ship.coordinate_dm + task_dm(ctx, ship, station)
    c = ce.check(ctx.dice, ce_skill(op, "comms"), op.char("EDU"), dm, hasty=ship.hasty)
    granted = ce.grant("sensor_targeting", c)
    targeting = dict(ship.targeting) | {target.id: granted}
    ctx.emit(
        "sensor_targeting",
        {"ship": ship.id, "target": target.id, "check": c.to_dict(), "grants": granted},
        f"{ship.name}'s sensors target {target.name} ({check_text(c)}):"
        f" {f'gunners {granted:+d}' if granted else 'no lock'}.",
        ships={
            ship.id: {"targeting": targeting}
            | done(ship, station)
            | spent(ship)
            | task(ctx, ship, station)
        },
    )


@handles(CeCaptain, step=Step.TURN, stations=("captain",))
def captain_action(ctx: DecideContext, cmd: CeCaptain, ship: ShipState, station: str) -> None:
    """§6.A Coordinate Crew (a pool of max(1, Effect) +1 DMs for this turn's checks) or
    Increase Initiative (+Effect next turn only, §4.A.2); both Leadership (SOC)."""
    captain = manned(ship, station)
    ctx.valid()
    c = ce.check(
        ctx.dice,
        ce_skill(captain, "leadership"),
        captain.char("SOC"),
        task_dm(ctx, ship, station),
        hasty=ship.hasty,
    )
    granted = ce.grant(cmd.action, c)
    if cmd.action == "coordinate_crew":
        fields: dict[str, Any] = {"coordinate": granted}
        text = f"a pool of {granted} for the crew" if granted else "no effect"
    else:
        fields = {"init_bonus": granted}
        text = f"initiative {granted:+d} next turn" if granted else "no effect"
    ctx.emit(
        "ce_captain",
        {"ship": ship.id, "action": cmd.action, "check": c.to_dict(), "grants": granted},
        f"{ship.name}'s captain: {cmd.action.replace('_', ' ')} ({check_text(c)}): {text}.",
        ships={ship.id: fields | done(ship, station) | task(ctx, ship, station)},
    )


@handles(RangeCheck, step=Step.TURN, stations=("navigator", "pilot"))
def range_check(ctx: DecideContext, cmd: RangeCheck, ship: ShipState, station: str) -> None:
    """§5.2: opposed Navigation (EDU) against the other ship's best navigator (DEFAULT); the
    winner, even on a failed check (A2), moves the range one band its way (#15). Winning an
    increase at Distant from every enemy outruns them (§13.1 (b))."""
    st = ctx.state
    if ship.status == DISABLED:
        refuse("ship_disabled", f"{ship.name} is disabled")
    target = target_ship(st, ship, cmd.target, enemy_only=False)
    if target.side == ship.side:
        refuse("friendly_target", f"{target.name} is on your side")
    nav = manned(ship, station)
    other = best_navigator(target)
    ctx.valid()
    band = st.band(ship.id, target.id)
    dm = ship.coordinate_dm + task_dm(ctx, ship, station)
    a = ce.Side(ce_skill(nav, "navigation"), nav.char("EDU"), dm, ship.hasty)
    b = (
        ce.Side(ce_skill(other, "navigation"), other.char("EDU"), 0, target.hasty)
        if other is not None
        else ce.Side(None, 0)
    )
    o = ce.opposed(ctx.dice, a, b)
    # The defender opposes: it wants the opposite of what the acting ship asks.
    theirs = {"increase": "decrease", "decrease": "increase", "keep": "keep"}[cmd.wish]
    wish = cmd.wish if o.a_wins else theirs
    after = ce.range_after(band, wish)
    ranges = dict(st.ranges)
    ranges[pair_key(ship.id, target.id)] = (after, 0)
    winner = ship if o.a_wins else target
    ctx.emit(
        "range_check",
        {
            "ship": ship.id,
            "target": target.id,
            "wish": cmd.wish,
            "winner": winner.id,
            "effect_a": o.effect_a,
            "effect_b": o.effect_b,
            "rerolls": o.rerolls,
            "from": band,
            "to": after,
        },
        f"Range check {ship.name} ({o.effect_a:+d}) against {target.name} ({o.effect_b:+d}):"
        f" {winner.name} wins; {band_text(band)}"
        + (f" -> {band_text(after)}." if after != band else " holds."),
        ships={ship.id: done(ship, station) | spent(ship) | task(ctx, ship, station)},
        battle={"ranges": ranges},
    )
    st = ctx.state
    outran = (
        o.a_wins
        and cmd.wish == "increase"
        and band == BANDS[-1].value
        and all(st.band(ship.id, e.id) == BANDS[-1].value for e in foes(st, ship))
    )
    if outran:
        leave(ctx, ship.id, ESCAPED, f"{ship.name} outruns the enemy and leaves the battle.")


@handles(CeRepair, step=Step.TURN, stations=("engineer",))
def repair(ctx: DecideContext, cmd: CeRepair, ship: ShipState, station: str) -> None:
    """§12.A Repair Damaged System: Mechanics (EDU), hits repaired by the Effect; #21 limits.
    Repaired M-Drive hits give back Thrust from the design rating (A14)."""
    if cmd.system not in ship.systems and cmd.system not in present_systems(ship):
        refuse("not_repairable", f"{ship.name} has no system {cmd.system!r}")
    n = hits(ship, cmd.system)
    ce.repair_refusal(cmd.system, n)
    eng = manned(ship, station)
    ctx.valid()
    res = ce.repair(
        ctx.dice,
        ce_skill(eng, "mechanics"),
        eng.char("EDU"),
        cmd.system,
        n,
        dm=ship.coordinate_dm + task_dm(ctx, ship, station),
        hasty=ship.hasty,
        cfg=ctx.cfg,
    )
    systems = dict(ship.systems) | {cmd.system: res.hits_after}
    fields: dict[str, Any] = {"systems": {k: v for k, v in systems.items() if v > 0}}
    if cmd.system == "fuel" and res.hits_after == 0 and ship.fuel_leak:
        fields["fuel_leak"] = 0  # §10.A.5: the leak was the 1st Fuel hit's; it is mended
    if cmd.system == "m_drive":
        rating = ship.design.thrust
        fields["md_thrust_loss"] = rating - ce.m_drive_thrust(rating, res.hits_after)
    name = cmd.system.replace("_", " ").replace(":", " ")
    ctx.emit(
        "ce_repair",
        {
            "ship": ship.id,
            "system": cmd.system,
            "check": res.check.to_dict(),
            "repairs": res.repairs,
            "hits_after": res.hits_after,
        },
        f"{ship.name}'s damage control on the {name} ({check_text(res.check)}):"
        f" {res.repairs} hit(s) repaired, {res.hits_after} left.",
        ships={ship.id: fields | done(ship, station) | spent(ship) | task(ctx, ship, station)},
    )
