"""`RedisBattleStore`: battles in Redis so any number of game server instances share them.

Layout (prefix `tvtt`, the battle id in braces so one battle's keys share a cluster slot):

- `tvtt:b:{id}:events`  a Stream; entry id `<seq>-0`, field `e` = the event's JSON. Using the seq as
  the stream id makes "read since seq" an `XRANGE` and "wait for the next seq" an `XREAD BLOCK`.
- `tvtt:b:{id}:meta`    a Hash: `meta` (BattleMeta JSON) and `seq` (the last seq; the append guard).
- `tvtt:b:{id}:snap`    a Hash: `seq`, `v` (the schema version the state says it has), `state`.
- `tvtt:b:{id}:claims`  a Hash: `<ship>\\x1f<station>` -> Claim JSON.
- `tvtt:b:{id}:tokens`  a Hash: resume-token hash -> `ok`, or `banned\\x1f<name>` once revoked
  (the meta hash's `table` field holds the GM's `TableRules` JSON).
- `tvtt:b:{id}:cmds`    a Hash: command key -> `<first seq>:<last seq>` of its append, and
  `tvtt:b:{id}:cmdq` a List of those keys, oldest first: the window of the last
  `dedupe_window` keyed appends (a resent command is answered, not written again).
- `tvtt:b:{id}:ctl`     a Stream of control notices between instances (release, kick, presence),
  capped at about 256 entries; field `n` = the Notice JSON, `o` = the publishing instance.
- `tvtt:b:{id}:peers`   a Hash: instance id -> JSON list of that instance's peers (presence).
- `tvtt:b:{id}:chat`    a List of `ChatEntry` JSON, oldest first, capped (the meta hash's
  `chat_seq` field counts their ids); never part of the log.
- `tvtt:inst:<id>`      set (with a TTL) while the instance runs: a dead one's peers are ignored.
- `tvtt:code:<CODE>`    the join code -> battle id.
- `tvtt:battles`        a Sorted Set: battle id scored by its last use (listing and idle expiry).
- `tvtt:notify`         a Stream (about 10,000 kept) every instance's reader blocks on: one small
  entry per append (`b` battle id, `s` its new last seq) or notice (`b`, `o` the publisher).

Appends run a Lua script (each atomic step is one file in `gameserver/store/lua/`, read at import),
so "the log ends at `expected_seq`" is checked and the entries added in
one atomic step: two instances racing on one battle never fork its log. A player's append also names
the stations it acts with and its resume-token hash: the script checks them against the claims hash
in the same step (no extra round trip), so a station the GM released on another instance cannot be
commanded any more, even before that instance's notice arrives. Durability is Redis's AOF
setting (`appendonly yes` + `appendfsync always` fsyncs before the reply, so an acknowledged action
survives a SIGKILL); see docs/redis.md.

Fan-out: one reader task per store blocks on the notify stream (plus a private wake-up stream so a
new subscription is picked up at once) and `XRANGE`s, from its cursor, only the battles it serves
that another instance moved: its own appends are handed to local subscribers directly and cost the
reader one tiny entry, not a re-read. The cursors decide what is delivered, so each instance sees
every event in seq order; each subscriber also checks for gaps and fills them with `XRANGE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from gameserver import jsonstream
from gameserver.store.base import (
    AlreadyApplied,
    BattleExists,
    BattleMeta,
    BattleNotFound,
    ClaimGuard,
    ClaimLost,
    EventDict,
    SeqConflict,
    Snapshot,
    StoreUnavailable,
    check_seqs,
)
from gameserver.store.redis_fanout import Feed, RedisFanout
from gameserver.store.redis_seats import RedisSeats
from gameserver.store.redis_wire import (
    SCRIPTS,
    decode_entries,
    encode_event,
    unavailable_as_store_error,
)

# A batch longer than this is encoded or decoded in a worker thread: the largest legal import
# (~12,000 events, 4 MiB) would otherwise hold the event loop for a few hundred milliseconds.
# Each event is its own short `json` call, so the thread lets the loop run between them.
OFF_LOOP_EVENTS = 256


async def _off_loop(fn: Callable[[Sequence[Any]], list[Any]], items: Sequence[Any]) -> list[Any]:
    if len(items) <= OFF_LOOP_EVENTS:
        return fn(items)
    return await asyncio.to_thread(fn, items)


def _encode_events(events: Sequence[EventDict]) -> list[str]:
    return [encode_event(e) for e in events]


def encode_snapshot_state(state: dict[str, Any]) -> str:
    """A snapshot's state as JSON, one undo level at a time (the same text as `json.dumps`).

    Why: with its undo chain the largest battle's state is ~2 MB of JSON; one `json.dumps`
    call would hold the GIL, and so the event loop, for tens of milliseconds even in a thread.
    """
    parts: list[str] = []
    depth = 0
    node: Any = state
    while isinstance(node, dict) and isinstance(node.get("prev"), dict):
        head = json.dumps({**node, "prev": None}, separators=(",", ":"), ensure_ascii=False)
        cut = head.rindex('"prev":null')
        parts.append(head[:cut] + '"prev":')
        parts.append(head[cut + len('"prev":null') :])
        depth += 1
        node = node["prev"]
    middle = json.dumps(node, separators=(",", ":"), ensure_ascii=False)
    opening = parts[0::2]
    closing = parts[1::2]
    return "".join(opening) + middle + "".join(reversed(closing))


class RedisBattleStore(RedisSeats, RedisFanout):
    """The `BattleStore` protocol on Redis (redis-py asyncio); see the module docstring for keys.

    Args:
        url: `REDIS_URL`, e.g. `redis://127.0.0.1:6379/0`.
        prefix: key prefix, so several deployments can share one Redis.
        block_ms: how long one `XREAD BLOCK` waits; bounds how late a deleted battle is noticed.
        connect_timeout_s / command_timeout_s: fail fast when Redis is down or hung, so a
            command gets `store_unavailable` within `command_timeout_s` instead of hanging (a
            timed-out call is not retried: an append carries this deadline and a Redis that
            resumes after it refuses to write).
        max_backoff_s: the reader's reconnect backoff ceiling (exponential with full jitter).
        dedupe_window: how many keyed appends per battle are remembered (`append(key=...)`).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tvtt",
        block_ms: int = 2000,
        connect_timeout_s: float = 1.0,
        command_timeout_s: float = 5.0,
        max_backoff_s: float = 2.0,
        dedupe_window: int = 1000,
    ) -> None:
        self._prefix = prefix
        self._command_timeout_s = command_timeout_s
        self._dedupe_window = dedupe_window
        self._block_ms = block_ms
        self._max_backoff_s = max_backoff_s
        # Commands retry twice on a dropped connection (appends are idempotent by token), then the
        # caller gets StoreUnavailable; the pool reconnects by itself on the next command. A
        # timeout is not retried: a hung Redis answers StoreUnavailable after one timeout.
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=command_timeout_s,
            retry=Retry(
                ExponentialWithJitterBackoff(base=0.05, cap=0.25),
                retries=2,
                supported_errors=(RedisConnectionError,),
            ),
            client_name="tvtt-store",
        )
        # The reader blocks in XREAD, so it gets its own connection whose read timeout exceeds the
        # block time (a shared socket_timeout would abort every idle XREAD).
        self._reader_redis: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=block_ms / 1000 + command_timeout_s,
            single_connection_client=True,
            client_name="tvtt-reader",
        )
        self._append_script = self._redis.register_script(SCRIPTS["append"])
        self._create_script = self._redis.register_script(SCRIPTS["create"])
        self._snapshot_script = self._redis.register_script(SCRIPTS["snapshot"])
        self._claim_script = self._redis.register_script(SCRIPTS["claim"])
        self._delete_script = self._redis.register_script(SCRIPTS["delete"])
        self._notify_script = self._redis.register_script(SCRIPTS["notify"])
        self._set_peers_script = self._redis.register_script(SCRIPTS["set_peers"])
        self._revoke_script = self._redis.register_script(SCRIPTS["revoke"])
        self._lift_ban_script = self._redis.register_script(SCRIPTS["lift_ban"])
        self._set_table_script = self._redis.register_script(SCRIPTS["set_table"])
        self._chat_script = self._redis.register_script(SCRIPTS["chat"])
        self.instance_id = uuid.uuid4().hex
        """This store's (this server process's) id in notices and the presence registry."""
        self._instance_ttl_ms = max(10_000, 5 * block_ms)
        self._wake_key = f"{prefix}:wake:{self.instance_id}"
        self._feeds: dict[str, Feed] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self.reader_connected = asyncio.Event()
        """Set while the reader's connection works (tests and /ready diagnostics watch it)."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBattleStore:
        """The constructor `create_store` uses when `REDIS_URL` is set (no I/O until first use)."""
        return cls(url, **options)

    # -- battles ----------------------------------------------------------------------------------

    async def create(self, meta: BattleMeta, events: Sequence[EventDict]) -> None:
        """Store a new battle, its join code and opening events in one atomic script."""
        check_seqs(meta.battle_id, 0, events)
        payloads = await _off_loop(_encode_events, events)
        bid = meta.battle_id
        with unavailable_as_store_error():
            result = await self._create_script(
                keys=[
                    self._k(bid, "meta"),
                    self._k(bid, "events"),
                    self._code_key(meta.join_code),
                    self._index_key,
                ],
                args=[bid, meta.model_dump_json(), time.time(), *payloads],
            )
        if result == b"id":
            raise BattleExists(f"battle id {bid!r} is taken")
        if result == b"code":
            raise BattleExists(f"join code {meta.join_code!r} is taken")

    async def get_meta(self, battle_id: str) -> BattleMeta:
        """Return the battle's metadata. Raises `BattleNotFound`."""
        with unavailable_as_store_error():
            raw = await cast(
                "Awaitable[bytes | None]", self._redis.hget(self._k(battle_id, "meta"), "meta")
            )
        if raw is None:
            raise BattleNotFound(battle_id)
        return BattleMeta.model_validate_json(raw)

    async def find_by_join_code(self, join_code: str) -> str | None:
        """Return the battle id of a join code (codes are stored upper-case)."""
        with unavailable_as_store_error():
            raw = await self._redis.get(self._code_key(join_code))
        return None if raw is None else bytes(raw).decode()

    async def list_battles(self) -> list[BattleMeta]:
        """Every battle in the index, oldest use first (one pipelined round trip for the metas)."""
        with unavailable_as_store_error():
            ids = await self._redis.zrange(self._index_key, 0, -1)
            if not ids:
                return []
            pipe = self._redis.pipeline(transaction=False)
            for raw_id in ids:
                pipe.hget(self._k(bytes(raw_id).decode(), "meta"), "meta")
            metas = await pipe.execute()
        return [BattleMeta.model_validate_json(m) for m in metas if m is not None]

    async def delete(self, battle_id: str) -> None:
        """Remove every key of the battle and its index entry; subscribers here end at once."""
        await self._delete(battle_id)
        self._end_feed(battle_id)

    async def _delete(self, battle_id: str) -> bool:
        with unavailable_as_store_error():
            removed = await self._delete_script(
                keys=[
                    self._k(battle_id, "meta"),
                    self._k(battle_id, "events"),
                    self._k(battle_id, "snap"),
                    self._k(battle_id, "claims"),
                    self._index_key,
                    self._k(battle_id, "ctl"),
                    self._k(battle_id, "peers"),
                    self._k(battle_id, "tokens"),
                    self._k(battle_id, "cmds"),
                    self._k(battle_id, "cmdq"),
                    self._k(battle_id, "chat"),
                ],
                args=[battle_id, f"{self._prefix}:code:"],
            )
        return bool(removed)

    # -- the log ----------------------------------------------------------------------------------

    async def append(
        self,
        battle_id: str,
        expected_seq: int,
        events: Sequence[EventDict],
        guard: ClaimGuard | None = None,
        key: str | None = None,
    ) -> int:
        """Append atomically iff the key is new, the log ends at `expected_seq` and the guard's
        claims hold (one Lua script), and Redis runs it before this call's deadline; return the
        last seq."""
        check_seqs(battle_id, expected_seq, events)
        payloads = [encode_event(e) for e in events]
        token = uuid.uuid4().hex
        fields: list[str] = []
        if guard is not None:
            fields = [self._claim_field(guard.ship_id, s) for s in guard.stations]
        with unavailable_as_store_error():
            ok, seq, *lost = await self._append_script(
                keys=[
                    self._k(battle_id, "meta"),
                    self._k(battle_id, "events"),
                    self._index_key,
                    self._k(battle_id, "claims"),
                    self._notify_key,
                    self._k(battle_id, "cmds"),
                    self._k(battle_id, "cmdq"),
                ],
                args=[
                    battle_id,
                    expected_seq,
                    time.time(),
                    token,
                    guard.token_hash if guard is not None else "",
                    key or "",
                    self._dedupe_window,
                    int((time.time() + self._command_timeout_s) * 1000),
                    len(fields),
                    *fields,
                    *payloads,
                ],
            )
        if ok == -1:
            raise BattleNotFound(battle_id)
        if ok == 4:
            raise AlreadyApplied(battle_id, int(seq), int(lost[0]))
        if ok == 3:
            raise StoreUnavailable("redis ran the append after its deadline; nothing was written")
        if ok == 0:
            raise SeqConflict(battle_id, expected_seq, int(seq))
        if ok == 2:
            assert guard is not None
            stations = [bytes(f).decode().partition("\x1f")[2] for f in lost]
            raise ClaimLost(battle_id, guard.ship_id, stations)
        feed = self._feeds.get(battle_id)
        if feed is not None and feed.cursor == expected_seq and events:
            # Our own append continues what this instance's subscribers hold: hand it over now
            # and move the cursor, so the reader neither waits for nor re-decodes our own write.
            batch = list(events)
            feed.cursor = int(seq)
            for queue in feed.queues:
                queue.put_nowait(batch)
        return int(seq)

    async def applied(self, battle_id: str, key: str) -> tuple[int, int] | None:
        """The seqs a keyed append wrote, while the battle's window remembers it."""
        with unavailable_as_store_error():
            raw = await cast(
                "Awaitable[bytes | None]", self._redis.hget(self._k(battle_id, "cmds"), key)
            )
        if raw is None:
            return None
        first, _, last = bytes(raw).decode().partition(":")
        return int(first), int(last)

    async def read(
        self, battle_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[EventDict]:
        """Events with seq > `after_seq`: one `XRANGE` from stream id `<after_seq + 1>-0`."""
        with unavailable_as_store_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(self._k(battle_id, "meta"))
            pipe.xrange(self._k(battle_id, "events"), min=f"{after_seq + 1}-0", count=limit)
            exists, entries = await pipe.execute()
        if not exists:
            raise BattleNotFound(battle_id)
        return await _off_loop(decode_entries, entries)

    async def last_seq(self, battle_id: str) -> int:
        """The append guard's value: the seq of the last event."""
        with unavailable_as_store_error():
            raw = await cast(
                "Awaitable[bytes | None]", self._redis.hget(self._k(battle_id, "meta"), "seq")
            )
        if raw is None:
            raise BattleNotFound(battle_id)
        return int(raw)

    # -- snapshots --------------------------------------------------------------------------------

    async def save_snapshot(self, battle_id: str, snapshot: Snapshot) -> None:
        """Keep the newest snapshot only (its schema version is the codec's to check)."""
        state = await asyncio.to_thread(encode_snapshot_state, snapshot.state)
        with unavailable_as_store_error():
            saved = await self._snapshot_script(
                keys=[self._k(battle_id, "meta"), self._k(battle_id, "snap")],
                args=[snapshot.seq, snapshot.state.get("v", 0), state],
            )
        if saved == -1:
            raise BattleNotFound(battle_id)

    async def load_snapshot(self, battle_id: str) -> Snapshot | None:
        """The latest snapshot, or None when absent.

        A snapshot is a cache: after a rolling upgrade the server's codec (`state_from_dict`)
        refuses a state of another schema version and the server replays the events instead.
        """
        with unavailable_as_store_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(self._k(battle_id, "meta"))
            pipe.hmget(self._k(battle_id, "snap"), ["seq", "state"])
            exists, (seq, state) = await pipe.execute()
        if not exists:
            raise BattleNotFound(battle_id)
        if seq is None or state is None:
            return None
        return Snapshot(seq=int(seq), state=await asyncio.to_thread(jsonstream.loads, state))

    # -- idle expiry ------------------------------------------------------------------------------

    async def touch(self, battle_id: str) -> None:
        """Bump the battle's last-use score (only if it is still indexed)."""
        with unavailable_as_store_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(self._k(battle_id, "meta"))
            pipe.zadd(self._index_key, {battle_id: time.time()}, xx=True)
            exists, _ = await pipe.execute()
        if not exists:
            raise BattleNotFound(battle_id)

    async def expire_idle(self, max_idle_s: float) -> list[str]:
        """Delete battles idle for `max_idle_s`; with several instances each id is reported once."""
        cutoff = time.time() - max_idle_s
        with unavailable_as_store_error():
            ids = await self._redis.zrangebyscore(self._index_key, "-inf", cutoff)
        expired: list[str] = []
        for raw_id in ids:
            battle_id = bytes(raw_id).decode()
            if await self._delete(battle_id):
                expired.append(battle_id)
            self._end_feed(battle_id)
        return expired

    # -- health -----------------------------------------------------------------------------------

    async def ping(self) -> None:
        """PING (drives `/ready`); raises `StoreUnavailable` when Redis cannot answer."""
        if self._closed:
            raise StoreUnavailable("the redis store is closed")
        with unavailable_as_store_error():
            await self._redis.ping()

    async def close(self) -> None:
        """Stop the reader, end every subscription and close both connection pools."""
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        for battle_id in list(self._feeds):
            self._end_feed(battle_id)
        # Our peers leave presence now, not when the liveness key expires (best effort).
        with contextlib.suppress(Exception):
            await self._redis.delete(self._instance_key(self.instance_id))
        await self._reader_redis.aclose()
        await self._redis.aclose()
