"""Seats, tokens, bans, the table's rules, chat and cross-instance presence on Redis.

A part of `RedisBattleStore` (gameserver/store/redis.py), kept apart from the event log and the
battle lifecycle; each write is one Lua script from `gameserver/store/lua/`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from typing import cast

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from gameserver.store.base import (
    BAN_ID_LENGTH,
    CHAT_KEEP,
    BattleNotFound,
    ChatEntry,
    Claim,
    Notice,
    PeerInfo,
    SeatRefusal,
    SeatRefused,
    Table,
    TableRules,
    ban_entry,
    parse_bans,
)
from gameserver.store.redis_keys import RedisKeys
from gameserver.store.redis_wire import (
    unavailable_as_store_error,
)


class RedisSeats(RedisKeys):
    """The claims, bans, table, chat and presence methods of `RedisBattleStore` (set up by its
    `__init__`)."""

    _redis: aioredis.Redis
    _claim_script: AsyncScript
    _revoke_script: AsyncScript
    _lift_ban_script: AsyncScript
    _set_table_script: AsyncScript
    _chat_script: AsyncScript
    _notify_script: AsyncScript
    _set_peers_script: AsyncScript
    instance_id: str
    _instance_ttl_ms: int

    # -- claims -----------------------------------------------------------------------------------

    @staticmethod
    def _claim_field(ship_id: str, station: str) -> str:
        return f"{ship_id}\x1f{station}"

    async def claim(
        self, battle_id: str, claim: Claim, *, new_token: bool = False, max_stations: int = 0
    ) -> Claim:
        """Take the station unless another token holds it or the table's rules refuse (one
        atomic Lua script: bans, issued tokens, the lock and the station cap)."""
        with unavailable_as_store_error():
            reply = await self._claim_script(
                keys=[
                    self._k(battle_id, "meta"),
                    self._k(battle_id, "claims"),
                    self._k(battle_id, "tokens"),
                ],
                args=[
                    self._claim_field(claim.ship_id, claim.station),
                    claim.model_dump_json(),
                    claim.token_hash,
                    "1" if new_token else "0",
                    max_stations,
                ],
            )
        if reply is None:
            raise BattleNotFound(battle_id)
        outcome = bytes(reply[0]).decode()
        if outcome == "refused":
            raise SeatRefused(cast("SeatRefusal", bytes(reply[1]).decode()), int(reply[2]))
        return Claim.model_validate_json(reply[1])

    async def revoke(self, battle_id: str, token_hash: str, name: str = "") -> list[Claim]:
        """Ban the token and free its stations in one Lua script."""
        with unavailable_as_store_error():
            freed = await self._revoke_script(
                keys=[
                    self._k(battle_id, "meta"),
                    self._k(battle_id, "claims"),
                    self._k(battle_id, "tokens"),
                ],
                args=[token_hash, ban_entry(name)],
            )
        if freed is None:
            raise BattleNotFound(battle_id)
        return [Claim.model_validate_json(c) for c in freed]

    async def lift_ban(self, battle_id: str, ban_id: str) -> bool:
        """Make a banned token valid again (by its ban id)."""
        if len(ban_id) != BAN_ID_LENGTH:
            return False
        with unavailable_as_store_error():
            lifted = await self._lift_ban_script(
                keys=[self._k(battle_id, "meta"), self._k(battle_id, "tokens")], args=[ban_id]
            )
        if lifted == -1:
            raise BattleNotFound(battle_id)
        return bool(lifted)

    async def table(self, battle_id: str) -> Table:
        """The GM's table rules (meta field `table`) and the bans of the tokens hash."""
        with unavailable_as_store_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.hmget(self._k(battle_id, "meta"), ["meta", "table"])
            pipe.hgetall(self._k(battle_id, "tokens"))
            (meta, rules), tokens = await pipe.execute()
        if meta is None:
            raise BattleNotFound(battle_id)
        return Table(
            rules=TableRules.model_validate_json(rules) if rules else TableRules(),
            bans=parse_bans({bytes(k).decode(): bytes(v).decode() for k, v in tokens.items()}),
        )

    async def set_table(self, battle_id: str, rules: TableRules) -> None:
        """Replace the table rules."""
        with unavailable_as_store_error():
            done = await self._set_table_script(
                keys=[self._k(battle_id, "meta")], args=[rules.model_dump_json()]
            )
        if not done:
            raise BattleNotFound(battle_id)

    async def append_chat(
        self, battle_id: str, entry: ChatEntry, keep: int = CHAT_KEEP
    ) -> ChatEntry:
        """Add a chat line (the id counted in the meta hash) and trim the list, in one script."""
        with unavailable_as_store_error():
            stored = await self._chat_script(
                keys=[self._k(battle_id, "meta"), self._k(battle_id, "chat")],
                args=[entry.model_dump_json(exclude={"id"}), max(1, keep)],
            )
        if stored is None:
            raise BattleNotFound(battle_id)
        return ChatEntry.model_validate_json(stored)

    async def chat(self, battle_id: str) -> list[ChatEntry]:
        """The kept chat lines, oldest first."""
        with unavailable_as_store_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(self._k(battle_id, "meta"))
            pipe.lrange(self._k(battle_id, "chat"), 0, -1)
            exists, lines = await pipe.execute()
        if not exists:
            raise BattleNotFound(battle_id)
        return [ChatEntry.model_validate_json(line) for line in lines]

    async def release(self, battle_id: str, ship_id: str, station: str) -> Claim | None:
        """Free a station (a free station stays free); return the claim it freed."""
        field = self._claim_field(ship_id, station)
        with unavailable_as_store_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(self._k(battle_id, "meta"))
            pipe.hget(self._k(battle_id, "claims"), field)
            pipe.hdel(self._k(battle_id, "claims"), field)
            exists, held, _ = await pipe.execute()
        if not exists:
            raise BattleNotFound(battle_id)
        return None if held is None else Claim.model_validate_json(held)

    async def claims(self, battle_id: str) -> list[Claim]:
        """Every held station of the battle."""
        with unavailable_as_store_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(self._k(battle_id, "meta"))
            pipe.hvals(self._k(battle_id, "claims"))
            exists, raw = await pipe.execute()
        if not exists:
            raise BattleNotFound(battle_id)
        return [Claim.model_validate_json(c) for c in raw]

    # -- notices and presence across instances -------------------------------------------------

    async def notify(self, battle_id: str, notice: Notice) -> None:
        """XADD the notice to the battle's control stream; the other instances' readers get it."""
        with unavailable_as_store_error():
            await self._notify_script(
                keys=[self._k(battle_id, "meta"), self._k(battle_id, "ctl"), self._notify_key],
                args=[notice.model_dump_json(), self.instance_id, battle_id],
            )

    async def set_peers(self, battle_id: str, peers: Sequence[PeerInfo]) -> None:
        """Record this instance's peers of the battle and publish a `presence` notice."""
        payload = json.dumps([p.model_dump(mode="json") for p in peers]) if peers else ""
        with unavailable_as_store_error():
            await self._set_peers_script(
                keys=[
                    self._k(battle_id, "meta"),
                    self._k(battle_id, "peers"),
                    self._k(battle_id, "ctl"),
                    self._instance_key(self.instance_id),
                    self._notify_key,
                ],
                args=[
                    self.instance_id,
                    payload,
                    Notice(kind="presence").model_dump_json(),
                    self._instance_ttl_ms,
                    battle_id,
                ],
            )

    async def remote_peers(self, battle_id: str) -> list[PeerInfo]:
        """The peers that other instances whose liveness key has not expired recorded."""
        with unavailable_as_store_error():
            raw = await cast(
                "Awaitable[dict[bytes, bytes]]", self._redis.hgetall(self._k(battle_id, "peers"))
            )
            others = {k.decode(): v for k, v in raw.items() if k.decode() != self.instance_id}
            if not others:
                return []
            alive = await self._redis.mget([self._instance_key(i) for i in others])
        peers: list[PeerInfo] = []
        for (_, listed), live in zip(others.items(), alive, strict=True):
            if live is not None:
                peers.extend(PeerInfo.model_validate(p) for p in json.loads(listed))
        return peers
