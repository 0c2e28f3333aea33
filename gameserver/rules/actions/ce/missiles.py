"""Cepheus Engine missiles (§9.A): launch, flight, arrival and the to-hit rolls; reloads
from the ship's stores (§6.A, #16) and electronic warfare against smart missiles (§6.A).

Purely computational.
"""

from __future__ import annotations

from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.actions.ce.common import check_text, enemy, manned, spent
from gameserver.rules.actions.ce.damage import (
    crew_damage,
    fuel_damage,
    hull_fields,
    leave_if_wrecked,
    working_hull,
)
from gameserver.rules.commands import CeLaunch, CeReload, JamMissiles
from gameserver.rules.decision import (
    DecideContext,
    band_text,
    done,
    handles,
    refuse,
    task,
    task_dm,
)
from gameserver.rules.errors import RuleViolation
from gameserver.rules.pending import PendingSalvo, Salvo
from gameserver.rules.state import BattleState, ShipState, Step
from gameserver.rules.tables_ce import MISSILE_FLIGHT, MISSILE_LAST_TURN, RACK_LOAD, SAND_LOAD
from gameserver.rules.turns_ce import ce_skill, due_salvos, hits, loaded_racks, reactors


@handles(CeLaunch, step=Step.TURN, stations=("gunner",))
def launch(ctx: DecideContext, cmd: CeLaunch, ship: ShipState, station: str) -> None:
    """§9.A: each loaded rack of the turret launches one missile of the kind the design's
    racks carry (§8.A): smart ones need no launch check and hit on 8+ (A9); standard and
    nuclear ones take one Turret Weapons check for the flight, whose Effect sets their to-hit
    number (§9.A.2, 6). They strike at the start of this ship's action 1 or 2 turns on
    (§9.A.3, #18)."""
    st = ctx.state
    mount_hits = hits(ship, f"turret:{cmd.turret}")
    racks = loaded_racks(ship, cmd.turret)
    target = enemy(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    missile = ship.design.missile
    gunner = ship.crew_at(station)
    if any(f in ship.fired for f in racks):
        refuse("weapon_already_fired", "those racks have launched this turn")
    att = ce.AttackerDMs(
        gunner_skill=ce_skill(gunner, "turret_weapons") if gunner else 0,
        dex=gunner.char("DEX") if gunner else 7,
        computer_gunner=gunner is None,
        sensor_targeting=ship.targeting.get(target.id, 0),
        coordinate=1 if ship.coordinate > 0 else 0,
        mount_hits=mount_hits,
        bridge_hits=hits(ship, "bridge"),
        sensors_hits=hits(ship, "sensors"),
        hasty=ship.hasty,
        other_dm=task_dm(ctx, ship, station),
    )
    try:  # the refusals come before any die; a smart missile rolls none
        res = ce.missile_launch(
            ctx.dice, band=band, missile="smart", launcher="missile_rack", att=att, spent=not racks
        )
    except RuleViolation as exc:
        refuse(exc.code, exc.message)
    ctx.valid()
    if missile != "smart":
        res = ce.missile_launch(
            ctx.dice, band=band, missile=missile, launcher="missile_rack", att=att
        )
    flight = MISSILE_FLIGHT[band] or 1
    ammo = list(ship.ammo)
    for f in racks:
        ammo[f] -= 1
    salvo = Salvo(
        id=st.next_id,
        launcher=ship.id,
        target=target.id,
        missiles=len(racks) * res.missiles,
        launched_round=st.round,
        arrives_round=st.round + flight,
        tl=ship.design.tl,
        band=band,
        missile=missile,
        to_hit=res.to_hit,
    )
    n = salvo.missiles
    data = salvo.to_dict() | {"missile": missile, "to_hit": res.to_hit, "flight_turns": flight}
    checked = ""
    if res.check is not None:
        data["check"] = res.check.to_dict()
        checked = f", launch {check_text(res.check)}: hit on {res.to_hit}+"
    ctx.emit(
        "missiles_launched",
        data,
        f"{ship.name} launches {n} {missile} missile{'s' if n > 1 else ''} at {target.name}"
        f" ({band_text(band)} range, {flight} turn{'s' if flight > 1 else ''} to impact"
        f"{checked}).",
        ships={
            ship.id: {"ammo": tuple(ammo), "fired": ship.fired | set(racks)}
            | done(ship, station)
            | (spent(ship) | task(ctx, ship, station) if res.check is not None else {})
        },
        battle={"salvos": (*st.salvos, salvo), "next_id": salvo.id + 1},
    )


def has_due_salvo(state: BattleState, ship_id: str) -> bool:
    """Whether missiles of `ship_id` strike when its action starts (§3.A DEFAULT)."""
    return bool(due_salvos(state, ship_id))


def strike_due(ctx: DecideContext) -> bool:
    """At the start of the acting ship's action, its first due salvo arrives: missiles at a
    target gone are discarded (§13.3), after turn L+4 they are inert (#17); otherwise the
    target may react (§11.A) before each missile rolls. True if anything happened."""
    st = ctx.state
    sid = st.acting_ship
    if sid is None or st.pending:
        return False
    due = due_salvos(st, sid)
    if not due:
        return False
    salvo = due[0]
    rest = tuple(s for s in st.salvos if s.id != salvo.id)
    target = st.ships.get(salvo.target)
    if (
        target is None
        or not target.is_active
        or st.round - salvo.launched_round > MISSILE_LAST_TURN
    ):
        ctx.emit(
            "salvo_lapsed",
            {"id": salvo.id},
            f"{ship_name_of(st, salvo.launcher)}'s missiles run out of fuel or target.",
            battle={"salvos": rest},
        )
        return True
    pending = PendingSalvo(
        id=salvo.id,
        attacker=salvo.launcher,
        target=salvo.target,
        missiles=salvo.missiles,
        tl=salvo.tl,
        eligible=tuple(reactors(st, target, "salvo", salvo.missile)),
        missile=salvo.missile,
        to_hit=salvo.to_hit,
    )
    ctx.emit(
        "salvo_arrived",
        pending.to_dict(),
        f"{salvo.missiles} {salvo.missile} missile(s) from {ship_name_of(st, salvo.launcher)}"
        f" reach {target.name}.",
        battle={"pending": (*st.pending, pending)} if pending.eligible else None,
    )
    if not pending.eligible:
        resolve_salvo(ctx, pending)
    return True


def ship_name_of(state: BattleState, ship_id: str) -> str:
    """A ship's name, or its id once it is gone from the state."""
    ship = state.ships.get(ship_id)
    return ship.name if ship is not None else ship_id


def resolve_salvo(ctx: DecideContext, pending: PendingSalvo) -> None:
    """§9.A.4-5: each missile left rolls 2D + the target's DMs against 8; a hit does 1D on the
    damage pipeline; a smart missile that misses attacks again next turn until turn L+4."""
    st = ctx.state
    pending_left = tuple(p for p in st.pending if p.id != pending.id)
    target = st.ships[pending.target]
    flying = next((s for s in st.salvos if s.id == pending.id), None)
    launched = flying.launched_round if flying is not None else st.round - 1
    turn = st.round - launched
    work, turret_key = working_hull(target)
    shots: list[dict[str, Any]] = []
    crew_hits: list[str] = []
    radiation: list[str] = []
    missed = 0
    screens = [
        ce.Screen(target.design.screens[i], skill)
        for i, skill in zip(pending.screens, pending.screen_skills, strict=True)
    ]
    for _ in range(pending.missiles if target.is_active else 0):
        if work.destroyed:
            break
        dfn = ce.DefenderDMs(evasive_dm=target.evasive_dm, dodge=pending.evasive_dm < 0)
        res = ce.missile_attack(
            ctx.dice,
            work,
            missile=pending.missile,
            to_hit=pending.to_hit,
            turn=min(turn, MISSILE_LAST_TURN),
            dfn=dfn,
            screens=screens,
        )
        entry: dict[str, Any] = {"total": res.total, "hit": res.hit}
        if res.damage is not None:
            d = res.damage
            entry |= {
                "raw": d.raw,
                "reduction": d.reduction,
                "damage": d.damage,
                "locations": d.report.locations,
                "radiation": d.radiation,
            }
            crew_hits += d.report.crew_hits
            if d.radiation is not None:
                radiation.append(d.radiation)
        missed += int(res.continues)
        shots.append(entry)
    fields = hull_fields(target, work, turret_key)
    crew_fields, crew_notes = crew_damage(ctx, target, crew_hits, radiation)
    fields |= crew_fields
    fuel_fields, fuel_notes = fuel_damage(ctx, target, fields)
    fields |= fuel_fields
    salvos = tuple(s for s in st.salvos if s.id != pending.id)
    if missed and not work.destroyed and flying is not None:
        salvos = (*salvos, flying._replace(missiles=missed, arrives_round=st.round + 1))
    landed = sum(1 for s in shots if s["hit"])
    ctx.emit(
        "salvo_resolved",
        {
            "id": pending.id,
            "attacker": pending.attacker,
            "target": target.id,
            "turn": turn,
            "shots": shots,
            "crew": crew_notes,
            **({"fuel": fuel_notes} if fuel_notes else {}),
            "continuing": missed,
            "hull_after": work.hull,
            "structure_after": work.structure,
        },
        f"{landed} of {len(shots)} missile(s) hit {target.name}"
        + (f"; {missed} fly on" if missed else "")
        + f". Hull {work.hull}, Structure {work.structure}.",
        ships={target.id: fields},
        battle={"pending": pending_left, "salvos": salvos},
    )
    leave_if_wrecked(ctx, target, fields.get("status"))


def reloadable(ship: ShipState, t: int) -> list[int]:
    """A turret's racks and sandcasters below their ready load, with stores left (#16)."""
    load = {
        "missile_rack": (RACK_LOAD, ship.missile_reserve),
        "sandcaster": (SAND_LOAD, ship.sand_reserve),
    }
    out = []
    for f in ship.turret_weapons(t):
        full, stores = load.get(ship.weapon_kind(f), (0, 0))
        if stores > 0 and ship.ammo[f] < full:
            out.append(f)
    return out


@handles(CeReload, step=Step.TURN, stations=("gunner",))
def reload(ctx: DecideContext, cmd: CeReload, ship: ShipState, station: str) -> None:
    """§6.A Reload Weapons System (significant): the turret's racks and sandcasters are filled
    to their ready load from the ship's stores."""
    flats = reloadable(ship, cmd.turret)
    if not flats:
        refuse("nothing_to_reload", "nothing in that turret can be reloaded from stores")
    ctx.valid()
    ammo = list(ship.ammo)
    missiles, sand = ship.missile_reserve, ship.sand_reserve
    for f in flats:
        if ship.weapon_kind(f) == "missile_rack":
            n = min(RACK_LOAD - ammo[f], missiles)
            missiles -= n
        else:
            n = min(SAND_LOAD - ammo[f], sand)
            sand -= n
        ammo[f] += n
    ctx.emit(
        "ce_reload",
        {"ship": ship.id, "turret": cmd.turret, "ammo": [ammo[f] for f in flats]},
        f"{ship.name} reloads turret {cmd.turret + 1}.",
        ships={
            ship.id: {"ammo": tuple(ammo), "missile_reserve": missiles, "sand_reserve": sand}
            | done(ship, station)
        },
    )


def incoming_missiles(state: BattleState, ship_id: str) -> list[Salvo]:
    """The smart missiles in flight at `ship_id`: electronic warfare stops only those (§6.A)."""
    return [
        s for s in state.salvos if s.target == ship_id and s.missiles > 0 and s.missile == "smart"
    ]


@handles(JamMissiles, step=Step.TURN, stations=("sensors",))
def jam_missiles(ctx: DecideContext, cmd: JamMissiles, ship: ShipState, station: str) -> None:
    """§6.A Electronic Warfare (b): Difficult Comms (INT) against the smart missiles flying at
    this ship; each success stops one, -1 per extra attempt, until a failure (A10)."""
    flying = incoming_missiles(ctx.state, ship.id)
    if not flying:
        refuse("no_missiles", "no missiles are flying at this ship")
    ce.crew_action_refusal("sensor_targeting", hits(ship, "bridge"), hits(ship, "sensors"))
    op = manned(ship, station)
    ctx.valid()
    total = sum(s.missiles for s in flying)
    chain = ce.ew_missiles(
        ctx.dice,
        ce_skill(op, "comms"),
        op.char("INT"),
        total,
        dm=ship.coordinate_dm + task_dm(ctx, ship, station),
        hasty=ship.hasty,
    )
    stopped = chain.removed
    salvos: list[Salvo] = []
    for s in ctx.state.salvos:
        if s in flying and stopped:
            gone = min(stopped, s.missiles)
            stopped -= gone
            if s.missiles - gone:
                salvos.append(s._replace(missiles=s.missiles - gone))
            continue
        salvos.append(s)
    ctx.emit(
        "jam_missiles",
        {"ship": ship.id, "totals": list(chain.totals), "stopped": chain.removed},
        f"{ship.name}'s sensors jam {chain.removed} of {total} missile(s).",
        ships={ship.id: done(ship, station) | spent(ship) | task(ctx, ship, station)},
        battle={"salvos": tuple(salvos)},
    )
