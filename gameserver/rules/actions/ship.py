"""The Actions step and the ship-wide commands: sensors, captain, engineer, reloads,
surrender, and ending a station's step.

Purely computational. RULES §6.B (positions and actions), §4.B (Improve Initiative), §9.B.4
(reload), §12.B (repair), §13.2 (surrender).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.actions.reactions import no_reaction
from gameserver.rules.commands import (
    ElectronicWarfare,
    EndStep,
    ImproveInitiative,
    Jump,
    PlotJump,
    Reload,
    Repair,
    SensorLock,
    Surrender,
)
from gameserver.rules.decision import (
    DecideContext,
    band_text,
    done,
    handles,
    refuse,
    station_name,
    task,
    task_dm,
)
from gameserver.rules.effects import REPAIRABLE
from gameserver.rules.leaving import leave
from gameserver.rules.resolution import check, repair_check
from gameserver.rules.state import JUMPED, SURRENDERED, BattleState, ShipState, Step
from gameserver.rules.tables_mgt2e import LOCATIONS
from gameserver.rules.turns import reload_options, stations_needed, target_ship


@handles(SensorLock, step=Step.ACTIONS, stations=("sensors",))
def sensor_lock(ctx: DecideContext, cmd: SensorLock, ship: ShipState, station: str) -> None:
    """§6.B Sensor Lock: an Electronics (sensors) check; a lock gives a Boon on attacks
    against that target until broken."""
    st = ctx.state
    if ship.sensors_disabled:
        refuse("sensors_disabled", "the sensors are disabled")
    target = target_ship(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    if not ship.within_sensors(band):
        refuse("beyond_sensors", f"damaged sensors cannot reach {band_text(band)} range")
    if ship.sensor_lock == target.id:
        refuse("already_locked", f"already locked on {target.name}")
    ctx.valid()
    op = ship.crew_at(station)
    assert op is not None
    auto = ctx.cfg.natural_auto_results
    c = check(
        ctx.dice,
        op.skill("electronics"),
        op.char("INT"),
        dm=ship.sensor_dm + task_dm(ctx, ship, station),
        auto_results=auto,
    )
    fields: dict[str, Any] = done(ship, station) | task(ctx, ship, station)
    if c.success:
        fields["sensor_lock"] = target.id
        if target.id in ship.undetected:
            # a lock is a finer fix than detection: the target is detected from now on
            fields["undetected"] = ship.undetected - {target.id}
    ctx.emit(
        "sensor_lock",
        {"ship": ship.id, "target": target.id, "check": c.to_dict(), "locked": c.success},
        f"{ship.name} {'locks on to' if c.success else 'fails to lock on to'} {target.name}.",
        ships={ship.id: fields},
    )


@handles(ElectronicWarfare, step=Step.ACTIONS, stations=("sensors",))
def electronic_warfare(
    ctx: DecideContext, cmd: ElectronicWarfare, ship: ShipState, station: str
) -> None:
    """§6.B, §11.B Electronic Warfare: against a salvo in flight, Difficult (10+), removing
    max(1, Effect) missiles (DEFAULT); or break an enemy's lock, opposed by its sensors."""
    st = ctx.state
    if ship.sensors_disabled:
        refuse("sensors_disabled", "the sensors are disabled")
    op = ship.crew_at(station)
    assert op is not None
    if cmd.mode == "missiles":
        salvo = next((s for s in st.salvos if s.id == cmd.salvo_id and s.target == ship.id), None)
        if salvo is None:
            refuse("no_salvo", "no salvo in flight toward this ship with that id")
        ctx.valid()
        c = check(
            ctx.dice,
            op.skill("electronics"),
            op.char("INT"),
            ctx.cfg.ew_missile_target,
            ship.sensor_dm + task_dm(ctx, ship, station),
            auto_results=ctx.cfg.natural_auto_results,
        )
        removed = min(salvo.missiles, max(1, c.effect)) if c.success else 0
        left = salvo.missiles - removed
        salvos = tuple(
            (s._replace(missiles=left) if s.id == salvo.id else s)
            for s in st.salvos
            if not (s.id == salvo.id and left == 0)
        )
        ctx.emit(
            "electronic_warfare",
            {
                "ship": ship.id,
                "mode": "missiles",
                "salvo_id": salvo.id,
                "check": c.to_dict(),
                "removed": removed,
                "remaining": left,
            },
            f"{ship.name} jams incoming missiles: {removed} lost their way, {left} left.",
            ships={ship.id: done(ship, station) | task(ctx, ship, station)},
            battle={"salvos": salvos},
        )
        return
    if cmd.target is None:
        refuse("bad_command", "break_lock needs the target whose lock to break")
    enemy = target_ship(st, ship, cmd.target)
    if enemy.sensor_lock != ship.id:
        refuse("no_lock", f"{enemy.name} has no lock on {ship.name}")
    ctx.valid()
    auto = ctx.cfg.natural_auto_results
    ours = check(
        ctx.dice, op.skill("electronics"), op.char("INT"), dm=ship.sensor_dm, auto_results=auto
    )
    theirs_op = enemy.crew_at("sensors")
    theirs = (
        check(
            ctx.dice,
            theirs_op.skill("electronics"),
            theirs_op.char("INT"),
            dm=enemy.sensor_dm,
            auto_results=auto,
        )
        if theirs_op is not None
        else None
    )
    broken = ours.success and (theirs is None or ours.effect > theirs.effect)
    ctx.emit(
        "electronic_warfare",
        {
            "ship": ship.id,
            "mode": "break_lock",
            "target": enemy.id,
            "check": ours.to_dict(),
            "opposed": theirs.to_dict() if theirs else None,
            "broken": broken,
        },
        f"{ship.name} {'breaks' if broken else 'fails to break'} {enemy.name}'s sensor lock.",
        ships={ship.id: done(ship, station), enemy.id: {"sensor_lock": None} if broken else {}},
    )


@handles(ImproveInitiative, step=Step.ACTIONS, stations=("captain",))
def improve_initiative(
    ctx: DecideContext, cmd: ImproveInitiative, ship: ShipState, station: str
) -> None:
    """§4.B Improve Initiative: a Leadership check; its Effect is added to Initiative from the
    next round (⚠; on success only by default)."""
    ctx.valid()
    cap = ship.crew_at(station)
    assert cap is not None
    c = check(
        ctx.dice,
        cap.skill("leadership"),
        cap.char(ctx.cfg.leadership_characteristic),
        dm=task_dm(ctx, ship, station),
        auto_results=ctx.cfg.natural_auto_results,
    )
    bonus = c.effect if (c.success or not ctx.cfg.improve_initiative_on_success_only) else 0
    fields = (
        done(ship, station) | task(ctx, ship, station) | {"init_bonus": ship.init_bonus + bonus}
    )
    ctx.emit(
        "initiative_improved",
        {"ship": ship.id, "check": c.to_dict(), "bonus": bonus},
        f"{ship.name}'s captain rallies the crew: initiative {bonus:+d} from next round.",
        ships={ship.id: fields},
    )


@handles(Repair, step=Step.ACTIONS, stations=("engineer",))
def repair(ctx: DecideContext, cmd: Repair, ship: ShipState, station: str) -> None:
    """§12.B Repair System: Engineer check, DM -Severity, +1 per consecutive round on the
    same critical; success suppresses the critical's effects for 1D hours."""
    st = ctx.state
    loc = cmd.location.value
    sev = ship.crits[LOCATIONS.index(cmd.location)]
    if sev <= 0:
        refuse("nothing_to_repair", f"there is no critical at {loc.replace('_', ' ')}")
    if loc in ship.repaired:
        refuse("already_repaired", f"{loc.replace('_', ' ')} is already patched up")
    if sev not in REPAIRABLE[loc]:
        refuse(
            "not_repairable",
            f"{loc.replace('_', ' ')} at Severity {sev} cannot be repaired in combat",
        )
    ctx.valid()
    eng = ship.crew_at(station)
    assert eng is not None
    consecutive = (
        ship.repair_count if ship.repair_loc == loc and ship.repair_round == st.round - 1 else 0
    )
    char = max(eng.char("INT"), eng.char("EDU"))
    c = repair_check(
        ctx.dice,
        eng.skill("engineer"),
        char,
        sev,
        consecutive,
        ctx.cfg,
        task_dm(ctx, ship, station),
    )
    fields: dict[str, Any] = done(ship, station) | task(ctx, ship, station)
    hours = 0
    if c.success:
        hours = ctx.dice.d6()
        fields.update(repaired=ship.repaired | {loc}, repair_loc=None, repair_count=0)
        if loc == "weapon":
            fields["weapons"] = tuple(
                "ok" if w in ("bane", "disabled") else w for w in ship.weapons
            )
    else:
        fields.update(repair_loc=loc, repair_count=consecutive + 1, repair_round=st.round)
    ctx.emit(
        "repair",
        {
            "ship": ship.id,
            "location": loc,
            "severity": sev,
            "consecutive": consecutive,
            "check": c.to_dict(),
            "success": c.success,
            "hours": hours,
        },
        f"{ship.name}'s engineer "
        + (
            f"patches the {loc.replace('_', ' ')} (holds {hours} hours)."
            if c.success
            else f"works on the {loc.replace('_', ' ')} without success yet."
        ),
        ships={ship.id: fields},
    )


@handles(Reload, step=Step.ACTIONS, stations=("gunner",))
def reload(ctx: DecideContext, cmd: Reload, ship: ShipState, station: str) -> None:
    """§9.B.4 Reload: a gunner refills one missile rack or sandcaster from the ship's stores."""
    options = reload_options(ship, cmd.turret, ctx.cfg)
    if cmd.weapon is not None:
        flats = list(ship.turret_weapons(cmd.turret))
        if not 0 <= cmd.weapon < len(flats) or flats[cmd.weapon] not in options:
            refuse("cannot_reload", "that weapon needs no reload or stores are empty")
        flat = flats[cmd.weapon]
    elif options:
        flat = options[0]
    else:
        refuse("cannot_reload", "nothing in this turret can be reloaded")
    ctx.valid()
    kind = ship.weapon_kind(flat)
    ammo = list(ship.ammo)
    if kind == "missile_rack":
        add = min(ctx.cfg.missile_rack_load - ammo[flat], ship.missile_reserve)
        fields: dict[str, Any] = {"missile_reserve": ship.missile_reserve - add}
    else:
        add = min(ctx.cfg.sandcaster_load - ammo[flat], ship.sand_reserve)
        fields = {"sand_reserve": ship.sand_reserve - add}
    ammo[flat] += add
    fields |= {"ammo": tuple(ammo)} | done(ship, station)
    ctx.emit(
        "reloaded",
        {"ship": ship.id, "turret": cmd.turret, "weapon": flat, "added": add},
        f"{ship.name} reloads a {kind.replace('_', ' ')} (+{add}).",
        ships={ship.id: fields},
    )


def jump_refusal(state: BattleState, ship: ShipState) -> str | None:
    """Why this ship cannot jump now, or None (§13.1 (a), §10.B.4 J-Drive row; with
    `fuel_tracking`, a design that records its fuel needs `jump_fuel_pct` of its tonnage)."""
    if ship.design.jump <= 0:
        return f"{ship.name} has no jump drive"
    if ship.sev("j_drive") >= 2:
        return "the jump drive is disabled"
    if not state.jump_allowed:
        return "the battle is inside the 100-diameter limit: no jump is possible"
    cfg = state.config
    need = -(-ship.design.tons * cfg.jump_fuel_pct // 10)  # tenths of a ton, rounded up
    if cfg.fuel_tracking and ship.design.fuel > 0 and ship.fuel_left < need:
        left = ship.fuel_left
        return (
            f"not enough fuel to jump: {left // 10}.{left % 10} t left,"
            f" {need // 10}.{need % 10} t needed"
        )
    return None


@handles(PlotJump, step=Step.ACTIONS, stations=("sensors",))
def plot_jump(ctx: DecideContext, cmd: PlotJump, ship: ShipState, station: str) -> None:
    """§6 Calculate Jump Plot (§13.1 (a)): Astrogation (EDU), Easy (4+) with DM -1 for haste
    (⚠ `jump_plot_target`, `jump_plot_dm`); a success lets the engineer jump in a later round."""
    refusal = jump_refusal(ctx.state, ship)
    if refusal is not None:
        refuse("cannot_jump", refusal)
    if ship.jump_plot_round:
        refuse("already_plotted", "the jump is already plotted")
    ctx.valid()
    nav = ship.crew_at(station)
    assert nav is not None
    c = check(
        ctx.dice,
        nav.skill("astrogation"),
        nav.char("EDU"),
        ctx.cfg.jump_plot_target,
        ctx.cfg.jump_plot_dm + task_dm(ctx, ship, station),
        auto_results=ctx.cfg.natural_auto_results,
    )
    fields: dict[str, Any] = done(ship, station) | task(ctx, ship, station)
    if c.success:
        fields["jump_plot_round"] = ctx.state.round
    ctx.emit(
        "jump_plotted",
        {"ship": ship.id, "check": c.to_dict(), "plotted": c.success},
        f"{ship.name} {'plots' if c.success else 'fails to plot'} a jump.",
        ships={ship.id: fields},
    )


@handles(Jump, step=Step.ACTIONS, stations=("engineer",))
def jump(ctx: DecideContext, cmd: Jump, ship: ShipState, station: str) -> None:
    """§6.B Jump, §13.1 (a): on a plot from an earlier round, an Engineer (j-drive) check,
    Average (8+) ⚠ `jump_target`, J-Drive Severity 1: DM -2; success: the ship has jumped."""
    refusal = jump_refusal(ctx.state, ship)
    if refusal is not None:
        refuse("cannot_jump", refusal)
    if not ship.jump_plot_round:
        refuse("no_jump_plot", "plot the jump first (the sensors station, Actions step)")
    if ship.jump_plot_round >= ctx.state.round:
        refuse("no_jump_plot", "the jump follows the plot in a later round")
    ctx.valid()
    eng = ship.crew_at(station)
    assert eng is not None
    c = check(
        ctx.dice,
        eng.skill("engineer"),
        max(eng.char("INT"), eng.char("EDU")),
        ctx.cfg.jump_target,
        (-2 if ship.sev("j_drive") == 1 else 0) + task_dm(ctx, ship, station),
        auto_results=ctx.cfg.natural_auto_results,
    )
    ctx.emit(
        "jump_attempted",
        {"ship": ship.id, "check": c.to_dict(), "jumped": c.success},
        f"{ship.name}'s engineer {'engages' if c.success else 'fails to engage'} the jump drive.",
        ships={ship.id: done(ship, station) | task(ctx, ship, station)},
    )
    if c.success:
        leave(ctx, ship.id, JUMPED, f"{ship.name} jumps out of the fight.")


@handles(Surrender, stations=("captain", "pilot"), free_action=True)
def surrender(ctx: DecideContext, cmd: Surrender, ship: ShipState, station: str) -> None:
    """§13.1/§13.2 Surrender: the captain (the pilot on a ship without one) strikes colours
    as a free action on the ship's turn; the ship is out of the fight."""
    ctx.valid()
    leave(ctx, ship.id, SURRENDERED, f"{ship.name} strikes her colours.")


@handles(EndStep)
def end_step(ctx: DecideContext, cmd: EndStep, ship: ShipState, station: str) -> None:
    """The station is done for the current step (§3.B); while a reaction is pending it is the
    same as declining to react."""
    if ctx.state.pending:
        no_reaction(ctx, cmd, ship, station)
        return
    if station not in stations_needed(ctx.state, ship):
        refuse(
            "nothing_to_do",
            f"the {station_name(station)} of {ship.name} has nothing to do this step",
        )
    ctx.valid()
    ctx.emit(
        "station_done",
        {"ship": ship.id, "station": station, "step": ctx.state.step.value},
        f"{ship.name}: {station_name(station)} is done for the {ctx.state.step.value} step.",
        ships={ship.id: done(ship, station)},
    )
