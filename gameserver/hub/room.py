"""One loaded battle on this instance: the folded state, its fan-out and its commit path.

Events reach a room from two sides: this instance's own appends and the store's subscription
(appends by other instances sharing the store). Both go through `BattleRoom.ingest`, which drops
seqs it already holds and fills gaps from the store, so each client sees every event once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from gameserver import rules
from gameserver.hub.autopass import AutoPasser
from gameserver.hub.bots import BotDriver
from gameserver.hub.connection import Connection, TokenBucket
from gameserver.hub.errors import HubError
from gameserver.hub.presence import peer_publisher, presence_broadcaster
from gameserver.hub.turn_timer import TurnTimer
from gameserver.logs import get_logger
from gameserver.protocol import (
    ErrorCode,
    PublicView,
    Role,
    SnapshotMessage,
    event_frame,
    event_json,
    legal_frame,
    view_json,
)
from gameserver.rules.state import pinned_undo_chain
from gameserver.store import (
    BattleMeta,
    BattleNotFound,
    ClaimGuard,
    EventDict,
    Notice,
    SeqConflict,
    Snapshot,
    StoreUnavailable,
    TableRules,
)

if TYPE_CHECKING:
    from gameserver.hub.hub import Hub

log = get_logger("hub")


_OUTAGE_FIRST_S: Final = 0.05
_OUTAGE_MAX_S: Final = 2.0


async def _stopped() -> bool:
    """The action of an unloaded room's publisher and broadcaster: nothing, and stop."""
    return False


def awaiting_list(state: rules.BattleState) -> list[tuple[str, str]]:
    """Who may act now, as (ship, station) pairs (the frames' `awaiting`)."""
    return [(ship, station) for ship, station in rules.awaiting(state)]


class BattleRoom:
    """One loaded battle on this instance: the folded state, the lock, the peers, the bot driver."""

    def __init__(
        self,
        hub: Hub,
        meta: BattleMeta,
        state: rules.BattleState,
        tail: Iterable[EventDict],
    ) -> None:
        self.hub = hub
        self.meta = meta
        self.battle_id = meta.battle_id
        self.state = state
        self.lock = asyncio.Lock()
        self.peers: dict[str, Connection] = {}
        # The newest events as (seq, JSON): strings, nothing for the garbage collector to walk.
        self.tail: deque[tuple[int, str]] = deque(
            ((d["seq"], event_json(d)) for d in tail), maxlen=max(1, hub.settings.catch_up_limit)
        )
        self.snapshot_seq = state.seq
        self.last_used = time.monotonic()
        self.bot = BotDriver(self)
        self.autopass = AutoPasser(self)
        self.timer = TurnTimer(self)
        self.publisher = peer_publisher(self)
        self.presence = presence_broadcaster(self, hub.settings.presence_interval_s)
        self.join_bucket = TokenBucket(hub.settings.join_rate_per_s, hub.settings.join_burst)
        self._follow_task: asyncio.Task[None] | None = None
        # Legal lists of the current state per (ship, station), with their frame for the fan-out
        # (no client_id): they depend on the state only, so every holder of a station shares one.
        self._legal_state: rules.BattleState | None = None
        self._legal: dict[tuple[str, str], tuple[list[dict[str, Any]], str]] = {}
        # The public view of the current state and its JSON, built once per state for everyone.
        self._view_state: rules.BattleState | None = None
        self._view: tuple[dict[str, Any], str] = ({}, "null")
        # The GM's table rules as last read or set here (None: read the store). The auto-passer
        # and the timer ask after every batch; a `table` notice from another instance (or a
        # restarted subscription, which may have missed one) forgets them, and the generation
        # keeps a read begun before that from storing what it read.
        self._table_rules: TableRules | None = None
        self._table_generation = 0

    @property
    def seq(self) -> int:
        """The last seq folded into the cached state."""
        return int(self.state.seq)

    def start(self) -> None:
        """Follow the store's subscription and let the bot act if it is its turn."""
        self._follow_task = asyncio.create_task(self._follow(), name=f"follow:{self.battle_id}")
        self.kick_bot()

    async def stop(self) -> None:
        """Stop the background tasks of this room."""
        tasks = (self._follow_task, self.bot.task, self.autopass.task, self.timer.task)
        for task in (*tasks, self.publisher.task, self.presence.task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def unlink(self) -> None:
        """Break the cycles of an unloaded room (its bot, publisher and broadcaster point back at
        it), so reference counting frees it at once: the collector no longer walks objects older
        than a second (`gc.freeze` in the app), and a cycle would wait for the next full
        collection, minutes of finished battles. A stopped task keeps its `CancelledError`, whose
        traceback holds frames that point at the room: the tasks are dropped too."""
        self._follow_task = self.bot.task = self.publisher.task = self.presence.task = None
        self.autopass.task = self.timer.task = None
        del self.bot.room
        del self.autopass.room
        del self.timer.room
        self.publisher.action = _stopped
        self.presence.action = _stopped
        self.peers.clear()
        self._legal = {}
        self._legal_state = None

    # -- folding and fan-out ------------------------------------------------------------------

    def ingest(
        self,
        events: Sequence[rules.Event],
        dicts: Sequence[EventDict],
        folded: rules.BattleState | None = None,
    ) -> bool:
        """Fold new events into the cached state and fan them out; purely synchronous.

        `folded` is the state the events lead to when the caller has it (`decide` returns it):
        then nothing is folded twice. Returns False when the batch does not continue the log
        (a gap: the caller re-reads).
        """
        fresh = [(e, d) for e, d in zip(events, dicts, strict=True) if e.seq > self.seq]
        if not fresh:
            return True
        if fresh[0][0].seq != self.seq + 1:
            return False
        if folded is not None and len(fresh) == len(events):
            state = folded
        else:
            state = self.state
            for event, _ in fresh:
                state = rules.evolve(state, event)
        self.state = state
        self.last_used = time.monotonic()
        encoded = [(d["seq"], event_json(d)) for _, d in fresh]
        self.tail.extend(encoded)
        self._fan_out(encoded)
        if self.seq - self.snapshot_seq >= self.hub.settings.snapshot_every:
            self.snapshot_seq = self.seq
            self.hub.spawn(self._save_snapshot(), "snapshot")
        self.kick_bot()
        return True

    def view(self) -> tuple[dict[str, Any], str]:
        """`rules.public_view` of the current state and its JSON, computed once per state."""
        state = self.state
        if self._view_state is not state:
            view = rules.public_view(state)
            self._view = (view, view_json(view))
            self._view_state = state
        return self._view

    def _batch_frames(self, encoded: Sequence[tuple[int, str]]) -> list[str]:
        """Event frames; the last one also says who may act now and carries the public view."""
        *head, (last_seq, last_event) = encoded
        frames = [event_frame(self.battle_id, seq, event, None) for seq, event in head]
        awaiting = awaiting_list(self.state)
        frames.append(event_frame(self.battle_id, last_seq, last_event, awaiting, self.view()[1]))
        return frames

    def _fan_out(self, encoded: Sequence[tuple[int, str]]) -> None:
        frames = self._batch_frames(encoded)
        awaited = set(awaiting_list(self.state))
        for conn in list(self.peers.values()):
            for frame in frames:
                conn.send(frame)
            if conn.role is Role.PLAYER and awaited:
                for frame in self.legal_frames(conn, awaited, None):
                    conn.send(frame)

    def legal_frames(
        self, conn: Connection, only: set[tuple[str, str]] | None, client_id: str | None
    ) -> list[str]:
        """`legal` frames for the connection's held stations (only the awaited ones if `only`)."""
        if conn.ship_id is None:
            return []
        frames = []
        for station in conn.stations:
            if only is not None and (conn.ship_id, station) not in only:
                continue
            commands, frame = self.legal_for(conn.ship_id, station)
            if client_id is not None:
                frame = legal_frame(
                    self.battle_id, self.seq, conn.ship_id, station, commands, client_id
                )
            frames.append(frame)
        return frames

    def legal_for(self, ship_id: str, station: str) -> tuple[list[dict[str, Any]], str]:
        """`rules.legal_commands` of the current state and its `legal` frame without client_id,
        computed once per (state, ship, station): the state is immutable, a new one clears it."""
        state = self.state
        if self._legal_state is not state:
            self._legal_state = state
            self._legal = {}
        cached = self._legal.get((ship_id, station))
        if cached is None:
            commands = rules.legal_commands(state, ship_id, station)
            frame = legal_frame(self.battle_id, int(state.seq), ship_id, station, commands, None)
            cached = self._legal[(ship_id, station)] = (commands, frame)
        return cached

    def snapshot_frame(self, role: Role) -> str:
        """The public view at the current seq, plus the engine's full state for the GM (without
        the undo chain, which only the server uses)."""
        return SnapshotMessage(
            battle_id=self.battle_id,
            seq=self.seq,
            view=PublicView.model_validate(self.view()[0]),
            state=rules.state_to_dict(self.state, undo=False) if role is Role.GM else None,
            awaiting=awaiting_list(self.state),
            is_over=bool(self.state.is_over),
        ).model_dump_json()

    def catch_up_frames(self, last_seq: int | None) -> list[str] | None:
        """The events after `last_seq` from the in-memory tail; None means send a snapshot."""
        if last_seq is None or last_seq > self.seq:
            return None
        missing = self.seq - last_seq
        if missing == 0:
            return []
        if missing > len(self.tail):
            return None
        return self._batch_frames(list(self.tail)[-missing:])

    # -- committing events ----------------------------------------------------------------------

    async def commit(
        self,
        make_events: Callable[[rules.BattleState], rules.Decision | None],
        guard: ClaimGuard | None = None,
        key: str | None = None,
    ) -> list[rules.Event]:
        """Decide on the current state and append with the expected seq; retry on conflicts.

        Must be called with `self.lock` held. `make_events` raises `RuleViolation` to refuse.

        Raises:
            HubError: `conflict` after the configured retries.
            ClaimLost: the guard's stations are no longer the player's (nothing changed).
            AlreadyApplied: the command with this `key` was appended before (nothing changed).
            StoreUnavailable: the store is down or late (nothing changed).
        """
        for _ in range(self.hub.settings.append_retries):
            expected = self.seq
            decision = make_events(self.state)
            if decision is None or not decision.events:
                return []
            events = decision.events
            dicts = [e.to_dict() for e in events]
            try:
                await self.hub.store.append(self.battle_id, expected, dicts, guard, key)
            except SeqConflict:
                await self.resync()
                continue
            self.hub.metrics.events_appended.inc(len(events))
            if not self.ingest(events, dicts, decision.state):
                await self.resync()
            return events
        raise HubError(ErrorCode.CONFLICT, "the battle changed too often; send the command again")

    async def resync(self) -> None:
        """Read what other writers appended and fold it in (after a conflict or a gap)."""
        dicts = await self.hub.store.read(self.battle_id, self.seq)
        dicts = [d for d in dicts if d["seq"] > self.seq]
        if dicts:
            events, dicts = rules.decode_events(dicts)
            self.ingest(events, dicts)

    async def _follow(self) -> None:
        """Ingest batches appended by anyone (other instances included) until the battle ends.

        A store outage is retried with exponential backoff (50 ms doubling to 2 s), any other
        failure after a second; a deleted battle ends it. A plain loop, not a retry library's:
        a retry state records the cancellation that stops the room, in a cycle with its
        traceback that would keep every unloaded room until a full collection.
        """
        outages = 0
        while True:
            try:
                await self._ingest_subscription()
                return
            except BattleNotFound:
                return
            except StoreUnavailable:
                delay = min(_OUTAGE_MAX_S, _OUTAGE_FIRST_S * 2**outages)
                outages += 1
            except Exception:
                log.exception("follow_failed", battle_id=self.battle_id)
                delay = 1.0
            await asyncio.sleep(delay)

    async def _ingest_subscription(self) -> None:
        self.table_set(None)  # a notice may have gone by while not subscribed
        async for batch in self.hub.store.subscribe(self.battle_id, self.seq, self._on_notice):
            fresh = [d for d in batch if d["seq"] > self.seq]
            if not fresh:
                continue
            events, fresh = rules.decode_events(fresh)
            if not self.ingest(events, fresh):
                await self.resync()

    async def table_rules(self) -> TableRules:
        """The GM's table rules, from the store only when this room does not know them."""
        known = self._table_rules
        if known is not None:
            return known
        generation = self._table_generation
        read = (await self.hub.store.table(self.battle_id)).rules
        if generation == self._table_generation:
            self._table_rules = read
        return read

    def table_set(self, rules_: TableRules | None) -> None:
        """The table rules this instance just wrote (None: forget them, another instance
        changed them)."""
        self._table_generation += 1
        self._table_rules = rules_

    def _on_notice(self, notice: Notice) -> None:
        self.hub.on_notice(self, notice)

    def kick_bot(self) -> None:
        """Let the bot act for its sides if it is their turn (see `BotDriver`), and the stations
        that pass themselves pass (see `AutoPasser`)."""
        self.bot.kick()
        self.autopass.kick()
        self.timer.kick()

    def peers_changed(self) -> None:
        """Record this instance's peers in the store for the other instances (coalesced); who
        holds what decides which stations pass themselves."""
        self.publisher.request()
        self.autopass.kick()

    async def _save_snapshot(self) -> None:
        # Encoded in an executor thread: with its undo chain the largest battle's state is
        # ~2 MB of JSON. States are immutable but for the in-place trim of old undo links,
        # hence the pinned copy of the chain the snapshot encodes.
        seq, state = self.seq, pinned_undo_chain(self.state)
        encoded = await asyncio.get_running_loop().run_in_executor(None, rules.state_to_dict, state)
        await self.hub.store.save_snapshot(self.battle_id, Snapshot(seq=seq, state=encoded))
