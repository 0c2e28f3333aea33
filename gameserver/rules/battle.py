"""The battle's course: start, rounds, steps, turns, the end (RULES §3.B, §4.B, §13).

Purely computational. `settle` runs after every accepted command: it strikes salvos that are
due, moves to the next ship, step or round until somebody must act, and ends the battle when
one side is left or the round limit is reached (Part A).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.actions import ce
from gameserver.rules.actions.boarding import take_control
from gameserver.rules.actions.missiles import expire_salvos, strike_next_salvo
from gameserver.rules.actions.reactions import refresh_reactions
from gameserver.rules.commitment import LEGACY_SALT, SCHEME, commitment_data
from gameserver.rules.decision import DecideContext, Decision, band_text, refuse, ship_name
from gameserver.rules.dice import Dice
from gameserver.rules.errors import RuleViolation
from gameserver.rules.events import EVENT_SCHEMA_VERSION, Event
from gameserver.rules.evolve import evolve
from gameserver.rules.resolution import advance_range, check, initiative, skill_dm
from gameserver.rules.scenario import Scenario
from gameserver.rules.secret import DiceSecret, with_secret
from gameserver.rules.state import BattleState, ShipState, Step, replace_ship
from gameserver.rules.turns import stations_needed

_STEP_NEXT = {Step.MANOEUVRE: Step.ATTACK, Step.ATTACK: Step.ACTIONS}
_MAX_SEED = 2**127
OPEN_BATTLE = {"type": "open_battle"}
"""The command record of a battle's opening batch: the scenario is in ``battle_started``."""


def _order_key(state: BattleState, ship: ShipState, join: int) -> tuple[int, int, int, int]:
    pilot = ship.crew_at("pilot")
    pilot_skill = skill_dm(pilot.skill("pilot")) if pilot is not None else -3
    # Part A: ties -> higher Thrust, then higher Pilot skill, then the ship that joined first.
    return (-ship.initiative, -ship.thrust, -pilot_skill, join)


def initiative_order(state: BattleState) -> tuple[str, ...]:
    """Active ships, highest initiative first (RULES §15 #28, Part A tie-breaks)."""
    ids = list(state.ships)
    active = [(i, state.ships[s]) for i, s in enumerate(ids) if state.ships[s].is_active]
    if state.ruleset.is_ce:
        active.sort(key=lambda p: ce.initiative_key(state, p[1], p[0]))
        return tuple(s.id for _, s in active)
    active.sort(key=lambda p: _order_key(state, p[1], p[0]))
    return tuple(s.id for _, s in active)


def start_battle(
    scenario: Scenario,
    seed: int,
    battle_id: str,
    at: str | None,
    dice: Dice | None = None,
    salt: bytes = LEGACY_SALT,
) -> list[Event]:
    """The opening events of `open_battle` (whose state holds the secret seed)."""
    return open_battle(scenario, seed, battle_id, at, dice, salt).events


def open_battle(
    scenario: Scenario,
    seed: int,
    battle_id: str,
    at: str | None,
    dice: Dice | None = None,
    salt: bytes = LEGACY_SALT,
) -> Decision:
    """The ``battle_started`` event (ruleset, config, schema version, scenario, the commitment
    to the seed), then the initiative rolls (RULES §4.B) and the first round's Manoeuvre step.

    The first event records the command ``{"type": "open_battle"}``: re-executing it means
    calling this with the scenario and battle id of ``battle_started`` and the battle's secret.
    The seed itself is in no event until the battle ends (`rules.commitment`); the server
    passes a random `salt` and keeps both; `replay(events, DiceSecret(seed, salt))` gives the
    seed back to the folded state. Tests may pass a `ScriptedDice` for the initiative rolls.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not -_MAX_SEED <= seed < _MAX_SEED:
        refuse("bad_seed", "the seed must be an integer of at most 128 bits")
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
            "scenario": _scenario_json(scenario),
            "commitment": commitment_data(seed, salt),
            "battle_id": battle_id,
        },
        summary=f"Battle {scenario.name!r} begins ({scenario.ruleset.value}).",
        at=at,
        cmd=dict(OPEN_BATTLE),
    )
    secret = DiceSecret(seed, salt)
    ctx = DecideContext(with_secret(evolve(None, first), secret), at, dice=dice)
    ctx.events.append(first)
    roll_tactics = {entry.id: entry.roll_tactics for entry in scenario.ships}
    if scenario.detection == "sensors":
        detect_at_start(ctx)
    if scenario.ruleset.is_ce:
        ce.roll_initiative(ctx, roll_tactics)
    for sid, ship in ctx.state.ships.items() if not scenario.ruleset.is_ce else ():
        pilot = ship.crew_at("pilot")
        captain = ship.crew_at("captain")
        tactics = None
        # Part A: the Tactics check is optional, the captain's choice.
        if roll_tactics[sid] and captain is not None and captain.skill("tactics") is not None:
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
    start_round(ctx, 1)
    settle(ctx)
    return ctx.decision()


def _scenario_json(scenario: Scenario) -> dict[str, Any]:
    """The scenario as ``battle_started`` records it: ships pinned to their designs, and
    `detection` only when set (a battle that leaves it "known" records what it did before)."""
    out = scenario.model_copy(
        update={"ships": tuple(entry.pinned() for entry in scenario.ships)}
    ).model_dump(mode="json")
    if out.get("detection") == "known":
        del out["detection"]
    return out


def detect_at_start(ctx: DecideContext) -> None:
    """§3.B setup: each ship's sensors try to detect each enemy at the starting range (the
    `RulesConfig.detection_target` check); what they miss stays undetected (§9.B.2: no launch
    at Distant) until a Sensor Lock finds it. A ship nobody able holds the sensors of detects
    nothing."""
    st = ctx.state
    for sid, ship in st.ships.items():
        op = ship.crew_at("sensors")
        found: list[str] = []
        missed: list[str] = []
        checks: list[dict[str, Any]] = []
        for other in st.ships.values():
            if other.side == ship.side:
                continue
            band = st.band(sid, other.id)
            if op is None or ship.sensors_disabled or not ship.within_sensors(band):
                missed.append(other.id)
                continue
            c = check(
                ctx.dice,
                op.skill("electronics"),
                op.char("INT"),
                target=ctx.cfg.detection_target,
                dm=ship.sensor_dm,
                auto_results=ctx.cfg.natural_auto_results,
            )
            checks.append({"target": other.id, "band": band, "check": c.to_dict()})
            (found if c.success else missed).append(other.id)
        names = ", ".join(ship_name(st, x) for x in found) or "nothing"
        tail = f"; undetected: {', '.join(ship_name(st, x) for x in missed)}" if missed else ""
        ctx.emit(
            "detection_rolled",
            {"ship": sid, "checks": checks, "detected": found, "undetected": missed},
            f"{ship.name}'s sensors detect {names}{tail}.",
            ships={sid: {"undetected": frozenset(missed)}} if missed else None,
        )


def start_round(ctx: DecideContext, number: int) -> None:
    st = ctx.state
    ships: dict[str, dict[str, Any]] = {}
    if st.ruleset.is_ce:
        _start_ce_turn(ctx, number)
        return
    for sid, s in st.ships.items():
        # §6.B: an overload from last round's Actions step is in force for this round only.
        changes = s.overload or s.overload_next
        powered = replace_ship(s, {"overload": s.overload_next}) if changes else s
        fields: dict[str, Any] = {
            "thrust_pool": powered.thrust if s.is_active else 0,
            "overload": s.overload_next,
            "overload_next": frozenset(),
            "moved": frozenset(),
            "fired": frozenset(),
            "pd_used": frozenset(),
            "sand_used": frozenset(),
            "done": frozenset(),
            "tasks": frozenset(),
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
    _leak_fuel(ctx)
    _fail_life_support(ctx, number)
    if ctx.cfg.boarding:
        take_control(ctx)
    ctx.emit(
        "initiative_order",
        {"order": list(initiative_order(ctx.state))},
        "Initiative order: "
        + ", ".join(ship_name(ctx.state, s) for s in initiative_order(ctx.state))
        + ".",
        battle={"order": initiative_order(ctx.state)},
    )


def _tons(tenths: int) -> str:
    return f"{tenths // 10}.{tenths % 10}"


def _leak_fuel(ctx: DecideContext) -> None:
    """§10.B.4 Fuel rows 1-2 (`fuel_tracking`; CE §10.A.5 1st Fuel hit, `ce_fuel_effects`):
    each leaking ship loses its leak at the start of the round (CE: turn), until the leak is
    repaired or the tanks are dry."""
    for sid, s in ctx.state.ships.items():
        lost = s.leaking if s.is_active else 0
        if lost <= 0:
            continue
        left = s.fuel_left - lost
        ctx.emit(
            "fuel_leaked",
            {"ship": sid, "tenths": lost, "left_tenths": left},
            f"{s.name} leaks {_tons(lost)} t of fuel ({_tons(left)} t left"
            + ("; the tanks are dry)." if left <= 0 else ")."),
            ships={sid: {"fuel_leaked": s.fuel_leaked + lost}},
        )


def _fail_life_support(ctx: DecideContext, number: int) -> None:
    """§10.B.4 Crew rows 2 and 4 (`life_support_countdown`): life support fails at the start
    of the round its countdown runs out. RULES.md gives no further consequence in combat."""
    for sid, s in ctx.state.ships.items():
        if not s.is_active or not 0 < s.life_support_fails <= number:
            continue
        ctx.emit(
            "life_support_failed",
            {"ship": sid, "round": number},
            f"{s.name}'s life support fails.",
            ships={sid: {"life_support": "failed", "life_support_fails": 0}},
        )


def _start_ce_turn(ctx: DecideContext, number: int) -> None:
    """RULES §3.A: a CE turn; initiative is not re-rolled, the reaction pools refill."""
    st = ctx.state
    ships = ce.new_turn_fields(st)
    ctx.emit(
        "round_started",
        {"round": number},
        f"Turn {number} begins.",
        ships=ships,
        battle={"round": number, "step": Step.TURN, "turn": -1, "moves": {}},
    )
    _leak_fuel(ctx)
    order = initiative_order(ctx.state)
    ctx.emit(
        "initiative_order",
        {"order": list(order)},
        "Initiative order: " + ", ".join(ship_name(ctx.state, s) for s in order) + ".",
        battle={"order": order},
    )


def check_end(ctx: DecideContext) -> bool:
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
    end_battle(ctx, outcome, summary, pending=True)
    return True


def end_battle(
    ctx: DecideContext, outcome: dict[str, Any], summary: str, pending: bool = False
) -> None:
    """``battle_ended`` (clearing pending attacks when asked), then ``dice_revealed``: the
    seed and salt that open the commitment of ``battle_started`` (`rules.commitment`).

    The seed travels as a decimal string (JavaScript numbers are exact to 2**53 only).
    """
    battle: dict[str, Any] = {"outcome": outcome}
    if pending:
        battle["pending"] = ()
    ctx.emit("battle_ended", outcome, summary, battle=battle)
    st = ctx.state
    if st.seed is not None and st.dice_salt is not None:
        ctx.emit(
            "dice_revealed",
            {"seed": str(st.seed), "salt": st.dice_salt, "scheme": SCHEME},
            f"The dice are revealed: seed {st.seed} (anyone can now verify every roll).",
        )


def settle(ctx: DecideContext) -> None:
    """Advance turns, steps and rounds until someone must act (or the battle ends)."""
    for _ in range(10_000):
        if check_end(ctx):
            return
        st = ctx.state
        if st.pending:
            if refresh_reactions(ctx):
                continue
            return
        if st.ruleset.is_ce and ce.strike_due(ctx):
            continue
        sid = st.acting_ship
        if sid is not None and stations_needed(st, st.ships[sid]):
            return
        if st.ruleset.is_ce and not ce.simultaneous_next(st) and ce.resolve_queued(ctx):
            continue
        if st.step == Step.ATTACK and expire_salvos(ctx):
            continue
        if st.step == Step.ATTACK and any(s.arrives_round <= st.round for s in st.salvos):
            # §9.B.2: salvos due strike at the start of the Attack step; those launched this
            # step at Medium or closer strike once their ship has fired (§9.B.1: one salvo
            # per target with every missile it launched at that target this round).
            strike_next_salvo(ctx)
            continue
        nxt = None
        for i in range(st.turn + 1, len(st.order)):
            if stations_needed(st, st.ships[st.order[i]]) or (
                st.ruleset.is_ce and ce.has_due_salvo(st, st.order[i])
            ):
                nxt = i
                break
        if nxt is not None:
            ship = st.ships[st.order[nxt]]
            ctx.emit(
                "turn_started",
                {"ship": ship.id, "step": st.step.value},
                f"{ship.name} acts ({st.step.value} step).",
                ships={ship.id: ce.turn_fields(ship)} if st.ruleset.is_ce else None,
                battle={"turn": nxt},
            )
            continue
        _next_step(ctx)
    raise RuntimeError("settle did not converge")  # pragma: no cover - bounded by round limit


def _next_step(ctx: DecideContext) -> None:
    st = ctx.state
    if st.step == Step.MANOEUVRE:
        _apply_moves(ctx)
    if st.step in _STEP_NEXT:
        nxt = _STEP_NEXT[st.step]
        reset: dict[str, dict[str, Any]] = {
            sid: ({"done": frozenset()} if s.done else {})
            | ({"tasks": frozenset()} if s.tasks else {})
            for sid, s in st.ships.items()
            if s.done or s.tasks
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
        end_battle(
            ctx,
            outcome,
            f"The round limit ({st.round_limit}) is reached: the battle ends in a draw.",
        )
        return
    start_round(ctx, st.round + 1)


def _apply_moves(ctx: DecideContext) -> None:
    st = ctx.state
    if not st.moves:
        return
    ranges = dict(st.ranges)
    changed: list[dict[str, Any]] = []
    for key, net in st.moves.items():
        band, progress = ranges[key]
        new_band, new_progress = advance_range(band, progress, net, st.config)
        ranges[key] = (new_band, new_progress)
        a, b = key.split("|")
        changed.append({"a": a, "b": b, "from": band, "to": new_band, "progress": new_progress})
    moved = [c for c in changed if c["from"] != c["to"]]
    text = "; ".join(
        f"{ship_name(st, c['a'])}-{ship_name(st, c['b'])}"
        f" {band_text(c['from'])} -> {band_text(c['to'])}"
        for c in moved
    )
    ctx.emit(
        "ranges_changed",
        {"pairs": changed},
        f"Ranges change: {text}." if moved else "Ships manoeuvre; no range band changes yet.",
        battle={"ranges": ranges, "moves": {}},
    )
