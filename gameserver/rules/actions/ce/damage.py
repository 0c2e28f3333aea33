"""Cepheus Engine damage on a ship (§10.A): the pipeline's working copy of the hull, the
field patch it leaves, crew hits (§10.A.6), and beam damage landing once the attacker's crew
have acted (§3.A c; §13.1 destroyed, disabled).

Purely computational.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.decision import DecideContext
from gameserver.rules.dice import roll
from gameserver.rules.leaving import after_leave
from gameserver.rules.state import DESTROYED, DISABLED, CrewState, ShipState
from gameserver.rules.turns_ce import hits, present_systems


def working_hull(target: ShipState) -> tuple[ce.CeHull, str | None]:
    """The pipeline's working copy of a ship; a Turret hit reaches its first turret that is
    not destroyed (A16: the engine's rule), whose counter stands for "turret"."""
    turret_key = next(
        (
            f"turret:{t}"
            for t in range(len(target.design.turrets))
            if hits(target, f"turret:{t}") < 3
        ),
        None,
    )
    systems = {k: v for k, v in target.systems.items() if not k.startswith("turret:")}
    if target.design.turrets:
        systems["turret"] = hits(target, turret_key) if turret_key else 3
    missing = frozenset(
        {"sensors", "m_drive", "j_drive", "power_plant", "bridge", "fuel", "hold", "turret", "bay"}
        - present_systems(target)
    )
    work = ce.CeHull(
        tons=target.design.tons,
        hull=target.hull,
        structure=target.structure,
        armour=target.armour,
        thrust=target.thrust,
        systems=systems,
        missing=missing,
    )
    return work, turret_key


def hull_fields(target: ShipState, work: ce.CeHull, turret_key: str | None) -> dict[str, Any]:
    systems = {k: v for k, v in work.systems.items() if k != "turret" and v > 0}
    for k, v in target.systems.items():
        if k.startswith("turret:"):
            systems[k] = v
    if turret_key is not None and work.systems.get("turret", 0) > 0:
        systems[turret_key] = work.systems["turret"]
    fields: dict[str, Any] = {
        "hull": work.hull,
        "structure": work.structure,
        "armour": work.armour,
        "systems": systems,
        "md_thrust_loss": target.design.thrust - work.thrust,
    }
    if work.destroyed:
        fields["status"] = DESTROYED
    elif work.disabled:
        fields["status"] = DISABLED
        fields["reactions"] = 0
    return {k: v for k, v in fields.items() if getattr(target, k) != v}


def crew_damage(
    ctx: DecideContext, target: ShipState, crew_hits: list[str], radiation: list[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """§10.A.6: each Crew hit rolls 2D on the Crew Damage table (normal column); radiation
    results add rads. Damage lowers END, then STR, then DEX (the engine's order)."""
    crew = list(target.crew)
    rads = 0
    notes: list[dict[str, Any]] = []
    results = [(col, ce.crew_hit(ctx.dice)[1]) for col in crew_hits]
    results += [("radiation", r) for r in radiation]
    for column, result in results:
        if result == "none" or not crew:
            notes.append({"column": column, "result": result})
            continue
        dice_n = 4 if result.endswith("4d") else 2
        victims = (
            range(len(crew)) if result.startswith("all") else [(ctx.dice.d6() - 1) % len(crew)]
        )
        for i in victims:
            amount = roll(ctx.dice, dice_n)
            if column == "radiation":
                rads += amount * 10
                notes.append({"column": column, "result": result, "rads": amount * 10})
                continue
            crew[i] = _hurt(crew[i], amount, ctx.cfg.crew_damage_order)
            notes.append(
                {"column": column, "result": result, "crew": crew[i].name, "damage": amount}
            )
    fields: dict[str, Any] = {}
    if tuple(crew) != target.crew:
        fields["crew"] = tuple(crew)
    if rads:
        fields["rads"] = target.rads + rads
    return fields, notes


def fuel_damage(
    ctx: DecideContext, target: ShipState, fields: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """§10.A.5 Fuel row for each new Fuel hit (`ce_fuel_effects`): the 1st leaks 1D tons an
    hour (tenths of a ton a turn, lost at each turn's start), the 2nd loses 1D x 10% of the
    fuel, the 3rd destroys the tank. Rolled after the crew damage."""
    if not ctx.cfg.ce_fuel_effects:
        return {}, []
    before = target.systems.get("fuel", 0)
    after = dict(fields.get("systems", target.systems)).get("fuel", 0)
    out: dict[str, Any] = {}
    notes: list[str] = []
    for k in range(before + 1, min(after, 3) + 1):
        if k == 1:
            tons = ctx.dice.d6()
            out["fuel_leak"] = (tons * 10_000 + 1_800) // 3_600
            notes.append(f"fuel leak: {tons} t per hour")
        elif k == 2:
            pct = ctx.dice.d6() * 10
            out["fuel_lost_pct"] = min(100, out.get("fuel_lost_pct", target.fuel_lost_pct) + pct)
            notes.append(f"fuel: {pct}% lost")
        else:
            out["fuel_lost_pct"] = 100
            out["fuel_leak"] = 0
            notes.append("fuel tank destroyed")
    return out, notes


def _hurt(member: CrewState, damage: int, order: tuple[str, ...]) -> CrewState:
    chars = dict(member.chars)
    for key in order:
        take = min(damage, chars.get(key, 7))
        chars[key] = chars.get(key, 7) - take
        damage -= take
        if damage <= 0:
            break
    return replace(member, chars=chars)


def leave_if_wrecked(ctx: DecideContext, target: ShipState, status: str | None) -> None:
    """A ship the damage destroyed or disabled (§13.1) leaves the battle, saying which."""
    if status == DESTROYED:
        after_leave(ctx, target.id, f"{target.name} breaks up: destroyed.")
    elif status == DISABLED:
        after_leave(ctx, target.id, f"{target.name}'s power plant is gone: disabled.")


def resolve_queued(ctx: DecideContext) -> bool:
    """§3.A c: once the acting ship's crew have all acted, the damage of its hits lands: for
    each hit, sand (1D per beam when the Fire Sand succeeded), armour, hit groups, locations
    and radiation (§10.A); crew hits roll on the Crew Damage table. True if any landed."""
    st = ctx.state
    target = next((s for s in st.ships.values() if s.incoming), None)
    if target is None:
        return False
    if not target.is_active:
        ctx.emit(
            "damage_lost",
            {"ship": target.id},
            f"The fire at {target.name} finds nothing left to hit.",
            ships={target.id: {"incoming": ()}},
        )
        return True
    work, turret_key = working_hull(target)
    armour_before = target.armour
    results: list[dict[str, Any]] = []
    crew_hits: list[str] = []
    radiation: list[str] = []
    for hit in target.incoming:
        if work.destroyed:
            break
        d = ce.weapon_damage(
            ctx.dice, work, str(hit["weapon"]), int(hit["raw"]), sand=bool(hit["sand"])
        )
        results.append(
            {
                "attacker": hit["attacker"],
                "weapon": hit["weapon"],
                "raw": d.raw,
                "reduction": d.reduction,
                "damage": d.damage,
                "hits": d.report.hits,
                "rolls": d.report.rolls,
                "locations": d.report.locations,
                "radiation": d.radiation,
            }
        )
        crew_hits += d.report.crew_hits
        if d.radiation is not None:
            radiation.append(d.radiation)
    fields = hull_fields(target, work, turret_key) | {"incoming": ()}
    crew_fields, crew_notes = crew_damage(ctx, target, crew_hits, radiation)
    fields |= crew_fields
    fuel_fields, fuel_notes = fuel_damage(ctx, target, fields)
    fields |= fuel_fields
    locs = [loc for r in results for loc in r["locations"]]
    ctx.emit(
        "damage_resolved",
        {
            "ship": target.id,
            "armour_before": armour_before,
            "hits": results,
            "crew": crew_notes,
            **({"fuel": fuel_notes} if fuel_notes else {}),
            "hull_after": work.hull,
            "structure_after": work.structure,
        },
        f"{target.name} takes "
        + (
            ", ".join(loc.replace("_", " ") for loc in locs)
            if locs
            else "no damage past the armour"
        )
        + f". Hull {work.hull}, Structure {work.structure}.",
        ships={target.id: fields},
    )
    leave_if_wrecked(ctx, target, fields.get("status"))
    return True
