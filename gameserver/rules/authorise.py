"""Who may send a command now: the ship, the station, the turn, the step, a pending reaction.

Purely computational. RULES §3.B (a crew member acts only in their station's step, ships in
initiative order) and Part A (a reaction is taken by the defending side when an attack or salvo
is declared against it).
"""

from __future__ import annotations

from pydantic import BaseModel

from gameserver.rules.commands import NOBODY, Actor, EndStep
from gameserver.rules.decision import CommandRule, refuse, ship_name, station_name
from gameserver.rules.state import BattleState, ShipState
from gameserver.rules.turns import stations_needed


def station_for(cmd: BaseModel, ship: ShipState, state: BattleState, rule: CommandRule) -> str:
    """The station a command acts from (see `CommandRule.stations`)."""
    if rule.stations == ("gunner",):
        turret = int(getattr(cmd, "turret", 0))
        if turret >= len(ship.design.turrets):
            refuse("bad_turret", f"{ship.name} has no turret {turret}")
        return f"gunner:{turret}"
    if len(rule.stations) == 1:
        return rule.stations[0]
    if rule.stations:
        return next((s for s in rule.stations if s in ship.design.stations), rule.stations[-1])
    station = getattr(cmd, "station", None)
    if station is not None:
        return str(station)
    candidates = _default_station_candidates(state, ship)
    actor: Actor = getattr(cmd, "actor", NOBODY)
    if actor.role == "player":
        candidates = [c for c in candidates if c in actor.stations]
    if not candidates:
        refuse("nothing_to_end", f"{ship.name} has no station waiting to act")
    return candidates[0]


def _default_station_candidates(state: BattleState, ship: ShipState) -> list[str]:
    if state.pending and state.pending[0].target == ship.id:
        return list(state.pending[0].eligible)
    if state.acting_ship == ship.id:
        return stations_needed(state, ship)
    return []


def authorise(state: BattleState, cmd: BaseModel, rule: CommandRule) -> tuple[ShipState, str]:
    """The acting ship and station, or a refusal saying why this actor may not act now."""
    actor: Actor = getattr(cmd, "actor", NOBODY)
    sid = getattr(cmd, "ship_id", None) or actor.ship_id
    if sid is None:
        refuse("bad_command", "say which ship acts (ship_id)")
    if sid not in state.ships:
        refuse("unknown_ship", f"there is no ship {sid!r} in this battle")
    ship = state.ships[sid]
    if actor.role == "player" and actor.ship_id != sid:
        refuse("not_your_ship", f"you do not command {ship.name}")
    station = station_for(cmd, ship, state, rule)
    if actor.role == "player" and station not in actor.stations:
        refuse(
            "not_your_station",
            f"you are not at the {station_name(station)} station of {ship.name}",
        )
    if not ship.is_active:
        refuse("ship_out_of_action", f"{ship.name} is {ship.status}")
    if ship.crew_at(station) is None:
        refuse(
            "station_unmanned",
            f"nobody able is at the {station_name(station)} station of {ship.name}",
        )
    if rule.reaction or (rule.command is EndStep and state.pending):
        if not state.pending:
            refuse("no_pending_attack", "there is no attack or salvo to react to")
        head = state.pending[0]
        if head.target != sid or station not in head.eligible:
            refuse(
                "not_your_reaction", f"the {station_name(station)} of {ship.name} cannot react now"
            )
        return ship, station
    if state.pending:
        head = state.pending[0]
        refuse(
            "reaction_pending",
            f"waiting for {ship_name(state, head.target)} to react to an incoming "
            f"{'salvo' if head.kind == 'salvo' else 'attack'}",
        )
    if state.acting_ship != sid:
        who = ship_name(state, state.acting_ship) if state.acting_ship else "nobody"
        refuse("not_your_turn", f"it is {who}'s turn, not {ship.name}'s")
    if rule.free_action:
        return ship, station
    if rule.step is not None and rule.step != state.step:
        what = str(rule.command.model_fields["type"].default).replace("_", " ")
        refuse(
            "wrong_step",
            f"{what} belongs to the {rule.step.value} step; this is the {state.step.value} step",
        )
    if station in ship.done:
        refuse("station_done", f"the {station_name(station)} of {ship.name} is done for this step")
    return ship, station
