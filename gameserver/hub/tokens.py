"""Secrets and codes handed to people: GM and resume tokens (stored only hashed), join codes."""

from __future__ import annotations

import hashlib
import secrets

JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: a join code is read aloud across the table."""
JOIN_CODE_LENGTH = 6


def token_hash(token: str) -> str:
    """sha256 of a secret: stores keep only hashes of GM and resume tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_join_code() -> str:
    """A short code players can type."""
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def new_token() -> str:
    """A fresh GM or resume token (the server issues them; clients never choose one)."""
    return secrets.token_urlsafe(24)
