"""The engineer's power actions (MgT2e): Overload Drive, Overload Plant, Offline System, and
the log lines of the power budget.

Purely computational. RULES §6.B (engineer, Actions step) with its ⚠ figures in `RulesConfig`
(`overload_*`); the power budget itself is `ShipState.power_plan` (`RulesConfig.power_budget`).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.actions.attack import apply_damage, criticals_json, thrust_pool_after
from gameserver.rules.commands import OfflineSystem, OverloadDrive, OverloadPlant, RestoreSystem
from gameserver.rules.decision import DecideContext, done, handles, refuse, task, task_dm
from gameserver.rules.effects import power_change_notes, power_text, system_name
from gameserver.rules.resolution import check
from gameserver.rules.state import ShipState, Step, replace_ship


def _engineer_check(ctx: DecideContext, ship: ShipState, station: str) -> Any:
    eng = ship.crew_at(station)
    assert eng is not None
    return check(
        ctx.dice,
        eng.skill("engineer"),
        max(eng.char("INT"), eng.char("EDU")),
        ctx.cfg.overload_target,
        dm=task_dm(ctx, ship, station),
        auto_results=ctx.cfg.natural_auto_results,
    )


def _overload(ctx: DecideContext, ship: ShipState, station: str, kind: str) -> None:
    """§6.B Overload (⚠): the check, the bonus for next round, a critical on a bad mishap."""
    cfg = ctx.cfg
    c = _engineer_check(ctx, ship, station)
    fields: dict[str, Any] = done(ship, station) | task(ctx, ship, station)
    location = "m_drive" if kind == "drive" else "power_plant"
    what = "the M-Drive" if kind == "drive" else "the power plant"
    if kind == "drive":
        bonus = cfg.overload_drive_thrust
        gain = f"+{bonus} Thrust next round"
    else:
        bonus = ship.plant * cfg.overload_plant_pct // 100
        gain = f"+{bonus} Power next round"
    data: dict[str, Any] = {
        "ship": ship.id,
        "system": kind,
        "check": c.to_dict(),
        "success": c.success,
        "bonus": bonus if c.success else 0,
    }
    if c.success:
        fields["overload_next"] = ship.overload_next | {kind}
        fields["overload_thrust" if kind == "drive" else "overload_power"] = bonus
        summary = f"{ship.name}'s engineer overloads {what}: {gain}."
    else:
        summary = f"{ship.name}'s engineer fails to overload {what}."
    if c.effect <= cfg.overload_mishap_effect:
        crit_fields, records, notes = apply_damage(ctx, replace_ship(ship, fields), 0, 1, location)
        fields |= crit_fields
        data |= {"criticals": criticals_json(records), "effects": notes}
        summary += f" The strain causes a critical: {'; '.join(notes)}."
    ctx.emit("overload", data, summary, ships={ship.id: fields})


@handles(OverloadDrive, step=Step.ACTIONS, stations=("engineer",))
def overload_drive(ctx: DecideContext, cmd: OverloadDrive, ship: ShipState, station: str) -> None:
    """§6.B Overload Drive ⚠: Engineer (m-drive), Difficult (10+): +1 Thrust next round; an
    Effect of -6 or worse gives a Severity-1 M-Drive critical."""
    if ship.drive_thrust <= 0 or "m_drive" in ship.offline:
        refuse("cannot_overload", "the M-Drive gives no Thrust to overload")
    if "drive" in ship.overload_next:
        refuse("already_overloaded", "the M-Drive is already overloaded for next round")
    ctx.valid()
    _overload(ctx, ship, station, "drive")


@handles(OverloadPlant, step=Step.ACTIONS, stations=("engineer",))
def overload_plant(ctx: DecideContext, cmd: OverloadPlant, ship: ShipState, station: str) -> None:
    """§6.B Overload Plant ⚠: Engineer (power), Difficult (10+): +10% Power next round; an
    Effect of -6 or worse gives a Severity-1 Power Plant critical. Needs the power budget."""
    if not ship.plant:
        refuse("no_power_budget", "this battle keeps no power budget (power_budget is off)")
    if ship.power_pct <= 0:
        refuse("cannot_overload", "the power plant gives no Power to overload")
    if "plant" in ship.overload_next:
        refuse("already_overloaded", "the power plant is already overloaded for next round")
    ctx.valid()
    _overload(ctx, ship, station, "plant")


def _system_refusal(ship: ShipState, system: str) -> None:
    if system.startswith("turret:") and int(system.split(":")[1]) >= len(ship.design.turrets):
        refuse("unknown_system", f"{ship.name} has no {system_name(system)}")
    if not ship.plant:
        refuse("no_power_budget", "this battle keeps no power budget (power_budget is off)")


@handles(OfflineSystem, step=Step.ACTIONS, stations=("engineer",))
def offline_system(ctx: DecideContext, cmd: OfflineSystem, ship: ShipState, station: str) -> None:
    """§6.B Offline System (shed load): the system draws no Power and does not work until
    restored; its Power goes to the systems after it in the budget (turrets in order)."""
    _system_refusal(ship, cmd.system)
    if cmd.system in ship.offline:
        refuse("already_offline", f"the {system_name(cmd.system)} is already offline")
    ctx.valid()
    fields: dict[str, Any] = done(ship, station) | {"offline": ship.offline | {cmd.system}}
    fields |= thrust_pool_after(ship, fields)
    after = replace_ship(ship, fields)
    notes = power_change_notes(ship, after)
    ctx.emit(
        "system_offline",
        {"ship": ship.id, "system": cmd.system, "effects": notes},
        f"{ship.name}'s engineer takes the {system_name(cmd.system)} offline ({power_text(after)})"
        + (f": {'; '.join(notes)}." if notes else "."),
        ships={ship.id: fields},
    )


@handles(RestoreSystem, step=Step.ACTIONS, stations=("engineer",))
def restore_system(ctx: DecideContext, cmd: RestoreSystem, ship: ShipState, station: str) -> None:
    """§6.B: bring a system taken offline back; it takes its place in the budget again."""
    _system_refusal(ship, cmd.system)
    if cmd.system not in ship.offline:
        refuse("not_offline", f"the {system_name(cmd.system)} is not offline")
    ctx.valid()
    fields: dict[str, Any] = done(ship, station) | {"offline": ship.offline - {cmd.system}}
    after = replace_ship(ship, fields)
    notes = power_change_notes(ship, after)
    ctx.emit(
        "system_online",
        {"ship": ship.id, "system": cmd.system, "effects": notes},
        f"{ship.name}'s engineer brings the {system_name(cmd.system)} back online"
        f" ({power_text(after)})" + (f": {'; '.join(notes)}." if notes else "."),
        ships={ship.id: fields},
    )
