"""The battle: `start_battle`, `decide`, `evolve`, `replay`, `awaiting`, `legal_commands`.

Purely computational, no I/O, no clock, no global RNG: dice come from the battle's seeded stream
at the position the state records (RULES Part A). `decide` validates a command and returns events;
each event carries a field patch (``data["set"]``) that `evolve` applies, so `evolve` is total and
cheap and the rules live once, here. Round structure: RULES §3.B and Part A.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from pydantic import BaseModel

from gameserver.rules import commands as C
from gameserver.rules.dice import SeededDice, roll
from gameserver.rules.effects import REPAIRABLE, ShipEffects
from gameserver.rules.errors import RuleViolation
from gameserver.rules.events import EVENT_SCHEMA_VERSION, Event
from gameserver.rules.profiles import RulesConfig, Ruleset
from gameserver.rules.resolution import (
    CritRecord,
    aid_gunners,
    attack_dms,
    check,
    initiative,
    point_defence,
    repair_check,
    resolve_attack,
    resolve_damage,
    resolve_salvo,
    sand,
    skill_dm,
    smart_dm,
    weapon_reach_error,
)
from gameserver.rules.resolution import advance_range as _advance_range
from gameserver.rules.scenario import CHARACTERISTICS, QUALITY, STATION_SKILLS, Scenario
from gameserver.rules.state import (
    ACTIVE,
    BATTLE_DECODERS,
    ESCAPED,
    SHIP_PATCH_DECODERS,
    SURRENDERED,
    WRECKED,
    BattleState,
    CrewState,
    ShipState,
    Step,
    encode_value,
    pair_key,
    replace_battle,
    replace_ship,
)
from gameserver.rules.tables_mg import BAND_INDEX, LOCATIONS, TURRET_MOUNTS, WEAPONS

Command = C.Command
_STEP_NEXT = {Step.MANOEUVRE: Step.ATTACK, Step.ATTACK: Step.ACTIONS}
_MAX_SEED = 2**127


# ---------------------------------------------------------------- evolve / replay


def _initial_state(event: Event) -> BattleState:
    d = event.data
    scenario = Scenario.model_validate(d["scenario"])
    cfg = RulesConfig.from_dict(d["config"])
    ships: dict[str, ShipState] = {}
    for entry in scenario.ships:
        design = entry.resolved_design()
        skill_level, char_score = QUALITY[entry.crew_quality.value]
        crew: list[CrewState] = []
        for station in design.station_ids():
            base = station.split(":")[0]
            spec = (entry.crew or {}).get(station)
            default_skills: dict[str, int | None] = {s: skill_level for s in STATION_SKILLS[base]}
            if spec is None:
                name = f"{entry.crew_quality.value.title()} {base}"
                chars = {k: char_score for k in CHARACTERISTICS}
                skills = default_skills
            else:
                name = spec.name
                chars = {k: spec.characteristics.get(k, char_score) for k in CHARACTERISTICS}
                skills = dict(spec.skills) if spec.skills else default_skills
            crew.append(CrewState(station, name, chars, skills))
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
        ships[entry.id] = ShipState(
            id=entry.id,
            name=entry.name,
            side=entry.side,
            preset=entry.preset,
            design=design,
            turret_start=tuple(starts),
            hull=design.hull_points,
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
            fuel_lost_pct=0,
            cargo_lost_pct=0,
            rads=0,
            life_support=None,
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
        seed=int(d["seed"]),
        dice_drawn=len(event.dice),
        ruleset=Ruleset(d["ruleset"]),
        config=cfg,
        scenario_name=scenario.name,
        round_limit=scenario.round_limit,
        sides=tuple((s.id, s.name) for s in scenario.sides),
        ships=ships,
        ranges=ranges,
        moves={},
        round=0,
        step=Step.MANOEUVRE,
        order=(),
        turn=-1,
        pending=(),
        salvos=(),
        next_id=1,
        outcome=None,
        undo_depth=0,
        prev=None,
    )


def evolve(state: BattleState | None, event: Event) -> BattleState:
    """Apply one event (total: no validation). ``battle_started`` builds the initial state."""
    if event.type == "battle_started" or state is None:
        return _initial_state(event)
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
        ship_patch = patch.get("ships")
        if ship_patch:
            ships = dict(state.ships)
            for sid, fields in ship_patch.items():
                ship = ships.get(sid)
                if ship is None:
                    continue
                decoded = {
                    k: (v if (decoder := SHIP_PATCH_DECODERS.get(k)) is None else decoder(v))
                    for k, v in fields.items()
                }
                ships[sid] = replace_ship(ship, decoded)
            changes["ships"] = ships
        battle_patch = patch.get("battle")
        if battle_patch:
            for key, value in battle_patch.items():
                if key in _PATCHABLE:
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


def replay(events: Iterable[Event]) -> BattleState:
    """Fold events into a state; never re-rolls (the dice are in the events)."""
    state: BattleState | None = None
    for event in events:
        state = evolve(state, event)
    if state is None:
        raise ValueError("cannot replay an empty event log")
    return state


def _station_name(station: str) -> str:
    """A station id as players read it: `gunner:0` is "gunner 1" (turrets count from one)."""
    role, _, index = station.partition(":")
    return f"{role} {int(index) + 1}" if index.isdigit() else role


# ---------------------------------------------------------------- decide context


class _DryRun(Exception):
    """Raised by a handler once a command has passed validation in dry-run mode."""


class _Ctx:
    """Working state of one `decide` call: draws dice, emits events and folds them as it goes."""

    def __init__(
        self, state: BattleState, at: str | None, dry: bool = False, dice: Any = None
    ) -> None:
        self.state = state
        self.at = at
        self.dry = dry
        self.dice = dice if dice is not None else SeededDice(state.seed, state.dice_drawn)
        self.events: list[Event] = []

    @property
    def cfg(self) -> RulesConfig:
        return self.state.config

    def valid(self) -> None:
        """Validation passed; in dry-run mode stop here."""
        if self.dry:
            raise _DryRun

    def emit(
        self,
        type_: str,
        data: Mapping[str, Any],
        summary: str,
        ships: Mapping[str, Mapping[str, Any]] | None = None,
        battle: Mapping[str, Any] | None = None,
    ) -> Event:
        """Record an event with the dice drawn since the last one and fold it into the state."""
        payload = dict(data)
        patch: dict[str, Any] = {}
        if ships:
            patch["ships"] = {
                sid: {k: encode_value(v) for k, v in fields.items()}
                for sid, fields in ships.items()
                if fields
            }
        if battle:
            patch["battle"] = {k: encode_value(v) for k, v in battle.items()}
        if patch:
            payload["set"] = patch
        event = Event(
            seq=self.state.seq + 1,
            type=type_,
            data=payload,
            dice=self.dice.take(),
            summary=summary,
            at=self.at,
        )
        self.state = evolve(self.state, event)
        self.events.append(event)
        return event


def _refuse(code: str, message: str) -> NoReturn:
    raise RuleViolation(code, message)


def _name(state: BattleState, sid: str) -> str:
    return state.ships[sid].name


def _band_text(band: str) -> str:
    return band.replace("_", " ")


# ---------------------------------------------------------------- start


def _order_key(state: BattleState, ship: ShipState, join: int) -> tuple[int, int, int, int]:
    pilot = ship.crew_at("pilot")
    pilot_skill = skill_dm(pilot.skill("pilot")) if pilot is not None else -3
    # Part A: ties -> higher Thrust, then higher Pilot skill, then the ship that joined first.
    return (-ship.initiative, -ship.thrust, -pilot_skill, join)


def initiative_order(state: BattleState) -> tuple[str, ...]:
    """Active ships, highest initiative first (RULES §15 #28, Part A tie-breaks)."""
    ids = list(state.ships)
    active = [(i, state.ships[s]) for i, s in enumerate(ids) if state.ships[s].is_active]
    active.sort(key=lambda p: _order_key(state, p[1], p[0]))
    return tuple(s.id for _, s in active)


def start_battle(
    scenario: Scenario, seed: int, battle_id: str, at: str | None, dice: Any = None
) -> list[Event]:
    """The ``battle_started`` event (ruleset, config, schema version, scenario, seed), then the
    initiative rolls (RULES §4.B) and the first round's Manoeuvre step.

    Tests may pass a `ScriptedDice` for the initiative rolls (the events record them).
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not -_MAX_SEED <= seed < _MAX_SEED:
        _refuse("bad_seed", "the seed must be an integer of at most 128 bits")
    try:
        cfg = scenario.rules_config()
    except RuleViolation as exc:
        raise RuleViolation("bad_scenario", exc.message) from None
    first = Event(
        seq=1,
        type="battle_started",
        data={
            "schema_version": EVENT_SCHEMA_VERSION,
            "ruleset": scenario.ruleset.value,
            "config": cfg.to_dict(),
            "scenario": scenario.model_dump(mode="json"),
            "seed": seed,
            "battle_id": battle_id,
        },
        summary=f"Battle {scenario.name!r} begins ({scenario.ruleset.value}).",
        at=at,
    )
    ctx = _Ctx(evolve(None, first), at, dice=dice)
    ctx.events.append(first)
    for sid, ship in ctx.state.ships.items():
        pilot = ship.crew_at("pilot")
        captain = ship.crew_at("captain")
        tactics = None
        if captain is not None and captain.skill("tactics") is not None:
            tactics = (captain.skill("tactics"), captain.char("INT"))
        value, r, tac = initiative(
            ctx.dice,
            pilot.skill("pilot") if pilot is not None else None,
            ship.thrust,
            tactics,
            ctx.cfg,
        )
        extra = f", Tactics Effect {tac.effect:+d}" if tac is not None else ""
        ctx.emit(
            "initiative_rolled",
            {
                "ship": sid,
                "roll": r,
                "initiative": value,
                "tactics": tac.to_dict() if tac else None,
            },
            f"{ship.name} rolls initiative {value} (2D {r}{extra}).",
            ships={sid: {"initiative": value}},
        )
    _start_round(ctx, 1)
    _settle(ctx)
    return ctx.events


# ---------------------------------------------------------------- turn structure


def _enemies(state: BattleState, ship: ShipState) -> list[ShipState]:
    return [s for s in state.ships.values() if s.side != ship.side and s.is_active]


def _start_round(ctx: _Ctx, number: int) -> None:
    st = ctx.state
    ships: dict[str, dict[str, Any]] = {}
    for sid, s in st.ships.items():
        fields: dict[str, Any] = {
            "thrust_pool": s.thrust if s.is_active else 0,
            "fired": frozenset(),
            "pd_used": frozenset(),
            "sand_used": frozenset(),
            "done": frozenset(),
            "aid_dm": 0,
        }
        if s.init_bonus:
            fields["initiative"] = s.initiative + s.init_bonus
            fields["init_bonus"] = 0
        ships[sid] = {k: v for k, v in fields.items() if getattr(s, k) != v}
    ctx.emit(
        "round_started",
        {"round": number},
        f"Round {number} begins: Manoeuvre step.",
        ships=ships,
        battle={"round": number, "step": Step.MANOEUVRE, "turn": -1, "moves": {}},
    )
    ctx.emit(
        "initiative_order",
        {"order": list(initiative_order(ctx.state))},
        "Initiative order: "
        + ", ".join(_name(ctx.state, s) for s in initiative_order(ctx.state))
        + ".",
        battle={"order": initiative_order(ctx.state)},
    )


def _stations_needed(state: BattleState, ship: ShipState) -> list[str]:
    """Stations of `ship` that still have something to do in the current step."""
    if not ship.is_active:
        return []
    out: list[str] = []
    step = state.step
    if step == Step.MANOEUVRE:
        if "pilot" not in ship.done and ship.thrust_pool > 0 and ship.crew_at("pilot"):
            out.append("pilot")
        return out
    for t in range(len(ship.design.turrets)):
        st_id = f"gunner:{t}"
        if st_id in ship.done or ship.crew_at(st_id) is None:
            continue
        if step == Step.ATTACK:
            if _turret_can_fire(state, ship, t):
                out.append(st_id)
        elif _reload_options(ship, t, state.config):
            out.append(st_id)
    if step == Step.ACTIONS:
        if "captain" not in ship.done and ship.crew_at("captain"):
            out.insert(0, "captain")
        if (
            "sensors" not in ship.done
            and ship.crew_at("sensors")
            and not ship.sensors_disabled
            and (_lock_targets(state, ship) or _ew_options(state, ship))
        ):
            out.append("sensors")
        if "engineer" not in ship.done and ship.crew_at("engineer") and _repair_options(ship):
            out.append("engineer")
    return out


def _turret_can_fire(state: BattleState, ship: ShipState, t: int) -> bool:
    enemies = _enemies(state, ship)
    for flat in ship.turret_weapons(t):
        if not ship.weapon_ready(flat):
            continue
        kind = ship.weapon_kind(flat)
        stats = WEAPONS[kind]
        for e in enemies:
            band = state.band(ship.id, e.id)
            if not ship.within_sensors(band):
                continue
            if stats.direct_fire and weapon_reach_error(kind, band) is None:
                return True
            if kind == "missile_rack" and ship.ammo[flat] > 0:
                return True
    return False


def _reload_options(ship: ShipState, t: int, cfg: RulesConfig) -> list[int]:
    """§9.B.4: racks and sandcasters below their ready load, with stores left."""
    out = []
    for flat in ship.turret_weapons(t):
        kind = ship.weapon_kind(flat)
        if ship.weapons[flat] == "destroyed":
            continue
        if kind == "missile_rack" and ship.missile_reserve > 0:
            if ship.ammo[flat] < cfg.missile_rack_load:
                out.append(flat)
        elif (
            kind == "sandcaster" and ship.sand_reserve > 0 and ship.ammo[flat] < cfg.sandcaster_load
        ):
            out.append(flat)
    return out


def _lock_targets(state: BattleState, ship: ShipState) -> list[str]:
    return [
        e.id
        for e in _enemies(state, ship)
        if e.id != ship.sensor_lock and ship.within_sensors(state.band(ship.id, e.id))
    ]


def _ew_options(state: BattleState, ship: ShipState) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"mode": "missiles", "salvo_id": s["id"]} for s in state.salvos if s["target"] == ship.id
    ]
    out.extend(
        {"mode": "break_lock", "target": e.id}
        for e in _enemies(state, ship)
        if e.sensor_lock == ship.id
    )
    return out


def _repair_options(ship: ShipState) -> list[str]:
    out = []
    for i, loc in enumerate(LOCATIONS):
        sev = ship.crits[i]
        if sev > 0 and loc.value not in ship.repaired and sev in REPAIRABLE[loc.value]:
            out.append(loc.value)
    return out


def awaiting(state: BattleState) -> list[tuple[str, str]]:
    """(ship_id, station) pairs that may act now; a pending reaction awaits the defender."""
    if state.is_over:
        return []
    if state.pending:
        head = state.pending[0]
        return [(head["target"], st) for st in head["eligible"]]
    sid = state.acting_ship
    if sid is None:
        return []
    return [(sid, st) for st in _stations_needed(state, state.ships[sid])]


def _check_end(ctx: _Ctx) -> bool:
    st = ctx.state
    if st.is_over:
        return True
    alive = {s.side for s in st.ships.values() if s.is_active}
    if len(alive) > 1:
        return False
    if alive:
        winner = next(iter(alive))
        name = dict(st.sides).get(winner, winner)
        outcome: dict[str, Any] = {
            "result": "victory",
            "winner": winner,
            "reason": "last_side_standing",
        }
        summary = f"The battle is over: {name} holds the field."
    else:
        outcome = {"result": "draw", "winner": None, "reason": "no_side_left"}
        summary = "The battle is over: no side is left fighting (a draw)."
    ctx.emit("battle_ended", outcome, summary, battle={"outcome": outcome, "pending": ()})
    return True


def _settle(ctx: _Ctx) -> None:
    """Advance turns, steps and rounds until someone must act (or the battle ends)."""
    for _ in range(10_000):
        if _check_end(ctx):
            return
        st = ctx.state
        if st.pending:
            if _refresh_reactions(ctx):
                continue
            return
        sid = st.acting_ship
        if sid is not None and _stations_needed(st, st.ships[sid]):
            return
        if st.step == Step.ATTACK and any(s["arrives_round"] <= st.round for s in st.salvos):
            # §9.B.2: salvos due strike at the start of the Attack step; those launched this
            # step at Medium or closer strike once their ship has fired (§9.B.1: one salvo
            # per target with every missile it launched at that target this round).
            _arrivals(ctx)
            continue
        nxt = None
        for i in range(st.turn + 1, len(st.order)):
            if _stations_needed(st, st.ships[st.order[i]]):
                nxt = i
                break
        if nxt is not None:
            ship = st.ships[st.order[nxt]]
            ctx.emit(
                "turn_started",
                {"ship": ship.id, "step": st.step.value},
                f"{ship.name} acts ({st.step.value} step).",
                battle={"turn": nxt},
            )
            continue
        _end_step(ctx)
    raise RuntimeError("settle did not converge")  # pragma: no cover - bounded by round limit


def _end_step(ctx: _Ctx) -> None:
    st = ctx.state
    if st.step == Step.MANOEUVRE:
        _apply_moves(ctx)
    if st.step in _STEP_NEXT:
        nxt = _STEP_NEXT[st.step]
        reset: dict[str, dict[str, Any]] = {
            sid: {"done": frozenset()} for sid, s in st.ships.items() if s.done
        }
        ctx.emit(
            "step_started",
            {"round": st.round, "step": nxt.value},
            f"Round {st.round}: {nxt.value.title()} step.",
            ships=reset,
            battle={"step": nxt, "turn": -1},
        )
        return
    if st.round >= st.round_limit:
        outcome = {"result": "draw", "winner": None, "reason": "round_limit"}
        ctx.emit(
            "battle_ended",
            outcome,
            f"The round limit ({st.round_limit}) is reached: the battle ends in a draw.",
            battle={"outcome": outcome},
        )
        return
    _start_round(ctx, st.round + 1)


def _apply_moves(ctx: _Ctx) -> None:
    st = ctx.state
    if not st.moves:
        return
    ranges = dict(st.ranges)
    changed: list[dict[str, Any]] = []
    for key, net in st.moves.items():
        band, progress = ranges[key]
        new_band, new_progress = _advance_range(band, progress, net, st.config)
        ranges[key] = (new_band, new_progress)
        a, b = key.split("|")
        changed.append({"a": a, "b": b, "from": band, "to": new_band, "progress": new_progress})
    moved = [c for c in changed if c["from"] != c["to"]]
    text = "; ".join(
        f"{_name(st, c['a'])}-{_name(st, c['b'])} {_band_text(c['from'])} -> {_band_text(c['to'])}"
        for c in moved
    )
    ctx.emit(
        "ranges_changed",
        {"pairs": changed},
        f"Ranges change: {text}." if moved else "Ships manoeuvre; no range band changes yet.",
        battle={"ranges": ranges, "moves": {}},
    )


# ---------------------------------------------------------------- authorisation


_STEP_OF: dict[str, Step] = {
    "move": Step.MANOEUVRE,
    "aid_gunners": Step.MANOEUVRE,
    "break_off": Step.MANOEUVRE,
    "attack": Step.ATTACK,
    "launch_missiles": Step.ATTACK,
    "sensor_lock": Step.ACTIONS,
    "electronic_warfare": Step.ACTIONS,
    "improve_initiative": Step.ACTIONS,
    "repair": Step.ACTIONS,
    "reload": Step.ACTIONS,
}
_STATION_OF: dict[str, str] = {
    "move": "pilot",
    "aid_gunners": "pilot",
    "break_off": "pilot",
    "evasive_action": "pilot",
    "sensor_lock": "sensors",
    "electronic_warfare": "sensors",
    "improve_initiative": "captain",
    "repair": "engineer",
}
_REACTIONS = frozenset({"evasive_action", "point_defence", "sand", "no_reaction"})


def _station_for(cmd: BaseModel, ship: ShipState, state: BattleState) -> str:
    t = getattr(cmd, "type", "")
    if t in _STATION_OF:
        return _STATION_OF[t]
    if hasattr(cmd, "turret"):
        turret = int(cmd.turret)
        if turret >= len(ship.design.turrets):
            _refuse("bad_turret", f"{ship.name} has no turret {turret}")
        return f"gunner:{turret}"
    if t == "surrender":
        return "captain" if "captain" in ship.design.stations else "pilot"
    station = getattr(cmd, "station", None)
    if station is not None:
        return str(station)
    candidates = _default_station_candidates(state, ship)
    actor: C.Actor = getattr(cmd, "actor", C.NOBODY)
    if actor.role == "player":
        candidates = [c for c in candidates if c in actor.stations]
    if not candidates:
        _refuse("nothing_to_end", f"{ship.name} has no station waiting to act")
    return candidates[0]


def _default_station_candidates(state: BattleState, ship: ShipState) -> list[str]:
    if state.pending and state.pending[0]["target"] == ship.id:
        return list(state.pending[0]["eligible"])
    if state.acting_ship == ship.id:
        return _stations_needed(state, ship)
    return []


def _authorise(state: BattleState, cmd: BaseModel) -> tuple[ShipState, str]:
    actor: C.Actor = getattr(cmd, "actor", C.NOBODY)
    sid = getattr(cmd, "ship_id", None) or actor.ship_id
    if sid is None:
        _refuse("bad_command", "say which ship acts (ship_id)")
    if sid not in state.ships:
        _refuse("unknown_ship", f"there is no ship {sid!r} in this battle")
    ship = state.ships[sid]
    if actor.role == "player" and actor.ship_id != sid:
        _refuse("not_your_ship", f"you do not command {ship.name}")
    station = _station_for(cmd, ship, state)
    if actor.role == "player" and station not in actor.stations:
        _refuse(
            "not_your_station",
            f"you are not at the {_station_name(station)} station of {ship.name}",
        )
    if not ship.is_active:
        _refuse("ship_out_of_action", f"{ship.name} is {ship.status}")
    if ship.crew_at(station) is None:
        _refuse(
            "station_unmanned",
            f"nobody able is at the {_station_name(station)} station of {ship.name}",
        )
    t = getattr(cmd, "type", "")
    if t in _REACTIONS or (t == "end_step" and state.pending):
        if not state.pending:
            _refuse("no_pending_attack", "there is no attack or salvo to react to")
        head = state.pending[0]
        if head["target"] != sid or station not in head["eligible"]:
            _refuse(
                "not_your_reaction", f"the {_station_name(station)} of {ship.name} cannot react now"
            )
        return ship, station
    if state.pending:
        head = state.pending[0]
        _refuse(
            "reaction_pending",
            f"waiting for {_name(state, head['target'])} to react to an incoming "
            f"{'salvo' if head['kind'] == 'salvo' else 'attack'}",
        )
    if state.acting_ship != sid:
        who = _name(state, state.acting_ship) if state.acting_ship else "nobody"
        _refuse("not_your_turn", f"it is {who}'s turn, not {ship.name}'s")
    if t == "surrender":
        return ship, station
    want = _STEP_OF.get(t)
    if want is not None and want != state.step:
        _refuse(
            "wrong_step",
            f"{t.replace('_', ' ')} belongs to the {want.value} step; this is the "
            f"{state.step.value} step",
        )
    if t in ("attack", "launch_missiles") and state.step != Step.ATTACK:
        _refuse("wrong_step", "weapons fire in the attack step")
    if station in ship.done:
        _refuse(
            "station_done", f"the {_station_name(station)} of {ship.name} is done for this step"
        )
    return ship, station


# ---------------------------------------------------------------- decide


def decide(state: BattleState, command: BaseModel, dice: Any = None) -> list[Event]:
    """Check a command against the state and the rules; return the events it causes.

    Raises `RuleViolation` (stable code, readable message) when the rules refuse it; nothing
    changes then. Dice come from the state's position in the seeded stream; tests may pass a
    `ScriptedDice` instead (the events still record what was rolled, so replay stays exact).
    """
    ctx = _Ctx(state, getattr(command, "at", None), dice=dice)
    _run(ctx, command)
    return ctx.events


def _run(ctx: _Ctx, command: BaseModel) -> None:
    t = getattr(command, "type", None)
    actor: C.Actor = getattr(command, "actor", C.NOBODY)
    if t is not None and t.startswith("gm_"):
        if actor.role != "gm":
            _refuse("gm_only", "only the GM may do that")
        if t == "gm_undo":
            _gm_undo(ctx, command)
            return
        if ctx.state.is_over:
            _refuse("battle_over", "the battle is over")
        {"gm_advance": _gm_advance, "gm_ruling": _gm_ruling}[t](ctx, command)
        _settle(ctx)
        return
    if ctx.state.is_over:
        _refuse("battle_over", "the battle is over")
    handler = _HANDLERS.get(t or "")
    if handler is None:
        _refuse("bad_command", f"unknown command {t!r}")
    ship, station = _authorise(ctx.state, command)
    handler(ctx, command, ship, station)
    _settle(ctx)


def is_legal(state: BattleState, command: BaseModel) -> bool:
    """Whether `decide` would accept the command (validation only, no dice drawn)."""
    ctx = _Ctx(state, None, dry=True)
    try:
        _run(ctx, command)
    except _DryRun:
        return True
    except RuleViolation:
        return False
    return True


def _done(ship: ShipState, station: str) -> dict[str, Any]:
    return {"done": ship.done | {station}}


# --- manoeuvre


def _h_move(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    st = ctx.state
    target = _other_ship(st, ship, cmd.target, enemy_only=False)
    if cmd.thrust > ship.thrust_pool:
        _refuse("not_enough_thrust", f"{ship.name} has {ship.thrust_pool} Thrust left this round")
    band = st.band(ship.id, target.id)
    if cmd.direction == "toward" and band == "adjacent":
        _refuse("already_adjacent", f"{target.name} is already adjacent")
    if cmd.direction == "away" and band == "distant":
        _refuse("already_distant", "already at Distant: use break_off to leave the battle")
    ctx.valid()
    key = pair_key(ship.id, target.id)
    delta = -cmd.thrust if cmd.direction == "toward" else cmd.thrust
    moves = dict(st.moves)
    moves[key] = moves.get(key, 0) + delta
    pool = ship.thrust_pool - cmd.thrust
    fields: dict[str, Any] = {"thrust_pool": pool}
    if pool == 0:
        fields.update(_done(ship, station))
    ctx.emit(
        "thrust_spent",
        {"ship": ship.id, "target": target.id, "direction": cmd.direction, "thrust": cmd.thrust},
        f"{ship.name} spends {cmd.thrust} Thrust moving {cmd.direction} {target.name}"
        f" ({pool} left).",
        ships={ship.id: fields},
        battle={"moves": moves},
    )


def _h_aid(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    cost = ctx.cfg.aid_gunners_thrust
    if ship.aid_dm != 0:
        _refuse("already_aided", "the pilot already aided the gunners this round")
    if ship.thrust_pool < cost:
        _refuse("not_enough_thrust", f"aiding the gunners costs {cost} Thrust")
    ctx.valid()
    pilot = ship.crew_at(station)
    assert pilot is not None
    c, dm = aid_gunners(ctx.dice, pilot.skill("pilot"), pilot.char("DEX"), ship.control_dm)
    pool = ship.thrust_pool - cost
    fields: dict[str, Any] = {"thrust_pool": pool, "aid_dm": dm}
    if pool == 0:
        fields.update(_done(ship, station))
    ctx.emit(
        "gunners_aided",
        {"ship": ship.id, "check": c.to_dict(), "dm": dm},
        f"{ship.name}'s pilot lines up the shot: Effect {c.effect:+d}, gunners DM {dm:+d}"
        " this round.",
        ships={ship.id: fields},
    )


def _h_break_off(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    st = ctx.state
    enemies = _enemies(st, ship)
    near = [e.name for e in enemies if st.band(ship.id, e.id) != "distant"]
    if near:
        _refuse("not_distant", f"breaking off needs Distant from every enemy ({', '.join(near)})")
    if ship.thrust_pool <= 0:
        _refuse("not_enough_thrust", "no Thrust left this round")
    ctx.valid()
    progress = ship.escape_progress + ship.thrust_pool
    fields: dict[str, Any] = {"thrust_pool": 0, "escape_progress": progress, **_done(ship, station)}
    goal = ctx.cfg.break_off_thrust
    ctx.emit(
        "breaking_off",
        {"ship": ship.id, "progress": progress, "needed": goal},
        f"{ship.name} opens away from the fight ({min(progress, goal)}/{goal}).",
        ships={ship.id: fields},
    )
    if progress >= goal:
        _leave(ctx, ship.id, ESCAPED, f"{ship.name} breaks off and escapes.")


# --- attack step


def _other_ship(
    st: BattleState, ship: ShipState, target_id: str, enemy_only: bool = True
) -> ShipState:
    target = st.ships.get(target_id)
    if target is None:
        _refuse("unknown_target", f"there is no ship {target_id!r}")
    if target.id == ship.id:
        _refuse("bad_target", "a ship cannot target itself")
    if enemy_only and target.side == ship.side:
        _refuse("friendly_target", f"{target.name} is on your side")
    if target.status == WRECKED:
        _refuse("target_wrecked", f"{target.name} is a wreck")
    if target.status == SURRENDERED and enemy_only:
        _refuse("target_surrendered", f"{target.name} has surrendered")
    if target.status == ESCAPED:
        _refuse("target_gone", f"{target.name} has left the battle")
    return target


def _pick_weapons(
    ship: ShipState, turret: int, given: tuple[int, ...] | None, missiles: bool
) -> list[int]:
    flats = list(ship.turret_weapons(turret))
    if given is None:
        ready = [f for f in flats if ship.weapon_ready(f)]
        if missiles:
            racks = [f for f in ready if ship.weapon_kind(f) == "missile_rack"]
            chosen = [f for f in racks if ship.ammo[f] > 0]
            if racks and not chosen:
                _refuse("no_ammunition", "every rack in this turret is empty: reload first")
        else:
            direct = [f for f in ready if WEAPONS[ship.weapon_kind(f)].direct_fire]
            if ready and not direct:
                kind = ship.weapon_kind(ready[0]).replace("_", " ")
                _refuse("not_direct_fire", f"a {kind} does not make direct-fire attacks")
            chosen = (
                [f for f in direct if ship.weapon_kind(f) == ship.weapon_kind(direct[0])]
                if direct
                else []
            )
        if not chosen:
            _refuse("no_ready_weapon", "no ready weapon of that kind in this turret")
        return chosen
    if not given or len(set(given)) != len(given):
        _refuse("bad_weapon", "list each weapon index once")
    chosen = []
    for w in given:
        if not 0 <= w < len(flats):
            _refuse("bad_weapon", f"turret {turret} has no weapon {w}")
        f = flats[w]
        if f in ship.fired:
            _refuse(
                "weapon_already_fired", "that weapon has already fired (or defended) this round"
            )
        if ship.weapons[f] in ("disabled", "destroyed"):
            _refuse("weapon_disabled", f"that weapon is {ship.weapons[f]}")
        if not ship.weapon_ready(f):
            _refuse("no_power", "the power plant cannot feed that weapon")
        chosen.append(f)
    kinds = {ship.weapon_kind(f) for f in chosen}
    if len(kinds) > 1:
        _refuse("not_linked", "only identical weapons fire together (linked fire)")
    return chosen


def _h_attack(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    st = ctx.state
    weapons = _pick_weapons(ship, cmd.turret, cmd.weapons, missiles=False)
    kind = ship.weapon_kind(weapons[0])
    if not WEAPONS[kind].direct_fire:
        _refuse("not_direct_fire", f"a {kind.replace('_', ' ')} does not make direct-fire attacks")
    target = _other_ship(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    err = weapon_reach_error(kind, band)
    if err is not None:
        raise err
    if not ship.within_sensors(band):
        _refuse("beyond_sensors", f"damaged sensors cannot target at {_band_text(band)} range")
    if cmd.called_shot is not None:
        if st.ruleset != Ruleset.MGT2E_2022:
            _refuse("called_shot_not_allowed", "called shots exist only under MGT2E_2022")
        if BAND_INDEX[band] > BAND_INDEX["short"]:
            _refuse("called_shot_not_allowed", "a called shot needs Short range or closer")
    ctx.valid()
    pending_id = st.next_id
    laser = WEAPONS[kind].laser
    eligible = _attack_reactors(st, target, laser)
    fired = ship.fired | set(weapons)
    fields: dict[str, Any] = {"fired": fired}
    if not any(ship.weapon_ready(f) and f not in fired for f in ship.turret_weapons(cmd.turret)):
        fields.update(_done(ship, station))
    pending = {
        "id": pending_id,
        "kind": "attack",
        "attacker": ship.id,
        "turret": cmd.turret,
        "weapons": weapons,
        "weapon": kind,
        "target": target.id,
        "eligible": eligible,
        "evasive_dm": 0,
        "sand_armour": 0,
        "called_shot": cmd.called_shot.value if cmd.called_shot is not None else None,
    }
    n = len(weapons)
    ctx.emit(
        "attack_declared",
        dict(pending),
        f"{ship.name} fires {n if n > 1 else 'a'} {kind.replace('_', ' ')}{'s' if n > 1 else ''}"
        f" at {target.name} ({_band_text(band)} range).",
        ships={ship.id: fields},
        battle={
            "pending": (*st.pending, pending) if eligible else st.pending,
            "next_id": pending_id + 1,
        },
    )
    if not eligible:
        _resolve_attack(ctx, pending)


def _attack_reactors(st: BattleState, target: ShipState, laser: bool) -> list[str]:
    out = []
    if target.thrust_pool > 0 and target.crew_at("pilot") is not None:
        out.append("pilot")
    if laser:
        for t in range(len(target.design.turrets)):
            if _sand_ready(target, t) is not None and target.crew_at(f"gunner:{t}") is not None:
                out.append(f"gunner:{t}")
    return out


def _sand_ready(ship: ShipState, t: int) -> int | None:
    if t in ship.sand_used:
        return None
    for f in ship.turret_weapons(t):
        if (
            ship.weapon_kind(f) == "sandcaster"
            and ship.ammo[f] > 0
            and ship.weapons[f] not in ("disabled", "destroyed")
        ):
            return f
    return None


_POINT_DEFENCE_WEAPONS = frozenset({"beam_laser", "pulse_laser"})


def _pd_ready(ship: ShipState, t: int) -> list[int]:
    """§11.B: a turret's beam and pulse lasers not yet used this round (once per round)."""
    if t in ship.pd_used:
        return []
    return [
        f
        for f in ship.turret_weapons(t)
        if ship.weapon_kind(f) in _POINT_DEFENCE_WEAPONS and ship.weapon_ready(f)
    ]


def _salvo_reactors(st: BattleState, target: ShipState) -> list[str]:
    out = []
    if target.thrust_pool > 0 and target.crew_at("pilot") is not None:
        out.append("pilot")
    for t in range(len(target.design.turrets)):
        if _pd_ready(target, t) and target.crew_at(f"gunner:{t}") is not None:
            out.append(f"gunner:{t}")
    return out


def _apply_damage(
    ctx: _Ctx,
    target: ShipState,
    damage: int,
    severity: int,
    called: str | None,
) -> tuple[dict[str, Any], list[CritRecord], list[str]]:
    eff = ShipEffects(target, ctx.cfg)
    work = eff.work()
    records = resolve_damage(ctx.dice, work, damage, severity, called, ctx.cfg, eff)
    fields = eff.changes(work)
    if work.hull <= 0:
        fields["status"] = WRECKED
    return fields, records, eff.notes


def _crit_text(records: list[CritRecord]) -> str:
    if not records:
        return ""
    parts = [f"{r.location.replace('_', ' ')} {r.severity}" for r in records]
    return " Criticals: " + ", ".join(parts) + "."


def _pop_pending(st: BattleState, pid: int) -> tuple[Mapping[str, Any], ...]:
    return tuple(p for p in st.pending if p["id"] != pid)


def _resolve_attack(ctx: _Ctx, pending: Mapping[str, Any]) -> None:
    st = ctx.state
    attacker = st.ships[pending["attacker"]]
    target = st.ships[pending["target"]]
    if not target.is_active:
        ctx.emit(
            "attack_lost",
            {"id": pending["id"]},
            f"{attacker.name}'s fire finds no target.",
            battle={"pending": _pop_pending(st, pending["id"])},
        )
        return
    gunner = attacker.crew_at(f"gunner:{pending['turret']}") or attacker.crew[0]
    band = st.band(attacker.id, target.id)
    weapons = pending["weapons"]
    boon = 0
    if attacker.sensor_lock == target.id:
        boon += 1
    if any(attacker.weapons[f] == "bane" for f in weapons):
        boon -= 1
    boon = max(-1, min(1, boon))
    mount = attacker.design.turrets[pending["turret"]].mount.value
    called = pending.get("called_shot")
    res = resolve_attack(
        ctx.dice,
        weapon=pending["weapon"],
        band=band,
        gunner_skill=gunner.skill("gunner"),
        dex=gunner.char("DEX"),
        mount=mount,
        linked=len(weapons),
        fire_control=attacker.fire_control,
        boon=boon,
        aid_dm=attacker.aid_dm,
        evasive_dm=pending["evasive_dm"],
        called_shot_dm=ctx.cfg.called_shot_dm if called else 0,
        armour=target.armour,
        sand_armour=pending["sand_armour"],
        ruleset=st.ruleset,
        cfg=ctx.cfg,
    )
    severity = res.severity
    if (
        ctx.cfg.big_ship_ignores_turret_crits
        and target.design.tons >= 2000
        and (mount in TURRET_MOUNTS or mount == "barbette")
    ):
        severity = 0
    fields: dict[str, Any] = {}
    records: list[CritRecord] = []
    notes: list[str] = []
    rads = 0
    if res.hit and res.damage > 0:
        fields, records, notes = _apply_damage(ctx, target, res.damage, severity, called)
    if res.hit and WEAPONS[pending["weapon"]].radiation and ctx.cfg.radiation_rads:
        rads = roll(ctx.dice, 2) * 20
        fields["rads"] = target.rads + rads
    name = pending["weapon"].replace("_", " ")
    if res.hit:
        summary = (
            f"{attacker.name}'s {name} hits {target.name} (total {res.total}, Effect"
            f" {res.effect:+d}) for {res.damage} damage; Hull {fields.get('hull', target.hull)}."
            + _crit_text(records)
        )
    else:
        summary = f"{attacker.name}'s {name} misses {target.name} (total {res.total})."
    ctx.emit(
        "attack_resolved",
        {
            "id": pending["id"],
            "attacker": attacker.id,
            "target": target.id,
            "turret": pending["turret"],
            "weapons": list(weapons),
            "band": band,
            "attack": res.to_dict(),
            "criticals": [
                {
                    "source": r.source,
                    "location": r.location,
                    "previous": r.previous,
                    "severity": r.severity,
                    "extra_damage": r.extra_damage,
                }
                for r in records
            ],
            "effects": notes,
            "rads": rads,
            "hull_after": fields.get("hull", target.hull),
        },
        summary,
        ships={target.id: fields},
        battle={"pending": _pop_pending(st, pending["id"])},
    )
    if fields.get("status") == WRECKED:
        _after_leave(ctx, target.id, f"{target.name} is wrecked.")


def _h_launch(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    st = ctx.state
    racks = _pick_weapons(ship, cmd.turret, cmd.weapons, missiles=True)
    for f in racks:
        if ship.weapon_kind(f) != "missile_rack":
            _refuse("not_a_launcher", "only missile racks launch missiles")
        if ship.ammo[f] <= 0:
            _refuse("no_ammunition", "that rack is empty: reload it in the actions step")
    target = _other_ship(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    if not ship.within_sensors(band) or ship.sensors_disabled:
        _refuse("beyond_sensors", f"your sensors cannot hold {target.name} at {_band_text(band)}")
    ctx.valid()
    ammo = list(ship.ammo)
    for f in racks:
        ammo[f] -= 1
    fired = ship.fired | set(racks)
    flight = ctx.cfg.missile_flight_rounds.get(band, 0)
    # §9.B.1: all missiles one ship launches at one target in one round form one salvo.
    joined = next(
        (
            s
            for s in st.salvos
            if s["launcher"] == ship.id
            and s["target"] == target.id
            and s["launched_round"] == st.round
        ),
        None,
    )
    if joined is not None:
        salvo = dict(joined) | {"missiles": joined["missiles"] + len(racks)}
        salvos = tuple(salvo if s["id"] == joined["id"] else s for s in st.salvos)
        next_id = st.next_id
    else:
        salvo = {
            "id": st.next_id,
            "launcher": ship.id,
            "target": target.id,
            "missiles": len(racks),
            "launched_round": st.round,
            "arrives_round": st.round + flight,
            "tl": ship.design.tl,
            "band": band,
        }
        salvos = (*st.salvos, salvo)
        next_id = st.next_id + 1
    fields: dict[str, Any] = {"ammo": tuple(ammo), "fired": fired}
    if not any(ship.weapon_ready(f) and f not in fired for f in ship.turret_weapons(cmd.turret)):
        fields.update(_done(ship, station))
    when = "impact this step" if flight == 0 else f"impact in {flight} round(s)"
    joins = f"; the salvo now holds {salvo['missiles']}" if joined is not None else ""
    ctx.emit(
        "missiles_launched",
        dict(salvo) | {"launched": len(racks), "joined": joined is not None},
        f"{ship.name} launches {len(racks)} missile(s) at {target.name} ({when}{joins}).",
        ships={ship.id: fields},
        battle={"next_id": next_id, "salvos": salvos},
    )


def _arrivals(ctx: _Ctx) -> None:
    """§9.B.2: the first salvo due strikes (launchers in initiative order); `_settle` calls
    again for the next once this one is resolved, so each salvo meets the defender as it is
    then (Thrust, point defence and crew already spent on earlier salvos)."""
    st = ctx.state
    due = [s for s in st.salvos if s["arrives_round"] <= st.round]
    if not due:
        return
    order = {sid: i for i, sid in enumerate(st.order)}
    _salvo_arrives(ctx, min(due, key=lambda s: (order.get(s["launcher"], 99), s["id"])))


def _without_salvo(st: BattleState, salvo_id: int) -> tuple[Mapping[str, Any], ...]:
    return tuple(s for s in st.salvos if s["id"] != salvo_id)


def _salvo_arrives(ctx: _Ctx, salvo: Mapping[str, Any]) -> None:
    """The salvo leaves flight in the same event that makes it pending (or resolves it), so
    every event leaves a consistent state, also for a GM undo of any number of events."""
    st = ctx.state
    target = st.ships.get(salvo["target"])
    if target is None or not target.is_active:
        ctx.emit(
            "salvo_lost",
            {"id": salvo["id"]},
            "A salvo loses its target and goes inert.",
            battle={"salvos": _without_salvo(st, salvo["id"])},
        )
        return
    eligible = _salvo_reactors(st, target)
    pending = {
        "id": salvo["id"],
        "kind": "salvo",
        "attacker": salvo["launcher"],
        "target": target.id,
        "missiles": salvo["missiles"],
        "tl": salvo["tl"],
        "eligible": eligible,
        "evasive_dm": 0,
    }
    if eligible:
        ctx.emit(
            "salvo_incoming",
            dict(pending),
            f"{salvo['missiles']} missile(s) close on {target.name}.",
            battle={"pending": (*st.pending, pending), "salvos": _without_salvo(st, salvo["id"])},
        )
    else:
        _resolve_salvo(ctx, pending)


def _resolve_salvo(ctx: _Ctx, pending: Mapping[str, Any]) -> None:
    st = ctx.state
    target = st.ships[pending["target"]]
    rest = _pop_pending(st, pending["id"])
    if not target.is_active or pending["missiles"] <= 0:
        ctx.emit(
            "salvo_resolved",
            {"id": pending["id"], "target": target.id, "missiles": 0, "hit": False},
            f"The salvo at {target.name} is gone before it strikes.",
            battle={"pending": rest, "salvos": _without_salvo(st, pending["id"])},
        )
        return
    launcher = st.ships.get(pending["attacker"])
    band = st.band(pending["attacker"], target.id) if launcher is not None else "long"
    res = resolve_salvo(
        ctx.dice,
        missiles=pending["missiles"],
        smart=smart_dm(pending["tl"], target.design.tl, band, ctx.cfg),
        evasive_dm=pending["evasive_dm"],
        armour=target.armour,
        ruleset=st.ruleset,
        cfg=ctx.cfg,
    )
    fields: dict[str, Any] = {}
    records: list[CritRecord] = []
    notes: list[str] = []
    if res.hit and res.damage > 0:
        fields, records, notes = _apply_damage(ctx, target, res.damage, res.severity, None)
    summary = (
        f"{pending['missiles']} missile(s) strike {target.name} (total {res.total}) for"
        f" {res.damage} damage; Hull {fields.get('hull', target.hull)}." + _crit_text(records)
        if res.hit
        else f"The salvo misses {target.name} (total {res.total})."
    )
    ctx.emit(
        "salvo_resolved",
        {
            "id": pending["id"],
            "target": target.id,
            "missiles": pending["missiles"],
            "roll": res.roll,
            "dms": res.dms,
            "total": res.total,
            "effect": res.effect,
            "hit": res.hit,
            "damage_rolls": list(res.damage_rolls),
            "damage": res.damage,
            "criticals": [
                {
                    "source": r.source,
                    "location": r.location,
                    "previous": r.previous,
                    "severity": r.severity,
                    "extra_damage": r.extra_damage,
                }
                for r in records
            ],
            "effects": notes,
            "hull_after": fields.get("hull", target.hull),
        },
        summary,
        ships={target.id: fields},
        battle={"pending": rest, "salvos": _without_salvo(st, pending["id"])},
    )
    if fields.get("status") == WRECKED:
        _after_leave(ctx, target.id, f"{target.name} is wrecked.")


# --- reactions


def _head(ctx: _Ctx) -> Mapping[str, Any]:
    return ctx.state.pending[0]


def _live_reactors(state: BattleState, head: Mapping[str, Any]) -> list[str]:
    """The stations of a pending reaction that can still react now (§4.B limits)."""
    target = state.ships.get(head["target"])
    if target is None or not target.is_active:
        return []
    out = []
    for station in head["eligible"]:
        if target.crew_at(station) is None:
            continue
        if station == "pilot":
            ok = target.thrust_pool > 0
        elif head["kind"] == "attack":
            ok = _sand_ready(target, int(station.split(":")[1])) is not None
        else:
            ok = bool(_pd_ready(target, int(station.split(":")[1])))
        if ok:
            out.append(station)
    return out


def _refresh_reactions(ctx: _Ctx) -> bool:
    """Drop stations from the head reaction that can no longer react; True if anything changed.

    Why: several salvos can arrive at once and an earlier one may hurt the crew, or a pilot may
    spend the last Thrust or a gunner the turret's once-a-round point defence (§4.B, §11.B) on an
    earlier one; a stale offer would wait for a reaction nobody can make.
    """
    st = ctx.state
    head = st.pending[0]
    live = _live_reactors(st, head)
    if live == list(head["eligible"]):
        if live:
            return False
        # nobody can react (e.g. a GM undo stopped between a reaction and its resolution)
        _resolve_pending(ctx, head)
        return True
    gone = [s for s in head["eligible"] if s not in live]
    updated = dict(head) | {"eligible": live}
    ctx.emit(
        "reactions_lapsed",
        {"id": head["id"], "ship": head["target"], "stations": gone},
        f"{_name(st, head['target'])}: {', '.join(gone)} can no longer react.",
        battle={"pending": tuple(updated if p["id"] == head["id"] else p for p in st.pending)},
    )
    if not live:
        _resolve_pending(ctx, updated)
    return True


def _resolve_pending(ctx: _Ctx, pending: Mapping[str, Any]) -> None:
    if pending["kind"] == "attack":
        _resolve_attack(ctx, pending)
    else:
        _resolve_salvo(ctx, pending)


def _react(
    ctx: _Ctx,
    ship: ShipState,
    station: str,
    type_: str,
    data: Mapping[str, Any],
    summary: str,
    ship_fields: Mapping[str, Any],
    **pending_changes: Any,
) -> None:
    st = ctx.state
    head = _head(ctx)
    eligible = [s for s in head["eligible"] if s != station]
    new_head = dict(head) | pending_changes | {"eligible": eligible}
    pending = tuple(new_head if p["id"] == head["id"] else p for p in st.pending)
    ctx.emit(
        type_,
        dict(data) | {"id": head["id"]},
        summary,
        ships={ship.id: ship_fields},
        battle={"pending": pending},
    )
    if not eligible:
        _resolve_pending(ctx, new_head)


def _h_evasive(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    if ship.thrust_pool <= 0:
        _refuse("not_enough_thrust", "no unspent Thrust left for evasive action")
    ctx.valid()
    pilot = ship.crew_at("pilot")
    assert pilot is not None
    dm = -max(0, pilot.skill("pilot") or 0)
    head = _head(ctx)
    _react(
        ctx,
        ship,
        station,
        "evasive_action",
        {"ship": ship.id, "dm": dm},
        f"{ship.name} takes evasive action (DM {dm:+d}; {ship.thrust_pool - 1} Thrust left).",
        {"thrust_pool": ship.thrust_pool - 1},
        evasive_dm=head["evasive_dm"] + dm,
    )


def _h_sand(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    head = _head(ctx)
    if head["kind"] != "attack" or not WEAPONS[head["weapon"]].laser:
        _refuse("sand_useless", "sand only blunts laser attacks")
    flat = _sand_ready(ship, cmd.turret)
    if flat is None:
        _refuse("no_ammunition", "that turret has no sandcaster ready (or already used it)")
    ctx.valid()
    gunner = ship.crew_at(station)
    assert gunner is not None
    c, bonus = sand(ctx.dice, gunner.skill("gunner"), gunner.char("DEX"))
    ammo = list(ship.ammo)
    ammo[flat] -= 1
    _react(
        ctx,
        ship,
        station,
        "sand_cast",
        {"ship": ship.id, "turret": cmd.turret, "check": c.to_dict(), "armour_bonus": bonus},
        f"{ship.name} casts sand: "
        + (f"armour +{bonus} against this attack." if c.success else "the cloud is too thin."),
        {"ammo": tuple(ammo), "sand_used": ship.sand_used | {cmd.turret}},
        sand_armour=head["sand_armour"] + bonus,
    )


def _h_point_defence(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    head = _head(ctx)
    if head["kind"] != "salvo":
        _refuse("no_salvo", "point defence works against missile salvos only")
    lasers = _pd_ready(ship, cmd.turret)
    if not lasers:
        _refuse("weapon_already_fired", "that turret has no laser free for point defence")
    ctx.valid()
    gunner = ship.crew_at(station)
    assert gunner is not None
    mount = ship.design.turrets[cmd.turret].mount.value
    res = point_defence(
        ctx.dice, gunner.skill("gunner"), gunner.char("DEX"), mount, head["missiles"], ctx.cfg
    )
    _react(
        ctx,
        ship,
        station,
        "point_defence",
        {
            "ship": ship.id,
            "turret": cmd.turret,
            "check": res.check.to_dict(),
            "removed": res.removed,
            "remaining": res.remaining,
        },
        f"{ship.name}'s point defence removes {res.removed} missile(s); {res.remaining} left.",
        {"fired": ship.fired | set(lasers), "pd_used": ship.pd_used | {cmd.turret}},
        missiles=res.remaining,
    )


def _h_no_reaction(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    ctx.valid()
    _react(
        ctx,
        ship,
        station,
        "no_reaction",
        {"ship": ship.id, "station": station},
        f"{ship.name}'s {_station_name(station)} does not react.",
        {},
    )


# --- actions step


def _h_sensor_lock(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    st = ctx.state
    if ship.sensors_disabled:
        _refuse("sensors_disabled", "the sensors are disabled")
    target = _other_ship(st, ship, cmd.target)
    band = st.band(ship.id, target.id)
    if not ship.within_sensors(band):
        _refuse("beyond_sensors", f"damaged sensors cannot reach {_band_text(band)} range")
    if ship.sensor_lock == target.id:
        _refuse("already_locked", f"already locked on {target.name}")
    ctx.valid()
    op = ship.crew_at(station)
    assert op is not None
    c = check(ctx.dice, op.skill("electronics"), op.char("INT"), dm=ship.sensor_dm)
    fields: dict[str, Any] = _done(ship, station)
    if c.success:
        fields["sensor_lock"] = target.id
    ctx.emit(
        "sensor_lock",
        {"ship": ship.id, "target": target.id, "check": c.to_dict(), "locked": c.success},
        f"{ship.name} {'locks on to' if c.success else 'fails to lock on to'} {target.name}.",
        ships={ship.id: fields},
    )


def _h_ew(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    st = ctx.state
    if ship.sensors_disabled:
        _refuse("sensors_disabled", "the sensors are disabled")
    op = ship.crew_at(station)
    assert op is not None
    if cmd.mode == "missiles":
        salvo = next(
            (s for s in st.salvos if s["id"] == cmd.salvo_id and s["target"] == ship.id), None
        )
        if salvo is None:
            _refuse("no_salvo", "no salvo in flight toward this ship with that id")
        ctx.valid()
        c = check(
            ctx.dice,
            op.skill("electronics"),
            op.char("INT"),
            ctx.cfg.ew_missile_target,
            ship.sensor_dm,
        )
        removed = min(salvo["missiles"], max(1, c.effect)) if c.success else 0
        left = salvo["missiles"] - removed
        salvos = tuple(
            (dict(s) | {"missiles": left}) if s["id"] == salvo["id"] else s
            for s in st.salvos
            if not (s["id"] == salvo["id"] and left == 0)
        )
        ctx.emit(
            "electronic_warfare",
            {
                "ship": ship.id,
                "mode": "missiles",
                "salvo_id": salvo["id"],
                "check": c.to_dict(),
                "removed": removed,
                "remaining": left,
            },
            f"{ship.name} jams incoming missiles: {removed} lost their way, {left} left.",
            ships={ship.id: _done(ship, station)},
            battle={"salvos": salvos},
        )
        return
    if cmd.target is None:
        _refuse("bad_command", "break_lock needs the target whose lock to break")
    enemy = _other_ship(st, ship, cmd.target)
    if enemy.sensor_lock != ship.id:
        _refuse("no_lock", f"{enemy.name} has no lock on {ship.name}")
    ctx.valid()
    ours = check(ctx.dice, op.skill("electronics"), op.char("INT"), dm=ship.sensor_dm)
    theirs_op = enemy.crew_at("sensors")
    theirs = (
        check(ctx.dice, theirs_op.skill("electronics"), theirs_op.char("INT"), dm=enemy.sensor_dm)
        if theirs_op is not None
        else None
    )
    broken = ours.success and (theirs is None or ours.effect > theirs.effect)
    ctx.emit(
        "electronic_warfare",
        {
            "ship": ship.id,
            "mode": "break_lock",
            "target": enemy.id,
            "check": ours.to_dict(),
            "opposed": theirs.to_dict() if theirs else None,
            "broken": broken,
        },
        f"{ship.name} {'breaks' if broken else 'fails to break'} {enemy.name}'s sensor lock.",
        ships={ship.id: _done(ship, station), enemy.id: {"sensor_lock": None} if broken else {}},
    )


def _h_improve(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    ctx.valid()
    cap = ship.crew_at(station)
    assert cap is not None
    c = check(ctx.dice, cap.skill("leadership"), cap.char(ctx.cfg.leadership_characteristic))
    bonus = c.effect if (c.success or not ctx.cfg.improve_initiative_on_success_only) else 0
    fields = _done(ship, station) | {"init_bonus": ship.init_bonus + bonus}
    ctx.emit(
        "initiative_improved",
        {"ship": ship.id, "check": c.to_dict(), "bonus": bonus},
        f"{ship.name}'s captain rallies the crew: initiative {bonus:+d} from next round.",
        ships={ship.id: fields},
    )


def _h_repair(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    st = ctx.state
    loc = cmd.location.value
    sev = ship.crits[LOCATIONS.index(cmd.location)]
    if sev <= 0:
        _refuse("nothing_to_repair", f"there is no critical at {loc.replace('_', ' ')}")
    if loc in ship.repaired:
        _refuse("already_repaired", f"{loc.replace('_', ' ')} is already patched up")
    if sev not in REPAIRABLE[loc]:
        _refuse(
            "not_repairable",
            f"{loc.replace('_', ' ')} at Severity {sev} cannot be repaired in combat",
        )
    ctx.valid()
    eng = ship.crew_at(station)
    assert eng is not None
    consecutive = (
        ship.repair_count if ship.repair_loc == loc and ship.repair_round == st.round - 1 else 0
    )
    char = max(eng.char("INT"), eng.char("EDU"))
    c = repair_check(ctx.dice, eng.skill("engineer"), char, sev, consecutive)
    fields: dict[str, Any] = _done(ship, station)
    hours = 0
    if c.success:
        hours = ctx.dice.d6()
        fields.update(repaired=ship.repaired | {loc}, repair_loc=None, repair_count=0)
        if loc == "weapon":
            fields["weapons"] = tuple(
                "ok" if w in ("bane", "disabled") else w for w in ship.weapons
            )
    else:
        fields.update(repair_loc=loc, repair_count=consecutive + 1, repair_round=st.round)
    ctx.emit(
        "repair",
        {
            "ship": ship.id,
            "location": loc,
            "severity": sev,
            "consecutive": consecutive,
            "check": c.to_dict(),
            "success": c.success,
            "hours": hours,
        },
        f"{ship.name}'s engineer "
        + (
            f"patches the {loc.replace('_', ' ')} (holds {hours} hours)."
            if c.success
            else f"works on the {loc.replace('_', ' ')} without success yet."
        ),
        ships={ship.id: fields},
    )


def _h_reload(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    options = _reload_options(ship, cmd.turret, ctx.cfg)
    if cmd.weapon is not None:
        flats = list(ship.turret_weapons(cmd.turret))
        if not 0 <= cmd.weapon < len(flats) or flats[cmd.weapon] not in options:
            _refuse("cannot_reload", "that weapon needs no reload or stores are empty")
        flat = flats[cmd.weapon]
    elif options:
        flat = options[0]
    else:
        _refuse("cannot_reload", "nothing in this turret can be reloaded")
    ctx.valid()
    kind = ship.weapon_kind(flat)
    ammo = list(ship.ammo)
    if kind == "missile_rack":
        add = min(ctx.cfg.missile_rack_load - ammo[flat], ship.missile_reserve)
        fields: dict[str, Any] = {"missile_reserve": ship.missile_reserve - add}
    else:
        add = min(ctx.cfg.sandcaster_load - ammo[flat], ship.sand_reserve)
        fields = {"sand_reserve": ship.sand_reserve - add}
    ammo[flat] += add
    fields |= {"ammo": tuple(ammo)} | _done(ship, station)
    ctx.emit(
        "reloaded",
        {"ship": ship.id, "turret": cmd.turret, "weapon": flat, "added": add},
        f"{ship.name} reloads a {kind.replace('_', ' ')} (+{add}).",
        ships={ship.id: fields},
    )


def _h_surrender(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    ctx.valid()
    _leave(ctx, ship.id, SURRENDERED, f"{ship.name} strikes her colours.")


def _h_end_step(ctx: _Ctx, cmd: Any, ship: ShipState, station: str) -> None:
    if ctx.state.pending:
        _h_no_reaction(ctx, cmd, ship, station)
        return
    if station not in _stations_needed(ctx.state, ship):
        _refuse(
            "nothing_to_do",
            f"the {_station_name(station)} of {ship.name} has nothing to do this step",
        )
    ctx.valid()
    ctx.emit(
        "station_done",
        {"ship": ship.id, "station": station, "step": ctx.state.step.value},
        f"{ship.name}: {_station_name(station)} is done for the {ctx.state.step.value} step.",
        ships={ship.id: _done(ship, station)},
    )


def _leave(ctx: _Ctx, sid: str, status: str, summary: str) -> None:
    ctx.emit(
        "ship_" + status,
        {"ship": sid},
        summary,
        ships={sid: {"status": status, "sensor_lock": None}},
    )
    _after_leave(ctx, sid, None)


def _after_leave(ctx: _Ctx, sid: str, summary: str | None) -> None:
    """RULES §13.2/13.3: a ship out of the fight is no target; locks on it and salvos lapse."""
    st = ctx.state
    locks = {s.id: {"sensor_lock": None} for s in st.ships.values() if s.sensor_lock == sid}
    salvos = tuple(s for s in st.salvos if s["target"] != sid and s["launcher"] != sid)
    pending = tuple(p for p in st.pending if p["target"] != sid)
    order = tuple(s for s in st.order if s != sid)
    turn = st.turn
    if sid in st.order and st.order.index(sid) <= st.turn:
        turn -= 1
    ctx.emit(
        "ship_out",
        {"ship": sid, "status": st.ships[sid].status},
        summary or f"{st.ships[sid].name} is out of the fight.",
        ships=locks,
        battle={"salvos": salvos, "pending": pending, "order": order, "turn": turn},
    )


# --- GM


def _gm_advance(ctx: _Ctx, cmd: Any) -> None:
    st = ctx.state
    if st.pending:
        head = st.pending[0]
        updated = dict(head) | {"eligible": []}
        ctx.emit(
            "gm_advanced",
            {"what": "reaction"},
            "The GM moves on: no more reactions.",
            battle={"pending": tuple(updated if p["id"] == head["id"] else p for p in st.pending)},
        )
        _resolve_pending(ctx, updated)
        return
    ctx.emit(
        "gm_advanced",
        {"what": "step", "step": st.step.value},
        f"The GM ends the {st.step.value} step.",
        battle={"turn": len(st.order)},
    )
    # `_settle` (run after every GM command) strikes any salvo still due, then ends the step.


_RULING_FIELDS = (
    "hull",
    "armour",
    "thrust_pool",
    "initiative",
    "status",
    "crit:<location>",
    "missile_reserve",
    "sand_reserve",
    "round_limit",
    "band (with pair)",
)
_RULING_SHIP_INT = {
    "hull": (0, None),
    "armour": (0, 50),
    "thrust_pool": (0, 100),
    "initiative": (-50, 100),
    "missile_reserve": (0, 10_000),
    "sand_reserve": (0, 10_000),
}


def _gm_ruling(ctx: _Ctx, cmd: Any) -> None:
    st = ctx.state
    field, value = cmd.field, cmd.value
    if cmd.pair is not None:
        a, b = cmd.pair
        if a not in st.ships or b not in st.ships or a == b:
            _refuse("bad_ruling", "the pair must name two ships of this battle")
        if field != "band" or value not in BAND_INDEX:
            _refuse("bad_ruling", "for a pair, set field 'band' to a range band")
        ranges = dict(st.ranges)
        ranges[pair_key(a, b)] = (value, 0)
        ctx.valid()
        ctx.emit(
            "gm_ruling",
            {"pair": [a, b], "field": field, "value": value, "reason": cmd.reason},
            f"GM ruling: {_name(st, a)}-{_name(st, b)} range is now {_band_text(value)}"
            f" ({cmd.reason}).",
            battle={"ranges": ranges},
        )
        return
    if field == "round_limit":
        if not isinstance(value, int) or isinstance(value, bool) or value < st.round:
            _refuse("bad_ruling", "round_limit must be an integer >= the current round")
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
        _refuse("bad_ruling", "name the ship (ship_id) the ruling applies to")
    ship = st.ships[sid]
    fields: dict[str, Any]
    if field in _RULING_SHIP_INT:
        lo, hi = _RULING_SHIP_INT[field]
        hi = ship.design.hull_points if field == "hull" else hi
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not lo <= value <= (hi or value)
        ):
            _refuse("bad_ruling", f"{field} must be an integer from {lo} to {hi}")
        fields = {field: value}
        if field == "hull" and value == 0:
            fields["status"] = WRECKED
    elif field == "status":
        if value not in (ACTIVE, WRECKED, SURRENDERED, ESCAPED):
            _refuse("bad_ruling", "status must be active, wrecked, surrendered or escaped")
        fields = {"status": value}
    elif field.startswith("crit:"):
        loc = field[5:]
        if loc not in [x.value for x in LOCATIONS]:
            _refuse("bad_ruling", f"unknown critical location {loc!r}")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 6:
            _refuse("bad_ruling", "a Severity is 0-6")
        crits = list(ship.crits)
        crits[[x.value for x in LOCATIONS].index(loc)] = value
        fields = {"crits": tuple(crits)}
    else:
        _refuse(
            "bad_ruling",
            f"the GM cannot set {field!r}; settable: {', '.join(_RULING_FIELDS)}",
        )
    ctx.valid()
    ctx.emit(
        "gm_ruling",
        {"ship": sid, "field": field, "value": value, "reason": cmd.reason},
        f"GM ruling: {ship.name} {field} = {value} ({cmd.reason}).",
        ships={sid: fields},
    )
    if fields.get("status", ACTIVE) != ACTIVE and ship.is_active:
        _after_leave(ctx, sid, None)
    elif fields.get("status") == ACTIVE and not ship.is_active:
        ctx.emit(
            "ship_returns",
            {"ship": sid},
            f"{ship.name} is back in the fight.",
            battle={"order": initiative_order(ctx.state)},
        )


def _gm_undo(ctx: _Ctx, cmd: Any) -> None:
    st = ctx.state
    if cmd.n > st.undo_depth:
        _refuse("undo_too_far", f"only the last {st.undo_depth} event(s) can be undone")
    ctx.valid()
    ctx.emit(
        "gm_undo",
        {"n": cmd.n},
        f"The GM undoes the last {cmd.n} event(s) (the dice stream does not rewind).",
    )
    _settle(ctx)


_HANDLERS: dict[str, Any] = {
    "move": _h_move,
    "aid_gunners": _h_aid,
    "break_off": _h_break_off,
    "attack": _h_attack,
    "launch_missiles": _h_launch,
    "evasive_action": _h_evasive,
    "sand": _h_sand,
    "point_defence": _h_point_defence,
    "no_reaction": _h_no_reaction,
    "sensor_lock": _h_sensor_lock,
    "electronic_warfare": _h_ew,
    "improve_initiative": _h_improve,
    "repair": _h_repair,
    "reload": _h_reload,
    "surrender": _h_surrender,
    "end_step": _h_end_step,
}


# ---------------------------------------------------------------- legal commands


def _cmd(data: dict[str, Any], actor: C.Actor = C.GM) -> Any:
    return C.COMMAND_ADAPTER.validate_python(data | {"actor": actor})


def candidate_commands(state: BattleState, ship_id: str, station: str) -> list[dict[str, Any]]:
    """Every command shape the station could send now (before validation), as client JSON."""
    ship = state.ships.get(ship_id)
    if ship is None or state.is_over:
        return []
    out: list[dict[str, Any]] = []
    base = {"ship_id": ship_id}
    enemies = _enemies(state, ship)
    if state.pending:
        head = state.pending[0]
        if head["target"] != ship_id or station not in head["eligible"]:
            return []
        if station == "pilot":
            out.append(base | {"type": "evasive_action"})
        elif station.startswith("gunner:"):
            t = int(station.split(":")[1])
            out.append(
                base
                | {"type": "sand" if head["kind"] == "attack" else "point_defence", "turret": t}
            )
        out.append(base | {"type": "no_reaction", "station": station})
        return out
    if state.acting_ship != ship_id:
        return []
    if station == "pilot" and state.step == Step.MANOEUVRE:
        for e in state.ships.values():
            if e.id == ship_id or not e.is_active:
                continue
            for direction in ("toward", "away"):
                out.append(
                    base | {"type": "move", "target": e.id, "direction": direction, "thrust": 1}
                )
        out.append(base | {"type": "aid_gunners"})
        out.append(base | {"type": "break_off"})
    elif station.startswith("gunner:"):
        t = int(station.split(":")[1])
        if state.step == Step.ATTACK:
            kinds: dict[str, list[int]] = {}
            flats = list(ship.turret_weapons(t))
            for j, f in enumerate(flats):
                if ship.weapon_ready(f):
                    kinds.setdefault(ship.weapon_kind(f), []).append(j)
            for kind, idxs in kinds.items():
                for e in enemies:
                    if WEAPONS[kind].direct_fire:
                        out.append(
                            base | {"type": "attack", "turret": t, "target": e.id, "weapons": idxs}
                        )
                    elif kind == "missile_rack":
                        loaded = [j for j in idxs if ship.ammo[flats[j]] > 0]
                        if loaded:
                            out.append(
                                base
                                | {
                                    "type": "launch_missiles",
                                    "turret": t,
                                    "target": e.id,
                                    "weapons": loaded,
                                }
                            )
        elif state.step == Step.ACTIONS:
            out.append(base | {"type": "reload", "turret": t})
    elif station == "captain" and state.step == Step.ACTIONS:
        out.append(base | {"type": "improve_initiative"})
    elif station == "sensors" and state.step == Step.ACTIONS:
        for e in enemies:
            out.append(base | {"type": "sensor_lock", "target": e.id})
        for opt in _ew_options(state, ship):
            out.append(base | {"type": "electronic_warfare"} | opt)
    elif station == "engineer" and state.step == Step.ACTIONS:
        for loc in _repair_options(ship):
            out.append(base | {"type": "repair", "location": loc})
    out.append(base | {"type": "end_step", "station": station})
    out.append(base | {"type": "surrender"})
    return out


def legal_commands(state: BattleState, ship_id: str, station: str) -> list[dict[str, Any]]:
    """The actions a station may take now, with choices and, for attacks, the DM breakdown.

    Each entry: ``type``, ``command`` (JSON to send as is), ``label`` and, where relevant,
    ``choices`` (e.g. Thrust amounts) and ``preview`` (attack DMs, boon, band).
    """
    out: list[dict[str, Any]] = []
    ship = state.ships.get(ship_id)
    if ship is None:
        return out
    actor = C.Actor(role="player", ship_id=ship_id, stations=frozenset({station}))
    for data in candidate_commands(state, ship_id, station):
        if data["type"] == "surrender" and _station_for(_cmd(data), ship, state) != station:
            continue
        cmd = _cmd(data, actor)
        if not is_legal(state, cmd):
            continue
        entry: dict[str, Any] = {
            "type": data["type"],
            "command": data,
            "label": _label(state, data),
        }
        if data["type"] == "move":
            entry["choices"] = {"thrust": list(range(1, ship.thrust_pool + 1))}
        if data["type"] == "attack":
            entry["preview"] = attack_preview(
                state, ship_id, data["turret"], data["target"], data["weapons"]
            )
        out.append(entry)
    return out


def _label(state: BattleState, data: Mapping[str, Any]) -> str:
    t = data["type"]
    target = (
        state.ships[data["target"]].name
        if "target" in data and data["target"] in state.ships
        else ""
    )
    labels: dict[str, str] = {
        "move": f"Move {data.get('direction', '')} {target}",
        "attack": f"Fire turret {data.get('turret')} at {target}",
        "launch_missiles": f"Launch missiles at {target}",
        "sensor_lock": f"Sensor lock on {target}",
        "repair": f"Repair {str(data.get('location', '')).replace('_', ' ')}",
    }
    return labels.get(str(t), str(t).replace("_", " ").capitalize())


def attack_preview(
    state: BattleState, ship_id: str, turret: int, target_id: str, weapons: list[int]
) -> dict[str, Any]:
    """The §7.B DM breakdown an attack would roll with now (before any reaction)."""
    ship = state.ships[ship_id]
    target = state.ships[target_id]
    flats = list(ship.turret_weapons(turret))
    kind = ship.weapon_kind(flats[weapons[0]])
    gunner = ship.crew_at(f"gunner:{turret}")
    band = state.band(ship_id, target_id)
    dms = attack_dms(
        kind,
        gunner.skill("gunner") if gunner else None,
        gunner.char("DEX") if gunner else 7,
        band,
        ship.fire_control,
        ship.aid_dm,
    )
    boon = (1 if ship.sensor_lock == target_id else 0) - (
        1 if any(ship.weapons[flats[w]] == "bane" for w in weapons) else 0
    )
    return {
        "band": band,
        "dms": dms,
        "total_dm": sum(dms.values()),
        "boon": max(-1, min(1, boon)),
        "linked": len(weapons),
        "target_armour": target.armour,
    }
