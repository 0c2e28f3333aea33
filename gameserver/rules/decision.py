"""One `decide` call at work: the `DecideContext` that draws dice and emits events, the
`Decision` it returns, and the registry command handlers join with `@handles`.

Purely computational. A handler validates its command (refusing with `refuse`), calls
`ctx.valid()` once validation has passed (a dry run stops there) and emits events; each event
carries a field patch that `evolve` applies, so the context's state is always the fold of the
events so far.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn, TypeVar

from pydantic import BaseModel

from gameserver.rules.config import RulesConfig
from gameserver.rules.dice import Dice, SeededDice
from gameserver.rules.errors import RuleViolation
from gameserver.rules.events import Event
from gameserver.rules.evolve import evolve
from gameserver.rules.pending import Pending, PendingAttack, PendingSalvo, replace_pending
from gameserver.rules.secret import SealedDice
from gameserver.rules.state import BattleState, ShipState, Step, encode_value


class Decision(NamedTuple):
    """What `decide` returns: the state after the command and the events that made it."""

    state: BattleState
    events: list[Event]


class DryRun(Exception):
    """Raised by `DecideContext.valid` once a command has passed validation in a dry run."""


class DecideContext:
    """Working state of one `decide` call: draws dice, emits events and folds them as it goes."""

    def __init__(
        self, state: BattleState, at: str | None, dry: bool = False, dice: Dice | None = None
    ) -> None:
        self.state = state
        self.at = at
        self.dry = dry
        if dice is None:
            dice = SeededDice(state.seed, state.dice_drawn) if state.seed is not None else None
        self.dice: Dice = dice if dice is not None else SealedDice()
        self.events: list[Event] = []

    @property
    def cfg(self) -> RulesConfig:
        """The battle's house rules."""
        return self.state.config

    def valid(self) -> None:
        """Validation passed; in a dry run stop here."""
        if self.dry:
            raise DryRun

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

    def decision(self) -> Decision:
        """The state reached and the events emitted."""
        return Decision(self.state, self.events)


def refuse(code: str, message: str) -> NoReturn:
    """Refuse the command: nothing changes (RULES Part A: "refused with a reason")."""
    raise RuleViolation(code, message)


def ship_name(state: BattleState, ship_id: str) -> str:
    """A ship's name for log lines."""
    return state.ships[ship_id].name


def band_text(band: str) -> str:
    """A range band as players read it: ``very_long`` is "very long"."""
    return band.replace("_", " ")


def station_name(station: str) -> str:
    """A station id as players read it: `gunner:0` is "gunner 1" (turrets count from one)."""
    role, _, index = station.partition(":")
    return f"{role} {int(index) + 1}" if index.isdigit() else role


def done(ship: ShipState, station: str) -> dict[str, Any]:
    """The ship patch marking `station` done for the current step."""
    return {"done": ship.done | {station}}


_P = TypeVar("_P", PendingAttack, PendingSalvo)


def declare_pending(
    ctx: DecideContext,
    type_: str,
    pending: _P,
    summary: str,
    ships: Mapping[str, Mapping[str, Any]],
    resolve: Callable[[DecideContext, _P], None],
) -> None:
    """Declare an attack: it joins the queue to await the target's reactions, or resolves at
    once when nobody can react. Why here: both rulesets declare alike (§7.A, §7.B)."""
    st: BattleState = ctx.state
    ctx.emit(
        type_,
        pending.to_dict(),
        summary,
        ships=ships,
        battle={
            "pending": (*st.pending, pending) if pending.eligible else st.pending,
            "next_id": pending.id + 1,
        },
    )
    if not pending.eligible:
        resolve(ctx, pending)


def answer_reaction(
    ctx: DecideContext,
    type_: str,
    data: Mapping[str, Any],
    summary: str,
    ships: Mapping[str, Mapping[str, Any]],
    updated: Pending,
    resolve: Callable[[DecideContext, Pending], None],
) -> None:
    """Record one station's reaction; `updated` holds who may still react, and once nobody
    may, the attack or salvo resolves. Why here: both rulesets answer alike (§4.A.3, §11)."""
    ctx.emit(
        type_,
        data,
        summary,
        ships=ships,
        battle={"pending": replace_pending(ctx.state.pending, updated)},
    )
    if not updated.eligible:
        resolve(ctx, updated)


def _task_penalty(ctx: DecideContext) -> bool:
    """Whether §1.5 applies: `extra_task_penalty` (MgT2e), `ce_extra_task_penalty` (CE)."""
    cfg = ctx.cfg
    return cfg.ce_extra_task_penalty if ctx.state.ruleset.is_ce else cfg.extra_task_penalty


def task_dm(ctx: DecideContext, ship: ShipState, station: str) -> int:
    """§1.5 Multiple simultaneous tasks (`RulesConfig.extra_task_penalty`; CE
    `ce_extra_task_penalty`): the DM on this station's check for the tasks its holder already
    performed elsewhere this step (CE: this turn)."""
    if not _task_penalty(ctx):
        return 0
    return ctx.cfg.extra_task_dm * ship.extra_tasks(station)


def task(ctx: DecideContext, ship: ShipState, station: str) -> dict[str, Any]:
    """The ship patch recording a task (a check) at `station`, only for a person holding more
    than one station (so every other battle's events stay as they were)."""
    if not _task_penalty(ctx):
        return {}
    if len(ship.holder_stations(station)) < 2 or station in ship.tasks:
        return {}
    return {"tasks": ship.tasks | {station}}


# ---------------------------------------------------------------- the command registry


@dataclass(frozen=True, slots=True)
class CommandRule:
    """Who may send a command type and when, and the handler that decides it.

    Attributes:
        command: the pydantic command class.
        run: the handler, ``run(ctx, command, ship, station)`` (GM: ``run(ctx, command)``).
        step: the step it belongs to; None in any step.
        stations: the station that acts: one name; several (the first the design has);
            ``("gunner",)`` for the turret the command names; empty: the command's
            ``station`` field, else the first station the ship still needs.
        reaction: answers the pending attack or salvo (§11.B).
        free_action: allowed on the ship's turn whatever the step and its stations' progress.
        gm: a GM command (no ship acts).
        after_end: allowed after the battle has ended (GM undo).
    """

    command: type[BaseModel]
    run: Callable[..., None]
    step: Step | None
    stations: tuple[str, ...]
    reaction: bool
    free_action: bool
    gm: bool
    after_end: bool


COMMAND_RULES: dict[str, CommandRule] = {}

_F = TypeVar("_F", bound=Callable[..., None])


def handles(
    command: type[BaseModel],
    *,
    step: Step | None = None,
    stations: tuple[str, ...] = (),
    reaction: bool = False,
    free_action: bool = False,
    gm: bool = False,
    after_end: bool = False,
) -> Callable[[_F], _F]:
    """Register the decorated function as the handler of `command`, with its metadata."""
    type_ = str(command.model_fields["type"].default)

    def register(fn: _F) -> _F:
        if type_ in COMMAND_RULES:
            raise RuntimeError(f"two handlers for {type_!r}")
        COMMAND_RULES[type_] = CommandRule(
            command, fn, step, stations, reaction, free_action, gm, after_end
        )
        return fn

    return register
