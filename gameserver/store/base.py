"""The `BattleStore` protocol: where a battle's event log, metadata, claims and snapshots live.

A battle is event-sourced: its log is the truth and its state a fold over it. The store keeps the
log as plain JSON-able dicts (`Event.to_dict()`), knows nothing about rules, and offers exactly what
the server needs to stay correct when several instances share one store:

- `append(battle_id, expected_seq, events)` succeeds only if the log ends at `expected_seq`
  (optimistic concurrency): two writers racing on one battle never fork its log; the loser gets
  `SeqConflict`, re-reads, re-decides and retries.
- `read(battle_id, after_seq)` returns exactly the events a reconnecting client missed.
- `subscribe(battle_id, after_seq)` pushes batches appended by anyone (this instance or another),
  in seq order, so every instance can fan them out to its own clients.
- snapshots let a join avoid a full replay; claims bind a station to a player's resume token.
- `append(..., guard=ClaimGuard(...))` writes a player's command only while the store still binds
  the player's stations to its resume token (`ClaimLost` otherwise), in the same atomic step as the
  seq check: a GM release on another instance stops the holder's next command at once.
- `notify` / `subscribe(on_notice=...)` carry control notices (a release, a kick, a presence
  change) to the other instances serving a battle; `set_peers` / `remote_peers` let presence list
  the peers connected to other instances. A single-instance store has no other instance: its
  `notify` does nothing and its `remote_peers` is empty.

Every method may raise `StoreUnavailable` when the backing service is down; the server turns that
into the client error `store_unavailable` and changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

EventDict = dict[str, Any]
"""One event as stored and sent on the wire (`Event.to_dict()`): at least `seq` and `type`."""


class StoreError(Exception):
    """Base class of every error a store raises on purpose."""


class StoreUnavailable(StoreError):
    """The backing service cannot be reached or did not answer in time; nothing was changed.

    An append that timed out carries a deadline the store checks before writing, so a Redis that
    resumes late refuses it; the caller still tells its client to resend with the same command
    id (an append keyed by it is applied at most once), never to send a new one.
    """


class AlreadyApplied(StoreError):
    """`append` refused: a command with this key was appended before (seqs `first`..`last`);
    nothing was written, the caller answers as it did the first time."""

    def __init__(self, battle_id: str, first: int, last: int) -> None:
        super().__init__(f"battle {battle_id!r}: already appended as seqs {first}..{last}")
        self.battle_id = battle_id
        self.first = first
        self.last = last


SeatRefusal = Literal["banned", "unknown_token", "table_locked", "station_cap"]


class SeatRefused(StoreError):
    """`claim` refused by the table's rules; nothing changed.

    `banned`: the GM kicked this token; `unknown_token`: the battle never issued it;
    `table_locked`: the GM locked the table against new players; `station_cap`: the token holds
    `cap` stations already.
    """

    def __init__(self, reason: SeatRefusal, cap: int = 0) -> None:
        super().__init__(reason)
        self.reason: SeatRefusal = reason
        self.cap = cap


class BattleNotFound(StoreError):
    """No battle with that id (never created, deleted or expired)."""

    def __init__(self, battle_id: str) -> None:
        super().__init__(f"no battle {battle_id!r}")
        self.battle_id = battle_id


class BattleExists(StoreError):
    """`create` refused: the battle id or its join code is already taken."""


class SeqConflict(StoreError):
    """`append` refused: the log no longer ends at the expected seq (another writer was first)."""

    def __init__(self, battle_id: str, expected_seq: int, actual_seq: int) -> None:
        super().__init__(
            f"battle {battle_id!r}: expected last seq {expected_seq}, the log is at {actual_seq}"
        )
        self.battle_id = battle_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq


class BattleMeta(BaseModel):
    """What the server knows about a battle besides its events (tokens only as sha256 hashes).

    ``dice_secret`` is the battle's seed and commitment salt (``"<seed>:<salt hex>"``): the one
    secret kept in clear, since `decide` needs it to roll; no client ever reads the metadata.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    battle_id: str
    join_code: str
    gm_token_hash: str
    created_at: str
    name: str = ""
    bot_sides: tuple[str, ...] = ()
    imported: bool = False
    dice_secret: str | None = Field(default=None, repr=False)


class ClaimLost(StoreError):
    """`append` refused: the store no longer binds these stations to the writer's resume token
    (the GM released them, or someone else claimed them since); nothing was written."""

    def __init__(self, battle_id: str, ship_id: str, stations: Sequence[str]) -> None:
        super().__init__(
            f"battle {battle_id!r}: {', '.join(stations)} on {ship_id} no longer held by the writer"
        )
        self.battle_id = battle_id
        self.ship_id = ship_id
        self.stations = tuple(stations)


class Claim(BaseModel):
    """A station held by a player: bound to the sha256 of their resume token, not to a socket."""

    model_config = ConfigDict(frozen=True)

    ship_id: str
    station: str
    token_hash: str
    name: str = ""


class ClaimGuard(BaseModel):
    """What an append on behalf of a player requires: every station still bound to its token."""

    model_config = ConfigDict(frozen=True)

    ship_id: str
    stations: tuple[str, ...]
    token_hash: str


class TableRules(BaseModel):
    """What the GM decided about who may sit down: `locked` (no new players or spectators) and
    `max_stations` per player token (0: the server's `MAX_STATIONS_PER_PLAYER`); and how the
    table plays: `idle_crew_pass` (the unheld stations of a ship a player commands pass by
    themselves) and `turn_timer_s` (0: off; else an awaited station passes when it runs out)."""

    model_config = ConfigDict(frozen=True)

    locked: bool = False
    max_stations: int = Field(default=0, ge=0)
    idle_crew_pass: bool = False
    turn_timer_s: int = Field(default=0, ge=0)


CHAT_KEEP = 500
"""Chat lines a battle keeps (the oldest go first): a table's evening, not an archive."""


class ChatEntry(BaseModel):
    """One chat line: to the whole table, a whisper to the GM, or the GM's whisper to one
    person (by name and resume-token hash: a whisper follows its reader across reconnects).
    Kept beside the battle, never in its rules log; `id` is the store's, counted per battle.

    The hashes never leave the server (the hub sends `ChatLine` frames without them)."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(default=0, ge=0)
    at: str
    sender: str = Field(max_length=40)
    sender_role: Literal["gm", "player", "spectator"]
    sender_token_hash: str | None = None
    to: Literal["table", "gm", "person"]
    to_name: str = Field(default="", max_length=40)
    to_token_hash: str | None = None
    text: str = Field(min_length=1, max_length=500)


class Ban(BaseModel):
    """A revoked resume token: `ban_id` (a prefix of its hash) lets the GM lift it."""

    model_config = ConfigDict(frozen=True)

    ban_id: str
    name: str = ""


BAN_ID_LENGTH = 12
"""Hex digits of a token's sha256 that name its ban (never the token itself)."""


def ban_entry(name: str) -> str:
    """The tokens registry's value of a revoked token (`banned` + its holder's name)."""
    return "banned\x1f" + name


def parse_bans(tokens: dict[str, str]) -> tuple[Ban, ...]:
    """The bans of a battle's tokens registry (token hash -> `ok` or `ban_entry`), by ban id;
    purely computational."""
    bans = [
        Ban(ban_id=token[:BAN_ID_LENGTH], name=value.partition("\x1f")[2])
        for token, value in tokens.items()
        if value.startswith("banned")
    ]
    return tuple(sorted(bans, key=lambda b: b.ban_id))


class Table(BaseModel):
    """A battle's table rules and its bans, as the GM sees them."""

    model_config = ConfigDict(frozen=True)

    rules: TableRules = TableRules()
    bans: tuple[Ban, ...] = ()


class Notice(BaseModel):
    """A control message for the other instances serving a battle (never part of the log).

    - `released`: the GM freed `ship_id`/`station`; its holder there loses it and is told.
    - `kicked`: the GM removed `peer_id` (and revoked `token_hash`): the instance holding that
      connection, or any connection with that token, closes it.
    - `presence`: an instance's peers changed; the others re-send `presence` to their clients.
    - `table`: the GM changed the table rules or its bans; the others tell their GMs.
    - `chat`: a chat line was added; the others send it to those of their peers who may read it.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["released", "kicked", "presence", "table", "chat"]
    ship_id: str | None = None
    station: str | None = None
    token_hash: str | None = Field(
        default=None, description="released: the former holder's; kicked: the revoked token"
    )
    peer_id: str | None = None


class PeerInfo(BaseModel):
    """One connection as presence lists it, kept in the store for the other instances."""

    model_config = ConfigDict(frozen=True)

    peer_id: str
    role: str
    name: str = ""
    ship_id: str | None = None
    stations: tuple[str, ...] = ()
    token_hash: str | None = None


class Snapshot(BaseModel):
    """A folded state (`state_to_dict`) at `seq`; a join replays only the events after it."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(ge=0)
    state: dict[str, Any]


def check_seqs(battle_id: str, expected_seq: int, events: Sequence[EventDict]) -> None:
    """Refuse a batch whose seqs do not continue a log that ends at `expected_seq` (a bug in the
    caller, not a race: raised as `ValueError` before anything is written); purely computational."""
    for offset, event in enumerate(events, start=1):
        seq = event.get("seq") if isinstance(event, dict) else None
        if seq != expected_seq + offset:
            raise ValueError(
                f"battle {battle_id!r}: event #{offset} has seq {seq!r},"
                f" expected {expected_seq + offset}"
            )


@runtime_checkable
class BattleStore(Protocol):
    """Storage of battles: in memory by default; Redis shares battles between instances.

    Seqs are 1-based and consecutive; a battle's first event has seq 1, and `expected_seq` 0 means
    "the log is empty". Implementations must be safe to call concurrently from one event loop.
    """

    async def create(self, meta: BattleMeta, events: Sequence[EventDict]) -> None:
        """Store a new battle with its opening events (seq 1..n).

        Raises:
            BattleExists: the battle id or the join code is taken (the caller picks a new code).
        """
        ...

    async def get_meta(self, battle_id: str) -> BattleMeta:
        """Return the battle's metadata. Raises `BattleNotFound`."""
        ...

    async def find_by_join_code(self, join_code: str) -> str | None:
        """Return the battle id a (case-insensitive) join code maps to, or None."""
        ...

    async def list_battles(self) -> list[BattleMeta]:
        """Return the metadata of every stored battle (for /metrics and operators)."""
        ...

    async def delete(self, battle_id: str) -> None:
        """Remove a battle and everything about it; unknown ids are ignored."""
        ...

    async def append(
        self,
        battle_id: str,
        expected_seq: int,
        events: Sequence[EventDict],
        guard: ClaimGuard | None = None,
        key: str | None = None,
    ) -> int:
        """Append events if, and only if, the log currently ends at `expected_seq`.

        The events must carry seqs `expected_seq + 1, expected_seq + 2, ...` (else `ValueError`).
        With a `guard`, also only if every station of the guard is held with its `token_hash`,
        checked in the same atomic step. With a `key` (a client's command id, scoped to its
        sender), only if no append with that key is among the battle's last `dedupe_window`
        keyed appends: a command resent after a lost answer is applied once. Returns the new
        last seq.

        Raises:
            AlreadyApplied: the key was appended before (checked first); nothing was written.
            SeqConflict: another writer appended first; nothing was written.
            ClaimLost: a guarded station is no longer the writer's; nothing was written.
            BattleNotFound: no such battle.
            StoreUnavailable: the store did not answer in time; a late store refuses the write.
        """
        ...

    async def applied(self, battle_id: str, key: str) -> tuple[int, int] | None:
        """The seqs (first, last) an append with `key` wrote, if it is still remembered."""
        ...

    async def read(
        self, battle_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[EventDict]:
        """Return the events with seq > `after_seq` in order, at most `limit`.

        Raises:
            BattleNotFound: no such battle.
        """
        ...

    async def last_seq(self, battle_id: str) -> int:
        """Return the seq of the battle's last event. Raises `BattleNotFound`."""
        ...

    def subscribe(
        self,
        battle_id: str,
        after_seq: int,
        on_notice: Callable[[Notice], None] | None = None,
    ) -> AsyncIterator[list[EventDict]]:
        """Yield every batch appended after `after_seq` by any writer, in seq order, without gaps.

        The iterator ends when the battle is deleted or expires; the consumer cancels it when it no
        longer needs it. Consumers still drop seqs they have already seen (an instance also learns
        its own appends directly). While it runs, `on_notice` is called with every notice another
        instance publishes for the battle (`notify`) from then on.
        """
        ...

    async def notify(self, battle_id: str, notice: Notice) -> None:
        """Publish a notice to the other instances subscribed to the battle (not to this one)."""
        ...

    async def set_peers(self, battle_id: str, peers: Sequence[PeerInfo]) -> None:
        """Record this instance's peers of the battle (empty: none) and tell the other instances
        (a `presence` notice)."""
        ...

    async def remote_peers(self, battle_id: str) -> list[PeerInfo]:
        """The peers other live instances recorded for the battle."""
        ...

    async def save_snapshot(self, battle_id: str, snapshot: Snapshot) -> None:
        """Keep the latest folded state (older snapshots may be discarded)."""
        ...

    async def load_snapshot(self, battle_id: str) -> Snapshot | None:
        """Return the latest snapshot, or None when there is none."""
        ...

    async def claim(
        self, battle_id: str, claim: Claim, *, new_token: bool = False, max_stations: int = 0
    ) -> Claim:
        """Take a station unless someone else holds it; return the holder after the call.

        The claim succeeds when the station is free or already held with the same `token_hash`
        (a reconnecting player gets it back). The caller compares the returned `token_hash`.
        The token must be one the battle issued (it holds a claim or was registered by an
        earlier claim) unless `new_token` says the server just made it: then the claim registers
        it, unless the table is locked. A token may hold at most the table's `max_stations`
        (the argument when the GM set none; 0: no cap). All checked in one atomic step.

        Raises:
            SeatRefused: banned, unknown token, locked table or station cap; nothing changed.
        """
        ...

    async def revoke(self, battle_id: str, token_hash: str, name: str = "") -> list[Claim]:
        """Ban a resume token from the battle and free every station it holds, atomically;
        return the claims freed (its holder's next append fails with `ClaimLost`)."""
        ...

    async def lift_ban(self, battle_id: str, ban_id: str) -> bool:
        """Let a banned token sit down again (by its `Ban.ban_id`); False if no such ban."""
        ...

    async def table(self, battle_id: str) -> Table:
        """The battle's table rules and bans."""
        ...

    async def set_table(self, battle_id: str, rules: TableRules) -> None:
        """Replace the battle's table rules (a lock refuses new tokens from now on)."""
        ...

    async def release(self, battle_id: str, ship_id: str, station: str) -> Claim | None:
        """Free a station (GM release or kick); return the claim it freed (None: it was free)."""
        ...

    async def claims(self, battle_id: str) -> list[Claim]:
        """Return every held station of the battle."""
        ...

    async def append_chat(
        self, battle_id: str, entry: ChatEntry, keep: int = CHAT_KEEP
    ) -> ChatEntry:
        """Add a chat line (its `id` is set here: the battle's next) and keep the last `keep`;
        return it as stored. Raises `BattleNotFound`."""
        ...

    async def chat(self, battle_id: str) -> list[ChatEntry]:
        """The battle's kept chat lines, oldest first. Raises `BattleNotFound`."""
        ...

    async def touch(self, battle_id: str) -> None:
        """Mark the battle as used now (appends touch implicitly); idle battles expire."""
        ...

    async def expire_idle(self, max_idle_s: float) -> list[str]:
        """Delete battles untouched for `max_idle_s` seconds; return their ids.

        A store whose backend expires keys itself (e.g. Redis TTLs) may return an empty list.
        """
        ...

    async def ping(self) -> None:
        """Return when the store can serve requests. Raises `StoreUnavailable` (drives `/ready`)."""
        ...

    async def close(self) -> None:
        """Release connections and end every subscription."""
        ...
