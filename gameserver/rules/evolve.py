"""The fold: `evolve` applies one event to a state, `replay` folds a whole log.

Purely computational. `evolve` is total for the logs this version writes: it applies the
event's field patch (``data["set"]``) without re-checking rules, and it refuses a patch that
names a field or ship the state does not have (`UnknownPatchField`) rather than replay an old
log to a wrong state. ``battle_started`` builds the initial state from the scenario and config
it records; ``gm_undo`` steps back through the `prev` links (RULES Part A: undo never rewinds
the dice stream).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, NoReturn

from gameserver.rules.commitment import LEGACY_SALT
from gameserver.rules.config import Ruleset, recorded_config
from gameserver.rules.errors import UnknownPatchField
from gameserver.rules.events import EVENT_SCHEMA_VERSION, Event
from gameserver.rules.scenario import CHARACTERISTICS, QUALITY, Scenario, station_skills
from gameserver.rules.secret import DiceSecret, with_secret
from gameserver.rules.state import (
    ACTIVE,
    BATTLE_DECODERS,
    SHIP_PATCH_DECODERS,
    BattleState,
    CrewState,
    ShipState,
    Step,
    design_power_need,
    pair_key,
    replace_battle,
    replace_ship,
)
from gameserver.rules.tables_mgt2e import LOCATIONS


def initial_state(event: Event) -> BattleState:
    """The state a ``battle_started`` event describes: crews, loads and ranges at the start."""
    d = event.data
    scenario = Scenario.model_validate(d["scenario"])
    cfg = recorded_config(d["config"])
    ruleset = Ruleset(d["ruleset"])
    skills_of = station_skills(ruleset)
    # The power budget runs in MgT2e battles whose recorded config has it on (a battle recorded
    # before it existed has it off: `recorded_config`).
    budget = ruleset is not Ruleset.CE and cfg.power_budget
    ships: dict[str, ShipState] = {}
    for entry in scenario.ships:
        design = entry.resolved_design()
        skill_level, char_score = QUALITY[entry.crew_quality.value]
        crew: list[CrewState] = []
        for station in design.crewed_stations():
            base = station.split(":")[0]
            spec = (entry.crew or {}).get(station)
            covers = tuple(s for s, holder in design.held_by.items() if holder == station)
            default_skills: dict[str, int | None] = {
                s: skill_level for held in (station, *covers) for s in skills_of[held.split(":")[0]]
            }
            if spec is None:
                name = f"{entry.crew_quality.value.title()} {base}"
                chars = {k: char_score for k in CHARACTERISTICS}
                skills = default_skills
            else:
                name = spec.name
                chars = {k: spec.characteristics.get(k, char_score) for k in CHARACTERISTICS}
                skills = dict(spec.skills) if spec.skills else default_skills
            crew.append(CrewState(station, name, chars, skills, covers))
        starts: list[int] = []
        ammo: list[int] = []
        for t in design.turrets:
            starts.append(len(ammo))
            for w in t.weapons:
                if w.value == "missile_rack":
                    ammo.append(cfg.missile_rack_load)
                elif w.value == "sandcaster":
                    ammo.append(cfg.sandcaster_load)
                else:
                    ammo.append(0)
        hull = design.hull_points
        structure = 0
        if ruleset is Ruleset.CE:
            # §10.A.2 (#5): Hull = floor(tons / 50); Structure the same, at least 1.
            hull = design.hull if design.hull is not None else design.tons // 50
            structure = design.structure or max(1, design.tons // 50)
        ships[entry.id] = ShipState(
            id=entry.id,
            name=entry.name,
            side=entry.side,
            preset=entry.preset,
            design=design,
            turret_start=tuple(starts),
            hull=hull,
            armour=design.armour,
            status=ACTIVE,
            initiative=0,
            init_bonus=0,
            thrust_pool=0,
            crits=(0,) * len(LOCATIONS),
            pp_thrust_loss=0,
            md_thrust_loss=0,
            power_loss=0,
            computer_loss=0,
            weapons=("ok",) * len(ammo),
            ammo=tuple(ammo),
            fired=frozenset(),
            pd_used=frozenset(),
            sand_used=frozenset(),
            missile_reserve=design.missile_reserve,
            sand_reserve=design.sand_reserve,
            crew=tuple(crew),
            done=frozenset(),
            aid_dm=0,
            sensor_lock=None,
            repaired=frozenset(),
            repair_loc=None,
            repair_count=0,
            repair_round=0,
            escape_progress=0,
            jump_plot_round=0,
            fuel_lost_pct=0,
            cargo_lost_pct=0,
            rads=0,
            life_support=None,
            structure=structure,
            plant=(
                (
                    max(design.power, design_power_need(design))
                    if cfg.power_plant_covers_design or not design.power
                    else design.power
                )
                if budget
                else 0
            ),
        )
    ranges: dict[str, tuple[str, int]] = {}
    ids = list(ships)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            ranges[pair_key(a, b)] = (scenario.starting_range.value, 0)
    for pr in scenario.ranges:
        ranges[pair_key(pr.a, pr.b)] = (pr.band.value, 0)
    return BattleState(
        seq=event.seq,
        battle_id=str(d["battle_id"]),
        # Only logs of event schema version 1 carry their (public) seed; see `rules.commitment`.
        seed=int(d["seed"]) if d.get("seed") is not None else None,
        dice_drawn=len(event.dice),
        ruleset=ruleset,
        config=cfg,
        scenario_name=scenario.name,
        round_limit=scenario.round_limit,
        jump_allowed=scenario.jump_limit == "outside",
        sides=tuple((s.id, s.name) for s in scenario.sides),
        ships=ships,
        ranges=ranges,
        moves={},
        round=0,
        step=Step.MANOEUVRE,
        order=(),
        turn=-1,
        pending=(),
        salvos_json=(),
        next_id=1,
        outcome=None,
        undo_depth=0,
        dice_salt=LEGACY_SALT.hex() if d.get("seed") is not None else None,
        prev=None,
    )


def evolve(state: BattleState | None, event: Event) -> BattleState:
    """Apply one event (total: no validation). ``battle_started`` builds the initial state."""
    if event.type == "battle_started" or state is None:
        return initial_state(event)
    if event.type == "gm_undo":
        n = int(event.data.get("n", 0))
        target = state
        for _ in range(n):
            if target.prev is None:
                break
            target = target.prev
        return replace_battle(
            target,
            {
                "seq": event.seq,
                "dice_drawn": state.dice_drawn + len(event.dice),
                "prev": target.prev,
                "undo_depth": max(0, state.undo_depth - n),
                "seed": state.seed,
                "dice_salt": state.dice_salt,
            },
        )
    limit = state.config.undo_limit
    depth = state.undo_depth + 1
    changes: dict[str, Any] = {
        "seq": event.seq,
        "dice_drawn": state.dice_drawn + len(event.dice),
        "prev": state,
        "undo_depth": depth if depth <= limit else limit,
    }
    if limit > 0 and event.seq % limit == 0:
        _trim_undo_chain(state, 2 * limit)
    patch = event.data.get("set")
    if patch:
        if not _PATCH_PARTS.issuperset(patch):
            _unknown(event, "part", sorted(set(patch) - _PATCH_PARTS))
        ship_patch = patch.get("ships")
        if ship_patch:
            ships = dict(state.ships)
            for sid, fields in ship_patch.items():
                ship = ships.get(sid)
                if ship is None:
                    _unknown(event, "ship", [sid])
                if not SHIP_FIELDS.issuperset(fields):
                    _unknown(event, "ship field", sorted(set(fields) - SHIP_FIELDS))
                decoded = {
                    k: (v if (decoder := SHIP_PATCH_DECODERS.get(k)) is None else decoder(v))
                    for k, v in fields.items()
                }
                ships[sid] = replace_ship(ship, decoded)
            changes["ships"] = ships
        battle_patch = patch.get("battle")
        if battle_patch:
            if not _PATCHABLE.issuperset(battle_patch):
                _unknown(event, "battle field", sorted(set(battle_patch) - _PATCHABLE))
            for key, value in battle_patch.items():
                if key == "salvos":  # kept as recorded; `BattleState.salvos` decodes on demand
                    changes["salvos_json"] = tuple(value)
                    changes["_salvos"] = None
                    continue
                decoder = BATTLE_DECODERS.get(key)
                changes[key] = decoder(value) if decoder is not None else value
    return replace_battle(state, changes)


def _trim_undo_chain(state: BattleState, keep: int) -> None:
    """Drop the link to states more than `keep` events back (every `undo_limit` events).

    Why: each state links the one before it for GM undo, so an unbounded chain would keep a
    whole battle's states alive (memory, and the garbage collector walking them: replay of
    10,000 events must stay under 100 ms). Only the last `undo_limit` states can ever be
    undone to, so with `keep` = 2 x limit every state up to `undo_limit` events behind the
    newest still reaches its full undo depth. The link (compare=False, not part of the
    state's value) is cut in place on a state at least `keep` events old.
    """
    node: BattleState | None = state
    for _ in range(keep):
        if node is None:
            return
        node = node.prev
    if node is not None and node.prev is not None:
        object.__setattr__(node, "prev", None)


def _unknown(event: Event, what: str, names: list[str]) -> NoReturn:
    raise UnknownPatchField(
        f"event {event.seq} ({event.type}) sets {what} {', '.join(map(repr, names))}, which this"
        f" state layout (event schema version {EVENT_SCHEMA_VERSION}) does not have: the log needs"
        " an upgrade step"
    )


_PATCH_PARTS = frozenset({"ships", "battle"})
SHIP_FIELDS = frozenset(f.name for f in dataclasses.fields(ShipState))
# Battle fields an event may set (the rest are fixed at the start or kept by `evolve` itself).
_PATCHABLE = frozenset(
    {
        "ranges",
        "moves",
        "round",
        "step",
        "order",
        "turn",
        "pending",
        "salvos",
        "next_id",
        "outcome",
        "round_limit",
    }
)


def replay(events: Iterable[Event], secret: DiceSecret | None = None) -> BattleState:
    """Fold events into a state; never re-rolls (the dice are in the events).

    With `secret` the state gets the battle's seed back (checked against the commitment of
    the ``battle_started`` event: `SecretMismatch` when it does not open it).

    The same state as folding every event with `evolve`, built faster: the events before the
    last ``2 x undo_limit`` are merged into one patch per ship and one for the battle (patches
    set fields, so the last value of each field wins) and applied once; the rest are folded
    one by one, so the undo chain is there for the GM. A log with a GM undo is folded one by
    one throughout (an undo returns to an earlier state).
    """
    log = events if isinstance(events, list) else list(events)
    if not log:
        raise ValueError("cannot replay an empty event log")
    commitment: Any = None
    state: BattleState | None = None
    start = 0
    first = log[0]
    if first.type == "battle_started":
        commitment = first.data.get("commitment")
        state = initial_state(first)
        start = 1
        rest = log[1:]
        if not any(e.type in ("gm_undo", "battle_started") for e in rest):
            fast = len(rest) - 2 * max(0, state.config.undo_limit)
            if fast > 1:
                state = _merge_fold(state, rest[:fast])
                start += fast
    for event in log[start:]:
        if event.type == "battle_started":
            commitment = event.data.get("commitment")
        state = evolve(state, event)
    assert state is not None
    if secret is not None:
        state = with_secret(state, secret, commitment if commitment is not None else {})
    return state


def _merge_fold(state: BattleState, events: list[Event]) -> BattleState:
    """`evolve` over `events` (none an undo) as one merged patch; the result links no
    earlier state (`replay` folds the last events one by one for the undo chain)."""
    ships = state.ships
    ship_sets: dict[str, dict[str, Any]] = {}
    battle_set: dict[str, Any] = {}
    dice = state.dice_drawn
    for event in events:
        dice += len(event.dice)
        patch = event.data.get("set")
        if not patch:
            continue
        if not _PATCH_PARTS.issuperset(patch):
            _unknown(event, "part", sorted(set(patch) - _PATCH_PARTS))
        ship_patch = patch.get("ships")
        if ship_patch:
            for sid, fields in ship_patch.items():
                if sid not in ships:
                    _unknown(event, "ship", [sid])
                if not SHIP_FIELDS.issuperset(fields):
                    _unknown(event, "ship field", sorted(set(fields) - SHIP_FIELDS))
                merged = ship_sets.get(sid)
                if merged is None:
                    ship_sets[sid] = dict(fields)
                else:
                    merged.update(fields)
        battle_patch = patch.get("battle")
        if battle_patch:
            if not _PATCHABLE.issuperset(battle_patch):
                _unknown(event, "battle field", sorted(set(battle_patch) - _PATCHABLE))
            battle_set.update(battle_patch)
    limit = state.config.undo_limit
    changes: dict[str, Any] = {
        "seq": events[-1].seq,
        "dice_drawn": dice,
        "prev": None,
        "undo_depth": min(state.undo_depth + len(events), limit),
    }
    if ship_sets:
        new_ships = dict(ships)
        for sid, fields in ship_sets.items():
            decoded = {
                k: (v if (decoder := SHIP_PATCH_DECODERS.get(k)) is None else decoder(v))
                for k, v in fields.items()
            }
            new_ships[sid] = replace_ship(ships[sid], decoded)
        changes["ships"] = new_ships
    for key, value in battle_set.items():
        if key == "salvos":
            changes["salvos_json"] = tuple(value)
            changes["_salvos"] = None
            continue
        decoder = BATTLE_DECODERS.get(key)
        changes[key] = decoder(value) if decoder is not None else value
    return replace_battle(state, changes)
