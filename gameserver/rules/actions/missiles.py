"""Missiles: launch in the Attack step, flight, arrival, reactions, the salvo's attack.

Purely computational. RULES §9.B (salvos, flight time, salvo attack), §11.B (reactions).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.actions.attack import (
    apply_damage,
    crit_text,
    criticals_json,
    pick_weapons,
    turret_fields,
    without_pending,
)
from gameserver.rules.commands import LaunchMissiles
from gameserver.rules.decision import DecideContext, band_text, handles, refuse
from gameserver.rules.leaving import after_leave
from gameserver.rules.pending import PendingSalvo, Salvo
from gameserver.rules.resolution import CritRecord, resolve_salvo, smart_dm
from gameserver.rules.state import WRECKED, BattleState, ShipState, Step
from gameserver.rules.turns import reactors, target_ship


@handles(LaunchMissiles, step=Step.ATTACK, stations=("gunner",))
def launch_missiles(ctx: DecideContext, cmd: LaunchMissiles, ship: ShipState, station: str) -> None:
    """§9.B.1-2: one missile per loaded rack of the turret; all missiles one ship launches at
    one target in one round form one salvo, which strikes after the flight time of the band
    at launch (the same Attack step up to Medium)."""
    st = ctx.state
    racks = pick_weapons(ship, cmd.turret, cmd.weapons, missiles=True)
    for f in racks:
        if ship.weapon_kind(f) != "missile_rack":
            refuse("not_a_launcher", "only missile racks launch missiles")
        if ship.ammo[f] <= 0:
            refuse("no_ammunition", "that rack is empty: reload it in the actions step")
    target = target_ship(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    if not ship.within_sensors(band) or ship.sensors_disabled:
        refuse("beyond_sensors", f"your sensors cannot hold {target.name} at {band_text(band)}")
    if band == "distant" and target.id in ship.undetected:
        refuse(
            "not_detected",
            f"{target.name} is not detected: a launch at Distant needs the target detected"
            " (a sensor lock finds it)",
        )
    ctx.valid()
    ammo = list(ship.ammo)
    for f in racks:
        ammo[f] -= 1
    flight = ctx.cfg.missile_flight_rounds.get(band, 0)
    joined = next(
        (
            s
            for s in st.salvos
            if s.launcher == ship.id and s.target == target.id and s.launched_round == st.round
        ),
        None,
    )
    if joined is not None:
        salvo = joined._replace(missiles=joined.missiles + len(racks))
        salvos = tuple(salvo if s.id == joined.id else s for s in st.salvos)
        next_id = st.next_id
    else:
        salvo = Salvo(
            id=st.next_id,
            launcher=ship.id,
            target=target.id,
            missiles=len(racks),
            launched_round=st.round,
            arrives_round=st.round + flight,
            tl=ship.design.tl,
            band=band,
        )
        salvos = (*st.salvos, salvo)
        next_id = st.next_id + 1
    fields = {"ammo": tuple(ammo)} | turret_fields(ship, cmd.turret, station, racks)
    when = "impact this step" if flight == 0 else f"impact in {flight} round(s)"
    joins = f"; the salvo now holds {salvo.missiles}" if joined is not None else ""
    ctx.emit(
        "missiles_launched",
        salvo.to_dict() | {"launched": len(racks), "joined": joined is not None},
        f"{ship.name} launches {len(racks)} missile(s) at {target.name} ({when}{joins}).",
        ships={ship.id: fields},
        battle={"next_id": next_id, "salvos": salvos},
    )


def expire_salvos(ctx: DecideContext) -> bool:
    """§9.B.2: missiles are inert after `missile_endurance_rounds` rounds of flight (10 by
    default, the Distant flight time); True if any went inert now."""
    st = ctx.state
    limit = ctx.cfg.missile_endurance_rounds
    inert = [s for s in st.salvos if st.round - s.launched_round > limit]
    if not inert:
        return False
    ctx.emit(
        "salvos_inert",
        {"ids": [s.id for s in inert]},
        f"{sum(s.missiles for s in inert)} missile(s) run out of endurance and go inert.",
        battle={"salvos": tuple(s for s in st.salvos if s not in inert)},
    )
    return True


def strike_next_salvo(ctx: DecideContext) -> None:
    """§9.B.2: the first salvo due strikes (launchers in initiative order); the battle loop
    calls again for the next once this one is resolved, so each salvo meets the defender as it
    is then (Thrust, point defence and crew already spent on earlier salvos)."""
    st = ctx.state
    due = [s for s in st.salvos if s.arrives_round <= st.round]
    if not due:
        return
    order = {sid: i for i, sid in enumerate(st.order)}
    _salvo_arrives(ctx, min(due, key=lambda s: (order.get(s.launcher, 99), s.id)))


def without_salvo(st: BattleState, salvo_id: int) -> tuple[Salvo, ...]:
    """The salvos in flight without one."""
    return tuple(s for s in st.salvos if s.id != salvo_id)


def _salvo_arrives(ctx: DecideContext, salvo: Salvo) -> None:
    """The salvo leaves flight in the same event that makes it pending (or resolves it), so
    every event leaves a consistent state, also for a GM undo of any number of events."""
    st = ctx.state
    target = st.ships.get(salvo.target)
    if target is None or not target.is_active:
        ctx.emit(
            "salvo_lost",
            {"id": salvo.id},
            "A salvo loses its target and goes inert.",
            battle={"salvos": without_salvo(st, salvo.id)},
        )
        return
    pending = PendingSalvo(
        id=salvo.id,
        attacker=salvo.launcher,
        target=target.id,
        missiles=salvo.missiles,
        tl=salvo.tl,
        eligible=tuple(reactors(target, "salvo", ctx.cfg)),
    )
    if pending.eligible:
        ctx.emit(
            "salvo_incoming",
            pending.to_dict(),
            f"{salvo.missiles} missile(s) close on {target.name}.",
            battle={"pending": (*st.pending, pending), "salvos": without_salvo(st, salvo.id)},
        )
    else:
        resolve_pending_salvo(ctx, pending)


def resolve_pending_salvo(ctx: DecideContext, pending: PendingSalvo) -> None:
    """§9.B.3: one attack roll for the salvo (no Gunner skill; +1 per missile, Smart DM,
    evasive action), each surviving missile 4D - armour, the Effect once (⚠ defaults)."""
    st = ctx.state
    target = st.ships[pending.target]
    rest = without_pending(st, pending.id)
    if not target.is_active or pending.missiles <= 0:
        ctx.emit(
            "salvo_resolved",
            {"id": pending.id, "target": target.id, "missiles": 0, "hit": False},
            f"The salvo at {target.name} is gone before it strikes.",
            battle={"pending": rest, "salvos": without_salvo(st, pending.id)},
        )
        return
    launcher = st.ships.get(pending.attacker)
    band = st.band(pending.attacker, target.id) if launcher is not None else "long"
    res = resolve_salvo(
        ctx.dice,
        missiles=pending.missiles,
        smart=smart_dm(pending.tl, target.design.tl, band, ctx.cfg),
        evasive_dm=pending.evasive_dm,
        armour=target.armour,
        ruleset=st.ruleset,
        cfg=ctx.cfg,
    )
    fields: dict[str, Any] = {}
    records: list[CritRecord] = []
    notes: list[str] = []
    if res.hit and res.damage > 0:
        fields, records, notes = apply_damage(ctx, target, res.damage, res.severity, None)
    summary = (
        f"{pending.missiles} missile(s) strike {target.name} (total {res.total}) for"
        f" {res.damage} damage; Hull {fields.get('hull', target.hull)}." + crit_text(records)
        if res.hit
        else f"The salvo misses {target.name} (total {res.total})."
    )
    ctx.emit(
        "salvo_resolved",
        {
            "id": pending.id,
            "target": target.id,
            "missiles": pending.missiles,
            "roll": res.roll,
            "dms": res.dms,
            "total": res.total,
            "effect": res.effect,
            "hit": res.hit,
            "damage_rolls": list(res.damage_rolls),
            "damage": res.damage,
            "criticals": criticals_json(records),
            "effects": notes,
            "hull_after": fields.get("hull", target.hull),
        },
        summary,
        ships={target.id: fields},
        battle={"pending": rest, "salvos": without_salvo(st, pending.id)},
    )
    if fields.get("status") == WRECKED:
        after_leave(ctx, target.id, f"{target.name} is wrecked.")
