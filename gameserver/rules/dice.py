"""Dice: the battle's seeded counter-based stream, and a scripted stub for tests.

RULES Part A: the state holds the seed and how many dice were drawn; `decide` draws from that
position; events record the dice they used; replay never re-rolls. Die number ``i`` of a battle is
a pure function of ``(seed, i)``: 64-bit word ``i % 8`` of ``blake2b(i // 8, key=seed)``, mod 6.
The bias of a 64-bit word mod 6 is below 1e-18, and blake2b is specified byte for byte, so the
stream is identical across processes, platforms and Python versions.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import Protocol

from gameserver.rules.errors import DiceExhausted

_PERSON = b"tvtt-dice-v1"
_WORDS_PER_BLOCK = 8


class Dice(Protocol):
    """What every resolution function rolls with (RULES §0.3)."""

    def d6(self) -> int:
        """One six-sided die."""
        ...

    def take(self) -> tuple[int, ...]:
        """The dice drawn since the last take (an event records them)."""
        ...


def roll(dice: Dice, n: int) -> int:
    """Sum of ``n`` d6 (RULES §1.1 ``nD``)."""
    total = 0
    for _ in range(n):
        total += dice.d6()
    return total


def roll_2d(dice: Dice, boon: int = 0) -> int:
    """2D with Boon/Bane (RULES §1.6): boon: 3D keep the highest two; bane: lowest."""
    if boon == 0:
        return dice.d6() + dice.d6()
    a, b, c = dice.d6(), dice.d6(), dice.d6()
    if boon > 0:
        return a + b + c - min(a, b, c)
    return a + b + c - max(a, b, c)


def d3(dice: Dice) -> int:
    """D3 = ceil(1D / 2) (RULES §1.1)."""
    return (dice.d6() + 1) // 2


def d66(dice: Dice) -> int:
    """D66: first die x 10 + second die (RULES §1.1)."""
    return dice.d6() * 10 + dice.d6()


def seed_key(seed: int) -> bytes:
    """The blake2b key for a seed; seeds are signed integers of at most 128 bits."""
    return seed.to_bytes(16, "little", signed=True)


_WORDS = struct.Struct("<8Q")


def _keyed(key: bytes) -> hashlib.blake2b:
    """The stream's blake2b state after the key block; `_block` copies it for each block."""
    return hashlib.blake2b(key=key, digest_size=64, person=_PERSON)


def _block(keyed: hashlib.blake2b, block: int) -> list[int]:
    """The 8 dice of block ``block``: ``blake2b(block, key=seed)`` = the keyed state + ``block``.

    Copying the keyed state skips re-hashing the key block each time (same digest).
    """
    h = keyed.copy()
    h.update(block.to_bytes(8, "little"))
    return [w % 6 + 1 for w in _WORDS.unpack(h.digest())]


def die_at(seed: int, index: int) -> int:
    """Die number ``index`` (0-based) of the stream for ``seed``; pure and deterministic."""
    return _block(_keyed(seed_key(seed)), index // _WORDS_PER_BLOCK)[index % _WORDS_PER_BLOCK]


class SeededDice:
    """The battle's stream from a position; records every die it hands out (for the event)."""

    __slots__ = ("_block", "_block_no", "_keyed", "drawn", "position", "seed")

    def __init__(self, seed: int, position: int = 0) -> None:
        self.seed = seed
        self.position = position
        # Keyed on the first die: most `decide` calls and every dry run draw none.
        self._keyed: hashlib.blake2b | None = None
        self._block_no = -1
        self._block: list[int] = []
        self.drawn: list[int] = []

    def d6(self) -> int:
        """Next die of the stream."""
        pos = self.position
        block_no = pos >> 3
        if block_no != self._block_no:
            keyed = self._keyed
            if keyed is None:
                keyed = self._keyed = _keyed(seed_key(self.seed))
            self._block = _block(keyed, block_no)
            self._block_no = block_no
        value = self._block[pos & 7]
        self.position = pos + 1
        self.drawn.append(value)
        return value

    def take(self) -> tuple[int, ...]:
        """The dice drawn since the last `take` (what the next event records)."""
        out = tuple(self.drawn)
        self.drawn.clear()
        return out


class ScriptedDice:
    """Returns the listed d6 results in order; asking for more raises `DiceExhausted`."""

    __slots__ = ("_values", "drawn", "used")

    def __init__(self, values: Iterable[int]) -> None:
        self._values = list(values)
        for v in self._values:
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 6:
                raise ValueError(f"scripted dice must be integers 1-6, got {v!r}")
        self.used = 0
        self.drawn: list[int] = []

    def d6(self) -> int:
        """Next scripted die."""
        if self.used >= len(self._values):
            raise DiceExhausted(
                f"the rules asked for die #{self.used + 1} but only {len(self._values)} were given"
            )
        value = self._values[self.used]
        self.used += 1
        self.drawn.append(value)
        return value

    def take(self) -> tuple[int, ...]:
        """The dice drawn since the last `take`."""
        out = tuple(self.drawn)
        self.drawn.clear()
        return out
