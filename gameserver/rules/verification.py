"""Checking a finished battle's dice: the revealed seed opens the commitment, and every die
every event records is the die the seeded stream gives at its position.

Purely computational. The algorithm (docs/protocol.md, "Verifying the dice"):

1. Read the events through `decode_events` (older versions upgraded).
2. The ``battle_started`` event's ``commitment`` is ``{"scheme", "digest"}``.
3. The seed and salt come from the ``dice_revealed`` event (``seed`` a decimal string, ``salt``
   hex); a log of event schema version 1 published its seed in ``battle_started`` instead (its
   commitment uses the all-zero legacy salt).
4. ``SHA-256(DOMAIN || salt || seed_key(seed))`` must equal the digest (`rules.commitment`).
5. Walking the events in order with a counter ``i`` from 0, each recorded die must equal
   ``die_at(seed, i)`` (`rules.dice`); ``i`` grows by one per die. An undo never rewinds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gameserver.rules.commitment import LEGACY_SALT, matches
from gameserver.rules.dice import SeededDice
from gameserver.rules.events import Event, decode_events


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a check: `ok`, the dice checked, and why not when it failed."""

    ok: bool
    dice: int
    reason: str
    seed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the seed as a string: JavaScript keeps 53 bits only)."""
        return {"verified": self.ok, "dice": self.dice, "reason": self.reason, "seed": self.seed}


def _secret(events: list[Event]) -> tuple[int, str] | str:
    """The revealed (seed, salt hex), or why there is none."""
    for event in reversed(events):
        if event.type == "dice_revealed":
            try:
                return int(str(event.data["seed"])), str(event.data["salt"])
            except (KeyError, ValueError):
                return f"event {event.seq} (dice_revealed) has no readable seed and salt"
    legacy = events[0].data.get("seed")
    if isinstance(legacy, int) and not isinstance(legacy, bool):
        return legacy, LEGACY_SALT.hex()
    return "the dice are not revealed yet (the battle has not ended)"


def verify_events(events: list[Event]) -> Verdict:
    """Check decoded events (see the module docstring)."""
    if not events or events[0].type != "battle_started":
        return Verdict(False, 0, "a battle log starts with a battle_started event")
    secret = _secret(events)
    if isinstance(secret, str):
        return Verdict(False, 0, secret)
    seed, salt = secret
    if not matches(events[0].data.get("commitment"), seed, salt):
        return Verdict(False, 0, "the revealed seed does not match the commitment", str(seed))
    checked, wrong = check_dice(events, seed)
    if wrong is not None:
        return Verdict(False, checked, wrong, str(seed))
    return Verdict(True, checked, f"all {checked} dice match the committed seed", str(seed))


def check_dice(events: Iterable[Event], seed: int) -> tuple[int, str | None]:
    """How many recorded dice match the stream of `seed` in order, and the first that does
    not (its event and position), or None when all do."""
    stream = SeededDice(seed)
    checked = 0
    for event in events:
        for k, die in enumerate(event.dice):
            expected = stream.d6()
            if die != expected:
                return checked, (
                    f"event {event.seq} ({event.type}) die #{k + 1} is {die}; the stream gives"
                    f" {expected} at position {stream.position - 1}"
                )
            checked += 1
    return checked, None


def verify_log(dicts: Iterable[dict[str, Any]]) -> Verdict:
    """Check event dicts as exported (any version this server reads)."""
    try:
        events, _ = decode_events(dicts)
    except (ValueError, TypeError, KeyError) as exc:
        return Verdict(False, 0, f"the log cannot be read: {exc}")
    return verify_events(events)
