"""GM commands: advance a stalled step, a house ruling, undo (RULES Part A).

Purely computational. Every GM command is an event with its reason, so the log shows it and
replay repeats it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gameserver.rules.actions.attack import apply_damage, criticals_json
from gameserver.rules.actions.reactions import resolve_pending
from gameserver.rules.battle import end_battle, initiative_order
from gameserver.rules.commands import GmAdvance, GmBot, GmEnd, GmRuling, GmUndo
from gameserver.rules.decision import DecideContext, band_text, handles, refuse, ship_name
from gameserver.rules.leaving import after_leave
from gameserver.rules.pending import replace_pending
from gameserver.rules.resolution_ce import m_drive_thrust
from gameserver.rules.scenario import CHARACTERISTICS
from gameserver.rules.state import (
    ACTIVE,
    DESTROYED,
    DISABLED,
    ESCAPED,
    JUMPED,
    SURRENDERED,
    WRECKED,
    ShipState,
    ce_ship_view,
    pair_key,
)
from gameserver.rules.tables_mgt2e import BAND_INDEX, LOCATION_INDEX
from gameserver.rules.tactics import BOT_OFF


@handles(GmAdvance, gm=True)
def gm_advance(ctx: DecideContext, cmd: GmAdvance) -> None:
    """Part A: the GM resolves the pending reaction without further reactions, or ends the
    current step, when players stall."""
    st = ctx.state
    if st.pending:
        head = st.pending[0]
        updated = replace(head, eligible=())
        ctx.emit(
            "gm_advanced",
            {"what": "reaction"},
            "The GM moves on: no more reactions.",
            battle={"pending": replace_pending(st.pending, updated)},
        )
        resolve_pending(ctx, updated)
        return
    ctx.emit(
        "gm_advanced",
        {"what": "step", "step": st.step.value},
        "The GM ends the turn: the ships still to act lose their actions."
        if st.ruleset.is_ce
        else f"The GM ends the {st.step.value} step.",
        battle={"turn": len(st.order)},
    )
    # `settle` (run after every command) strikes any salvo still due, then ends the step.


_RULING_FIELDS = (
    "hull",
    "armour",
    "thrust_pool",
    "initiative",
    "status",
    "crit:<location>",
    "weapon:<index>",
    "crew:<station>:<characteristic>",
    "station:<station> (value: the station its crew member goes to)",
    "cover:<station> (value: the station of the crew member who holds it as well, or null)",
    "sensor_lock",
    "missile_reserve",
    "sand_reserve",
    "round_limit",
    "band (with pair)",
    "structure (CE)",
    "reactions (CE)",
    "system:<name> (CE hits)",
)
_WEAPON_STATUS = ("ok", "bane", "disabled", "destroyed")
_RULING_SHIP_INT = {
    "hull": (0, None),
    "armour": (0, 50),
    "thrust_pool": (0, 100),
    "initiative": (-50, 100),
    "missile_reserve": (0, 10_000),
    "sand_reserve": (0, 10_000),
}


def _reassign(ship: ShipState, origin: str, value: Any) -> dict[str, Any]:
    """GM reassigns crew: the crew member at `origin` goes to station `value`; whoever is there
    takes `origin` (a swap). A ruling, so it takes effect at once (no round lost)."""
    stations = ship.design.station_ids()
    if origin not in stations or not isinstance(value, str) or value not in stations:
        refuse("bad_ruling", f"a station of {ship.name}: {', '.join(stations)}")
    if value == origin:
        refuse("bad_ruling", "the crew member is at that station already")
    mover = next((c for c in ship.crew if c.station == origin), None)
    if mover is None:
        refuse("bad_ruling", f"nobody is at the {origin!r} station of {ship.name}")
    crew = tuple(
        replace(c, station=value)
        if c is mover
        else replace(c, station=origin)
        if c.station == value
        else c
        for c in ship.crew
    )
    return {"crew": crew, "moved": ship.moved - {origin, value}}


def _cover(ship: ShipState, station: str, value: Any) -> dict[str, Any]:
    """GM: one person holds `station` as well as their own (value: their station), at once;
    null: whoever holds it besides their own lets it go (§1.5 applies while they hold two)."""
    stations = ship.design.station_ids()
    if station not in stations:
        refuse("bad_ruling", f"a station of {ship.name}: {', '.join(stations)}")
    if value is None:
        holder = next((c for c in ship.crew if station in c.covers), None)
        if holder is None:
            refuse("bad_ruling", f"nobody holds the {station!r} station besides their own")
        dropped = tuple(s for s in holder.covers if s != station)
        crew = tuple(replace(c, covers=dropped) if c is holder else c for c in ship.crew)
        return {"crew": crew}
    if not isinstance(value, str) or value not in stations:
        refuse("bad_ruling", f"a station of {ship.name}: {', '.join(stations)}")
    holder = next((c for c in ship.crew if c.station == value), None)
    if holder is None or not holder.able:
        refuse("bad_ruling", f"nobody able is at the {value!r} station of {ship.name}")
    if station == value or station in holder.covers:
        refuse("bad_ruling", "that crew member holds that station already")
    if any(c.able and (c.station == station or station in c.covers) for c in ship.crew):
        refuse("bad_ruling", f"the {station!r} station of {ship.name} has an able crew member")
    crew = tuple(replace(c, covers=(*c.covers, station)) if c is holder else c for c in ship.crew)
    return {"crew": crew, "moved": ship.moved - {station}}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def ce_ruling(ship: ShipState, field: str, value: Any) -> dict[str, Any] | None:
    """CE rulings (RULES §10.A): Hull and Structure within their boxes (Structure 0 destroys
    the ship), hits on a system 0-3 (``system:<name>``, ``system:turret:<i>``; a 3rd Power
    Plant hit disables it), the reaction pool, and the CE statuses. None: not a CE field."""
    view = ce_ship_view(ship)
    if field in ("hull", "structure"):
        top = view[f"{field}_max"]
        if not _is_int(value) or not 0 <= value <= top:
            refuse("bad_ruling", f"{field} must be an integer from 0 to {top}")
        out: dict[str, Any] = {field: value}
        if field == "structure" and value == 0:
            out["status"] = DESTROYED
        return out
    if field == "reactions":
        if not _is_int(value) or not 0 <= value <= 4:
            refuse("bad_ruling", "reactions are 0-4 a turn")
        return {"reactions": value}
    if field.startswith("system:"):
        system = field[7:]
        turret = system.startswith("turret:") and system[7:].isdigit()
        if not (turret and int(system[7:]) < len(ship.design.turrets)) and system not in (
            "sensors",
            "m_drive",
            "j_drive",
            "power_plant",
            "bridge",
            "fuel",
            "hold",
        ):
            refuse("bad_ruling", f"{ship.name} has no system {system!r}")
        if not _is_int(value) or not 0 <= value <= 3:
            refuse("bad_ruling", "a system takes 0-3 hits")
        systems = {k: v for k, v in (dict(ship.systems) | {system: value}).items() if v > 0}
        out = {"systems": systems}
        if system == "m_drive":
            rating = ship.design.thrust
            out["md_thrust_loss"] = rating - m_drive_thrust(rating, value)
        if system == "power_plant" and value >= 3:
            out["status"] = DISABLED
        return out
    if field == "status" and value == DESTROYED:
        return {"status": value, "structure": 0}
    if field == "status" and value == DISABLED:
        return {"status": value}
    return None


@handles(GmRuling, gm=True)
def gm_ruling(ctx: DecideContext, cmd: GmRuling) -> None:
    """Part A: a house ruling sets one value (a ship field, a Severity, a weapon's status, a
    crew member's characteristic, a sensor lock, a pair's range band or the round limit),
    logged with its reason (and undoable like any event)."""
    st = ctx.state
    field, value = cmd.field, cmd.value
    if cmd.pair is not None:
        a, b = cmd.pair
        if a not in st.ships or b not in st.ships or a == b:
            refuse("bad_ruling", "the pair must name two ships of this battle")
        if field != "band" or value not in BAND_INDEX:
            refuse("bad_ruling", "for a pair, set field 'band' to a range band")
        ranges = dict(st.ranges)
        ranges[pair_key(a, b)] = (value, 0)
        ctx.valid()
        ctx.emit(
            "gm_ruling",
            {"pair": [a, b], "field": field, "value": value, "reason": cmd.reason},
            f"GM ruling: {ship_name(st, a)}-{ship_name(st, b)} range is now {band_text(value)}"
            f" ({cmd.reason}).",
            battle={"ranges": ranges},
        )
        return
    if field == "round_limit":
        if not isinstance(value, int) or isinstance(value, bool) or value < st.round:
            refuse("bad_ruling", "round_limit must be an integer >= the current round")
        ctx.valid()
        ctx.emit(
            "gm_ruling",
            {"field": field, "value": value, "reason": cmd.reason},
            f"GM ruling: the round limit is now {value} ({cmd.reason}).",
            battle={"round_limit": value},
        )
        return
    sid = cmd.ship_id
    if sid is None or sid not in st.ships:
        refuse("bad_ruling", "name the ship (ship_id) the ruling applies to")
    ship = st.ships[sid]
    fields: dict[str, Any]
    extra: dict[str, Any] = {}
    ce_fields = ce_ruling(ship, field, value) if st.ruleset.is_ce else None
    if ce_fields is not None:
        fields = ce_fields
    elif field in _RULING_SHIP_INT:
        lo, hi = _RULING_SHIP_INT[field]
        hi = ship.design.hull_points if field == "hull" else hi
        if not _is_int(value) or not lo <= value <= (hi or value):
            refuse("bad_ruling", f"{field} must be an integer from {lo} to {hi}")
        fields = {field: value}
        if field == "hull" and value == 0:
            fields["status"] = WRECKED
    elif field == "status":
        if value not in (ACTIVE, WRECKED, SURRENDERED, ESCAPED, JUMPED):
            refuse("bad_ruling", "status must be active, wrecked, surrendered, escaped or jumped")
        fields = {"status": value}
    elif field.startswith("crit:"):
        loc = field[5:]
        if loc not in LOCATION_INDEX:
            refuse("bad_ruling", f"unknown critical location {loc!r}")
        if not _is_int(value) or not 0 <= value <= 6:
            refuse("bad_ruling", "a Severity is 0-6")
        if value > ship.crits[LOCATION_INDEX[loc]]:
            # §10.B.4: reaching a Severity applies that row's one-shot effect (its dice are
            # rolled and logged), as a critical there would
            ctx.valid()
            fields, records, notes = apply_damage(ctx, ship, 0, value, loc)
            extra = {"criticals": criticals_json(records), "effects": notes}
        else:
            crits = list(ship.crits)
            crits[LOCATION_INDEX[loc]] = value
            fields = {"crits": tuple(crits)}
    elif field.startswith("weapon:"):
        index = field[7:]
        if not index.isdigit() or int(index) >= len(ship.weapons):
            refuse("bad_ruling", f"{ship.name} has weapons 0-{len(ship.weapons) - 1}")
        if value not in _WEAPON_STATUS:
            refuse("bad_ruling", f"a weapon's status is one of {', '.join(_WEAPON_STATUS)}")
        weapons = list(ship.weapons)
        weapons[int(index)] = value
        fields = {"weapons": tuple(weapons)}
    elif field.startswith("crew:"):
        station, _, char = field[5:].rpartition(":")
        member = next((c for c in ship.crew if c.station == station), None)
        if member is None:
            refuse("bad_ruling", f"nobody is at a {station!r} station of {ship.name}")
        if char not in CHARACTERISTICS:
            refuse("bad_ruling", f"a characteristic is one of {', '.join(CHARACTERISTICS)}")
        if not _is_int(value) or not 0 <= value <= 20:
            refuse("bad_ruling", "a characteristic score is 0-20 (injuries lower it)")
        hurt = replace(member, chars={**member.chars, char: value})
        fields = {"crew": tuple(hurt if c is member else c for c in ship.crew)}
    elif field.startswith("station:"):
        fields = _reassign(ship, field[8:], value)
    elif field.startswith("cover:"):
        fields = _cover(ship, field[6:], value)
    elif field == "sensor_lock":
        if value is not None and (
            value not in st.ships or value == sid or st.ships[value].side == ship.side
        ):
            refuse("bad_ruling", "a sensor lock is on an enemy ship (or null for none)")
        fields = {"sensor_lock": value}
    else:
        refuse(
            "bad_ruling",
            f"the GM cannot set {field!r}; settable: {', '.join(_RULING_FIELDS)}",
        )
    ctx.valid()
    ctx.emit(
        "gm_ruling",
        {"ship": sid, "field": field, "value": value, "reason": cmd.reason} | extra,
        f"GM ruling: {ship.name} {field} = "
        f"{'nobody' if value is None and field.startswith('cover:') else value} ({cmd.reason}).",
        ships={sid: fields},
    )
    if fields.get("status", ACTIVE) != ACTIVE and ship.is_active:
        after_leave(ctx, sid, None)
    elif fields.get("status") == ACTIVE and not ship.is_active:
        ctx.emit(
            "ship_returns",
            {"ship": sid},
            f"{ship.name} is back in the fight.",
            battle={"order": initiative_order(ctx.state)},
        )


@handles(GmUndo, gm=True, after_end=True)
def gm_undo(ctx: DecideContext, cmd: GmUndo) -> None:
    """Part A: the GM reverts the effects of the last n events; the dice stream does not
    rewind and the undo is itself an event everyone sees."""
    st = ctx.state
    if st.is_over and st.seed is not None:
        refuse("dice_revealed", "the battle is over and its dice are revealed: it cannot resume")
    if cmd.n > st.undo_depth:
        refuse("undo_too_far", f"only the last {st.undo_depth} event(s) can be undone")
    ctx.valid()
    ctx.emit(
        "gm_undo",
        {"n": cmd.n},
        f"The GM undoes the last {cmd.n} event(s) (the dice stream does not rewind).",
    )


@handles(GmBot, gm=True)
def gm_bot(ctx: DecideContext, cmd: GmBot) -> None:
    """The GM hands a ship to the server's bot with a tactic level, or takes it back; an event
    like any other (logged, undoable, replayed), so the log says who ran the ship when.
    The hub's bot driver then plays the ship's stations (`rules.bot`)."""
    st = ctx.state
    sid = cmd.ship_id
    if sid is None:
        refuse("bad_command", "name the ship (ship_id) to hand to the bot or take back")
    ship = st.ships.get(sid)
    if ship is None:
        refuse("unknown_ship", f"there is no ship {sid!r} in this battle")
    if not ship.is_active:
        refuse("ship_out_of_action", f"{ship.name} is {ship.status}: nobody runs it any more")
    value = cmd.tactic.value if cmd.tactic is not None else BOT_OFF
    if ship.bot == value:
        refuse(
            "bot_unchanged",
            f"the bot already runs {ship.name} ({value} tactics)"
            if cmd.tactic is not None
            else f"the bot does not run {ship.name}",
        )
    ctx.valid()
    ctx.emit(
        "bot_assigned",
        {"ship": sid, "tactic": cmd.tactic.value if cmd.tactic is not None else None},
        f"The GM hands {ship.name} to the bot ({value} tactics)."
        if cmd.tactic is not None
        else f"The GM takes {ship.name} back from the bot.",
        ships={sid: {"bot": value}},
    )


@handles(GmEnd, gm=True)
def gm_end(ctx: DecideContext, cmd: GmEnd) -> None:
    """The GM ends the battle early (a draw); its dice are revealed like at any end."""
    ctx.valid()
    outcome = {"result": "draw", "winner": None, "reason": "gm_ended", "note": cmd.reason}
    end_battle(ctx, outcome, f"The GM ends the battle ({cmd.reason}).", pending=True)
