"""MgT2e docking and boarding: the pilot docks (§3.B "Docking", §5.2 Dock), the captain leads
a boarding action (§6.B Marines, §13.4 read for MgT2e), and boarders who take the ship capture
it (status ``captured``: out of the fight, like a surrender).

Purely computational. The opposed checks and the §13.4 outcome table are the CE ones
(`resolution_ce.opposed`, `resolution_ce.boarding`) rolled with MgT2e checks (§1.2, §1.3);
the house decisions are `RulesConfig.boarding`, `dock_thrust`, `dock_helpless_willing`,
`boarding_hit_dice`, `boarding_control_rounds` and `boarding_surrendered_unopposed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.actions.attack import apply_damage, crit_text, criticals_json
from gameserver.rules.actions.ce.boarding import tactician
from gameserver.rules.commands import BoardingAction, Dock
from gameserver.rules.config import RulesConfig
from gameserver.rules.decision import (
    DecideContext,
    band_text,
    done,
    handles,
    refuse,
    task,
    task_dm,
)
from gameserver.rules.dice import Dice, roll
from gameserver.rules.leaving import after_leave
from gameserver.rules.resolution import CheckResult, check, skill_dm
from gameserver.rules.state import (
    ACTIVE,
    CAPTURED,
    SURRENDERED,
    WRECKED,
    BattleState,
    CrewState,
    ShipState,
    Step,
)
from gameserver.rules.tables_mgt2e import characteristic_dm
from gameserver.rules.turns import target_ship

DOCK_UNWILLING_DM = -2  # §5.2 Dock: "opposed, with the docking ship at DM-2"


def mgt2e_roll(cfg: RulesConfig) -> Callable[[Dice, ce.Side], CheckResult]:
    """One side's MgT2e check (§1.2, §1.3 MgT2e column) for the shared opposed check."""

    def one(dice: Dice, side: ce.Side) -> CheckResult:
        return check(
            dice, side.skill, side.characteristic, dm=side.dm, auto_results=cfg.natural_auto_results
        )

    return one


def willing(cfg: RulesConfig, ship: ShipState, target: ShipState) -> bool:
    """§5.2 Dock: a willing target (engine DEFAULT): the same side, a ship that surrendered, or
    (`dock_helpless_willing`) one that cannot manoeuvre to refuse."""
    return (
        target.side == ship.side
        or target.status == SURRENDERED
        or (cfg.dock_helpless_willing and target.helpless)
    )


def dock_refusal(state: BattleState, ship: ShipState, target: ShipState) -> tuple[str, str] | None:
    """Why `ship` may not dock with `target` now (code, reason), or None. The target passed
    `target_ship` (in the battle or surrendered)."""
    cfg = state.config
    if not cfg.boarding:
        return "boarding_off", "docking and boarding are off in this battle's rules"
    if ship.docked is not None:
        other = state.ships[ship.docked].name if ship.docked in state.ships else ship.docked
        return "already_docked", f"{ship.name} is already docked with {other}"
    if target.docked is not None:
        return "target_docked", f"{target.name} is already docked with another ship"
    band = state.band(ship.id, target.id)
    if band != "adjacent":
        where = f"{target.name} is at {band_text(band)} range"
        return "out_of_range", f"docking needs adjacent range; {where}"
    if ship.thrust_pool < cfg.dock_thrust:
        return "not_enough_thrust", f"docking costs {cfg.dock_thrust} Thrust"
    return None


@handles(Dock, step=Step.MANOEUVRE, stations=("pilot",))
def dock(ctx: DecideContext, cmd: Dock, ship: ShipState, station: str) -> None:
    """§5.2 Dock (the pilot's significant action, a §3.B combat manoeuvre paid from the Thrust
    pool): Average Piloting (DEX) with a willing target; an unwilling one opposes with its own
    pilot, the docking ship at DM-2 (the higher Effect docks, A2). Docked, both ships record
    the pair; either moving or breaking off casts off (`leaving.undock`)."""
    st = ctx.state
    target = target_ship(st, ship, cmd.target, enemy_only=False)
    why = dock_refusal(st, ship, target)
    if why is not None:
        refuse(*why)
    ctx.valid()
    pilot = ship.crew_at(station)
    assert pilot is not None
    dm = ship.control_dm + task_dm(ctx, ship, station)
    data: dict[str, Any] = {"ship": ship.id, "target": target.id}
    if willing(ctx.cfg, ship, target):
        mine = check(
            ctx.dice,
            pilot.skill("pilot"),
            pilot.char("DEX"),
            dm=dm,
            auto_results=ctx.cfg.natural_auto_results,
        )
        docked = mine.success
        data |= {"willing": True, "check": mine.to_dict()}
        how = f"Piloting total {mine.total}, Effect {mine.effect:+d}"
    else:
        theirs = target.crew_at("pilot")
        assert theirs is not None  # a target without a pilot is helpless (willing by DEFAULT)
        o = ce.opposed(
            ctx.dice,
            ce.Side(pilot.skill("pilot"), pilot.char("DEX"), dm + DOCK_UNWILLING_DM),
            ce.Side(theirs.skill("pilot"), theirs.char("DEX"), target.control_dm),
            roll=mgt2e_roll(ctx.cfg),
        )
        docked = o.a_wins
        data |= {
            "willing": False,
            "check": o.check_a.to_dict(),
            "opposed": o.check_b.to_dict(),
            "rerolls": o.rerolls,
        }
        how = f"Piloting Effect {o.effect_a:+d} against {o.effect_b:+d}"
    pool = ship.thrust_pool - ctx.cfg.dock_thrust
    mine_fields: dict[str, Any] = {"thrust_pool": pool} | done(ship, station)
    mine_fields |= task(ctx, ship, station)
    ships: dict[str, dict[str, Any]] = {ship.id: mine_fields}
    if docked:
        mine_fields["docked"] = target.id
        ships[target.id] = {"docked": ship.id}
    data["docked"] = docked
    verb = "docks with" if docked else "fails to dock with"
    ctx.emit("docking", data, f"{ship.name} {verb} {target.name} ({how}).", ships=ships)


def boarding_refusal(
    state: BattleState, ship: ShipState, target: ShipState
) -> tuple[str, str] | None:
    """Why `ship` may not board `target` now (code, reason), or None (§13.4: adjacent or
    docked; one boarding party at a time). The target passed `target_ship`."""
    if not state.config.boarding:
        return "boarding_off", "docking and boarding are off in this battle's rules"
    if target.side == ship.side:
        return "friendly_target", f"{target.name} is on your side"
    if target.boarded_by is not None:
        return "already_boarded", f"boarders are already taking {target.name}"
    band = state.band(ship.id, target.id)
    if band != "adjacent" and ship.docked != target.id:
        return (
            "out_of_range",
            f"boarding needs the ships adjacent or docked; {target.name} is at"
            f" {band_text(band)} range",
        )
    return None


def _tactics(c: CrewState) -> int:
    return skill_dm(c.skill("tactics")) + characteristic_dm(c.char("INT"))


_ROWS = {
    "attacker_success": "the boarders gain ground",
    "attacker_exceptional": "the boarders are aboard and taking the ship",
    "defender_success": "the defenders hold",
    "defender_exceptional": "the boarders are repelled",
    "none": "nobody gains ground",
}


@handles(BoardingAction, step=Step.ACTIONS, stations=("captain", "pilot"))
def boarding_action(ctx: DecideContext, cmd: BoardingAction, ship: ShipState, station: str) -> None:
    """§13.4 read for MgT2e, one round: opposed INT Tactics, the boarders first (the target's
    captain, else its best Tactics aboard, defends). The winner's own Effect picks the row
    (A15). A success gives the winner +2 on the next boarding roll (the defender's lost
    reactions mean nothing here: the Actions step comes after every reaction of the round);
    either success row costs the boarded ship `boarding_hit_dice` D6 Hull, no armour; an
    exceptional attacker is aboard (2D6 Hull, no armour) and takes control
    `boarding_control_rounds` later (captured); an exceptional defender repels them.
    A surrendered ship is taken without a roll (`boarding_surrendered_unopposed`)."""
    st = ctx.state
    cfg = ctx.cfg
    target = target_ship(st, ship, cmd.target, enemy_only=False)
    why = boarding_refusal(st, ship, target)
    if why is not None:
        refuse(*why)
    ctx.valid()
    mine = done(ship, station) | task(ctx, ship, station)
    if target.status == SURRENDERED and cfg.boarding_surrendered_unopposed:
        ctx.emit(
            "boarding",
            {"ship": ship.id, "target": target.id, "result": "surrendered"},
            f"{ship.name}'s boarders go aboard {target.name}, whose crew has surrendered.",
            ships={ship.id: mine | {"boarding_dm": 0}},
        )
        capture(ctx, target.id, ship.id)
        return
    leader = ship.crew_at(station)
    assert leader is not None
    defender = tactician(target, _tactics)
    attacker_side = ce.Side(
        leader.skill("tactics"), leader.char("INT"), ship.boarding_dm + task_dm(ctx, ship, station)
    )
    defender_side = (
        ce.Side(defender.skill("tactics"), defender.char("INT"), target.boarding_dm)
        if defender is not None
        else ce.Side(None, 0)
    )
    band = st.band(ship.id, target.id)
    res = ce.boarding(
        ctx.dice,
        attacker_side,
        defender_side,
        band,
        docked=ship.docked == target.id,
        roll=mgt2e_roll(cfg),
    )
    out = res.outcome()
    damage = out["damage"]
    damage_dice = 2 if res.result == "attacker_exceptional" else 0
    if res.result in ("attacker_success", "defender_success"):
        damage_dice = cfg.boarding_hit_dice
        damage = roll(ctx.dice, damage_dice)
    fields: dict[str, Any] = {}
    records: list[Any] = []
    notes: list[str] = []
    if damage > 0:
        fields, records, notes = apply_damage(ctx, target, damage, 0, None)
    fields["boarding_dm"] = out["next_defender_dm"]
    taken = out["boarded"] and fields.get("status") is None
    if taken and cfg.boarding_control_rounds > 0:
        fields["boarded_by"] = ship.id
        fields["boarded_round"] = st.round
    o = res.opposed
    hull = fields.get("hull", target.hull)
    hurt = f"; {damage} Hull damage, Hull {hull}." if damage > 0 else "."
    ctx.emit(
        "boarding",
        {
            "ship": ship.id,
            "target": target.id,
            "effect_attacker": o.effect_a,
            "effect_defender": o.effect_b,
            "check": o.check_a.to_dict(),
            "opposed": o.check_b.to_dict(),
            "rerolls": o.rerolls,
            "result": res.result,
            "damage": damage,
            "damage_dice": damage_dice,
            "hull_after": hull,
            "criticals": criticals_json(records),
            "effects": notes,
        },
        f"{ship.name} boards {target.name} (Tactics {o.effect_a:+d} against {o.effect_b:+d}):"
        f" {_ROWS[res.result]}{hurt}" + crit_text(records),
        ships={
            ship.id: mine | {"boarding_dm": out["next_attacker_dm"]},
            target.id: {k: v for k, v in fields.items() if getattr(target, k) != v},
        },
    )
    if fields.get("status") == WRECKED:
        after_leave(ctx, target.id, f"{target.name} is wrecked.")
    elif taken and cfg.boarding_control_rounds == 0:
        capture(ctx, target.id, ship.id)


def capture(ctx: DecideContext, target_id: str, captor_id: str) -> None:
    """The boarders control the ship: status ``captured``, out of the fight (§13.4 "Ship
    boarded"; like a surrender, §13.2). A ship still in the fight leaves it (`after_leave`);
    a surrendered one already has."""
    st = ctx.state
    target = st.ships[target_id]
    was_active = target.status == ACTIVE
    ctx.emit(
        "ship_captured",
        {"ship": target_id, "by": captor_id},
        f"{st.ships[captor_id].name} takes control of {target.name}: she is captured.",
        ships={
            target_id: {
                "status": CAPTURED,
                "sensor_lock": None,
                "boarded_by": None,
                "boarded_round": 0,
            }
        },
    )
    if was_active:
        after_leave(ctx, target_id, f"{target.name} is out of the fight (captured).")


def take_control(ctx: DecideContext) -> None:
    """Start of a MgT2e round: boarders aboard since `boarding_control_rounds` rounds take
    control (§13.4 "Attacker needs 1 turn to take control"), unless their own ship has left
    the fight meanwhile (then they are cut off and the ship stays its crew's)."""
    st = ctx.state
    n = st.config.boarding_control_rounds
    for sid, s in st.ships.items():
        if s.boarded_by is None or s.status not in (ACTIVE, SURRENDERED):
            continue
        if st.round < s.boarded_round + n:
            continue
        captor = st.ships.get(s.boarded_by)
        if captor is not None and captor.is_active:
            capture(ctx, sid, captor.id)
            continue
        ctx.emit(
            "boarders_cut_off",
            {"ship": sid, "by": s.boarded_by},
            f"The boarders aboard {s.name} are cut off from their ship; her crew keeps her.",
            ships={sid: {"boarded_by": None, "boarded_round": 0}},
        )
