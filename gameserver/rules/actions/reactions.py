"""Reactions to a pending attack or salvo: evasive action, sand, point defence, or none.

Purely computational. RULES §4.B (limits) and §11.B (each reaction). The pending attack or
salvo at the head of the list waits until every eligible station has answered, then resolves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gameserver.rules.actions import ce
from gameserver.rules.actions.attack import resolve_pending_attack
from gameserver.rules.actions.missiles import resolve_pending_salvo
from gameserver.rules.commands import EvasiveAction, NoReaction, PointDefence, Sand
from gameserver.rules.decision import (
    DecideContext,
    answer_reaction,
    handles,
    refuse,
    ship_name,
    station_name,
    task,
    task_dm,
)
from gameserver.rules.pending import Pending, PendingAttack, PendingSalvo, replace_pending
from gameserver.rules.resolution import point_defence, sand
from gameserver.rules.state import BattleState, ShipState
from gameserver.rules.tables_mgt2e import WEAPONS
from gameserver.rules.turns import can_react, point_defence_ready, sand_ready
from gameserver.rules.turns_ce import can_react as ce_can_react


def resolve_pending(ctx: DecideContext, pending: Pending) -> None:
    """Roll the pending attack or salvo now."""
    if ctx.state.ruleset.is_ce:
        ce.resolve_pending(ctx, pending)
        return
    if isinstance(pending, PendingAttack):
        resolve_pending_attack(ctx, pending)
    else:
        resolve_pending_salvo(ctx, pending)


def live_reactors(state: BattleState, head: Pending) -> list[str]:
    """The stations of a pending reaction that can still react now (§4.B limits)."""
    target = state.ships.get(head.target)
    if target is None or not target.is_active or _empty(head):
        return []
    if state.ruleset.is_ce:
        return [s for s in head.eligible if ce_can_react(target, s, head.kind)]
    return [s for s in head.eligible if can_react(target, s, head.kind, state.config)]


def refresh_reactions(ctx: DecideContext) -> bool:
    """Drop stations from the head reaction that can no longer react; True if anything changed.

    Why: several salvos can arrive at once and an earlier one may hurt the crew, or a pilot may
    spend the last Thrust or a gunner the turret's once-a-round point defence (§4.B, §11.B) on an
    earlier one; a stale offer would wait for a reaction nobody can make.
    """
    st = ctx.state
    head = st.pending[0]
    live = live_reactors(st, head)
    if live == list(head.eligible):
        if live:
            return False
        # nobody can react (e.g. a GM undo stopped between a reaction and its resolution)
        resolve_pending(ctx, head)
        return True
    gone = [s for s in head.eligible if s not in live]
    updated = replace(head, eligible=tuple(live))
    ctx.emit(
        "reactions_lapsed",
        {"id": head.id, "ship": head.target, "stations": gone},
        f"{ship_name(st, head.target)}: {', '.join(gone)} can no longer react.",
        battle={"pending": replace_pending(st.pending, updated)},
    )
    if not live:
        resolve_pending(ctx, updated)
    return True


def _empty(pending: Pending) -> bool:
    """A salvo whose every missile is gone: there is nothing left to react to."""
    return isinstance(pending, PendingSalvo) and pending.missiles <= 0


def head_of(ctx: DecideContext) -> Pending:
    """The attack or salvo now awaiting reactions."""
    return ctx.state.pending[0]


def _react(
    ctx: DecideContext,
    ship: ShipState,
    station: str,
    type_: str,
    data: Mapping[str, Any],
    summary: str,
    ship_fields: Mapping[str, Any],
    updated: Pending,
) -> None:
    """Record one station's reaction; once nobody is left to react (or a salvo has no
    missiles left to react to), the attack resolves."""
    left = () if _empty(updated) else tuple(s for s in updated.eligible if s != station)
    new_head = replace(updated, eligible=left)
    answer_reaction(
        ctx,
        type_,
        dict(data) | {"id": new_head.id},
        summary,
        {ship.id: ship_fields},
        new_head,
        resolve_pending,
    )


@handles(EvasiveAction, stations=("pilot",), reaction=True)
def evasive_action(ctx: DecideContext, cmd: EvasiveAction, ship: ShipState, station: str) -> None:
    """§11.B Evasive Action: 1 unspent Thrust; the pending attack or salvo takes DM -Pilot."""
    if ship.thrust_pool <= 0:
        refuse("not_enough_thrust", "no unspent Thrust left for evasive action")
    ctx.valid()
    pilot = ship.crew_at("pilot")
    assert pilot is not None
    dm = -max(0, pilot.skill("pilot") or 0)
    head = head_of(ctx)
    _react(
        ctx,
        ship,
        station,
        "evasive_action",
        {"ship": ship.id, "dm": dm},
        f"{ship.name} takes evasive action (DM {dm:+d}; {ship.thrust_pool - 1} Thrust left).",
        {"thrust_pool": ship.thrust_pool - 1},
        replace(head, evasive_dm=head.evasive_dm + dm),
    )


@handles(Sand, stations=("gunner",), reaction=True)
def disperse_sand(ctx: DecideContext, cmd: Sand, ship: ShipState, station: str) -> None:
    """§11.B Disperse Sand: a Gunner check against one laser attack; on success armour +1D +
    Effect against it; one canister; each turret at most once per round (§4.B DEFAULT)."""
    head = head_of(ctx)
    if not isinstance(head, PendingAttack) or not WEAPONS[head.weapon].laser:
        refuse("sand_useless", "sand only blunts laser attacks")
    flat = sand_ready(ship, cmd.turret, ctx.cfg)
    if flat is None:
        refuse("no_ammunition", "that turret has no sandcaster ready (or already used it)")
    ctx.valid()
    gunner = ship.crew_at(station)
    assert gunner is not None
    c, bonus = sand(
        ctx.dice, gunner.skill("gunner"), gunner.char("DEX"), ctx.cfg, task_dm(ctx, ship, station)
    )
    ammo = list(ship.ammo)
    ammo[flat] -= 1
    _react(
        ctx,
        ship,
        station,
        "sand_cast",
        {"ship": ship.id, "turret": cmd.turret, "check": c.to_dict(), "armour_bonus": bonus},
        f"{ship.name} casts sand: "
        + (f"armour +{bonus} against this attack." if c.success else "the cloud is too thin."),
        {"ammo": tuple(ammo), "sand_used": ship.sand_used | {cmd.turret}}
        | task(ctx, ship, station),
        replace(head, sand_armour=head.sand_armour + bonus),
    )


@handles(PointDefence, stations=("gunner",), reaction=True)
def point_defence_fire(
    ctx: DecideContext, cmd: PointDefence, ship: ShipState, station: str
) -> None:
    """§11.B Point Defence: a Gunner (turret) check with the turret's lasers against the salvo;
    a success removes max(1, Effect) missiles (Part A); those lasers cannot attack this round."""
    head = head_of(ctx)
    if not isinstance(head, PendingSalvo):
        refuse("no_salvo", "point defence works against missile salvos only")
    if head.missiles <= 0:
        refuse("no_missiles", "the salvo has no missiles left to shoot down")
    lasers = point_defence_ready(ship, cmd.turret)
    if not lasers:
        refuse("weapon_already_fired", "that turret has no laser free for point defence")
    ctx.valid()
    gunner = ship.crew_at(station)
    assert gunner is not None
    mount = ship.design.turrets[cmd.turret].mount.value
    res = point_defence(
        ctx.dice,
        gunner.skill("gunner"),
        gunner.char("DEX"),
        mount,
        head.missiles,
        ctx.cfg,
        task_dm(ctx, ship, station),
    )
    _react(
        ctx,
        ship,
        station,
        "point_defence",
        {
            "ship": ship.id,
            "turret": cmd.turret,
            "check": res.check.to_dict(),
            "removed": res.removed,
            "remaining": res.remaining,
        },
        f"{ship.name}'s point defence removes {res.removed} missile(s); {res.remaining} left.",
        {"fired": ship.fired | set(lasers), "pd_used": ship.pd_used | {cmd.turret}}
        | task(ctx, ship, station),
        replace(head, missiles=res.remaining),
    )


@handles(NoReaction, reaction=True)
def no_reaction(ctx: DecideContext, cmd: Any, ship: ShipState, station: str) -> None:
    """A defending station declines to react (§11.B reactions are optional)."""
    ctx.valid()
    _react(
        ctx,
        ship,
        station,
        "no_reaction",
        {"ship": ship.id, "station": station},
        f"{ship.name}'s {station_name(station)} does not react.",
        {},
        head_of(ctx),
    )
