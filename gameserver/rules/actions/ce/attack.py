"""Cepheus Engine beam attacks (§7.A): a turret fires, the target may react, each weapon
rolls; hits wait on the target until the attacker's crew have acted (§3.A c).

Purely computational.
"""

from __future__ import annotations

from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.actions.ce.common import enemy
from gameserver.rules.commands import CeFire
from gameserver.rules.decision import (
    DecideContext,
    band_text,
    declare_pending,
    done,
    handles,
    refuse,
    task,
    task_dm,
)
from gameserver.rules.errors import RuleViolation
from gameserver.rules.pending import PendingAttack
from gameserver.rules.state import ShipState, Step
from gameserver.rules.turns_ce import beam_weapons, ce_skill, hits, reactors


@handles(CeFire, step=Step.TURN, stations=("gunner",))
def fire(ctx: DecideContext, cmd: CeFire, ship: ShipState, station: str) -> None:
    """§7.A: the turret's beam weapons that reach fire at one target; the target may react
    (§11.A) before the rolls, while its pool lasts (§4.A.3)."""
    st = ctx.state
    mount_hits = hits(ship, f"turret:{cmd.turret}")
    if mount_hits >= 2:
        refuse("weapon_disabled", "that turret is disabled")
    target = enemy(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    if hits(ship, "sensors") >= 2 and band != "adjacent":
        refuse("sensors_disabled", "with the sensors disabled, only adjacent targets")
    weapons = beam_weapons(ship, cmd.turret, band)
    if not weapons:
        refuse("out_of_range", f"no weapon of that turret reaches {band_text(band)} range")
    ctx.valid()
    kind = ship.weapon_kind(weapons[0])
    pending = PendingAttack(
        id=st.next_id,
        attacker=ship.id,
        turret=cmd.turret,
        weapons=tuple(weapons),
        weapon=kind,
        target=target.id,
        eligible=tuple(reactors(st, target, "attack")),
    )
    n = len(weapons)
    declare_pending(
        ctx,
        "attack_declared",
        pending,
        f"{ship.name} fires {n} weapon{'s' if n > 1 else ''} of turret {cmd.turret + 1}"
        f" at {target.name} ({band_text(band)} range).",
        {
            ship.id: {"fired": ship.fired | set(weapons)}
            | done(ship, station)
            | task(ctx, ship, station)
        },
        resolve_attack,
    )


def resolve_attack(ctx: DecideContext, pending: PendingAttack) -> None:
    """§7.A: each weapon rolls its own attack with every DM in force; a hit rolls its damage
    dice, and the damage waits on the target until the attacker's crew have all acted (§3.A c:
    beam damage is not applied mid-volley)."""
    st = ctx.state
    attacker = st.ships[pending.attacker]
    target = st.ships[pending.target]
    pending_left = tuple(p for p in st.pending if p.id != pending.id)
    if not target.is_active:
        ctx.emit(
            "attack_lost",
            {"id": pending.id},
            f"{attacker.name}'s fire finds no target.",
            battle={"pending": pending_left},
        )
        return
    gunner = attacker.crew_at(f"gunner:{pending.turret}")
    band = st.band(attacker.id, target.id)
    shots: list[dict[str, Any]] = []
    queued: list[dict[str, Any]] = []
    coordinate = attacker.coordinate
    extra = task_dm(ctx, attacker, f"gunner:{pending.turret}")
    for flat in pending.weapons:
        kind = attacker.weapon_kind(flat)
        att = ce.AttackerDMs(
            gunner_skill=ce_skill(gunner, "turret_weapons") if gunner else 0,
            dex=gunner.char("DEX") if gunner else 7,
            computer_gunner=gunner is None,
            sensor_targeting=attacker.targeting.get(target.id, 0),
            line_up=attacker.line_up_dm,
            coordinate=1 if coordinate > 0 else 0,
            mount_hits=hits(attacker, f"turret:{pending.turret}"),
            bridge_hits=hits(attacker, "bridge"),
            sensors_hits=hits(attacker, "sensors"),
            hasty=attacker.hasty,
            other_dm=extra,
        )
        coordinate = max(0, coordinate - 1)
        dfn = ce.DefenderDMs(evasive_dm=target.evasive_dm, dodge=pending.evasive_dm < 0)
        try:
            c, raw = ce.roll_attack(
                ctx.dice,
                weapon=kind,
                band=band,
                target_structure=target.structure,
                att=att,
                dfn=dfn,
                cfg=ctx.cfg,
            )
        except RuleViolation as exc:
            shots.append({"weapon": kind, "refused": exc.code})
            continue
        shots.append({"weapon": kind, "check": c.to_dict(), "hit": raw is not None, "raw": raw})
        if raw is not None:
            queued.append(
                {
                    "attacker": attacker.id,
                    "weapon": kind,
                    "raw": raw,
                    "sand": pending.sand_armour > 0,
                }
            )
    landed = len(queued)
    if landed:
        summary = (
            f"{attacker.name} hits {target.name} {landed} of {len(shots)} time(s)"
            f" (damage {', '.join(str(q['raw']) for q in queued)} before armour; it lands when"
            f" {attacker.name}'s crew have acted)."
        )
    else:
        summary = f"{attacker.name} misses {target.name} ({len(shots)} shot(s))."
    ships: dict[str, dict[str, Any]] = {}
    if queued:
        ships[target.id] = {"incoming": (*target.incoming, *queued)}
    if coordinate != attacker.coordinate:
        ships[attacker.id] = {"coordinate": coordinate}
    ctx.emit(
        "attack_resolved",
        {
            "id": pending.id,
            "attacker": attacker.id,
            "target": target.id,
            "turret": pending.turret,
            "weapons": list(pending.weapons),
            "band": band,
            "dodge": pending.evasive_dm < 0,
            "sand": pending.sand_armour > 0,
            "shots": shots,
        },
        summary,
        ships=ships,
        battle={"pending": pending_left},
    )
