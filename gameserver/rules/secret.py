"""The battle's secret (seed and salt) on the server: giving it to a folded state, checked
against the commitment, and the dice a state without it offers (none).

Purely computational. Events never carry the secret while a battle runs (`rules.commitment`),
so a state folded from them has no seed; the server keeps the secret in the battle's metadata
and hands it back with `with_secret` before `decide` rolls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gameserver.rules.commitment import SALT_BYTES, matches
from gameserver.rules.errors import RuleViolation
from gameserver.rules.state import BattleState, replace_battle


@dataclass(frozen=True, slots=True)
class DiceSecret:
    """A battle's seed and the salt of its commitment."""

    seed: int
    salt: bytes

    def __post_init__(self) -> None:
        if len(self.salt) != SALT_BYTES:
            raise ValueError(f"the salt must be {SALT_BYTES} bytes")

    def to_text(self) -> str:
        """``"<seed>:<salt hex>"``: how the store keeps it (a string: 64-bit seeds stay exact)."""
        return f"{self.seed}:{self.salt.hex()}"

    @staticmethod
    def from_text(text: str) -> DiceSecret:
        """Inverse of `to_text`; ValueError when malformed."""
        seed, _, salt = text.partition(":")
        return DiceSecret(int(seed), bytes.fromhex(salt))


class SecretMismatch(ValueError):
    """The secret given does not open the battle's commitment."""


def with_secret(
    state: BattleState, secret: DiceSecret, commitment: Any | None = None
) -> BattleState:
    """The state with the battle's seed and salt (and every state an undo may reach).

    With `commitment` (the ``battle_started`` event's), a secret that does not open it raises
    `SecretMismatch`: nobody can swap the seed of a running battle.
    """
    if commitment is not None and not matches(commitment, secret.seed, secret.salt.hex()):
        raise SecretMismatch("the seed does not match the battle's commitment")
    changes = {"seed": secret.seed, "dice_salt": secret.salt.hex()}
    chain: list[BattleState] = []
    cur: BattleState | None = state
    while cur is not None:
        chain.append(cur)
        cur = cur.prev
    out: BattleState | None = None
    for s in reversed(chain):
        out = replace_battle(s, {**changes, "prev": out})
    assert out is not None
    return out


class SealedDice:
    """The dice of a state without its seed: asking for one is refused, never guessed."""

    __slots__ = ()

    def d6(self) -> int:
        """Refuse: this process does not hold the battle's seed."""
        raise RuleViolation("dice_sealed", "this battle's seed is not available here")

    def take(self) -> tuple[int, ...]:
        """No dice were drawn."""
        return ()
