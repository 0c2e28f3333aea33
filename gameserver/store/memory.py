"""The in-memory `BattleStore`: the default, for one server process (`make run`).

Everything lives in a dict of battles; appends are checked against the expected seq exactly like a
shared store would, so the server code path is the same with Redis. Nothing survives a restart —
export the log (GET /api/battles/{id}/log) to keep a battle.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import orjson

from gameserver.store.base import (
    BAN_ID_LENGTH,
    CHAT_KEEP,
    AlreadyApplied,
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
    StoreUnavailable,
    Table,
    TableRules,
    ban_entry,
    check_seqs,
    parse_bans,
)

ARCHIVE_AFTER_S = 60.0
"""A battle nobody has touched (no append, no connected peer, no subscription) for this long is
archived: its log kept as compressed JSON until it is read or appended to again."""

ARCHIVE_LEVEL = 6
"""zlib level of the archives: with the preset dictionary, level 6 makes a short battle's log
half the size level 1 does, for ~0.4 ms per battle."""
ZDICT_BYTES = 32 * 1024
"""zlib's largest preset dictionary: the end of the longest log archived until one fills it."""
ARCHIVES_PER_YIELD = 50
"""The expiry run lets the loop run between groups of this many archives (~20 ms of work)."""


_NO_TABLE_RULES = TableRules()
"""Every battle's table rules until its GM sets some (frozen, so one instance serves all)."""


@dataclass(slots=True)
class _Battle:
    meta: BattleMeta
    _events: list[EventDict] | None
    touched: float
    snapshot: Snapshot | None = None
    claims: dict[tuple[str, str], Claim] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    """Issued resume-token hashes: `ok`, or `ban_entry(name)` once the GM revoked one."""
    rules: TableRules = _NO_TABLE_RULES
    keys: OrderedDict[str, tuple[int, int]] | None = None
    """The last keyed appends (command key -> first and last seq), oldest first; None until
    the first (a finished battle keeps ~4 KB in all: what is not needed is not allocated)."""
    subscribers: set[asyncio.Queue[list[EventDict] | None]] | None = None
    """The open subscriptions; None while there is none."""
    archive: bytes | None = None
    zdict: bytes = b""
    """The preset dictionary `archive` was compressed with (the store's, see `archive_log`)."""
    chat: list[ChatEntry] = field(default_factory=list)
    chat_seq: int = 0

    @property
    def events(self) -> list[EventDict]:
        """The log, restored from the archive on first use (it is archived again when idle)."""
        events = self._events
        if events is None:
            inflate = zlib.decompressobj(zdict=self.zdict)
            raw = inflate.decompress(self.archive or b"") + inflate.flush()
            events = self._events = orjson.loads(raw)
            self.archive = None
        return events

    def archive_log(self, raw: bytes, zdict: bytes) -> None:
        """Keep the log (`raw`: its JSON) compressed: a finished battle's log of dicts (~0.3 MB
        in Python objects for a short battle) shrinks ~100 times and stays downloadable. `zdict`
        is a preset dictionary (another battle's log): logs share most of their text (event
        types, field names, ship and station ids), so a short battle's archive is ~1.8 KB
        instead of the ~6 KB zlib makes of it alone."""
        deflate = zlib.compressobj(ARCHIVE_LEVEL, zdict=zdict)
        self.archive = deflate.compress(raw) + deflate.flush()
        self.zdict = zdict
        self._events = None


class MemoryBattleStore:
    """A `BattleStore` in process memory; event dicts are shared, callers must not mutate them."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        dedupe_window: int = 1000,
        archive_after_s: float = ARCHIVE_AFTER_S,
    ) -> None:
        self._dedupe_window = dedupe_window
        self.archive_after_s = archive_after_s
        self._battles: dict[str, _Battle] = {}
        self._codes: dict[str, str] = {}
        self._clock = clock
        self._closed = False
        self._zdict = b""
        """The archives' preset dictionary, the end of a log archived before (archives live only
        in this process, so it never has to be the same in another)."""

    def _get(self, battle_id: str) -> _Battle:
        try:
            return self._battles[battle_id]
        except KeyError:
            raise BattleNotFound(battle_id) from None

    async def create(self, meta: BattleMeta, events: Sequence[EventDict]) -> None:
        """Store a new battle; its join code must be free too."""
        code = meta.join_code.upper()
        if meta.battle_id in self._battles or code in self._codes:
            raise BattleExists(f"battle id or join code taken: {meta.battle_id}/{code}")
        check_seqs(meta.battle_id, 0, events)
        self._battles[meta.battle_id] = _Battle(meta, list(events), self._clock())
        self._codes[code] = meta.battle_id

    async def get_meta(self, battle_id: str) -> BattleMeta:
        """Return the battle's metadata."""
        return self._get(battle_id).meta

    async def find_by_join_code(self, join_code: str) -> str | None:
        """Map a join code (any case) to its battle id."""
        return self._codes.get(join_code.strip().upper())

    async def list_battles(self) -> list[BattleMeta]:
        """Return every battle's metadata."""
        return [b.meta for b in self._battles.values()]

    async def delete(self, battle_id: str) -> None:
        """Forget a battle and end its subscriptions."""
        battle = self._battles.pop(battle_id, None)
        if battle is None:
            return
        self._codes.pop(battle.meta.join_code.upper(), None)
        for queue in battle.subscribers or ():
            queue.put_nowait(None)

    async def append(
        self,
        battle_id: str,
        expected_seq: int,
        events: Sequence[EventDict],
        guard: ClaimGuard | None = None,
        key: str | None = None,
    ) -> int:
        """Append if the key is new, the log ends at `expected_seq` and the guard's claims hold;
        notify."""
        battle = self._get(battle_id)
        if key is not None and battle.keys and (done := battle.keys.get(key)) is not None:
            raise AlreadyApplied(battle_id, *done)
        actual = len(battle.events)
        if actual != expected_seq:
            raise SeqConflict(battle_id, expected_seq, actual)
        check_seqs(battle_id, expected_seq, events)
        if guard is not None:
            lost = [
                station
                for station in guard.stations
                if (held := battle.claims.get((guard.ship_id, station))) is None
                or held.token_hash != guard.token_hash
            ]
            if lost:
                raise ClaimLost(battle_id, guard.ship_id, lost)
        batch = list(events)
        battle.events.extend(batch)
        battle.touched = self._clock()
        if key is not None and batch:
            keys = battle.keys
            if keys is None:
                keys = battle.keys = OrderedDict()
            keys[key] = (expected_seq + 1, len(battle.events))
            while len(keys) > self._dedupe_window:
                keys.popitem(last=False)
        for queue in battle.subscribers or ():
            queue.put_nowait(batch)
        return len(battle.events)

    async def applied(self, battle_id: str, key: str) -> tuple[int, int] | None:
        """The seqs a keyed append wrote, while the window remembers it."""
        keys = self._get(battle_id).keys
        return None if keys is None else keys.get(key)

    async def read(
        self, battle_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[EventDict]:
        """Return events after `after_seq` (seq n sits at index n - 1)."""
        events = self._get(battle_id).events
        start = max(0, after_seq)
        return events[start:] if limit is None else events[start : start + limit]

    async def last_seq(self, battle_id: str) -> int:
        """Return the last seq."""
        return len(self._get(battle_id).events)

    async def subscribe(
        self,
        battle_id: str,
        after_seq: int,
        on_notice: Callable[[Notice], None] | None = None,
    ) -> AsyncIterator[list[EventDict]]:
        """Yield the backlog after `after_seq`, then each appended batch, until deletion.

        One process has no other instance, so `on_notice` is never called.
        """
        battle = self._get(battle_id)
        queue: asyncio.Queue[list[EventDict] | None] = asyncio.Queue()
        if battle.subscribers is None:
            battle.subscribers = set()
        battle.subscribers.add(queue)
        try:
            backlog = battle.events[max(0, after_seq) :]
            if backlog:
                yield backlog
            while (batch := await queue.get()) is not None:
                yield batch
        finally:
            if battle.subscribers is not None:
                battle.subscribers.discard(queue)
                if not battle.subscribers:
                    battle.subscribers = None

    async def save_snapshot(self, battle_id: str, snapshot: Snapshot) -> None:
        """Keep the newest snapshot only."""
        battle = self._get(battle_id)
        if battle.snapshot is None or snapshot.seq >= battle.snapshot.seq:
            battle.snapshot = snapshot

    async def load_snapshot(self, battle_id: str) -> Snapshot | None:
        """Return the newest snapshot."""
        return self._get(battle_id).snapshot

    async def claim(
        self, battle_id: str, claim: Claim, *, new_token: bool = False, max_stations: int = 0
    ) -> Claim:
        """Take the station if free or already ours and the table's rules allow; return the
        holder (the same checks, in the same order, as the Redis store's `claim.lua`)."""
        battle = self._get(battle_id)
        token = claim.token_hash
        status = battle.tokens.get(token)
        if status is not None and status != "ok":
            raise SeatRefused("banned")
        key = (claim.ship_id, claim.station)
        holder = battle.claims.get(key)
        if holder is not None and holder.token_hash != token:
            return holder
        if holder is None:
            mine = sum(1 for c in battle.claims.values() if c.token_hash == token)
            if status is None and mine == 0:
                if not new_token:
                    raise SeatRefused("unknown_token")
                if battle.rules.locked:
                    raise SeatRefused("table_locked")
            cap = battle.rules.max_stations or max_stations
            if cap and mine >= cap:
                raise SeatRefused("station_cap", cap)
        battle.claims[key] = claim
        battle.tokens.setdefault(token, "ok")
        return claim

    async def release(self, battle_id: str, ship_id: str, station: str) -> Claim | None:
        """Free the station; return the claim freed."""
        return self._get(battle_id).claims.pop((ship_id, station), None)

    async def revoke(self, battle_id: str, token_hash: str, name: str = "") -> list[Claim]:
        """Ban the token and free its stations."""
        battle = self._get(battle_id)
        battle.tokens[token_hash] = ban_entry(name)
        freed = [c for c in battle.claims.values() if c.token_hash == token_hash]
        for c in freed:
            del battle.claims[(c.ship_id, c.station)]
        return freed

    async def lift_ban(self, battle_id: str, ban_id: str) -> bool:
        """Make a banned token valid again."""
        battle = self._get(battle_id)
        if len(ban_id) != BAN_ID_LENGTH:
            return False
        for token, status in battle.tokens.items():
            if token.startswith(ban_id) and status != "ok":
                battle.tokens[token] = "ok"
                return True
        return False

    async def table(self, battle_id: str) -> Table:
        """The table rules and the bans."""
        battle = self._get(battle_id)
        return Table(rules=battle.rules, bans=parse_bans(battle.tokens))

    async def set_table(self, battle_id: str, rules: TableRules) -> None:
        """Replace the table rules."""
        self._get(battle_id).rules = rules

    async def claims(self, battle_id: str) -> list[Claim]:
        """Return the held stations."""
        return list(self._get(battle_id).claims.values())

    async def append_chat(
        self, battle_id: str, entry: ChatEntry, keep: int = CHAT_KEEP
    ) -> ChatEntry:
        """Add a chat line with the battle's next id; keep the last `keep`."""
        battle = self._get(battle_id)
        battle.chat_seq += 1
        stored = entry.model_copy(update={"id": battle.chat_seq})
        battle.chat.append(stored)
        del battle.chat[: max(0, len(battle.chat) - keep)]
        return stored

    async def chat(self, battle_id: str) -> list[ChatEntry]:
        """The kept chat lines, oldest first."""
        return list(self._get(battle_id).chat)

    async def notify(self, battle_id: str, notice: Notice) -> None:
        """No other instance to tell."""
        self._get(battle_id)

    async def set_peers(self, battle_id: str, peers: Sequence[PeerInfo]) -> None:
        """No other instance reads them: the hub lists its own peers itself."""
        self._get(battle_id)

    async def remote_peers(self, battle_id: str) -> list[PeerInfo]:
        """No other instance: nobody is connected elsewhere."""
        self._get(battle_id)
        return []

    async def touch(self, battle_id: str) -> None:
        """Reset the battle's idle clock."""
        self._get(battle_id).touched = self._clock()

    async def expire_idle(self, max_idle_s: float) -> list[str]:
        """Delete battles idle for longer than `max_idle_s`; archive those idle for
        `ARCHIVE_AFTER_S` that nobody follows (memory stays flat as battles are played)."""
        now = self._clock()
        cutoff = now - max_idle_s
        expired = [bid for bid, b in self._battles.items() if b.touched < cutoff]
        for battle_id in expired:
            await self.delete(battle_id)
        quiet = now - min(self.archive_after_s, max_idle_s)
        due = [
            b
            for b in self._battles.values()
            if b.touched < quiet and not b.subscribers and b.archive is None
        ]
        for n, battle in enumerate(due, 1):
            if battle.touched >= quiet or battle.subscribers:
                continue  # used again while the loop ran between groups
            if battle._events is None:
                continue
            raw = orjson.dumps(battle._events)
            if len(self._zdict) < ZDICT_BYTES and len(raw) > len(self._zdict):
                # A longer log makes a better dictionary (a battle opened and never played
                # would make a poor one); each archive keeps the one it was made with.
                self._zdict = raw[-ZDICT_BYTES:]
            battle.archive_log(raw, self._zdict)
            if n % ARCHIVES_PER_YIELD == 0:
                await asyncio.sleep(0)
        return expired

    async def ping(self) -> None:
        """Always ready while open."""
        if self._closed:
            raise StoreUnavailable("the memory store is closed")

    async def close(self) -> None:
        """End all subscriptions."""
        self._closed = True
        for battle_id in list(self._battles):
            for queue in self._battles[battle_id].subscribers or ():
                queue.put_nowait(None)


def _conforms(store: MemoryBattleStore) -> BattleStore:
    """Let mypy prove the memory store implements the protocol."""
    return store
