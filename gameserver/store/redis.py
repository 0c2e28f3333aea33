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
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from gameserver import jsonstream
from gameserver.store.base import (
    BAN_ID_LENGTH,
    CHAT_KEEP,
    AlreadyApplied,
    BattleExists,
    BattleMeta,
    BattleNotFound,
    ChatEntry,
    Claim,
    ClaimGuard,
    ClaimLost,
    EventDict,
    Notice,
    PeerInfo,
    SeatRefusal,
    SeatRefused,
    SeqConflict,
    Snapshot,
    StoreUnavailable,
    Table,
    TableRules,
    ban_entry,
    check_seqs,
    parse_bans,
)
from gameserver.store.redis_wire import (
    NOTIFY_READ_COUNT,
    SCRIPTS,
    UnreadableEntry,
    decode_entries,
    encode_event,
    entry_seq,
    is_unavailable,
    stream_id,
    unavailable_as_store_error,
)

log = logging.getLogger(__name__)

_FeedItem = list[EventDict] | Exception | None
"""What the reader hands a subscriber: a batch, an error to raise (e.g. an unreadable event
version), or None when the battle is gone."""


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


@dataclass(eq=False)
class _Feed:
    """One subscribed battle in the reader: its stream cursors and this instance's listeners."""

    battle_id: str
    cursor: int
    ctl_cursor: str = "0-0"
    queues: set[asyncio.Queue[_FeedItem]] = field(default_factory=set)
    listeners: list[Callable[[Notice], None]] = field(default_factory=list)
    events_due: bool = True
    """The events stream may hold entries after `cursor`: the reader reads it (a new feed, a
    notification from the notify stream, the periodic check, a reconnect)."""
    ctl_due: bool = True
    """Likewise for the control stream after `ctl_cursor`."""


@dataclass
class _ReaderCursors:
    """Where the reader is in its wake and notify streams (None: position at the notify stream's
    end, then catch every feed up) and when it last ran the periodic check."""

    wake_id: bytes | str = "0-0"
    notify_id: str | None = None
    last_check: float = field(default_factory=time.monotonic)


class RedisBattleStore:
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
        self._feeds: dict[str, _Feed] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self.reader_connected = asyncio.Event()
        """Set while the reader's connection works (tests and /ready diagnostics watch it)."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisBattleStore:
        """The constructor `create_store` uses when `REDIS_URL` is set (no I/O until first use)."""
        return cls(url, **options)

    # -- keys -----------------------------------------------------------------------------------

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

    # -- subscriptions ----------------------------------------------------------------------------

    async def subscribe(
        self,
        battle_id: str,
        after_seq: int,
        on_notice: Callable[[Notice], None] | None = None,
    ) -> AsyncIterator[list[EventDict]]:
        """Yield the backlog after `after_seq`, then every batch appended by any instance.

        `on_notice` gets every notice other instances publish for the battle from now on (the
        reader also follows the battle's control stream, from its last entry at this call).

        The backlog is one `XRANGE` (it also raises `BattleNotFound`); then this subscriber joins
        the shared reader's feed for the battle. A batch that does not start right after the last
        seq yielded (the feed was ahead of us) is filled from the stream, and seqs already yielded
        are dropped, so the consumer sees each seq exactly once, in order. During a Redis outage
        the iterator just waits: the reader reconnects with backoff and resumes from its cursor.
        """
        if self._closed:
            return
        with unavailable_as_store_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.exists(self._k(battle_id, "meta"))
            pipe.xrange(self._k(battle_id, "events"), min=f"{after_seq + 1}-0")
            pipe.xrevrange(self._k(battle_id, "ctl"), count=1)
            exists, entries, ctl_last = await pipe.execute()
        if not exists:
            raise BattleNotFound(battle_id)
        backlog = decode_entries(entries)
        last = backlog[-1]["seq"] if backlog else after_seq
        queue: asyncio.Queue[_FeedItem] = asyncio.Queue()
        feed = self._feeds.get(battle_id)
        new_feed = feed is None
        if feed is None:
            ctl_cursor = bytes(ctl_last[0][0]).decode() if ctl_last else "0-0"
            feed = self._feeds[battle_id] = _Feed(battle_id, last, ctl_cursor)
        feed.queues.add(queue)
        if on_notice is not None:
            feed.listeners.append(on_notice)
        try:
            self._ensure_reader()
            if new_feed:
                await self._wake()
            if backlog:
                yield backlog
            while True:
                batch = await queue.get()
                if batch is None:  # battle deleted/expired, or the store closed
                    return
                if isinstance(batch, Exception):
                    raise batch
                fresh = [e for e in batch if e["seq"] > last]
                if not fresh:
                    continue
                if fresh[0]["seq"] != last + 1:  # a gap: fill it from the stream, never skip
                    filled = await self._read_for_subscriber(battle_id, last)
                    if filled is None:
                        return
                    fresh = filled
                if fresh:
                    last = fresh[-1]["seq"]
                    yield fresh
        finally:
            feed.queues.discard(queue)
            if on_notice is not None:
                with contextlib.suppress(ValueError):
                    feed.listeners.remove(on_notice)
            if not feed.queues and self._feeds.get(battle_id) is feed:
                del self._feeds[battle_id]

    async def _read_for_subscriber(self, battle_id: str, after_seq: int) -> list[EventDict] | None:
        """`read` that outlasts an outage; None if the battle is gone (or the store closed)."""
        if self._closed:
            return None
        try:
            async for attempt in self._backoff(
                retry=retry_if_exception_type(StoreUnavailable), stop=lambda _: self._closed
            ):
                with attempt:
                    return await self.read(battle_id, after_seq)
        except (BattleNotFound, StoreUnavailable):
            pass
        return None

    def _backoff(self, **options: Any) -> AsyncRetrying:
        """Retry forever with exponential backoff and full jitter, capped at `max_backoff_s`
        (the first wait is up to 50 ms, then the ceiling doubles)."""
        return AsyncRetrying(
            wait=wait_random_exponential(multiplier=0.05, max=self._max_backoff_s),
            reraise=True,
            **options,
        )

    def _end_feed(self, battle_id: str, error: Exception | None = None) -> None:
        feed = self._feeds.pop(battle_id, None)
        if feed is not None:
            for queue in feed.queues:
                queue.put_nowait(error)

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_loop(), name="redis-store-reader")

    async def _wake(self) -> None:
        """Interrupt the reader's XREAD so it includes a new battle now, not after `block_ms`."""
        try:
            await self._redis.xadd(self._wake_key, {"w": "1"}, maxlen=8, approximate=True)
            await self._redis.expire(self._wake_key, 3600)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            pass  # the reader is down anyway; it rebuilds its stream list when it reconnects

    async def _read_loop(self) -> None:
        """Follow the notify stream (one key) and read only the battles that moved past a cursor.

        Every append, notice and presence change also adds a tiny entry (battle id, new seq or
        publishing instance) to `<prefix>:notify`. The reader blocks on that stream and its wake
        stream only; an entry for a battle this instance serves whose seq is past the feed's cursor
        (not our own append, which `append` already delivered) or a notice from another instance
        marks the feed due, and one pipelined `XRANGE` per due stream reads it from the cursor. So
        the stream cursors, not the notifications, decide what is delivered: a lost or trimmed
        notification only delays delivery until the periodic check (every `block_ms`) or the
        reconnect marks the feed due again, it never skips or repeats a seq.
        """
        cursors = _ReaderCursors()
        while not self._closed:
            if not self._feeds:
                await asyncio.sleep(0.05)
                continue
            # A fresh retry per step: a step that succeeds starts the next outage's backoff over.
            async for attempt in self._backoff(
                retry=retry_if_exception_type(Exception),
                before_sleep=lambda state: self._reader_failed(state, cursors),
            ):
                with attempt:
                    await self._read_step(cursors)

    def _reader_failed(self, state: RetryCallState, cursors: _ReaderCursors) -> None:
        """Log a reader failure once per outage; notifications may be lost: re-read every feed."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if exc is None or not is_unavailable(exc):
            log.error("redis reader failed", exc_info=exc)
        elif self.reader_connected.is_set():
            log.warning("redis reader lost its connection: %s", exc)
        self.reader_connected.clear()
        cursors.notify_id = None

    async def _read_step(self, cursors: _ReaderCursors) -> None:
        """One round: read the due feeds, block on the notify stream, mark the feeds it names."""
        if cursors.notify_id is None:
            # Position first, then read every feed from its cursor: whatever lands after
            # this id is in the XREAD below, whatever came before is in the catch-up.
            newest = await self._reader_redis.xrevrange(self._notify_key, count=1)
            cursors.notify_id = bytes(newest[0][0]).decode() if newest else "0-0"
            for feed in self._feeds.values():
                feed.events_due = feed.ctl_due = True
        await self._read_due_feeds()
        reply = await self._reader_redis.xread(
            {self._wake_key: cursors.wake_id, self._notify_key: cursors.notify_id},
            block=self._block_ms,
            count=NOTIFY_READ_COUNT,
        )
        if not self.reader_connected.is_set():
            log.info("redis reader connected")
        self.reader_connected.set()
        if time.monotonic() - cursors.last_check > self._block_ms / 1000:
            cursors.last_check = time.monotonic()
            await self._check_feeds(list(self._feeds.values()))
        for key, entries in reply or []:
            if not entries:
                continue
            if key == self._wake_key.encode():
                cursors.wake_id = entries[-1][0]
                continue
            cursors.notify_id = bytes(entries[-1][0]).decode()
            for _, fields in entries:
                moved = self._feeds.get(fields.get(b"b", b"").decode())
                if moved is None:
                    continue
                seq = fields.get(b"s")
                if seq is not None:
                    if int(seq) > moved.cursor:
                        moved.events_due = True
                elif fields.get(b"o", b"").decode() != self.instance_id:
                    moved.ctl_due = True

    async def _read_due_feeds(self) -> None:
        """One pipelined round trip: each due feed's events after its cursor and notices after its
        control cursor; then hand them to the subscribers and listeners."""
        due = [f for f in self._feeds.values() if f.events_due or f.ctl_due]
        if not due:
            return
        pipe = self._reader_redis.pipeline(transaction=False)
        plan: list[tuple[_Feed, bool]] = []  # (feed, True = events / False = ctl) per command
        for feed in due:
            if feed.events_due:
                pipe.xrange(self._k(feed.battle_id, "events"), min=f"{feed.cursor + 1}-0")
                plan.append((feed, True))
            if feed.ctl_due:
                pipe.xrange(self._k(feed.battle_id, "ctl"), min=f"({feed.ctl_cursor}")
                plan.append((feed, False))
            feed.events_due = feed.ctl_due = False  # an error re-marks every feed (reconnect)
        replies = await pipe.execute()
        for (feed, is_events), entries in zip(plan, replies, strict=True):
            if not entries or self._feeds.get(feed.battle_id) is not feed:
                continue  # nothing new, or unsubscribed while we waited
            if not is_events:
                self._deliver_notices(feed, entries)
                continue
            # Skip what a local append already delivered while this read was in flight.
            entries = [e for e in entries if entry_seq(e[0]) > feed.cursor]
            if not entries:
                continue
            try:
                batch = decode_entries(entries)
            except UnreadableEntry as exc:
                # Refuse, never misread: the subscribers get the error, the reader goes on.
                log.error("battle %s: unreadable event: %s", feed.battle_id, exc)
                self._end_feed(feed.battle_id, exc)
                continue
            feed.cursor = batch[-1]["seq"]
            for queue in feed.queues:
                queue.put_nowait(batch)

    def _deliver_notices(
        self, feed: _Feed, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]
    ) -> None:
        """Hand other instances' notices to the battle's listeners; skip our own."""
        if self._feeds.get(feed.battle_id) is not feed:
            return  # unsubscribed while we waited
        feed.ctl_cursor = bytes(entries[-1][0]).decode()
        for entry_id, fields in entries:
            if fields.get(b"o", b"").decode() == self.instance_id:
                continue
            try:
                notice = Notice.model_validate_json(fields[b"n"])
            except (KeyError, ValueError):
                log.warning("battle %s: unreadable notice %r", feed.battle_id, entry_id)
                continue
            for listener in list(feed.listeners):
                try:
                    listener(notice)
                except Exception:
                    log.exception("battle %s: notice listener failed", feed.battle_id)

    async def _check_feeds(self, feeds: list[_Feed]) -> None:
        """The periodic check (every `block_ms`): another instance may delete or expire a battle,
        so end our subscriptions to it; a battle whose log or control stream is past our cursor (a
        notification lost or trimmed away) is marked due. Also renews this instance's liveness
        key (its peers count in presence while it is set)."""
        pipe = self._redis.pipeline(transaction=False)
        for feed in feeds:
            pipe.hget(self._k(feed.battle_id, "meta"), "seq")
            pipe.xrevrange(self._k(feed.battle_id, "ctl"), count=1)
        pipe.set(self._instance_key(self.instance_id), "1", px=self._instance_ttl_ms)
        replies = await pipe.execute()
        for i, feed in enumerate(feeds):
            seq, ctl_last = replies[2 * i], replies[2 * i + 1]
            if seq is None:
                self._end_feed(feed.battle_id)
                continue
            if int(seq) > feed.cursor:
                feed.events_due = True
            if ctl_last and stream_id(ctl_last[0][0]) > stream_id(feed.ctl_cursor):
                feed.ctl_due = True
