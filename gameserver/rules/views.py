"""What every client may see of a battle: the public view and its per-ship parts.

Purely computational. Split from `rules.state` (which re-exports every name here).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.battle_state import BattleState
from gameserver.rules.config import Ruleset
from gameserver.rules.ship_state import ShipState
from gameserver.rules.tables_mgt2e import (
    LOCATIONS,
)


def ce_ship_view(s: ShipState) -> dict[str, Any]:
    """The CE figures of a ship (RULES §10.A): Hull and Structure boxes, hits per location,
    the reaction pool and the DMs in force; shown only in CE battles."""
    tons = s.design.tons
    return {
        "hull_max": s.design.hull if s.design.hull is not None else tons // 50,
        "structure": s.structure,
        "structure_max": (
            s.design.structure if s.design.structure is not None else max(1, tons // 50)
        ),
        "systems": dict(s.systems),
        "reactions": s.reactions,
        "evasive_dm": s.evasive_dm,
        "line_up_dm": s.line_up_dm,
        "targeting": dict(s.targeting),
        "coordinate": s.coordinate,
        "column": "small_craft" if tons < 100 else ("external" if s.hull > 0 else "internal"),
    }


def power_view(s: ShipState) -> dict[str, Any]:
    """The power budget for the page (``{"power": ...}``), only while it matters: a system
    without power, one offline or an overload pending or in force (so a view of a battle
    where power never ran short is what it was before the budget existed)."""
    if not s.plant:
        return {}
    plan = s.power_plan
    unpowered = [
        f"turret:{t}"
        for t in range(len(s.design.turrets))
        if t not in plan.turrets and f"turret:{t}" not in s.offline
    ]
    if not (plan.short or unpowered or s.offline or s.overload or s.overload_next):
        return {}
    return {
        "power": {
            "available": plan.available,
            "need": plan.need,
            "unpowered": unpowered,
            "offline": sorted(s.offline),
            "overload": sorted(s.overload | s.overload_next),
            "sensors_dark": not plan.basic,
        }
    }


def fuel_view(s: ShipState) -> dict[str, Any]:
    """The fuel a leak drains, for the page (``{"fuel": ...}``), only once a leak has begun
    (a battle without one shows what it did before leaks were applied)."""
    if not (s.fuel_leak or s.fuel_leaked):
        return {}
    return {"fuel": {"left_tenths": s.fuel_left, "leak_tenths": s.leaking}}


def public_view(state: BattleState) -> dict[str, Any]:
    """What every client may see: ships, damage, ranges, order, step, pending reactions, salvos."""
    ships = []
    ce = state.ruleset is Ruleset.CE
    for s in state.ships.values():
        ships.append(
            {
                "id": s.id,
                "name": s.name,
                "side": s.side,
                "preset": s.preset,
                "design": s.design.name,
                "tons": s.design.tons,
                "status": s.status,
                "hull": s.hull,
                "hull_max": s.design.hull_points,
                "armour": s.armour,
                "thrust": s.thrust,
                "thrust_rating": s.design.thrust,
                "thrust_pool": s.thrust_pool,
                "power_pct": s.power_pct,
                "initiative": s.initiative,
                "criticals": {
                    loc.value: s.crits[i] for i, loc in enumerate(LOCATIONS) if s.crits[i] > 0
                },
                "repaired": sorted(s.repaired),
                "sensor_cap": s.sensor_cap,
                "sensor_lock": s.sensor_lock,
                "turrets": [
                    {
                        "mount": t.mount.value,
                        "weapons": [
                            {
                                "kind": w.value,
                                "status": s.weapons[s.turret_start[i] + j],
                                "ammo": s.ammo[s.turret_start[i] + j],
                                "fired": (s.turret_start[i] + j) in s.fired,
                            }
                            for j, w in enumerate(t.weapons)
                        ],
                    }
                    for i, t in enumerate(s.design.turrets)
                ],
                "crew": [
                    {
                        "station": c.station,
                        "name": c.name,
                        "able": c.able,
                        "chars": dict(c.chars),
                        "skills": dict(c.skills),
                    }
                    for c in s.crew
                ],
                "done": sorted(s.done),
                "missile_reserve": s.missile_reserve,
                "sand_reserve": s.sand_reserve,
                "fuel_lost_pct": s.fuel_lost_pct,
                "cargo_lost_pct": s.cargo_lost_pct,
                "rads": s.rads,
                "life_support": s.life_support,
                "escape_progress": s.escape_progress,
            }
            | (ce_ship_view(s) if ce else {})
            | power_view(s)
            | fuel_view(s)
            | ({"undetected": sorted(s.undetected)} if s.undetected else {})
            # docking and boarding (MgT2e), only while set: other battles keep their view
            | ({"docked": s.docked} if s.docked else {})
            | ({"boarded_by": s.boarded_by} if s.boarded_by else {})
            # only once the GM set it: logs written before per-ship bots keep their view
            | ({"bot": s.bot} if s.bot is not None else {})
        )
    return {
        "battle_id": state.battle_id,
        "seq": state.seq,
        "ruleset": state.ruleset.value,
        "scenario": state.scenario_name,
        "round": state.round,
        "round_limit": state.round_limit,
        "step": state.step.value,
        "initiative_order": list(state.order),
        "acting_ship": state.acting_ship,
        "sides": [{"id": a, "name": b} for a, b in state.sides],
        "ships": ships,
        "ranges": [
            {"a": k.split("|")[0], "b": k.split("|")[1], "band": b, "progress": p}
            for k, (b, p) in state.ranges.items()
        ],
        "pending": [p.to_dict() for p in state.pending],
        "salvos": [x.to_dict() for x in state.salvos],
        "outcome": dict(state.outcome) if state.outcome is not None else None,
        "undo_available": state.undo_depth,
    }
