"""Cepheus Engine reactions (§11.A) from the pool (§4.A.3): Dodge and Fire Sand against a
beam attack, Point Defense and Trigger Screens against a missile salvo; once nobody can
react, the attack or salvo resolves.

Purely computational.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.actions.ce.attack import resolve_attack
from gameserver.rules.actions.ce.common import check_text, manned
from gameserver.rules.actions.ce.missiles import resolve_salvo
from gameserver.rules.commands import CePointDefence, Dodge, FireSand, TriggerScreens
from gameserver.rules.decision import DecideContext, answer_reaction, handles, refuse
from gameserver.rules.pending import Pending, PendingAttack, PendingSalvo
from gameserver.rules.state import ShipState
from gameserver.rules.turns_ce import ce_skill, hits, laser_defence, matching_screens, sandcaster


def _react(
    ctx: DecideContext,
    ship: ShipState,
    station: str,
    type_: str,
    data: dict[str, Any],
    summary: str,
    fields: dict[str, Any],
    updated: Pending,
) -> None:
    """One reaction from the pool (§4.A.3); once nobody can react, the attack resolves."""
    reactions = ship.reactions - 1
    left = tuple(s for s in updated.eligible if s != station) if reactions > 0 else ()
    new_head = replace(updated, eligible=left)
    answer_reaction(
        ctx,
        type_,
        data | {"id": new_head.id, "reactions_left": reactions},
        summary,
        {ship.id: fields | {"reactions": reactions}},
        new_head,
        resolve_pending,
    )


def resolve_pending(ctx: DecideContext, pending: Pending) -> None:
    """Roll the pending beam attack or missile salvo now."""
    if isinstance(pending, PendingAttack):
        resolve_attack(ctx, pending)
    else:
        resolve_salvo(ctx, pending)


def _head(ctx: DecideContext) -> PendingAttack:
    head = ctx.state.pending[0]
    if not isinstance(head, PendingAttack):
        refuse("no_pending_attack", "there is no beam attack to react to")
    return head


@handles(Dodge, stations=("pilot",), reaction=True)
def dodge(ctx: DecideContext, cmd: Dodge, ship: ShipState, station: str) -> None:
    """§11.A Dodge Incoming Fire: Piloting (DEX), Average; success: that attack (or those
    missiles' to-hit rolls) -2."""
    if ctx.state.ruleset.value != "CE":
        refuse("not_this_ruleset", "dodge is a Cepheus Engine reaction")
    head = ctx.state.pending[0]
    ce.crew_action_refusal("dodge", hits(ship, "bridge"), hits(ship, "sensors"))
    pilot = manned(ship, station)
    ctx.valid()
    c = ce.check(ctx.dice, ce_skill(pilot, "piloting"), pilot.char("DEX"), hasty=ship.hasty)
    granted = ce.grant("dodge", c)
    _react(
        ctx,
        ship,
        station,
        "dodge",
        {"ship": ship.id, "check": c.to_dict(), "grants": granted},
        f"{ship.name}'s pilot dodges ({check_text(c)}): {'-2 to hit' if granted else 'too slow'}.",
        {},
        replace(head, evasive_dm=granted),
    )


@handles(FireSand, stations=("gunner",), reaction=True)
def fire_sand(ctx: DecideContext, cmd: FireSand, ship: ShipState, station: str) -> None:
    """§11.A Fire Sand: Turret Weapons (DEX), Average, turret damage DMs apply; one canister;
    success: each beam's damage -1D before armour."""
    if ctx.state.ruleset.value != "CE":
        refuse("not_this_ruleset", "fire sand is a Cepheus Engine reaction")
    head = _head(ctx)
    flat = sandcaster(ship, cmd.turret)
    if flat is None:
        refuse("spent", "that turret has no working, loaded sandcaster")
    gunner = manned(ship, station)
    ctx.valid()
    c = ce.fire_sand(
        ctx.dice,
        gunner_skill=ce_skill(gunner, "turret_weapons"),
        dex=gunner.char("DEX"),
        mount_hits=hits(ship, f"turret:{cmd.turret}"),
        hasty=ship.hasty,
    )
    ammo = list(ship.ammo)
    ammo[flat] -= 1
    _react(
        ctx,
        ship,
        station,
        "fire_sand",
        {"ship": ship.id, "turret": cmd.turret, "check": c.to_dict()},
        f"{ship.name} fires sand ({check_text(c)}):"
        f" {'each beam loses 1D' if c.success else 'the cloud misses'}.",
        {"ammo": tuple(ammo)},
        replace(head, sand_armour=1 if c.success else 0),
    )


@handles(CePointDefence, stations=("gunner",), reaction=True)
def point_defence(ctx: DecideContext, cmd: CePointDefence, ship: ShipState, station: str) -> None:
    """§11.A Point Defense: the turret's gunner rolls until a miss, -1 per extra roll, each
    success destroying one missile (A10); pulse lasers -2 (A11); one reaction per chain."""
    head = ctx.state.pending[0]
    if not isinstance(head, PendingSalvo):
        refuse("no_pending_salvo", "there are no missiles to shoot at")
    lasers = laser_defence(ship, cmd.turret)
    if not lasers:
        refuse("not_point_defence", "that turret has no working laser")
    gunner = manned(ship, station)
    ctx.valid()
    pulse_only = all(ship.weapon_kind(f) == "pulse_laser" for f in lasers)
    chain = ce.point_defence(
        ctx.dice,
        weapon="pulse_laser" if pulse_only else "beam_laser",
        salvo=head.missiles,
        gunner_skill=ce_skill(gunner, "turret_weapons"),
        dex=gunner.char("DEX"),
        mount_hits=hits(ship, f"turret:{cmd.turret}"),
        hasty=ship.hasty,
    )
    _react(
        ctx,
        ship,
        station,
        "point_defence",
        {"ship": ship.id, "turret": cmd.turret, "totals": list(chain.totals)},
        f"{ship.name}'s turret {cmd.turret + 1} shoots down {chain.removed} missile(s);"
        f" {chain.remaining} left.",
        {},
        replace(head, missiles=chain.remaining),
    )


@handles(TriggerScreens, reaction=True)
def trigger_screens(ctx: DecideContext, cmd: TriggerScreens, ship: ShipState, station: str) -> None:
    """§11.A Trigger Screens (the commander, or a gunner with Screens-0+): no roll; each hit of
    the matching weapon loses 2D + the operator's Screens skill, and a nuclear damper also
    stops the radiation hit (A8: only triggered screens act, each once)."""
    head = ctx.state.pending[0]
    if not isinstance(head, PendingSalvo):
        refuse("no_matching_screen", "no screen of this ship stops a beam attack")
    if cmd.screen not in matching_screens(ship, head.missile):
        refuse("no_matching_screen", f"that screen does not stop {head.missile} missiles")
    if cmd.screen in head.screens:
        refuse("already_triggered", "that screen is already triggered against these missiles")
    operator = manned(ship, station)
    level = ce_skill(operator, "screens")
    if station != "captain" and level is None:
        refuse("untrained", "only the commander or a gunner with a Screens skill triggers screens")
    ctx.valid()
    skill = max(0, level or 0)
    kind = ship.design.screens[cmd.screen].replace("_", " ")
    _react(
        ctx,
        ship,
        station,
        "trigger_screens",
        {
            "ship": ship.id,
            "screen": cmd.screen,
            "type": ship.design.screens[cmd.screen],
            "skill": skill,
        },
        f"{ship.name} triggers its {kind} (Screens {skill}).",
        {},
        replace(
            head,
            screens=(*head.screens, cmd.screen),
            screen_skills=(*head.screen_skills, skill),
        ),
    )
