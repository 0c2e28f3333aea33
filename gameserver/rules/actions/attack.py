"""Gunners' direct fire in the Attack step: declare, await reactions, resolve, apply damage.

Purely computational. RULES §7.B (attack), §8.B (weapons), §10.B (damage and criticals).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gameserver.rules.commands import Attack
from gameserver.rules.config import RulesConfig, Ruleset
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
from gameserver.rules.dice import roll
from gameserver.rules.effects import ShipEffects, power_change_notes
from gameserver.rules.leaving import after_leave
from gameserver.rules.pending import Pending, PendingAttack
from gameserver.rules.resolution import (
    CritRecord,
    net_boon,
    resolve_attack,
    resolve_damage,
    weapon_reach_error,
)
from gameserver.rules.state import WRECKED, BattleState, ShipState, Step, replace_ship
from gameserver.rules.tables_mgt2e import BAND_INDEX, TURRET_MOUNTS, WEAPONS
from gameserver.rules.turns import reactors, target_ship


def attack_boon(ship: ShipState, target_id: str, flats: Iterable[int], cfg: RulesConfig) -> int:
    """The net Boon of an attack: a sensor lock on the target gives a Boon (§6.B), a weapon at
    a Bane (§10.B.4 Weapon Severity 1) a Bane; they net out (§1.6). The preview uses it too."""
    boons = 1 if ship.sensor_lock == target_id else 0
    banes = 1 if any(ship.weapons[f] == "bane" for f in flats) else 0
    return net_boon(boons, banes, cfg)


def pick_weapons(
    ship: ShipState, turret: int, given: tuple[int, ...] | None, missiles: bool
) -> list[int]:
    """The flat indices a turret fires: the given ones (identical, ready, once each), or by
    default every ready weapon of the first direct-fire kind (or every loaded rack)."""
    flats = list(ship.turret_weapons(turret))
    if given is None:
        ready = [f for f in flats if ship.weapon_ready(f)]
        if missiles:
            racks = [f for f in ready if ship.weapon_kind(f) == "missile_rack"]
            chosen = [f for f in racks if ship.ammo[f] > 0]
            if racks and not chosen:
                refuse("no_ammunition", "every rack in this turret is empty: reload first")
        else:
            direct = [f for f in ready if WEAPONS[ship.weapon_kind(f)].direct_fire]
            if ready and not direct:
                kind = ship.weapon_kind(ready[0]).replace("_", " ")
                refuse("not_direct_fire", f"a {kind} does not make direct-fire attacks")
            chosen = (
                [f for f in direct if ship.weapon_kind(f) == ship.weapon_kind(direct[0])]
                if direct
                else []
            )
        if not chosen:
            refuse("no_ready_weapon", "no ready weapon of that kind in this turret")
        return chosen
    if not given or len(set(given)) != len(given):
        refuse("bad_weapon", "list each weapon index once")
    chosen = []
    for w in given:
        if not 0 <= w < len(flats):
            refuse("bad_weapon", f"turret {turret} has no weapon {w}")
        f = flats[w]
        if f in ship.fired:
            refuse("weapon_already_fired", "that weapon has already fired (or defended) this round")
        if ship.weapons[f] in ("disabled", "destroyed"):
            refuse("weapon_disabled", f"that weapon is {ship.weapons[f]}")
        if not ship.weapon_ready(f):
            refuse("no_power", "the power plant cannot feed that weapon")
        chosen.append(f)
    kinds = {ship.weapon_kind(f) for f in chosen}
    if len(kinds) > 1:
        refuse("not_linked", "only identical weapons fire together (linked fire)")
    return chosen


def turret_fields(
    ship: ShipState, turret: int, station: str, used: Iterable[int]
) -> dict[str, Any]:
    """The shooter's patch after weapons fire: they are used this round; the gunner is done
    once the turret has nothing ready left."""
    fired = ship.fired | set(used)
    fields: dict[str, Any] = {"fired": fired}
    if not any(ship.weapon_ready(f) and f not in fired for f in ship.turret_weapons(turret)):
        fields.update(done(ship, station))
    return fields


@handles(Attack, step=Step.ATTACK, stations=("gunner",))
def declare_attack(ctx: DecideContext, cmd: Attack, ship: ShipState, station: str) -> None:
    """§7.B: a gunner fires one or more identical weapons of a turret (linked fire) at an
    enemy in reach and in sensor range; a called shot (MGT2E_2022, Short or closer). The
    target's stations that can react (§11.B) are asked before the roll."""
    st = ctx.state
    weapons = pick_weapons(ship, cmd.turret, cmd.weapons, missiles=False)
    kind = ship.weapon_kind(weapons[0])
    if not WEAPONS[kind].direct_fire:
        refuse("not_direct_fire", f"a {kind.replace('_', ' ')} does not make direct-fire attacks")
    target = target_ship(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    err = weapon_reach_error(kind, band)
    if err is not None:
        raise err
    if not ship.within_sensors(band):
        refuse("beyond_sensors", f"damaged sensors cannot target at {band_text(band)} range")
    if cmd.called_shot is not None:
        if st.ruleset != Ruleset.MGT2E_2022:
            refuse("called_shot_not_allowed", "called shots exist only under MGT2E_2022")
        if BAND_INDEX[band] > BAND_INDEX["short"]:
            refuse("called_shot_not_allowed", "a called shot needs Short range or closer")
    ctx.valid()
    pending = PendingAttack(
        id=st.next_id,
        attacker=ship.id,
        turret=cmd.turret,
        weapons=tuple(weapons),
        weapon=kind,
        target=target.id,
        eligible=tuple(reactors(target, "attack", ctx.cfg, WEAPONS[kind].laser)),
        called_shot=cmd.called_shot.value if cmd.called_shot is not None else None,
    )
    n = len(weapons)
    declare_pending(
        ctx,
        "attack_declared",
        pending,
        f"{ship.name} fires {n if n > 1 else 'a'} {kind.replace('_', ' ')}{'s' if n > 1 else ''}"
        f" at {target.name} ({band_text(band)} range).",
        {ship.id: turret_fields(ship, cmd.turret, station, weapons) | task(ctx, ship, station)},
        resolve_pending_attack,
    )


def apply_damage(
    ctx: DecideContext, target: ShipState, damage: int, severity: int, called: str | None
) -> tuple[dict[str, Any], list[CritRecord], list[str]]:
    """§10.B.2-4: Hull damage, criticals and their effects; the target's patch, the criticals
    and the effect notes. Hull 0 wrecks the ship (§13.2)."""
    eff = ShipEffects(target, ctx.cfg, ctx.state.round)
    work = eff.work()
    records = resolve_damage(ctx.dice, work, damage, severity, called, ctx.cfg, eff)
    fields = eff.changes(work)
    fields |= thrust_pool_after(target, fields)
    if work.hull <= 0:
        fields["status"] = WRECKED
        return fields, records, eff.notes
    return fields, records, eff.notes + power_change_notes(target, replace_ship(target, fields))


def thrust_pool_after(ship: ShipState, fields: dict[str, Any]) -> dict[str, Any]:
    """§10.B.4: Thrust lost to a Power Plant or M-Drive critical comes off this round's
    unspent pool at once (it no longer pays for evasive action); the patch to add."""
    lost = ship.thrust - replace_ship(ship, fields).thrust
    if lost <= 0 or ship.thrust_pool <= 0:
        return {}
    return {"thrust_pool": max(0, ship.thrust_pool - lost)}


def criticals_json(records: list[CritRecord]) -> list[dict[str, Any]]:
    """The criticals of a hit as event data."""
    return [
        {
            "source": r.source,
            "location": r.location,
            "previous": r.previous,
            "severity": r.severity,
            "extra_damage": r.extra_damage,
        }
        for r in records
    ]


def crit_text(records: list[CritRecord]) -> str:
    """The criticals of a hit for the log line."""
    if not records:
        return ""
    parts = [f"{r.location.replace('_', ' ')} {r.severity}" for r in records]
    return " Criticals: " + ", ".join(parts) + "."


def without_pending(st: BattleState, pending_id: int) -> tuple[Pending, ...]:
    """The pending list without one attack or salvo."""
    return tuple(p for p in st.pending if p.id != pending_id)


def resolve_pending_attack(ctx: DecideContext, pending: PendingAttack) -> None:
    """§7.B: roll the attack with every DM and the reactions taken, then apply the damage
    (§10.B: "each attack's damage and criticals apply immediately"); radiation per §8.B."""
    st = ctx.state
    attacker = st.ships[pending.attacker]
    target = st.ships[pending.target]
    if not target.is_active:
        ctx.emit(
            "attack_lost",
            {"id": pending.id},
            f"{attacker.name}'s fire finds no target.",
            battle={"pending": without_pending(st, pending.id)},
        )
        return
    gunner = attacker.crew_at(f"gunner:{pending.turret}") or attacker.crew[0]
    band = st.band(attacker.id, target.id)
    weapons = pending.weapons
    mount = attacker.design.turrets[pending.turret].mount.value
    called = pending.called_shot
    res = resolve_attack(
        ctx.dice,
        weapon=pending.weapon,
        band=band,
        gunner_skill=gunner.skill("gunner"),
        dex=gunner.char("DEX"),
        mount=mount,
        linked=len(weapons),
        fire_control=attacker.fire_control,
        boon=attack_boon(attacker, target.id, weapons, ctx.cfg),
        aid_dm=attacker.aid_dm,
        evasive_dm=pending.evasive_dm,
        called_shot_dm=ctx.cfg.called_shot_dm if called else 0,
        other_dm=task_dm(ctx, attacker, f"gunner:{pending.turret}"),
        armour=target.armour,
        sand_armour=pending.sand_armour,
        ruleset=st.ruleset,
        cfg=ctx.cfg,
    )
    severity = res.severity
    if (
        ctx.cfg.big_ship_ignores_turret_crits
        and target.design.tons >= 2000
        and (mount in TURRET_MOUNTS or mount == "barbette")
    ):
        severity = 0
    fields: dict[str, Any] = {}
    records: list[CritRecord] = []
    notes: list[str] = []
    rads = 0
    if res.hit and res.damage > 0:
        fields, records, notes = apply_damage(ctx, target, res.damage, severity, called)
    if res.hit and WEAPONS[pending.weapon].radiation and ctx.cfg.radiation_rads:
        rads = roll(ctx.dice, 2) * 20
        fields["rads"] = target.rads + rads
    name = pending.weapon.replace("_", " ")
    if res.hit:
        summary = (
            f"{attacker.name}'s {name} hits {target.name} (total {res.total}, Effect"
            f" {res.effect:+d}) for {res.damage} damage; Hull {fields.get('hull', target.hull)}."
            + crit_text(records)
        )
    else:
        summary = f"{attacker.name}'s {name} misses {target.name} (total {res.total})."
    ctx.emit(
        "attack_resolved",
        {
            "id": pending.id,
            "attacker": attacker.id,
            "target": target.id,
            "turret": pending.turret,
            "weapons": list(weapons),
            "band": band,
            "attack": res.to_dict(),
            "criticals": criticals_json(records),
            "effects": notes,
            "rads": rads,
            "hull_after": fields.get("hull", target.hull),
        },
        summary,
        ships={target.id: fields},
        battle={"pending": without_pending(st, pending.id)},
    )
    if fields.get("status") == WRECKED:
        after_leave(ctx, target.id, f"{target.name} is wrecked.")
