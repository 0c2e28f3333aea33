"""Battle storage: the `BattleStore` protocol, the in-memory default and (with REDIS_URL) Redis."""

from __future__ import annotations

from gameserver.store.base import (
    CHAT_KEEP,
    AlreadyApplied,
    Ban,
    BattleExists,
    BattleMeta,
    BattleNotFound,
    BattleStore,
    ChatEntry,
    Claim,
    ClaimGuard,
    ClaimLost,
    EventDict,
    Notice,
    PeerInfo,
    SeatRefused,
    SeqConflict,
    Snapshot,
    StoreError,
    StoreUnavailable,
    Table,
    TableRules,
)

__all__ = [
    "CHAT_KEEP",
    "AlreadyApplied",
    "Ban",
    "BattleExists",
    "BattleMeta",
    "BattleNotFound",
    "BattleStore",
    "ChatEntry",
    "Claim",
    "ClaimGuard",
    "ClaimLost",
    "EventDict",
    "Notice",
    "PeerInfo",
    "SeatRefused",
    "SeqConflict",
    "Snapshot",
    "StoreError",
    "StoreUnavailable",
    "Table",
    "TableRules",
    "create_store",
]


def create_store(
    redis_url: str | None,
    *,
    timeout_s: float = 5.0,
    dedupe_window: int = 1000,
    archive_after_s: float = 60.0,
) -> BattleStore:
    """Pick the store from the settings: Redis when `REDIS_URL` is set, else in memory.

    `timeout_s` bounds every Redis call (`STORE_TIMEOUT_S`); `dedupe_window` is how many keyed
    appends per battle are remembered (`DEDUPE_WINDOW`). The Redis module is imported only when
    asked for, so the default needs no Redis at all.
    """
    if redis_url:
        from gameserver.store.redis import RedisBattleStore

        store: BattleStore = RedisBattleStore(
            redis_url, command_timeout_s=timeout_s, dedupe_window=dedupe_window
        )
        return store
    from gameserver.store.memory import MemoryBattleStore

    return MemoryBattleStore(dedupe_window=dedupe_window, archive_after_s=archive_after_s)
