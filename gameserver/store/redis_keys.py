"""The Redis key layout of the battle store (see `gameserver.store.redis` for what each holds).

A base of `RedisBattleStore` and its parts (`redis_seats`, `redis_fanout`), so each part names
keys the one way.
"""

from __future__ import annotations


class RedisKeys:
    """Key names under the store's prefix; the battle id in braces keeps a battle in one slot."""

    _prefix: str

    def _k(self, battle_id: str, kind: str) -> str:
        return f"{self._prefix}:b:{{{battle_id}}}:{kind}"

    def _code_key(self, join_code: str) -> str:
        return f"{self._prefix}:code:{join_code.strip().upper()}"

    @property
    def _index_key(self) -> str:
        return f"{self._prefix}:battles"

    def _instance_key(self, instance_id: str) -> str:
        return f"{self._prefix}:inst:{instance_id}"

    @property
    def _notify_key(self) -> str:
        return f"{self._prefix}:notify"
