"""The Cepheus Engine battle: initiative, turns, crew actions, beam attacks, reactions, damage.

Purely computational. RULES §3.A (ship turns), §4.A (initiative, the reaction pool), §5.2
(Range Check), §6.A (positions), §7.A (attacks), §10.A (hits and locations), §11.A (Dodge,
Fire Sand), §12.A (repairs), §13.1 (destroyed, disabled, outran). The rules themselves are the
`resolution_ce` functions the vectors check; these modules only read and patch the battle.

One module a concern, like the MgT2e handlers beside this package; importing the package
imports them all, so every CE handler is registered with `decision.handles`. The names the
battle loop calls (`battle.py`, the MgT2e `reactions`) are re-exported here.
"""

from gameserver.rules.actions.ce import attack, boarding, crew, damage, missiles, reactions
from gameserver.rules.actions.ce.course import (
    initiative_key,
    new_turn_fields,
    roll_initiative,
    round_fields,
    simultaneous_next,
    turn_fields,
)
from gameserver.rules.actions.ce.damage import resolve_queued
from gameserver.rules.actions.ce.missiles import has_due_salvo, strike_due
from gameserver.rules.actions.ce.reactions import resolve_pending

__all__ = [
    "attack",
    "boarding",
    "crew",
    "damage",
    "has_due_salvo",
    "initiative_key",
    "missiles",
    "new_turn_fields",
    "reactions",
    "resolve_pending",
    "resolve_queued",
    "roll_initiative",
    "round_fields",
    "simultaneous_next",
    "strike_due",
    "turn_fields",
]
