"""The Cepheus Engine battle: initiative, turns, crew actions, beam attacks, reactions, damage.

Purely computational. RULES §3.A (ship turns), §4.A (initiative, the reaction pool), §5.2
(Range Check), §6.A (positions), §7.A (attacks), §10.A (hits and locations), §11.A (Dodge,
Fire Sand), §12.A (repairs), §13.1 (destroyed, disabled, outran). The rules themselves are the
`resolution_ce` functions the vectors check; this module only reads and patches the battle.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.commands import (
    Board,
    CeCaptain,
    CeFire,
    CeLaunch,
    CePilot,
    CePointDefence,
    CeReload,
    CeRepair,
    Delay,
    Dodge,
    FireSand,
    Hasty,
    JamMissiles,
    RangeCheck,
    SensorTargeting,
    TriggerScreens,
)
from gameserver.rules.decision import (
    DecideContext,
    band_text,
    done,
    handles,
    refuse,
)
from gameserver.rules.dice import roll
from gameserver.rules.errors import RuleViolation
from gameserver.rules.leaving import after_leave, leave
from gameserver.rules.pending import Pending, PendingAttack, PendingSalvo, Salvo
from gameserver.rules.state import (
    DESTROYED,
    DISABLED,
    ESCAPED,
    SURRENDERED,
    BattleState,
    CrewState,
    ShipState,
    Step,
    pair_key,
)
from gameserver.rules.tables_ce import (
    BANDS,
    MISSILE_FLIGHT,
    MISSILE_LAST_TURN,
    RACK_LOAD,
    SAND_LOAD,
    characteristic_dm,
)
from gameserver.rules.turns import target_ship
from gameserver.rules.turns_ce import (
    JAMMER_GRADES,
    SENSOR_DM,
    beam_weapons,
    best_navigator,
    ce_skill,
    due_salvos,
    foes,
    hits,
    laser_defence,
    loaded_racks,
    matching_screens,
    present_systems,
    reactors,
    sandcaster,
)

# ---------------------------------------------------------------- the course of the battle


def roll_initiative(ctx: DecideContext, roll_tactics: dict[str, bool]) -> None:
    """§4.A.1: 2D + 1 for the greater Thrust (#8) + the Captain's optional Tactics Effect;
    the reaction pool follows from it (§4.A.3)."""
    st = ctx.state
    thrusts = {sid: s.thrust for sid, s in st.ships.items()}
    for sid, ship in st.ships.items():
        captain = ship.crew_at("captain")
        tactics = None
        if roll_tactics.get(sid, True) and captain is not None:
            level = ce_skill(captain, "tactics")
            if level is not None:
                tactics = (level, captain.char("INT"), 0)
        others = [t for o, t in thrusts.items() if o != sid]
        res = ce.initiative(ctx.dice, thrusts[sid], others, tactics)
        extra = f", Tactics Effect {res.tactics_effect:+d}" if res.tactics is not None else ""
        ctx.emit(
            "initiative_rolled",
            {
                "ship": sid,
                "roll": res.roll,
                "greater_thrust": res.greater_thrust,
                "initiative": res.initiative,
                "tactics": res.tactics.to_dict() if res.tactics else None,
                "reactions": res.reactions,
            },
            f"{ship.name} rolls initiative {res.initiative} (2D {res.roll}"
            f"{', +1 greater Thrust' if res.greater_thrust else ''}{extra});"
            f" {res.reactions} reaction(s) a turn.",
            ships={sid: {"initiative": res.initiative, "reactions": res.reactions}},
        )


def round_fields(ship: ShipState) -> dict[str, Any]:
    """A new turn (§3.A): last turn's Increase Initiative lapses, this one's comes in force
    (§4.A.2), the reaction pool refills from the initiative (§4.A.3), every station acts again."""
    initiative = ship.initiative - ship.bonus_in_force + ship.init_bonus
    fields: dict[str, Any] = {
        "initiative": initiative,
        "bonus_in_force": ship.init_bonus,
        "init_bonus": 0,
        "reactions": ce.reactions_for(initiative, ship.status == DISABLED),
        "fired": frozenset(),
        "done": frozenset(),
        "delay": 0,
    }
    return {k: v for k, v in fields.items() if getattr(ship, k) != v}


def new_turn_fields(state: BattleState) -> dict[str, dict[str, Any]]:
    """`round_fields` of every ship; a ship that held its whole last turn (§3.A Delay) acts
    first: its initiative becomes the highest of the others + 1 (several such ships tie at
    that count, and Thrust orders them)."""
    ships = {sid: round_fields(s) for sid, s in state.ships.items()}
    held = [sid for sid, s in state.ships.items() if s.delay == 1 and s.is_active]
    if not held:
        return ships
    others = [
        ships[sid].get("initiative", s.initiative)
        for sid, s in state.ships.items()
        if s.is_active and sid not in held
    ]
    top = max(others, default=0) + 1
    for sid in held:
        ship = state.ships[sid]
        ships[sid] |= {
            "initiative": top,
            "reactions": ce.reactions_for(top, ship.status == DISABLED),
        }
    return ships


def simultaneous_next(state: BattleState) -> bool:
    """§4.A.1: the ship after the acting one ties it exactly (initiative and Thrust) and has
    still to act: the two act simultaneously, so the acting ship's hits wait for its crew too
    (a ship that delayed to interrupt another acts before it, never with it)."""
    sid = state.acting_ship
    if sid is None or state.turn + 1 >= len(state.order):
        return False
    ship = state.ships[sid]
    nxt = state.ships.get(state.order[state.turn + 1])
    if nxt is None or not nxt.is_active or ship.delay == 2 or nxt.delay == 2:
        return False
    return (nxt.initiative, nxt.thrust) == (ship.initiative, ship.thrust)


def turn_fields(ship: ShipState) -> dict[str, Any]:
    """The ship's own action starts (§3.A): its Evasive Maneuvers lapse (#14), and this turn's
    Line Up, Sensor Targeting and Coordinate Crew start from nothing."""
    fields: dict[str, Any] = {
        "evasive_dm": 0,
        "line_up_dm": 0,
        "targeting": {},
        "coordinate": 0,
        "hasty": False,
    }
    return {k: v for k, v in fields.items() if getattr(ship, k) != v}


def initiative_key(state: BattleState, ship: ShipState, join: int) -> tuple[int, int, int]:
    """§4.A.1: higher initiative first, then higher Thrust; the rest act in joining order."""
    return (-ship.initiative, -ship.thrust, join)


# ---------------------------------------------------------------- helpers


def _crew(ship: ShipState, station: str) -> CrewState:
    crew = ship.crew_at(station)
    if crew is None:  # authorise checked it; a guard for direct calls
        refuse("station_unmanned", f"nobody able is at the {station} station")
    return crew


def _check_text(c: ce.CeCheck) -> str:
    return f"total {c.total}, Effect {c.effect:+d}"


def _enemy(state: BattleState, ship: ShipState, target_id: str) -> ShipState:
    target = target_ship(state, ship, target_id)
    if target.status in (DESTROYED, DISABLED):
        refuse("target_destroyed", f"{target.name} is {target.status}")
    return target


# ---------------------------------------------------------------- crew actions


@handles(CePilot, step=Step.TURN, stations=("pilot",))
def pilot_action(ctx: DecideContext, cmd: CePilot, ship: ShipState, station: str) -> None:
    """§6.A Evasive Maneuvers (attacks on this ship -1/-2 until its next action) or Line Up
    The Shot (+1/+2 to this ship's attacks this turn); a disabled bridge forbids both."""
    ce.crew_action_refusal(cmd.action, hits(ship, "bridge"), hits(ship, "sensors"))
    pilot = _crew(ship, station)
    ctx.valid()
    c = ce.check(
        ctx.dice,
        ce_skill(pilot, "piloting"),
        pilot.char("DEX"),
        ship.coordinate_dm,
        hasty=ship.hasty,
    )
    granted = ce.grant(cmd.action, c)
    field = "evasive_dm" if cmd.action == "evasive_maneuvers" else "line_up_dm"
    what = cmd.action.replace("_", " ")
    effect = f"DM {granted:+d}" if granted else "no effect"
    ctx.emit(
        "ce_pilot",
        {"ship": ship.id, "action": cmd.action, "check": c.to_dict(), "grants": granted},
        f"{ship.name}'s pilot: {what} ({_check_text(c)}): {effect}.",
        ships={ship.id: {field: granted} | done(ship, station) | _spent(ship)},
    )


@handles(SensorTargeting, step=Step.TURN, stations=("sensors",))
def sensor_targeting(
    ctx: DecideContext, cmd: SensorTargeting, ship: ShipState, station: str
) -> None:
    """§7.A.3/§7.A.4 DEFAULT: Comms (EDU) + own electronics - the target's if it jams - 4
    against stealth; gunners +1 (+2 exceptional) at that target this turn."""
    ce.crew_action_refusal("sensor_targeting", hits(ship, "bridge"), hits(ship, "sensors"))
    target = _enemy(ctx.state, ship, cmd.target)
    op = _crew(ship, station)
    ctx.valid()
    grade = target.design.sensors.value
    dm = ce.sensor_targeting_dm(
        SENSOR_DM[ship.design.sensors.value],
        SENSOR_DM[grade],
        grade in JAMMER_GRADES,
        target.design.stealth,
        hits(ship, "sensors"),
    )
    c = ce.check(
        ctx.dice, ce_skill(op, "comms"), op.char("EDU"), dm + ship.coordinate_dm, hasty=ship.hasty
    )
    granted = ce.grant("sensor_targeting", c)
    targeting = dict(ship.targeting) | {target.id: granted}
    ctx.emit(
        "sensor_targeting",
        {"ship": ship.id, "target": target.id, "check": c.to_dict(), "grants": granted},
        f"{ship.name}'s sensors target {target.name} ({_check_text(c)}):"
        f" {f'gunners {granted:+d}' if granted else 'no lock'}.",
        ships={ship.id: {"targeting": targeting} | done(ship, station) | _spent(ship)},
    )


@handles(CeCaptain, step=Step.TURN, stations=("captain",))
def captain_action(ctx: DecideContext, cmd: CeCaptain, ship: ShipState, station: str) -> None:
    """§6.A Coordinate Crew (a pool of max(1, Effect) +1 DMs for this turn's checks) or
    Increase Initiative (+Effect next turn only, §4.A.2); both Leadership (SOC)."""
    captain = _crew(ship, station)
    ctx.valid()
    c = ce.check(ctx.dice, ce_skill(captain, "leadership"), captain.char("SOC"), hasty=ship.hasty)
    granted = ce.grant(cmd.action, c)
    if cmd.action == "coordinate_crew":
        fields: dict[str, Any] = {"coordinate": granted}
        text = f"a pool of {granted} for the crew" if granted else "no effect"
    else:
        fields = {"init_bonus": granted}
        text = f"initiative {granted:+d} next turn" if granted else "no effect"
    ctx.emit(
        "ce_captain",
        {"ship": ship.id, "action": cmd.action, "check": c.to_dict(), "grants": granted},
        f"{ship.name}'s captain: {cmd.action.replace('_', ' ')} ({_check_text(c)}): {text}.",
        ships={ship.id: fields | done(ship, station)},
    )


@handles(RangeCheck, step=Step.TURN, stations=("navigator", "pilot"))
def range_check(ctx: DecideContext, cmd: RangeCheck, ship: ShipState, station: str) -> None:
    """§5.2: opposed Navigation (EDU) against the other ship's best navigator (DEFAULT); the
    winner, even on a failed check (A2), moves the range one band its way (#15). Winning an
    increase at Distant from every enemy outruns them (§13.1 (b))."""
    st = ctx.state
    if ship.status == DISABLED:
        refuse("ship_disabled", f"{ship.name} is disabled")
    target = target_ship(st, ship, cmd.target, enemy_only=False)
    if target.side == ship.side:
        refuse("friendly_target", f"{target.name} is on your side")
    nav = _crew(ship, station)
    other = best_navigator(target)
    ctx.valid()
    band = st.band(ship.id, target.id)
    a = ce.Side(ce_skill(nav, "navigation"), nav.char("EDU"), ship.coordinate_dm, ship.hasty)
    b = (
        ce.Side(ce_skill(other, "navigation"), other.char("EDU"), 0, target.hasty)
        if other is not None
        else ce.Side(None, 0)
    )
    o = ce.opposed(ctx.dice, a, b)
    # The defender opposes: it wants the opposite of what the acting ship asks.
    theirs = {"increase": "decrease", "decrease": "increase", "keep": "keep"}[cmd.wish]
    wish = cmd.wish if o.a_wins else theirs
    after = ce.range_after(band, wish)
    ranges = dict(st.ranges)
    ranges[pair_key(ship.id, target.id)] = (after, 0)
    winner = ship if o.a_wins else target
    ctx.emit(
        "range_check",
        {
            "ship": ship.id,
            "target": target.id,
            "wish": cmd.wish,
            "winner": winner.id,
            "effect_a": o.effect_a,
            "effect_b": o.effect_b,
            "rerolls": o.rerolls,
            "from": band,
            "to": after,
        },
        f"Range check {ship.name} ({o.effect_a:+d}) against {target.name} ({o.effect_b:+d}):"
        f" {winner.name} wins; {band_text(band)}"
        + (f" -> {band_text(after)}." if after != band else " holds."),
        ships={ship.id: done(ship, station) | _spent(ship)},
        battle={"ranges": ranges},
    )
    st = ctx.state
    outran = (
        o.a_wins
        and cmd.wish == "increase"
        and band == BANDS[-1].value
        and all(st.band(ship.id, e.id) == BANDS[-1].value for e in foes(st, ship))
    )
    if outran:
        leave(ctx, ship.id, ESCAPED, f"{ship.name} outruns the enemy and leaves the battle.")


@handles(CeRepair, step=Step.TURN, stations=("engineer",))
def repair(ctx: DecideContext, cmd: CeRepair, ship: ShipState, station: str) -> None:
    """§12.A Repair Damaged System: Mechanics (EDU), hits repaired by the Effect; #21 limits.
    Repaired M-Drive hits give back Thrust from the design rating (A14)."""
    if cmd.system not in ship.systems and cmd.system not in present_systems(ship):
        refuse("not_repairable", f"{ship.name} has no system {cmd.system!r}")
    n = hits(ship, cmd.system)
    ce.repair_refusal(cmd.system, n)
    eng = _crew(ship, station)
    ctx.valid()
    res = ce.repair(
        ctx.dice,
        ce_skill(eng, "mechanics"),
        eng.char("EDU"),
        cmd.system,
        n,
        dm=ship.coordinate_dm,
        hasty=ship.hasty,
        cfg=ctx.cfg,
    )
    systems = dict(ship.systems) | {cmd.system: res.hits_after}
    fields: dict[str, Any] = {"systems": {k: v for k, v in systems.items() if v > 0}}
    if cmd.system == "m_drive":
        rating = ship.design.thrust
        fields["md_thrust_loss"] = rating - ce.m_drive_thrust(rating, res.hits_after)
    name = cmd.system.replace("_", " ").replace(":", " ")
    ctx.emit(
        "ce_repair",
        {
            "ship": ship.id,
            "system": cmd.system,
            "check": res.check.to_dict(),
            "repairs": res.repairs,
            "hits_after": res.hits_after,
        },
        f"{ship.name}'s damage control on the {name} ({_check_text(res.check)}):"
        f" {res.repairs} hit(s) repaired, {res.hits_after} left.",
        ships={ship.id: fields | done(ship, station) | _spent(ship)},
    )


def _spent(ship: ShipState) -> dict[str, Any]:
    """Coordinate Crew points are spent one per check (§6.A: +1 DM per point)."""
    return {"coordinate": ship.coordinate - 1} if ship.coordinate > 0 else {}


# ---------------------------------------------------------------- attacks and reactions


@handles(CeFire, step=Step.TURN, stations=("gunner",))
def fire(ctx: DecideContext, cmd: CeFire, ship: ShipState, station: str) -> None:
    """§7.A: the turret's beam weapons that reach fire at one target; the target may react
    (§11.A) before the rolls, while its pool lasts (§4.A.3)."""
    st = ctx.state
    mount_hits = hits(ship, f"turret:{cmd.turret}")
    if mount_hits >= 2:
        refuse("weapon_disabled", "that turret is disabled")
    target = _enemy(st, ship, cmd.target)
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
    ctx.emit(
        "attack_declared",
        pending.to_dict(),
        f"{ship.name} fires {n} weapon{'s' if n > 1 else ''} of turret {cmd.turret + 1}"
        f" at {target.name} ({band_text(band)} range).",
        ships={ship.id: {"fired": ship.fired | set(weapons)} | done(ship, station)},
        battle={
            "pending": (*st.pending, pending) if pending.eligible else st.pending,
            "next_id": pending.id + 1,
        },
    )
    if not pending.eligible:
        resolve_attack(ctx, pending)


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
    pending = tuple(new_head if p.id == new_head.id else p for p in ctx.state.pending)
    ctx.emit(
        type_,
        data | {"id": new_head.id, "reactions_left": reactions},
        summary,
        ships={ship.id: fields | {"reactions": reactions}},
        battle={"pending": pending},
    )
    if not new_head.eligible:
        resolve_pending(ctx, new_head)


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
    pilot = _crew(ship, station)
    ctx.valid()
    c = ce.check(ctx.dice, ce_skill(pilot, "piloting"), pilot.char("DEX"), hasty=ship.hasty)
    granted = ce.grant("dodge", c)
    _react(
        ctx,
        ship,
        station,
        "dodge",
        {"ship": ship.id, "check": c.to_dict(), "grants": granted},
        f"{ship.name}'s pilot dodges ({_check_text(c)}): {'-2 to hit' if granted else 'too slow'}.",
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
    gunner = _crew(ship, station)
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
        f"{ship.name} fires sand ({_check_text(c)}):"
        f" {'each beam loses 1D' if c.success else 'the cloud misses'}.",
        {"ammo": tuple(ammo)},
        replace(head, sand_armour=1 if c.success else 0),
    )


def _hull(target: ShipState) -> tuple[ce.CeHull, str | None]:
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


def _hull_fields(target: ShipState, work: ce.CeHull, turret_key: str | None) -> dict[str, Any]:
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


def _crew_damage(
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


def _hurt(member: CrewState, damage: int, order: tuple[str, ...]) -> CrewState:
    chars = dict(member.chars)
    for key in order:
        take = min(damage, chars.get(key, 7))
        chars[key] = chars.get(key, 7) - take
        damage -= take
        if damage <= 0:
            break
    return replace(member, chars=chars)


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
    work, turret_key = _hull(target)
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
    fields = _hull_fields(target, work, turret_key) | {"incoming": ()}
    crew_fields, crew_notes = _crew_damage(ctx, target, crew_hits, radiation)
    fields |= crew_fields
    locs = [loc for r in results for loc in r["locations"]]
    ctx.emit(
        "damage_resolved",
        {
            "ship": target.id,
            "armour_before": armour_before,
            "hits": results,
            "crew": crew_notes,
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
    status = fields.get("status")
    if status == DESTROYED:
        after_leave(ctx, target.id, f"{target.name} breaks up: destroyed.")
    elif status == DISABLED:
        after_leave(ctx, target.id, f"{target.name}'s power plant is gone: disabled.")
    return True


# ---------------------------------------------------------------- missiles (§9.A)


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
    target = _enemy(st, ship, cmd.target)
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
        checked = f", launch {_check_text(res.check)}: hit on {res.to_hit}+"
    ctx.emit(
        "missiles_launched",
        data,
        f"{ship.name} launches {n} {missile} missile{'s' if n > 1 else ''} at {target.name}"
        f" ({band_text(band)} range, {flight} turn{'s' if flight > 1 else ''} to impact"
        f"{checked}).",
        ships={
            ship.id: {"ammo": tuple(ammo), "fired": ship.fired | set(racks)}
            | done(ship, station)
            | (_spent(ship) if res.check is not None else {})
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
    gunner = _crew(ship, station)
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
    operator = _crew(ship, station)
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


def resolve_salvo(ctx: DecideContext, pending: PendingSalvo) -> None:
    """§9.A.4-5: each missile left rolls 2D + the target's DMs against 8; a hit does 1D on the
    damage pipeline; a smart missile that misses attacks again next turn until turn L+4."""
    st = ctx.state
    pending_left = tuple(p for p in st.pending if p.id != pending.id)
    target = st.ships[pending.target]
    flying = next((s for s in st.salvos if s.id == pending.id), None)
    launched = flying.launched_round if flying is not None else st.round - 1
    turn = st.round - launched
    work, turret_key = _hull(target)
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
    fields = _hull_fields(target, work, turret_key)
    crew_fields, crew_notes = _crew_damage(ctx, target, crew_hits, radiation)
    fields |= crew_fields
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
    status = fields.get("status")
    if status == DESTROYED:
        after_leave(ctx, target.id, f"{target.name} breaks up: destroyed.")
    elif status == DISABLED:
        after_leave(ctx, target.id, f"{target.name}'s power plant is gone: disabled.")


# ---------------------------------------------------------------- hasty, reloads, jamming


@handles(Hasty, step=Step.TURN, stations=("captain", "pilot"), free_action=True)
def hasty(ctx: DecideContext, cmd: Hasty, ship: ShipState, station: str) -> None:
    """§1.5 / §3.A: at the start of the ship's turn (before any of its crew has acted) the
    captain declares hasty: initiative +2 for this turn (so the reaction pool may grow) and
    DM -1 on every crew check until the ship's next turn."""
    if ship.hasty:
        refuse("already_hasty", f"{ship.name} is already hasty")
    if ship.done:
        refuse("too_late", "hasty is declared before any of the crew acts")
    ctx.valid()
    initiative = ship.initiative + 2
    extra = ce.reactions_for(initiative) - ce.reactions_for(ship.initiative)
    ctx.emit(
        "hasty",
        {"ship": ship.id, "initiative": initiative},
        f"{ship.name}'s captain orders haste: initiative {initiative}, every check -1.",
        ships={
            ship.id: {
                "hasty": True,
                "initiative": initiative,
                "bonus_in_force": ship.bonus_in_force + 2,
                "reactions": ship.reactions + extra,
            }
        },
    )


@handles(Delay, step=Step.TURN, stations=("captain", "pilot"), free_action=True)
def delay(ctx: DecideContext, cmd: Delay, ship: ShipState, station: str) -> None:
    """§3.A Delay: before any of its crew acts, a ship holds its action. It may act later this
    turn just before another ship still to act (interrupting it): its initiative becomes that
    ship's, and it keeps that count. Or it holds the whole turn: it loses this turn's actions
    and next turn acts first (initiative = the highest + 1)."""
    st = ctx.state
    if ship.delay:
        refuse("already_delayed", f"{ship.name} has already delayed this turn")
    if ship.done or ship.hasty:
        refuse("too_late", "a ship delays before any of its crew acts (and before haste)")
    later = st.order[st.turn + 1 :]
    if cmd.before is None:
        ctx.valid()
        ctx.emit(
            "delayed",
            {"ship": ship.id, "before": None},
            f"{ship.name} holds its action this turn; it will act first next turn.",
            ships={ship.id: {"delay": 1, "done": frozenset(ship.design.station_ids()) | ship.done}},
        )
        return
    other = st.ships.get(cmd.before)
    if other is None or cmd.before not in later or not other.is_active:
        refuse("bad_target", "delay until a ship that has still to act this turn")
    ctx.valid()
    rest = [s for s in st.order if s != ship.id]
    j = rest.index(cmd.before)
    order = (*rest[:j], ship.id, *rest[j:])
    initiative = other.initiative
    pool = ce.reactions_for(initiative) - ce.reactions_for(ship.initiative)
    ctx.emit(
        "delayed",
        {"ship": ship.id, "before": other.id, "initiative": initiative},
        f"{ship.name} holds its action until just before {other.name} (initiative {initiative}).",
        ships={
            ship.id: {
                "delay": 2,
                "initiative": initiative,
                "bonus_in_force": 0,
                "reactions": max(0, ship.reactions + pool),
            }
        },
        battle={"order": order, "turn": st.turn - 1},
    )


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
    op = _crew(ship, station)
    ctx.valid()
    total = sum(s.missiles for s in flying)
    chain = ce.ew_missiles(
        ctx.dice,
        ce_skill(op, "comms"),
        op.char("INT"),
        total,
        dm=ship.coordinate_dm,
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
        ships={ship.id: done(ship, station) | _spent(ship)},
        battle={"salvos": tuple(salvos)},
    )


# ---------------------------------------------------------------- boarding (§13.4)


def _tactician(ship: ShipState) -> CrewState | None:
    """The ship's chief security officer: its captain, else its best INT Tactics aboard."""
    captain = ship.crew_at("captain")
    if captain is not None:
        return captain
    able = [c for c in ship.crew if c.able]
    if not able:
        return None
    return max(
        able, key=lambda c: ce.skill_dm(ce_skill(c, "tactics")) + characteristic_dm(c.char("INT"))
    )


@handles(Board, step=Step.TURN, stations=("captain",))
def board(ctx: DecideContext, cmd: Board, ship: ShipState, station: str) -> None:
    """§13.4 abstract boarding, one turn: opposed INT Tactics, the boarders first. The
    winner's own Effect picks the row (A15): a success costs the defender its reactions this
    turn or gives the defender +2 next time, with a Single internal hit on the boarded ship;
    an exceptional attacker takes the ship (2D internal damage; the crew strikes, the engine's
    reading of "1 turn to take control"); an exceptional defender repels the boarders."""
    st = ctx.state
    target = _enemy(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    captain = _crew(ship, station)
    defender = _tactician(target)
    if band != "adjacent":
        refuse("out_of_range", "boarding needs adjacent range (the engine models no docking)")
    ctx.valid()
    attacker_side = ce.Side(
        ce_skill(captain, "tactics"), captain.char("INT"), ship.boarding_dm, ship.hasty
    )
    defender_side = (
        ce.Side(ce_skill(defender, "tactics"), defender.char("INT"), target.boarding_dm)
        if defender is not None
        else ce.Side(None, 0)
    )
    res = ce.boarding(ctx.dice, attacker_side, defender_side, band, docked=False)
    out = res.outcome()
    work, turret_key = _hull(target)
    report = ce.apply_hits(ctx.dice, work, out["internal_hits"], "internal")
    fields = _hull_fields(target, work, turret_key)
    crew_fields, crew_notes = _crew_damage(ctx, target, report.crew_hits, [])
    fields |= crew_fields
    ships: dict[str, dict[str, Any]] = {ship.id: {"boarding_dm": out["next_attacker_dm"]}}
    ships[ship.id] |= done(ship, station)
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
