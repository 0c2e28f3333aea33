"""Cepheus Engine abstract boarding (§13.4), one opposed Tactics check a turn.

Purely computational.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.actions.ce.common import enemy, manned
from gameserver.rules.actions.ce.damage import crew_damage, hull_fields, working_hull
from gameserver.rules.commands import Board
from gameserver.rules.decision import DecideContext, done, handles, refuse, task, task_dm
from gameserver.rules.leaving import after_leave
from gameserver.rules.state import SURRENDERED, CrewState, ShipState, Step
from gameserver.rules.tables_ce import characteristic_dm
from gameserver.rules.turns_ce import ce_skill


def ce_tactics(c: CrewState) -> int:
    """A crew member's CE INT Tactics DMs (§1.3 CE column)."""
    return ce.skill_dm(ce_skill(c, "tactics")) + characteristic_dm(c.char("INT"))


def tactician(ship: ShipState, score: Callable[[CrewState], int] = ce_tactics) -> CrewState | None:
    """The ship's chief security officer: its captain, else its best INT Tactics aboard
    (`score`: the ruleset's DMs; MgT2e boarding passes its own)."""
    captain = ship.crew_at("captain")
    if captain is not None:
        return captain
    able = [c for c in ship.crew if c.able]
    if not able:
        return None
    return max(able, key=score)


@handles(Board, step=Step.TURN, stations=("captain",))
def board(ctx: DecideContext, cmd: Board, ship: ShipState, station: str) -> None:
    """§13.4 abstract boarding, one turn: opposed INT Tactics, the boarders first. The
    winner's own Effect picks the row (A15): a success costs the defender its reactions this
    turn or gives the defender +2 next time, with a Single internal hit on the boarded ship;
    an exceptional attacker takes the ship (2D internal damage; the crew strikes, the engine's
    reading of "1 turn to take control"); an exceptional defender repels the boarders."""
    st = ctx.state
    target = enemy(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    captain = manned(ship, station)
    defender = tactician(target)
    if band != "adjacent":
        refuse("out_of_range", "boarding needs adjacent range (the engine models no docking)")
    ctx.valid()
    attacker_side = ce.Side(
        ce_skill(captain, "tactics"),
        captain.char("INT"),
        ship.boarding_dm + task_dm(ctx, ship, station),
        ship.hasty,
    )
    defender_side = (
        ce.Side(ce_skill(defender, "tactics"), defender.char("INT"), target.boarding_dm)
        if defender is not None
        else ce.Side(None, 0)
    )
    res = ce.boarding(ctx.dice, attacker_side, defender_side, band, docked=False)
    out = res.outcome()
    work, turret_key = working_hull(target)
    report = ce.apply_hits(ctx.dice, work, out["internal_hits"], "internal")
    fields = hull_fields(target, work, turret_key)
    crew_fields, crew_notes = crew_damage(ctx, target, report.crew_hits, [])
    fields |= crew_fields
    ships: dict[str, dict[str, Any]] = {ship.id: {"boarding_dm": out["next_attacker_dm"]}}
    ships[ship.id] |= done(ship, station) | task(ctx, ship, station)
    fields["boarding_dm"] = out["next_defender_dm"]
    if out["defender_loses_reactions"]:
        fields["reactions"] = 0
    taken = out["boarded"] and fields.get("status") is None
    if taken:
        fields["status"] = SURRENDERED
    text = {
        "attacker_success": f"the boarders gain ground; {target.name} loses its reactions",
        "attacker_exceptional": f"{target.name} is boarded and taken",
        "defender_success": "the defenders hold",
        "defender_exceptional": "the boarders are repelled",
        "none": "nobody gains ground",
    }[res.result]
    ctx.emit(
        "boarding",
        {
            "ship": ship.id,
            "target": target.id,
            "effect_attacker": res.opposed.effect_a,
            "effect_defender": res.opposed.effect_b,
            "result": res.result,
            "damage": out["damage"],
            "hits": list(out["internal_hits"]),
            "locations": report.locations,
            "crew": crew_notes,
        },
        f"{ship.name} boards {target.name} (Tactics {res.opposed.effect_a:+d} against"
        f" {res.opposed.effect_b:+d}): {text}.",
        ships=ships | {target.id: {k: v for k, v in fields.items() if getattr(target, k) != v}},
    )
    status = fields.get("status")
    if status is not None and status != target.status:
        after_leave(ctx, target.id, f"{target.name} is out of the fight ({status}).")
