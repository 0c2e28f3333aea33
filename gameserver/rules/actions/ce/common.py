"""Small helpers every Cepheus Engine handler shares: the crew at a station, the enemy
targeted, the text of a check, the Coordinate Crew point a check spends (§6.A).

Purely computational.
"""

from __future__ import annotations

from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.decision import refuse
from gameserver.rules.state import DESTROYED, DISABLED, BattleState, CrewState, ShipState
from gameserver.rules.turns import target_ship


def manned(ship: ShipState, station: str) -> CrewState:
    """The able crew member at `station`; authorise checked it, so this guards direct calls."""
    crew = ship.crew_at(station)
    if crew is None:
        refuse("station_unmanned", f"nobody able is at the {station} station")
    return crew


def check_text(c: ce.CeCheck) -> str:
    """A check as the summaries show it."""
    return f"total {c.total}, Effect {c.effect:+d}"


def enemy(state: BattleState, ship: ShipState, target_id: str) -> ShipState:
    """The enemy ship `target_id`, refused once it is destroyed or disabled."""
    target = target_ship(state, ship, target_id)
    if target.status in (DESTROYED, DISABLED):
        refuse("target_destroyed", f"{target.name} is {target.status}")
    return target


def spent(ship: ShipState) -> dict[str, Any]:
    """Coordinate Crew points are spent one per check (§6.A: +1 DM per point)."""
    return {"coordinate": ship.coordinate - 1} if ship.coordinate > 0 else {}
