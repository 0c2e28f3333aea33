"""Minimal battles for store tests: a store is rules-agnostic, it only relies on `seq`."""

from __future__ import annotations

from typing import Any

from gameserver.store import BattleMeta, EventDict


def ev(seq: int, **data: Any) -> EventDict:
    """A minimal event dict."""
    return {"seq": seq, "type": "test", "data": data}


def meta(battle_id: str = "b1", join_code: str = "ABC234") -> BattleMeta:
    """A battle's metadata (the token hash is a placeholder: stores never check it)."""
    return BattleMeta(
        battle_id=battle_id,
        join_code=join_code,
        gm_token_hash="0" * 64,
        created_at="2026-01-01T00:00:00Z",
        name="test battle",
    )
