"""`decide` and `is_legal`: a command is authorised, decided by its handler, then the battle
moves on until somebody must act.

Purely computational, no I/O, no clock, no global RNG: dice come from the battle's seeded
stream at the position the state records (RULES Part A). Each event carries a field patch
that `evolve` applies, so the rules live once, in the handlers (`actions/`).
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel

# Imported for their `@handles` registrations.
from gameserver.rules.actions import (  # noqa: F401
    attack,
    boarding,
    ce,
    crew,
    engineer,
    gm,
    manoeuvre,
    missiles,
    reactions,
    ship,
)
from gameserver.rules.authorise import authorise
from gameserver.rules.battle import settle
from gameserver.rules.commands import NOBODY, Actor, command_record
from gameserver.rules.decision import COMMAND_RULES, DecideContext, Decision, DryRun, refuse
from gameserver.rules.dice import Dice
from gameserver.rules.errors import RuleViolation
from gameserver.rules.state import BattleState


def decide(state: BattleState, command: BaseModel, dice: Dice | None = None) -> Decision:
    """Check a command against the state and the rules; return the new state and the events.

    Raises `RuleViolation` (stable code, readable message) when the rules refuse it; nothing
    changes then. Dice come from the state's position in the seeded stream; tests may pass a
    `ScriptedDice` instead (the events still record what was rolled, so replay stays exact).
    The state returned is the fold of the events onto `state`: callers need not fold again.
    The first event records the command (`command_record`), so the log can be re-executed.
    """
    ctx = DecideContext(state, getattr(command, "at", None), dice=dice)
    _run(ctx, command)
    events = ctx.events
    if events:
        events[0] = replace(events[0], cmd=command_record(command))
    return ctx.decision()


def _run(ctx: DecideContext, command: BaseModel) -> None:
    rule = COMMAND_RULES.get(str(getattr(command, "type", "")))
    actor: Actor = getattr(command, "actor", NOBODY)
    if rule is not None and rule.gm:
        if actor.role != "gm":
            refuse("gm_only", "only the GM may do that")
        if ctx.state.is_over and not rule.after_end:
            refuse("battle_over", "the battle is over")
        rule.run(ctx, command)
        settle(ctx)
        return
    if ctx.state.is_over:
        refuse("battle_over", "the battle is over")
    if rule is None:
        refuse("bad_command", f"unknown command {getattr(command, 'type', None)!r}")
    ship_state, station = authorise(ctx.state, command, rule)
    rule.run(ctx, command, ship_state, station)
    settle(ctx)


def is_legal(state: BattleState, command: BaseModel) -> bool:
    """Whether `decide` would accept the command (validation only, no dice drawn)."""
    ctx = DecideContext(state, None, dry=True)
    try:
        _run(ctx, command)
    except DryRun:
        return True
    except RuleViolation:
        return False
    return True
