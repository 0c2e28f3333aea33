"""The battle hub: connections, battle rooms, the command path and the fan-out.

The hub never computes a rule. For a command it parses the message, takes the battle's lock, calls
the engine's `decide` on the cached folded state, appends the events to the store with the expected
seq (optimistic concurrency: on a conflict it re-reads, re-decides and retries), folds them into the
cached state and fans them out to every connection of the battle, then acks.

Events reach a room from two sides: this instance's own appends and the store's subscription
(appends by other instances sharing the store). Both go through `BattleRoom.ingest`, which drops
seqs it already holds and fills gaps from the store, so each client sees every event once, in order.

A player's command is appended with a `ClaimGuard`: the store writes it only while the player's
stations are still bound to its resume token. A GM release or kick on another instance reaches this
one as a store `Notice` (the holder is told at once); should the notice be late, the guard refuses
the append (`ClaimLost`), the hub drops the lost stations, tells the player and decides again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSCloseCode, web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gameserver import rules
from gameserver.logging import get_logger
from gameserver.metrics import Metrics
from gameserver.protocol import (
    AckMessage,
    ClaimInfo,
    CommandMessage,
    ErrorCode,
    ErrorMessage,
    JoinedMessage,
    JoinMessage,
    KickMessage,
    LegalRequest,
    Peer,
    PingMessage,
    PongMessage,
    PresenceMessage,
    ProtocolError,
    ReleaseMessage,
    Role,
    ServerShutdownMessage,
    SnapshotMessage,
    event_frame,
    event_json,
    legal_frame,
    parse_client_message,
)
from gameserver.settings import Settings
from gameserver.store import (
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
    StoreUnavailable,
)

log = get_logger("hub")

JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O or 1/I: a join code is read aloud across the table."""
JOIN_CODE_LENGTH = 6
KICKED_CLOSE_CODE = 4000


def now_iso() -> str:
    """The server clock as the engine wants it: commands carry time, the engine never reads it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def token_hash(token: str) -> str:
    """sha256 of a secret: stores keep only hashes of GM and resume tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_join_code() -> str:
    """A short code players can type."""
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


class HubError(Exception):
    """A refusal with a stable code, sent to the client as `error` (nothing changed)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CreateBattleRequest(BaseModel):
    """Body of `POST /api/battles`: the engine's scenario plus server options."""

    model_config = ConfigDict(extra="forbid")

    scenario: dict[str, Any]
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    bot_sides: list[str] = Field(default=[], description="sides the server's bot plays (solo)")
    name: str = Field(default="", max_length=80)


class ImportBattleRequest(BaseModel):
    """Body of `POST /api/battles/import`: the JSON of `GET /api/battles/{id}/log`."""

    model_config = ConfigDict(extra="ignore")

    events: list[dict[str, Any]] = Field(min_length=1)
    bot_sides: list[str] = []
    name: str = Field(default="", max_length=80)


@dataclass(frozen=True, slots=True)
class CreatedBattle:
    """What the creator gets back once: the GM token is never shown again."""

    meta: BattleMeta
    gm_token: str
    seq: int


class TokenBucket:
    """Per-connection rate limit: `rate` messages per second with bursts up to `burst`."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass(eq=False)
class Connection:
    """One WebSocket client; frames go out through a bounded queue so a slow client never stalls
    the fan-out (an overflowing client is disconnected and catches up by seq when it returns)."""

    ws: web.WebSocketResponse
    bucket: TokenBucket
    queue_limit: int
    peer_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    role: Role | None = None
    room: BattleRoom | None = None
    ship_id: str | None = None
    stations: tuple[str, ...] = ()
    token_hash: str | None = None
    name: str = ""
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def send(self, frame: str) -> None:
        """Queue one JSON frame; drop the client if it cannot keep up."""
        if self.overflowed:
            return
        if self.queue.qsize() >= self.queue_limit:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(frame)

    def send_model(self, message: BaseModel) -> None:
        """Serialise and queue one protocol message."""
        self.send(message.model_dump_json())

    async def run_writer(self) -> None:
        """Write queued frames in order until told to stop or the socket dies."""
        while (frame := await self.queue.get()) is not None:
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return
        if self.overflowed and not self.ws.closed:
            await self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow; reconnect")

    def guard(self) -> ClaimGuard | None:
        """What the store must still hold for this player's command to be written."""
        if self.role is not Role.PLAYER or self.ship_id is None or self.token_hash is None:
            return None
        return ClaimGuard(ship_id=self.ship_id, stations=self.stations, token_hash=self.token_hash)

    def peer_info(self) -> PeerInfo:
        """This connection as the other instances list it in presence."""
        return PeerInfo(
            peer_id=self.peer_id,
            role=str(self.role or Role.SPECTATOR),
            name=self.name,
            ship_id=self.ship_id,
            stations=self.stations,
            token_hash=self.token_hash,
        )

    def actor(self) -> rules.Actor:
        """The engine's view of who sends a command, from the verified claim or GM token."""
        if self.role is Role.GM:
            return rules.Actor(role="gm", ship_id=None, stations=frozenset())
        return rules.Actor(role="player", ship_id=self.ship_id, stations=frozenset(self.stations))


def _awaiting_list(state: rules.BattleState) -> list[tuple[str, str]]:
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
        self._bot_wanted = False
        self._bot_task: asyncio.Task[None] | None = None
        self._follow_task: asyncio.Task[None] | None = None
        self._peers_dirty = False
        self._peers_task: asyncio.Task[None] | None = None
        # Legal lists of the current state per (ship, station), with their frame for the fan-out
        # (no client_id): they depend on the state only, so every holder of a station shares one.
        self._legal_state: rules.BattleState | None = None
        self._legal: dict[tuple[str, str], tuple[list[dict[str, Any]], str]] = {}

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
        for task in (self._follow_task, self._bot_task, self._peers_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

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

    def _fan_out(self, encoded: Sequence[tuple[int, str]]) -> None:
        awaiting = _awaiting_list(self.state)
        last = len(encoded) - 1
        frames = [
            event_frame(self.battle_id, seq, event, awaiting if i == last else None)
            for i, (seq, event) in enumerate(encoded)
        ]
        awaited = set(awaiting)
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
        """The state at the current seq: full for the GM, the public view for everyone else."""
        state = (
            rules.state_to_dict(self.state) if role is Role.GM else rules.public_view(self.state)
        )
        return SnapshotMessage(
            battle_id=self.battle_id,
            seq=self.seq,
            state=state,
            awaiting=_awaiting_list(self.state),
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
        events = list(self.tail)[-missing:]
        awaiting = _awaiting_list(self.state)
        return [
            event_frame(self.battle_id, seq, event, awaiting if i == missing - 1 else None)
            for i, (seq, event) in enumerate(events)
        ]

    # -- committing events ----------------------------------------------------------------------

    async def commit(
        self,
        make_events: Callable[[rules.BattleState], rules.Decision | None],
        guard: ClaimGuard | None = None,
    ) -> list[rules.Event]:
        """Decide on the current state and append with the expected seq; retry on conflicts.

        Must be called with `self.lock` held. `make_events` raises `RuleViolation` to refuse.

        Raises:
            HubError: `conflict` after the configured retries.
            ClaimLost: the guard's stations are no longer the player's (nothing changed).
            StoreUnavailable: the store is down (nothing changed).
        """
        for _ in range(self.hub.settings.append_retries):
            expected = self.seq
            decision = make_events(self.state)
            if decision is None or not decision.events:
                return []
            events = decision.events
            dicts = [e.to_dict() for e in events]
            try:
                await self.hub.store.append(self.battle_id, expected, dicts, guard)
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
        """Ingest batches appended by anyone (other instances included) until the battle ends."""
        delay = 0.05
        while True:
            try:
                async for batch in self.hub.store.subscribe(
                    self.battle_id, self.seq, self._on_notice
                ):
                    delay = 0.05
                    fresh = [d for d in batch if d["seq"] > self.seq]
                    if not fresh:
                        continue
                    events, fresh = rules.decode_events(fresh)
                    if not self.ingest(events, fresh):
                        await self.resync()
                return
            except StoreUnavailable:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except BattleNotFound:
                return
            except Exception:
                log.exception("follow_failed", battle_id=self.battle_id)
                await asyncio.sleep(1.0)

    def _on_notice(self, notice: Notice) -> None:
        self.hub.on_notice(self, notice)

    # -- presence across instances ----------------------------------------------------------

    def peers_changed(self) -> None:
        """Record this instance's peers in the store for the other instances (coalesced)."""
        self._peers_dirty = True
        if self._peers_task is None or self._peers_task.done():
            self._peers_task = asyncio.create_task(
                self._publish_peers(), name=f"peers:{self.battle_id}"
            )

    async def _publish_peers(self) -> None:
        while self._peers_dirty:
            self._peers_dirty = False
            peers = [c.peer_info() for c in self.peers.values()]
            try:
                await self.hub.store.set_peers(self.battle_id, peers)
            except (StoreUnavailable, BattleNotFound) as exc:
                log.warning("peers_not_published", battle_id=self.battle_id, error=str(exc))
                return

    async def _save_snapshot(self) -> None:
        snapshot = Snapshot(seq=self.seq, state=rules.state_to_dict(self.state))
        await self.hub.store.save_snapshot(self.battle_id, snapshot)

    # -- the bot ------------------------------------------------------------------------------

    def kick_bot(self) -> None:
        """Let the bot act for its sides if it is their turn (a task, after a short delay)."""
        if not self.meta.bot_sides or self.state.is_over:
            return
        self._bot_wanted = True
        if self._bot_task is None or self._bot_task.done():
            self._bot_task = asyncio.create_task(self._drive_bots(), name=f"bot:{self.battle_id}")

    def _next_bot_events(self, state: rules.BattleState) -> rules.Decision | None:
        if state.is_over:
            return None
        for side in self.meta.bot_sides:
            commands = rules.bot_commands(state, side)
            if commands:
                return rules.decide(state, commands[0].model_copy(update={"at": now_iso()}))
        return None

    async def _drive_bots(self) -> None:
        """Play the bot's commands one at a time, as events, so replay stays exact."""
        delay = self.hub.settings.bot_delay_ms / 1000
        while self._bot_wanted:
            self._bot_wanted = False
            await asyncio.sleep(delay)
            try:
                async with self.lock:
                    await self.commit(self._next_bot_events)
            except (rules.RuleViolation, HubError) as exc:
                log.warning("bot_refused", battle_id=self.battle_id, reason=str(exc))
                return
            except StoreUnavailable:
                await asyncio.sleep(1.0)
                self._bot_wanted = True


class Hub:
    """All rooms and connections of this instance."""

    def __init__(self, settings: Settings, store: BattleStore, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.rooms: dict[str, BattleRoom] = {}
        self.connections: set[Connection] = set()
        self.draining = False
        self._loading: dict[str, asyncio.Task[BattleRoom]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._all_gone = asyncio.Event()
        self._all_gone.set()

    def spawn(self, coro: Any, what: str) -> None:
        """Run a fire-and-forget task, keeping a reference and logging its failure."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("background_failed", what=what, error=repr(t.exception()))

        task.add_done_callback(_done)

    # -- battles ------------------------------------------------------------------------------

    async def create_battle(self, request: CreateBattleRequest) -> CreatedBattle:
        """Start a battle from a scenario (validated by the engine) and store its opening events."""
        try:
            scenario = rules.Scenario.model_validate(request.scenario)
        except ValidationError as exc:
            raise HubError("bad_scenario", _readable(exc)) from None
        seed = request.seed if request.seed is not None else secrets.randbits(62)
        for _ in range(8):
            battle_id = uuid.uuid4().hex[:16]
            try:
                events = rules.start_battle(scenario, seed, battle_id, now_iso())
            except rules.RuleViolation as exc:
                raise HubError(exc.code, exc.message) from None
            state = rules.replay(events)
            self._check_bot_sides(request.bot_sides, state)
            created = await self._store_new(battle_id, request.name, request.bot_sides, events)
            if created is not None:
                return created
        raise HubError(ErrorCode.CONFLICT, "could not allocate a battle id; try again")

    async def import_battle(self, request: ImportBattleRequest) -> CreatedBattle:
        """Resume an exported battle as a new battle: validate by replaying through the engine."""
        try:
            events, _ = rules.decode_events(request.events)
        except rules.UnsupportedSchemaVersion as exc:
            raise HubError("unsupported_schema_version", str(exc)) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise HubError("bad_log", f"an event could not be read: {exc}") from None
        for expected, event in enumerate(events, start=1):
            if event.seq != expected:
                raise HubError("bad_log", f"event #{expected} has seq {event.seq}")
        if events[0].type != "battle_started":
            raise HubError("bad_log", "a battle log starts with a battle_started event")
        try:
            state = rules.replay(events)
        except Exception as exc:
            raise HubError("bad_log", f"the log does not replay: {exc}") from None
        if state.seq != len(events):
            raise HubError("bad_log", "the log does not replay to its last seq")
        self._check_bot_sides(request.bot_sides, state)
        for _ in range(8):
            created = await self._store_new(
                uuid.uuid4().hex[:16], request.name, request.bot_sides, events, imported=True
            )
            if created is not None:
                return created
        raise HubError(ErrorCode.CONFLICT, "could not allocate a battle id; try again")

    @staticmethod
    def _check_bot_sides(bot_sides: Sequence[str], state: rules.BattleState) -> None:
        sides = {side_id for side_id, _name in state.sides}
        unknown = [s for s in bot_sides if s not in sides]
        if unknown:
            raise HubError("bad_scenario", f"bot_sides names unknown sides: {', '.join(unknown)}")

    async def _store_new(
        self,
        battle_id: str,
        name: str,
        bot_sides: Sequence[str],
        events: Sequence[rules.Event],
        *,
        imported: bool = False,
    ) -> CreatedBattle | None:
        gm_token = secrets.token_urlsafe(24)
        meta = BattleMeta(
            battle_id=battle_id,
            join_code=new_join_code(),
            gm_token_hash=token_hash(gm_token),
            created_at=now_iso(),
            name=name,
            bot_sides=tuple(bot_sides),
            imported=imported,
        )
        try:
            await self.store.create(meta, [e.to_dict() for e in events])
        except BattleExists:
            return None
        self.metrics.events_appended.inc(len(events))
        log.info("battle_created", battle_id=battle_id, events=len(events), imported=imported)
        if bot_sides:
            room = await self.room(battle_id)
            room.kick_bot()
        return CreatedBattle(meta=meta, gm_token=gm_token, seq=len(events))

    async def room(self, battle_id: str) -> BattleRoom:
        """The loaded battle (snapshot + newer events folded), loading it once per instance.

        Raises:
            BattleNotFound / StoreUnavailable.
        """
        room = self.rooms.get(battle_id)
        if room is not None:
            return room
        task = self._loading.get(battle_id)
        if task is None:
            task = asyncio.create_task(self._load(battle_id))
            self._loading[battle_id] = task
            task.add_done_callback(lambda _: self._loading.pop(battle_id, None))
        return await asyncio.shield(task)

    async def _load(self, battle_id: str) -> BattleRoom:
        meta = await self.store.get_meta(battle_id)
        snapshot = await self.store.load_snapshot(battle_id)
        state: rules.BattleState | None = None
        after = 0
        if snapshot is not None:
            try:
                state = rules.state_from_dict(snapshot.state)
                after = snapshot.seq
            except Exception:
                log.warning("snapshot_unreadable", battle_id=battle_id, seq=snapshot.seq)
        dicts = await self.store.read(battle_id, after)
        events, dicts = rules.decode_events(dicts)
        if state is None:
            state = rules.replay(events)
        else:
            for event in events:
                state = rules.evolve(state, event)
        room = BattleRoom(self, meta, state, dicts[-self.settings.catch_up_limit :])
        self.rooms[battle_id] = room
        self.metrics.active_battles.set(len(self.rooms))
        room.start()
        return room

    async def drop_room(self, battle_id: str) -> None:
        """Unload a battle (expired or idle without peers)."""
        room = self.rooms.pop(battle_id, None)
        if room is None:
            return
        for conn in list(room.peers.values()):
            conn.send_model(ErrorMessage(code=ErrorCode.NOT_FOUND, message="the battle expired"))
            conn.queue.put_nowait(None)
        await room.stop()
        self.metrics.active_battles.set(len(self.rooms))

    async def expire_once(self) -> list[str]:
        """Keep battles with peers alive, expire idle ones in the store, unload idle rooms."""
        for room in list(self.rooms.values()):
            if room.peers:
                with contextlib.suppress(BattleNotFound):
                    await self.store.touch(room.battle_id)
        expired = await self.store.expire_idle(self.settings.battle_idle_s)
        for battle_id in expired:
            await self.drop_room(battle_id)
            log.info("battle_expired", battle_id=battle_id)
        cutoff = time.monotonic() - min(self.settings.battle_idle_s, 600.0)
        for room in list(self.rooms.values()):
            if not room.peers and room.last_used < cutoff:
                await self.drop_room(room.battle_id)
        return expired

    async def close(self) -> None:
        """Stop every room and background task."""
        for battle_id in list(self.rooms):
            await self.drop_room(battle_id)
        for task in list(self._tasks):
            task.cancel()

    # -- connections --------------------------------------------------------------------------

    def connect(self, ws: web.WebSocketResponse) -> Connection:
        """Register a new WebSocket."""
        conn = Connection(
            ws=ws,
            bucket=TokenBucket(self.settings.rate_limit_per_s, self.settings.rate_limit_burst),
            queue_limit=self.settings.send_queue_frames,
        )
        self.connections.add(conn)
        self._all_gone.clear()
        self.metrics.connections.set(len(self.connections))
        return conn

    async def disconnect(self, conn: Connection) -> None:
        """Forget a connection; its claims stay bound to its resume token."""
        self.connections.discard(conn)
        self.metrics.connections.set(len(self.connections))
        if not self.connections:
            self._all_gone.set()
        room = conn.room
        if room is not None and room.peers.pop(conn.peer_id, None) is not None:
            room.last_used = time.monotonic()
            room.peers_changed()
            self.spawn(self.broadcast_presence(room), "presence")

    def error(self, conn: Connection, code: str, message: str, client_id: str | None) -> None:
        """Send an `error` and count it."""
        self.metrics.errors.labels(code=code).inc()
        conn.send_model(ErrorMessage(code=code, message=message, client_id=client_id))

    async def handle(self, conn: Connection, raw: str | bytes) -> None:
        """Handle one client frame; bad input gets an error and changes nothing."""
        allowed = conn.bucket.take()
        try:
            message = parse_client_message(raw)
        except ProtocolError as exc:
            self.error(conn, exc.code, exc.message, exc.client_id)
            return
        client_id = getattr(message, "client_id", None)
        if not allowed:
            self.error(conn, ErrorCode.RATE_LIMITED, "too many messages; slow down", client_id)
            if isinstance(message, CommandMessage):
                self.metrics.commands.labels(command="any", result="rate_limited").inc()
            return
        try:
            if isinstance(message, JoinMessage):
                await self.join(conn, message)
            elif conn.room is None:
                if isinstance(message, PingMessage):
                    conn.send_model(PongMessage(client_id=message.client_id))
                else:
                    raise HubError(ErrorCode.NOT_JOINED, "send a join message first")
            elif isinstance(message, CommandMessage):
                await self.command(conn, conn.room, message)
            elif isinstance(message, LegalRequest):
                self.legal(conn, conn.room, message)
            elif isinstance(message, ReleaseMessage):
                await self.release(conn, conn.room, message)
            elif isinstance(message, KickMessage):
                await self.kick(conn, conn.room, message)
            else:
                conn.send_model(PongMessage(client_id=message.client_id))
        except HubError as exc:
            self.error(conn, exc.code, exc.message, client_id)
        except StoreUnavailable:
            self.error(
                conn, ErrorCode.STORE_UNAVAILABLE, "storage is unavailable; try again", client_id
            )
        except BattleNotFound as exc:
            self.error(conn, ErrorCode.BATTLE_NOT_FOUND, str(exc), client_id)

    async def join(self, conn: Connection, msg: JoinMessage) -> None:
        """Verify the role, bind claims to the resume token, then catch the client up."""
        if self.draining:
            raise HubError(ErrorCode.SHUTTING_DOWN, "this server is shutting down; reconnect")
        if conn.room is not None:
            raise HubError(ErrorCode.ALREADY_JOINED, "this connection already joined a battle")
        battle_id = msg.battle_id
        if battle_id is None:
            battle_id = await self.store.find_by_join_code(msg.join_code or "")
            if battle_id is None:
                raise HubError(ErrorCode.BATTLE_NOT_FOUND, f"no battle with code {msg.join_code}")
        try:
            room = await self.room(battle_id)
        except BattleNotFound:
            raise HubError(ErrorCode.BATTLE_NOT_FOUND, f"no battle {battle_id!r}") from None
        resume_token: str | None = None
        if msg.role is Role.GM:
            given = token_hash(msg.gm_token or "")
            if not hmac.compare_digest(given, room.meta.gm_token_hash):
                raise HubError(ErrorCode.BAD_GM_TOKEN, "the GM token is not valid for this battle")
        elif msg.role is Role.PLAYER:
            assert msg.ship_id is not None
            resume_token = msg.resume_token or secrets.token_urlsafe(24)
            await self._claim(room, msg.ship_id, msg.stations, token_hash(resume_token), msg.name)
            conn.ship_id = msg.ship_id
            conn.stations = tuple(dict.fromkeys(msg.stations))
            conn.token_hash = token_hash(resume_token)
        if msg.last_seq is not None and msg.last_seq > room.seq:
            # The client holds more than this instance has folded (it came from another instance
            # whose last events our subscription has not delivered yet): read them first, or it
            # would get our older state as a snapshot and then those events a second time.
            with contextlib.suppress(StoreUnavailable):
                await room.resync()
        conn.role = msg.role
        conn.name = msg.name
        conn.room = room
        # From here on nothing awaits until the peer is registered: the catch-up and the fan-out
        # cannot interleave, so the client sees every seq exactly once.
        conn.send_model(
            JoinedMessage(
                battle_id=room.battle_id,
                join_code=room.meta.join_code,
                role=msg.role,
                peer_id=conn.peer_id,
                ship_id=conn.ship_id,
                stations=list(conn.stations),
                resume_token=resume_token,
                seq=room.seq,
            )
        )
        frames = room.catch_up_frames(msg.last_seq)
        if frames is None:
            frames = [room.snapshot_frame(msg.role)]
        for frame in frames:
            conn.send(frame)
        if conn.role is Role.PLAYER:
            for frame in room.legal_frames(conn, set(_awaiting_list(room.state)), None):
                conn.send(frame)
        room.peers[conn.peer_id] = conn
        room.last_used = time.monotonic()
        log.info("joined", battle_id=room.battle_id, role=str(msg.role), peer_id=conn.peer_id)
        room.peers_changed()
        self.spawn(self.broadcast_presence(room), "presence")

    async def _claim(
        self, room: BattleRoom, ship_id: str, stations: Sequence[str], hashed: str, name: str
    ) -> None:
        """Take every station or none; a station held by another token refuses the join."""
        known = _known_stations(room.state)
        for station in stations:
            if (ship_id, station) not in known:
                raise HubError("unknown_station", f"ship {ship_id!r} has no station {station!r}")
        taken_now: list[str] = []
        held_before = {
            c.station
            for c in await self.store.claims(room.battle_id)
            if c.ship_id == ship_id and c.token_hash == hashed
        }
        for station in dict.fromkeys(stations):
            holder = await self.store.claim(
                room.battle_id,
                Claim(ship_id=ship_id, station=station, token_hash=hashed, name=name),
            )
            if holder.token_hash != hashed:
                for mine in taken_now:
                    await self.store.release(room.battle_id, ship_id, mine)
                who = f" by {holder.name}" if holder.name else ""
                raise HubError(
                    ErrorCode.STATION_TAKEN,
                    f"{station} on {ship_id} is held{who}; ask the GM to release it",
                )
            if station not in held_before:
                taken_now.append(station)

    async def command(self, conn: Connection, room: BattleRoom, msg: CommandMessage) -> None:
        """Parse → decide → append (expected seq) → fan out → ack; the engine judges legality."""
        started = time.perf_counter()
        if conn.role is Role.SPECTATOR:
            raise HubError(ErrorCode.READ_ONLY, "spectators cannot send commands")
        kind = "invalid"
        try:
            # Each ClaimLost removes at least one station from the connection, so this ends.
            for _ in range(len(conn.stations) + 2):
                command = rules.parse_command(msg.command, conn.actor(), now_iso())
                kind = str(getattr(command, "type", "unknown"))
                try:
                    events = await self._commit_command(room, command, conn.guard())
                    break
                except ClaimLost as exc:
                    # Released on another instance, whose notice has not arrived yet: lose the
                    # stations now and decide again as what the player still holds.
                    self._claims_lost(room, exc, conn.token_hash)
            else:
                raise HubError(ErrorCode.CONFLICT, "your stations keep changing; try again")
        except rules.RuleViolation as exc:
            self._count(kind, exc.code, started)
            raise HubError(exc.code, exc.message) from None
        except HubError as exc:
            self._count(kind, exc.code, started)
            raise
        except StoreUnavailable:
            self._count(kind, ErrorCode.STORE_UNAVAILABLE, started)
            raise
        conn.send_model(
            AckMessage(client_id=msg.client_id, seq=room.seq, seqs=[e.seq for e in events])
        )
        latency = self._count(kind, "ok", started)
        log.debug(
            "command",
            battle_id=room.battle_id,
            command=kind,
            latency_ms=round(latency * 1000, 3),
            events=len(events),
        )

    @staticmethod
    async def _commit_command(
        room: BattleRoom, command: Any, guard: ClaimGuard | None
    ) -> list[rules.Event]:
        async with room.lock:
            return await room.commit(lambda state: rules.decide(state, command), guard)

    def _claims_lost(self, room: BattleRoom, exc: ClaimLost, token: str | None) -> None:
        changed = False
        for station in exc.stations:
            changed |= self._strip_station(room, exc.ship_id, station, token)
        if changed:
            room.peers_changed()
            self.spawn(self.broadcast_presence(room), "presence")

    def _strip_station(
        self, room: BattleRoom, ship_id: str, station: str, token: str | None
    ) -> bool:
        """Take a released station from this instance's holders (only those bound to `token`
        when given) and tell them; True if someone lost it."""
        changed = False
        for peer in room.peers.values():
            if peer.ship_id != ship_id or station not in peer.stations:
                continue
            if token is not None and peer.token_hash != token:
                continue
            peer.stations = tuple(s for s in peer.stations if s != station)
            self.error(
                peer,
                ErrorCode.STATION_RELEASED,
                f"the GM released {station} on {ship_id}",
                None,
            )
            changed = True
        return changed

    def _count(self, kind: str, result: str, started: float) -> float:
        latency = time.perf_counter() - started
        self.metrics.commands.labels(command=kind, result=result).inc()
        self.metrics.command_latency.labels(command=kind).observe(latency)
        return latency

    def legal(self, conn: Connection, room: BattleRoom, msg: LegalRequest) -> None:
        """Answer a `legal` request for held stations (the GM may ask about any station)."""
        if conn.role is Role.SPECTATOR:
            raise HubError(ErrorCode.READ_ONLY, "spectators hold no station")
        if conn.role is Role.GM:
            if msg.ship_id is None or msg.station is None:
                raise HubError(ErrorCode.BAD_MESSAGE, "the GM names ship_id and station")
            commands = rules.legal_commands(room.state, msg.ship_id, msg.station)
            conn.send(
                legal_frame(
                    room.battle_id, room.seq, msg.ship_id, msg.station, commands, msg.client_id
                )
            )
            return
        if msg.ship_id not in (None, conn.ship_id) or (
            msg.station is not None and msg.station not in conn.stations
        ):
            raise HubError("not_your_station", "you can only ask about the stations you hold")
        only = None if msg.station is None else {(conn.ship_id or "", msg.station)}
        for frame in room.legal_frames(conn, only, msg.client_id):
            conn.send(frame)

    async def release(self, conn: Connection, room: BattleRoom, msg: ReleaseMessage) -> None:
        """GM: free a station; a local holder loses it at once."""
        if conn.role is not Role.GM:
            raise HubError(ErrorCode.GM_ONLY, "only the GM can release a station")
        freed = await self.store.release(room.battle_id, msg.ship_id, msg.station)
        if self._strip_station(room, msg.ship_id, msg.station, None):
            room.peers_changed()
        if freed is not None:
            # The holder may be connected to another instance: its instance tells it. (Should
            # this notice be lost, the store's claim guard still refuses the holder's commands.)
            await self.store.notify(
                room.battle_id,
                Notice(
                    kind="released",
                    ship_id=msg.ship_id,
                    station=msg.station,
                    token_hash=freed.token_hash,
                ),
            )
        log.info("released", battle_id=room.battle_id, ship_id=msg.ship_id, station=msg.station)
        await self.broadcast_presence(room)
        self._ack_admin(conn, room, msg.client_id)

    async def kick(self, conn: Connection, room: BattleRoom, msg: KickMessage) -> None:
        """GM: disconnect a peer and free the stations it held."""
        if conn.role is not Role.GM:
            raise HubError(ErrorCode.GM_ONLY, "only the GM can kick")
        target = room.peers.get(msg.peer_id)
        if target is not None:
            if target.ship_id is not None:
                for station in target.stations:
                    await self.store.release(room.battle_id, target.ship_id, station)
            self._remove_kicked(room, target)
        else:
            # Connected to another instance? Free its stations here; its instance closes it.
            remote = {p.peer_id: p for p in await self.store.remote_peers(room.battle_id)}
            info = remote.get(msg.peer_id)
            if info is None:
                raise HubError(ErrorCode.NOT_FOUND, f"no peer {msg.peer_id!r} in this battle")
            if info.ship_id is not None:
                for station in info.stations:
                    await self.store.release(room.battle_id, info.ship_id, station)
            await self.store.notify(room.battle_id, Notice(kind="kicked", peer_id=msg.peer_id))
        log.info("kicked", battle_id=room.battle_id, peer_id=msg.peer_id)
        await self.broadcast_presence(room)
        self._ack_admin(conn, room, msg.client_id)

    def _remove_kicked(self, room: BattleRoom, target: Connection) -> None:
        """Tell a kicked peer of this instance, close it with 4000 and forget it."""
        room.peers.pop(target.peer_id, None)
        target.room = None
        self.error(target, ErrorCode.KICKED, "the GM removed you from the battle", None)
        target.queue.put_nowait(None)
        self.spawn(
            target.ws.close(code=KICKED_CLOSE_CODE, message=b"kicked by the GM"), "kick-close"
        )
        room.peers_changed()

    def on_notice(self, room: BattleRoom, notice: Notice) -> None:
        """Act on another instance's release, kick or presence change for this room's peers."""
        if self.rooms.get(room.battle_id) is not room:
            return
        if notice.kind == "released" and notice.ship_id and notice.station:
            # Only the holder bound to the freed claim's token: someone who claimed the station
            # since (here, before this notice arrived) keeps it.
            token = notice.token_hash or ""
            if self._strip_station(room, notice.ship_id, notice.station, token):
                room.peers_changed()
        elif notice.kind == "kicked" and notice.peer_id:
            target = room.peers.get(notice.peer_id)
            if target is not None:
                # The kicking instance freed its stations already; freeing them again here could
                # free a claim someone took since.
                self._remove_kicked(room, target)
                log.info("kicked", battle_id=room.battle_id, peer_id=notice.peer_id)
        self.spawn(self.broadcast_presence(room), "presence")

    @staticmethod
    def _ack_admin(conn: Connection, room: BattleRoom, client_id: str | None) -> None:
        """Confirm a GM release/kick to a client that asked with a `client_id` (no events)."""
        if client_id is not None:
            conn.send_model(AckMessage(client_id=client_id, seq=room.seq, seqs=[]))

    async def broadcast_presence(self, room: BattleRoom) -> None:
        """Tell every peer of the battle who is here and which stations are held."""
        try:
            claims = await self.store.claims(room.battle_id)
            remote = await self.store.remote_peers(room.battle_id)
        except (StoreUnavailable, BattleNotFound):
            return
        local = list(room.peers.values())
        connected = {c.token_hash for c in local if c.token_hash}
        connected |= {p.token_hash for p in remote if p.token_hash}
        frame = PresenceMessage(
            battle_id=room.battle_id,
            peers=[
                *(
                    Peer(
                        peer_id=c.peer_id,
                        role=c.role or Role.SPECTATOR,
                        name=c.name,
                        ship_id=c.ship_id,
                        stations=list(c.stations),
                    )
                    for c in local
                ),
                *(
                    Peer(
                        peer_id=p.peer_id,
                        role=Role(p.role),
                        name=p.name,
                        ship_id=p.ship_id,
                        stations=list(p.stations),
                    )
                    for p in remote
                ),
            ],
            claims=[
                ClaimInfo(
                    ship_id=c.ship_id,
                    station=c.station,
                    name=c.name,
                    connected=c.token_hash in connected,
                )
                for c in claims
            ],
        ).model_dump_json()
        for conn in list(room.peers.values()):
            conn.send(frame)

    # -- shutdown -----------------------------------------------------------------------------

    async def drain(self, grace_s: float) -> None:
        """SIGTERM: refuse joins, tell clients to reconnect elsewhere, wait, then close the rest."""
        self.draining = True
        frame = ServerShutdownMessage(
            message="the server is restarting; reconnect and resume with your last seq",
            reconnect_after_ms=self.settings.reconnect_after_ms,
        ).model_dump_json()
        for conn in list(self.connections):
            conn.send(frame)
        log.info("draining", connections=len(self.connections), grace_s=grace_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_gone.wait(), timeout=grace_s)
        await self.close_connections()

    async def close_connections(self) -> None:
        """Close every WebSocket with GOING_AWAY (1001)."""
        for conn in list(self.connections):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def _known_stations(state: rules.BattleState) -> set[tuple[str, str]]:
    """Every (ship, station) of the battle: the stations of each ship's design."""
    return {
        (ship_id, station)
        for ship_id, ship in state.ships.items()
        for station in ship.design.station_ids()
    }


def _readable(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
    return "; ".join(parts)
