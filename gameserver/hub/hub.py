"""The hub: every connection and room of this instance, and the path of each client message.

The hub never computes a rule. For a command it parses the message, takes the battle's lock, calls
the engine's `decide` on the cached folded state, appends the events to the store with the expected
seq (optimistic concurrency: on a conflict it re-reads, re-decides and retries), folds them into the
cached state and fans them out to every connection of the battle, then acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from typing import Any

from aiohttp import WSCloseCode, web

from gameserver import rules
from gameserver.hub.addresses import AddressLimits
from gameserver.hub.battles import Battles, CreatedBattle
from gameserver.hub.chat import ChatDesk
from gameserver.hub.clock import now_iso
from gameserver.hub.connection import Connection, TokenBucket
from gameserver.hub.errors import HubError
from gameserver.hub.room import BattleRoom, awaiting_list
from gameserver.hub.seats import Seats
from gameserver.hub.tokens import new_token, token_hash
from gameserver.logs import get_logger
from gameserver.metrics import Metrics
from gameserver.protocol import (
    ChatRequest,
    CommandMessage,
    CreateBattleRequest,
    ErrorCode,
    ErrorMessage,
    JoinedMessage,
    JoinMessage,
    KickMessage,
    LegalRequest,
    PingMessage,
    PongMessage,
    ProtocolError,
    ReleaseMessage,
    Role,
    ServerShutdownMessage,
    TableRequest,
    UnbanMessage,
    ack_frame,
    legal_frame,
    parse_client_message,
)
from gameserver.settings import Settings
from gameserver.store import (
    AlreadyApplied,
    BattleNotFound,
    BattleStore,
    ClaimGuard,
    ClaimLost,
    Notice,
    StoreUnavailable,
)

log = get_logger("hub")

STORE_UNAVAILABLE_COMMAND = (
    "storage did not answer in time; resend this command with the same client_id"
    " (a command is applied at most once)"
)
"""A command's `store_unavailable`: it was not applied (a late store refuses it at its deadline,
or it never left the battle's queue); should an answer have been lost instead, resending it with
the same `client_id` is answered with the first ack, never applied twice."""


def command_key(conn: Connection, client_id: str) -> str | None:
    """The store's key of a command: its `client_id` scoped to the sender (a player's resume
    token, or the battle's GM), so two clients' ids never collide; purely computational."""
    if conn.role is Role.GM:
        sender = "gm"
    elif conn.role is Role.PLAYER and conn.token_hash is not None:
        sender = conn.token_hash
    else:
        return None
    return hashlib.sha256(f"{sender}\x1f{client_id}".encode()).hexdigest()[:32]


class Hub:
    """All rooms and connections of this instance."""

    def __init__(self, settings: Settings, store: BattleStore, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.connections: set[Connection] = set()
        self.closed_total = 0
        """Sockets closed since the start (the app runs a full collection after many)."""
        self.draining = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._all_gone = asyncio.Event()
        self._all_gone.set()
        self.battles = Battles(self)
        self.rooms = self.battles.rooms
        """The loaded battles by id (the `Battles` registry's own dict)."""
        self.seats = Seats(self)
        self.chat = ChatDesk(self)
        self.addresses = AddressLimits(settings.address_rate_per_s, settings.address_burst)
        self._counted: dict[tuple[str, str], tuple[Any, Any]] = {}

    def spawn(self, coro: Any, what: str) -> None:
        """Run a fire-and-forget task, keeping a reference and logging its failure."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("background_failed", what=what, error=repr(t.exception()))

        task.add_done_callback(_done)

    # -- battles (see `Battles`) ----------------------------------------------------------------

    async def create_battle(self, request: CreateBattleRequest) -> CreatedBattle:
        """Start a battle from a scenario (validated by the engine) and store its opening events."""
        return await self.battles.create_battle(request)

    async def import_battle(self, raw: bytes) -> CreatedBattle:
        """Resume an exported battle (the body's bytes) once its commands re-execute exactly."""
        return await self.battles.import_battle(raw)

    async def room(self, battle_id: str) -> BattleRoom:
        """The loaded battle, loading it once per instance (`BattleNotFound`/`StoreUnavailable`)."""
        return await self.battles.room(battle_id)

    async def expire_once(self) -> list[str]:
        """Keep battles with peers alive, expire idle ones in the store, unload idle rooms."""
        return await self.battles.expire_once()

    async def close(self) -> None:
        """Stop every room and background task."""
        await self.battles.close()
        for task in list(self._tasks):
            task.cancel()

    def on_notice(self, room: BattleRoom, notice: Notice) -> None:
        """Act on another instance's release, kick or presence change (see `Seats`)."""
        self.seats.on_notice(room, notice)

    # -- connections --------------------------------------------------------------------------

    def connect(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None = None,
        address: str = "",
    ) -> Connection:
        """Register a new WebSocket (its transport is cut if the client stops reading)."""
        conn = Connection(
            ws=ws,
            bucket=TokenBucket(self.settings.rate_limit_per_s, self.settings.rate_limit_burst),
            queue_limit=self.settings.send_queue_frames,
            transport=transport,
            address=address,
            send_timeout_s=self.settings.send_timeout_s,
            refused=lambda limit: self.metrics.refusals.labels(limit=limit).inc(),
        )
        self.connections.add(conn)
        self._all_gone.clear()
        self.metrics.connections.set(len(self.connections))
        return conn

    async def disconnect(self, conn: Connection) -> None:
        """Forget a connection; its claims stay bound to its resume token."""
        self.connections.discard(conn)
        self.chat.forget(conn)
        self.closed_total += 1
        self.metrics.connections.set(len(self.connections))
        if not self.connections:
            self._all_gone.set()
        self.leave_room(conn)

    def leave_room(self, conn: Connection) -> None:
        """Take a connection out of its battle's peers (it may still count as an open socket)."""
        room = conn.room
        if room is not None and room.peers.pop(conn.peer_id, None) is not None:
            room.last_used = time.monotonic()
            room.peers_changed()
            room.presence.request()

    def address_allows(self, address: str, action: str) -> bool:
        """The per-address limit of `action` (counted as `address_<action>` when refused)."""
        if self.addresses.allow(address, action):
            return True
        self.metrics.refusals.labels(limit=f"address_{action}").inc()
        return False

    def refuse(self, conn: Connection, limit: str) -> None:
        """Count a refusal by one of the limits (`tvtt_limit_refusals_total{limit}`)."""
        conn.refused(limit)

    def close_unjoined(self, conn: Connection) -> None:
        """The join timeout: a socket that has not joined a battle yet is closed (1008)."""
        if conn.room is None and conn in self.connections and not conn.ws.closed:
            self.refuse(conn, "join_timeout")
            reason = f"join a battle within {self.settings.join_timeout_s:g} s"
            self.spawn(conn.close(WSCloseCode.POLICY_VIOLATION, reason.encode()), "close")

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
            # Invalid frames spend the rate limit like any other, are not answered beyond it, and
            # too many of them close the connection: answering garbage must not be free.
            conn.invalid_frames += 1
            if conn.invalid_frames >= self.settings.max_invalid_frames:
                if conn.invalid_frames == self.settings.max_invalid_frames:
                    self.refuse(conn, "invalid_frames")
                    reason = f"more than {self.settings.max_invalid_frames - 1} invalid messages"
                    self.spawn(conn.close(WSCloseCode.POLICY_VIOLATION, reason.encode()), "close")
                return
            if not allowed:
                self.refuse(conn, "rate_limit")
                return
            self.error(conn, exc.code, exc.message, exc.client_id)
            return
        client_id = getattr(message, "client_id", None)
        if not allowed:
            self.refuse(conn, "rate_limit")
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
                await self.seats.release(conn, conn.room, message)
            elif isinstance(message, KickMessage):
                await self.seats.kick(conn, conn.room, message)
            elif isinstance(message, UnbanMessage):
                await self.seats.unban(conn, conn.room, message)
            elif isinstance(message, TableRequest):
                await self.seats.set_table(conn, conn.room, message)
            elif isinstance(message, ChatRequest):
                await self.chat.say(conn, conn.room, message)
            else:
                conn.send_model(PongMessage(client_id=message.client_id))
        except HubError as exc:
            self.error(conn, exc.code, exc.message, client_id)
        except StoreUnavailable:
            text = (
                STORE_UNAVAILABLE_COMMAND
                if isinstance(message, CommandMessage)
                else "storage is unavailable; try again"
            )
            self.error(conn, ErrorCode.STORE_UNAVAILABLE, text, client_id)
        except BattleNotFound as exc:
            self.error(conn, ErrorCode.BATTLE_NOT_FOUND, str(exc), client_id)
        except Exception:
            log.exception("handler_failed", peer_id=conn.peer_id)
            self.error(
                conn, ErrorCode.INTERNAL_ERROR, "the server failed on this message", client_id
            )

    async def join(self, conn: Connection, msg: JoinMessage) -> None:
        """Verify the role, bind claims to the resume token, then catch the client up."""
        if self.draining:
            raise HubError(ErrorCode.SHUTTING_DOWN, "this server is shutting down; reconnect")
        if conn.room is not None:
            raise HubError(ErrorCode.ALREADY_JOINED, "this connection already joined a battle")
        if not self.address_allows(conn.address, "join" if msg.battle_id else "join_code"):
            raise HubError(ErrorCode.RATE_LIMITED, "too many joins from your address; slow down")
        battle_id = msg.battle_id
        if battle_id is None:
            battle_id = await self.store.find_by_join_code(msg.join_code or "")
            if battle_id is None:
                raise HubError(ErrorCode.BATTLE_NOT_FOUND, f"no battle with code {msg.join_code}")
        try:
            room = await self.room(battle_id)
        except BattleNotFound:
            raise HubError(ErrorCode.BATTLE_NOT_FOUND, f"no battle {battle_id!r}") from None
        if not room.join_bucket.take():
            self.refuse(conn, "join_rate")
            raise HubError(ErrorCode.RATE_LIMITED, "too many joins to this battle; try again soon")
        resume_token: str | None = None
        taken: list[str] = []
        if msg.role is Role.GM:
            given = token_hash(msg.gm_token or "")
            if not hmac.compare_digest(given, room.meta.gm_token_hash):
                raise HubError(ErrorCode.BAD_GM_TOKEN, "the GM token is not valid for this battle")
        elif msg.role is Role.PLAYER:
            assert msg.ship_id is not None
            # The server issues every resume token: one the client names must be the battle's.
            resume_token = msg.resume_token or new_token()
            taken = await self.seats.claim(
                room,
                msg.ship_id,
                msg.stations,
                token_hash(resume_token),
                msg.name,
                new_token=msg.resume_token is None,
            )
        elif (await self.store.table(room.battle_id)).rules.locked:
            self.refuse(conn, "table_locked")
            raise HubError(ErrorCode.TABLE_LOCKED, "the GM has locked the table: no new spectators")
        try:
            if msg.last_seq is not None and msg.last_seq > room.seq:
                # The client holds more than this instance has folded (it came from another
                # instance whose last events our subscription has not delivered yet): read them
                # first, or it would get our older state as a snapshot and those events again.
                with contextlib.suppress(StoreUnavailable):
                    await room.resync()
            # From here on nothing awaits until the peer is registered: the catch-up and the
            # fan-out cannot interleave, so the client sees every seq exactly once.
            frames = room.catch_up_frames(msg.last_seq)
            if frames is None:
                frames = [room.snapshot_frame(msg.role)]
            if msg.role is Role.PLAYER:
                assert resume_token is not None
                conn.ship_id = msg.ship_id
                conn.stations = tuple(dict.fromkeys(msg.stations))
                conn.token_hash = token_hash(resume_token)
                frames += room.legal_frames(conn, set(awaiting_list(room.state)), None)
        except BaseException:
            # Not half-joined: the connection is as it was and the stations this join took are
            # free again (their token was never given to anyone).
            conn.ship_id, conn.stations, conn.token_hash = None, (), None
            for station in taken:
                with contextlib.suppress(StoreUnavailable, BattleNotFound):
                    await self.store.release(room.battle_id, msg.ship_id or "", station)
            raise
        conn.role = msg.role
        conn.name = msg.name
        conn.room = room
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
                name=room.meta.name,
                bot_sides=list(room.meta.bot_sides),
            )
        )
        for frame in frames:
            conn.send(frame)
        room.peers[conn.peer_id] = conn
        room.last_used = time.monotonic()
        log.info("joined", battle_id=room.battle_id, role=str(msg.role), peer_id=conn.peer_id)
        room.peers_changed()
        room.presence.request()
        with contextlib.suppress(StoreUnavailable, BattleNotFound):
            await self.chat.history(conn, room)
        if room.timer.seconds:
            room.timer.send(conn)
        if msg.role is Role.GM:
            # The join is done; a store too slow for the table frame must not answer it with
            # an error (the next table change sends it again).
            with contextlib.suppress(StoreUnavailable, BattleNotFound):
                await self.seats.send_table(room, conn)

    async def command(self, conn: Connection, room: BattleRoom, msg: CommandMessage) -> None:
        """Parse → decide → append (expected seq, keyed by the command's id) → fan out → ack; the
        engine judges legality. A command resent with the same `client_id` gets the first ack."""
        started = time.perf_counter()
        if conn.role is Role.SPECTATOR:
            raise HubError(ErrorCode.READ_ONLY, "spectators cannot send commands")
        if self.settings.test_fail_commands:
            self._count("any", ErrorCode.INTERNAL_ERROR, started)
            raise HubError(ErrorCode.INTERNAL_ERROR, "TEST_FAIL_COMMANDS is set (test only)")
        key = command_key(conn, msg.client_id)
        kind = "invalid"
        try:
            # Each ClaimLost removes at least one station from the connection, so this ends.
            for _ in range(len(conn.stations) + 2):
                command = rules.parse_command(msg.command, conn.actor(), now_iso())
                kind = str(getattr(command, "type", "unknown"))
                try:
                    events = await self._commit_command(room, command, conn.guard(), key)
                    break
                except ClaimLost as exc:
                    # Released on another instance, whose notice has not arrived yet: lose the
                    # stations now and decide again as what the player still holds.
                    self.seats.claims_lost(room, exc, conn.token_hash)
            else:
                raise HubError(ErrorCode.CONFLICT, "your stations keep changing; try again")
        except AlreadyApplied as exc:
            await self._ack_again(conn, room, msg.client_id, exc.first, exc.last, kind, started)
            return
        except rules.RuleViolation as exc:
            # The same command applied before (its ack was lost) is refused by the state it
            # made, e.g. "not your turn": answer it as the first time instead.
            done = None
            if key is not None:
                with contextlib.suppress(StoreUnavailable, BattleNotFound):
                    done = await self.store.applied(room.battle_id, key)
            if done is not None:
                await self._ack_again(conn, room, msg.client_id, *done, kind, started)
                return
            self._count(kind, exc.code, started)
            raise HubError(exc.code, exc.message) from None
        except HubError as exc:
            self._count(kind, exc.code, started)
            raise
        except StoreUnavailable:
            self._count(kind, ErrorCode.STORE_UNAVAILABLE, started)
            raise
        conn.send(ack_frame(msg.client_id, room.seq, [e.seq for e in events]))
        latency = self._count(kind, "ok", started)
        log.debug(
            "command",
            battle_id=room.battle_id,
            command=kind,
            latency_ms=round(latency * 1000, 3),
            events=len(events),
        )

    async def _ack_again(
        self,
        conn: Connection,
        room: BattleRoom,
        client_id: str,
        first: int,
        last: int,
        kind: str,
        started: float,
    ) -> None:
        """Answer a resent command with the ack of its first time (its events reach the room
        first: a late append is read from the store before the ack)."""
        if room.seq < last:
            with contextlib.suppress(StoreUnavailable):
                await room.resync()
        conn.send(ack_frame(client_id, room.seq, range(first, last + 1)))
        self._count(kind, "duplicate", started)

    async def _commit_command(
        self, room: BattleRoom, command: Any, guard: ClaimGuard | None, key: str | None
    ) -> list[rules.Event]:
        """Commit under the battle's lock; a command that cannot get the lock within the store
        timeout (the store hangs under the commands before it) is refused, never applied."""
        try:
            async with asyncio.timeout(self.settings.store_timeout_s):
                await room.lock.acquire()
        except TimeoutError:
            self.metrics.refusals.labels(limit="store_timeout").inc()
            raise StoreUnavailable("the battle's commands wait for the store") from None
        try:
            return await room.commit(lambda state: rules.decide(state, command), guard, key)
        finally:
            room.lock.release()

    def _count(self, kind: str, result: str, started: float) -> float:
        latency = time.perf_counter() - started
        children = self._counted.get((kind, result))
        if children is None:
            # A metric's `labels()` looks its child up through a lock each time: once per pair.
            children = self._counted[(kind, result)] = (
                self.metrics.commands.labels(command=kind, result=result),
                self.metrics.command_latency.labels(command=kind),
            )
        children[0].inc()
        children[1].observe(latency)
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
            raise HubError(
                ErrorCode.NOT_YOUR_STATION, "you can only ask about the stations you hold"
            )
        only = None if msg.station is None else {(conn.ship_id or "", msg.station)}
        for frame in room.legal_frames(conn, only, msg.client_id):
            conn.send(frame)

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
