"""Fan-out of a battle's events and notices across instances: one reader task per store.

A part of `RedisBattleStore` (gameserver/store/redis.py); see its module docstring ("Fan-out").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
    TimeoutError as RedisTimeoutError,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from gameserver.store.base import (
    BattleNotFound,
    EventDict,
    Notice,
    StoreUnavailable,
)
from gameserver.store.redis_keys import RedisKeys
from gameserver.store.redis_wire import (
    NOTIFY_READ_COUNT,
    UnreadableEntry,
    decode_entries,
    entry_seq,
    is_unavailable,
    stream_id,
    unavailable_as_store_error,
)

log = logging.getLogger("gameserver.store.redis")

FeedItem = list[EventDict] | Exception | None
"""What the reader hands a subscriber: a batch, an error to raise (e.g. an unreadable event
version), or None when the battle is gone."""


@dataclass(eq=False)
class Feed:
    """One subscribed battle in the reader: its stream cursors and this instance's listeners."""

    battle_id: str
    cursor: int
    ctl_cursor: str = "0-0"
    queues: set[asyncio.Queue[FeedItem]] = field(default_factory=set)
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


class RedisFanout(RedisKeys):
    """The subscription and reader methods of `RedisBattleStore` (set up by its `__init__`)."""

    _redis: aioredis.Redis
    _reader_redis: aioredis.Redis
    _block_ms: int
    _max_backoff_s: float
    _wake_key: str
    _instance_ttl_ms: int
    _feeds: dict[str, Feed]
    _reader: asyncio.Task[None] | None
    _closed: bool
    instance_id: str
    reader_connected: asyncio.Event
    read: Callable[[str, int], Awaitable[list[EventDict]]]

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
        queue: asyncio.Queue[FeedItem] = asyncio.Queue()
        feed = self._feeds.get(battle_id)
        new_feed = feed is None
        if feed is None:
            ctl_cursor = bytes(ctl_last[0][0]).decode() if ctl_last else "0-0"
            feed = self._feeds[battle_id] = Feed(battle_id, last, ctl_cursor)
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
        plan: list[tuple[Feed, bool]] = []  # (feed, True = events / False = ctl) per command
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
        self, feed: Feed, entries: Sequence[tuple[bytes, dict[bytes, bytes]]]
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

    async def _check_feeds(self, feeds: list[Feed]) -> None:
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
