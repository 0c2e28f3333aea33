"""Flexible crew (MgT2e): a crew member moves to a station nobody able holds, or holds it as
well as their own.

Purely computational. RULES §6 gives the stations; CE's Change Positions (§6.A) is its own
action. The MgT2e rules give no figure: the engine DEFAULT is that the move takes the round (the
crew member acts at the new station from the next round) and leaves the old station empty. One
person holding two stations takes §1.5's DM -2 per extra task in the same step (`task_dm`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gameserver.rules.commands import ChangeStation, HoldStation
from gameserver.rules.decision import DecideContext, done, handles, refuse, station_name
from gameserver.rules.state import ShipState


def vacant_stations(ship: ShipState) -> list[str]:
    """The design's stations nobody able holds now (vacant, or the holder incapacitated)."""
    return [s for s in ship.design.station_ids() if s not in ship.moved and ship.crew_at(s) is None]


@handles(ChangeStation)
def change_station(ctx: DecideContext, cmd: ChangeStation, ship: ShipState, station: str) -> None:
    """Move the crew member at `station` to `cmd.to` (vacant or its holder incapacitated),
    on their ship's turn in their station's step; they act there from the next round. CE
    (§6.A Change Positions, a minor action): before they act this turn, and they act at the
    new station at once (§3.A: one pilot only, so the helm must be empty)."""
    ce = ctx.state.ruleset.is_ce
    if ce and station in ship.done:
        refuse(
            "already_acted",
            f"the {station_name(station)} has acted this turn: change positions before acting",
        )
    if cmd.to not in ship.design.station_ids():
        refuse("unknown_station", f"{ship.name} has no {station_name(cmd.to)} station")
    if cmd.to == station:
        refuse("same_station", "that is the station they hold already")
    if cmd.to not in vacant_stations(ship):
        refuse(
            "station_manned",
            f"the {station_name(cmd.to)} station of {ship.name} has an able crew member",
        )
    mover = next((c for c in ship.crew if c.station == station and c.able), None)
    if mover is None or mover.covers:
        refuse(
            "cannot_move",
            f"the {station_name(station)} of {ship.name} also holds another station",
        )
    ctx.valid()
    crew = tuple(replace(c, station=cmd.to) if c is mover else c for c in ship.crew)
    fields: dict[str, Any] = done(ship, station) | {"crew": crew}
    if not ce:
        fields["moved"] = ship.moved | {cmd.to}
    when = "this turn" if ce else "from next round"
    ctx.emit(
        "station_changed",
        {"ship": ship.id, "crew": mover.name, "from": station, "to": cmd.to},
        f"{ship.name}: {mover.name} leaves the {station_name(station)} station for the"
        f" {station_name(cmd.to)} station (acting there {when}).",
        ships={ship.id: fields},
    )


@handles(HoldStation)
def hold_station(ctx: DecideContext, cmd: HoldStation, ship: ShipState, station: str) -> None:
    """The crew member at `station` also holds `cmd.to` (vacant or its holder incapacitated),
    on their ship's turn in their station's step; they act there from the next round. CE
    (§3.A "any number of people may share any other position", a minor action like Change
    Positions): before they act this turn, and they act there at once; the helm only while
    nobody able holds it (one pilot). Either way a check after a task at their other station
    takes §1.5's DM -2 (`task_dm`)."""
    ce = ctx.state.ruleset.is_ce
    if ce and station in ship.done:
        refuse(
            "already_acted",
            f"the {station_name(station)} has acted this turn: hold a station before acting",
        )
    if cmd.to not in ship.design.station_ids():
        refuse("unknown_station", f"{ship.name} has no {station_name(cmd.to)} station")
    holder = ship.crew_at(station)
    if holder is None:
        refuse("station_unmanned", f"nobody able is at the {station_name(station)} station")
    if cmd.to in (holder.station, *holder.covers):
        refuse("same_station", "they hold that station already")
    if cmd.to not in vacant_stations(ship):
        refuse(
            "station_manned",
            f"the {station_name(cmd.to)} station of {ship.name} has an able crew member",
        )
    ctx.valid()
    crew = tuple(replace(c, covers=(*c.covers, cmd.to)) if c is holder else c for c in ship.crew)
    fields: dict[str, Any] = {"crew": crew}
    if not ce:
        fields = done(ship, station) | {"crew": crew, "moved": ship.moved | {cmd.to}}
    when = "this turn" if ce else "from next round"
    ctx.emit(
        "station_held",
        {"ship": ship.id, "crew": holder.name, "station": holder.station, "also": cmd.to},
        f"{ship.name}: {holder.name} holds the {station_name(cmd.to)} station as well as the"
        f" {station_name(holder.station)} station (acting there {when}).",
        ships={ship.id: fields},
    )
