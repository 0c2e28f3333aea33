"""Battle storage: the `BattleStore` protocol, the in-memory default and (with REDIS_URL) Redis."""

from __future__ import annotations

from gameserver.store.base import (
    BattleExists,
    BattleMeta,
    BattleNotFound,
    BattleStore,
    Claim,
    ClaimGuard,
    ClaimLost,
    EventDict,
    Notice,
    PeerInfo,
    SeqConflict,
    Snapshot,
    StoreError,
    StoreUnavailable,
)

__all__ = [
    "BattleExists",
    "BattleMeta",
    "BattleNotFound",
    "BattleStore",
    "Claim",
    "ClaimGuard",
    "ClaimLost",
    "EventDict",
    "Notice",
    "PeerInfo",
    "SeqConflict",
    "Snapshot",
    "StoreError",
    "StoreUnavailable",
    "create_store",
]


def create_store(redis_url: str | None, archive_after_s: float = 60.0) -> BattleStore:
    """Pick the store from the settings: Redis when `REDIS_URL` is set, else in memory.

    The Redis module is imported only when asked for, so the default needs no Redis at all.
    """
    if redis_url:
        from gameserver.store.redis import RedisBattleStore

        store: BattleStore = RedisBattleStore(redis_url)
        return store
    from gameserver.store.memory import MemoryBattleStore

    return MemoryBattleStore(archive_after_s=archive_after_s)
