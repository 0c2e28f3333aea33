"""A ship leaves the fight (escaped, surrendered, wrecked): what lapses with it.

Purely computational. RULES §13.2 (end states) and §13.3 (missiles and wrecks).
"""

from __future__ import annotations

from gameserver.rules.decision import DecideContext
from gameserver.rules.state import CAPTURED, SURRENDERED


def leave(ctx: DecideContext, ship_id: str, status: str, summary: str) -> None:
    """The ship takes `status` (§13.2: escaped or surrendered) and is out of the fight."""
    ctx.emit(
        "ship_" + status,
        {"ship": ship_id},
        summary,
        ships={ship_id: {"status": status, "sensor_lock": None}},
    )
    after_leave(ctx, ship_id, None)


def after_leave(ctx: DecideContext, ship_id: str, summary: str | None) -> None:
    """RULES §13.2/13.3: a ship out of the fight is no target: locks on it lapse and missiles
    flying at it are discarded (its own salvos fly on: §13.3 discards only those *at* it)."""
    st = ctx.state
    if st.ships[ship_id].docked and st.ships[ship_id].status not in (SURRENDERED, CAPTURED):
        # a wreck, or a ship gone by jump or escape, is no longer docked (a prize stays)
        undock(ctx, ship_id, None)
        st = ctx.state
    locks = {s.id: {"sensor_lock": None} for s in st.ships.values() if s.sensor_lock == ship_id}
    salvos = tuple(s for s in st.salvos if s.target != ship_id)
    pending = tuple(p for p in st.pending if p.target != ship_id)
    order = tuple(s for s in st.order if s != ship_id)
    turn = st.turn
    if ship_id in st.order and st.order.index(ship_id) <= st.turn:
        turn -= 1
    ctx.emit(
        "ship_out",
        {"ship": ship_id, "status": st.ships[ship_id].status},
        summary or f"{st.ships[ship_id].name} is out of the fight.",
        ships=locks,
        battle={"salvos": salvos, "pending": pending, "order": order, "turn": turn},
    )


def undock(ctx: DecideContext, ship_id: str, summary: str | None) -> None:
    """The docked pair of `ship_id` separates (both ships' `docked` cleared). Why here: a
    docked ship that moves or breaks off casts off, and one that leaves the fight is gone."""
    st = ctx.state
    ship = st.ships[ship_id]
    other = ship.docked
    if other is None:
        return
    ships: dict[str, dict[str, None]] = {ship_id: {"docked": None}}
    if other in st.ships and st.ships[other].docked == ship_id:
        ships[other] = {"docked": None}
    name = st.ships[other].name if other in st.ships else other
    ctx.emit(
        "undocked",
        {"ship": ship_id, "other": other},
        summary or f"{ship.name} and {name} are no longer docked.",
        ships=ships,
    )
