"""The dice commitment: the first event binds the battle to its secret seed without showing it.

Scheme ``sha256-tvtt-dice-v1``: the hex SHA-256 of the bytes

    b"tvtt-dice-commitment-v1\\x00" || salt (32 bytes) || seed (16 bytes, little-endian,
    two's complement: the key of the dice stream, `seed_key`)

The salt is 32 random bytes drawn by the server when the battle is created, so the digest
says nothing about the seed even when seeds are small or guessable; the domain prefix keeps the
digest from matching any other SHA-256 use. The seed and salt stay on the server (the store's
battle metadata) until the battle ends, when the ``dice_revealed`` event publishes both; anyone
can then recompute the digest and the stream (docs/protocol.md, `gameserver.verify`).
Purely computational.
"""

from __future__ import annotations

import hashlib
import hmac

from gameserver.rules.dice import seed_key

SCHEME = "sha256-tvtt-dice-v1"
DOMAIN = b"tvtt-dice-commitment-v1\x00"
SALT_BYTES = 32
# Logs of event schema version 1 published their seed; their upgraded commitment uses this salt.
LEGACY_SALT = bytes(SALT_BYTES)


def commit(seed: int, salt: bytes) -> str:
    """The hex commitment to ``seed`` under ``salt`` (see the module docstring)."""
    if len(salt) != SALT_BYTES:
        raise ValueError(f"the salt must be {SALT_BYTES} bytes")
    return hashlib.sha256(DOMAIN + salt + seed_key(seed)).hexdigest()


def commitment_data(seed: int, salt: bytes) -> dict[str, str]:
    """The ``commitment`` object of a ``battle_started`` event."""
    return {"scheme": SCHEME, "digest": commit(seed, salt)}


def matches(commitment: object, seed: int, salt_hex: str) -> bool:
    """Whether a revealed seed and salt open the commitment (constant-time compare)."""
    if not isinstance(commitment, dict) or commitment.get("scheme") != SCHEME:
        return False
    digest = commitment.get("digest")
    try:
        salt = bytes.fromhex(salt_hex)
        expected = commit(seed, salt)
    except (ValueError, OverflowError):
        return False
    return isinstance(digest, str) and hmac.compare_digest(digest, expected)
