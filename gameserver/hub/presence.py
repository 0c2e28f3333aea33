"""Presence: who is connected to a battle and which stations are held, across instances.

Two directions: `PeerPublisher` records this instance's peers of a room in the store (coalesced,
one write in flight per room) so other instances list them; `broadcast_presence` sends every
local peer the `presence` frame built from the local peers, the other instances' peers and the
store's claims.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gameserver.hub.connection import Connection
from gameserver.logs import get_logger
from gameserver.protocol import ClaimInfo, Peer, PresenceMessage, Role
from gameserver.store import BattleNotFound, BattleStore, Claim, PeerInfo, StoreUnavailable

if TYPE_CHECKING:
    from gameserver.hub.room import BattleRoom

log = get_logger("hub")


class PeerPublisher:
    """Writes one room's local peers to the store for the other instances, coalescing changes."""

    def __init__(self, room: BattleRoom) -> None:
        self.room = room
        self.task: asyncio.Task[None] | None = None
        self._dirty = False

    def changed(self) -> None:
        """Record this instance's peers in the store for the other instances (coalesced)."""
        self._dirty = True
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._publish(), name=f"peers:{self.room.battle_id}")

    async def _publish(self) -> None:
        room = self.room
        while self._dirty:
            self._dirty = False
            peers = [c.peer_info() for c in room.peers.values()]
            try:
                await room.hub.store.set_peers(room.battle_id, peers)
            except (StoreUnavailable, BattleNotFound) as exc:
                log.warning("peers_not_published", battle_id=room.battle_id, error=str(exc))
                return


class PresenceBroadcaster:
    """Sends one room's `presence` at most once per `interval_s`: a burst of joins and leaves (or
    one client churning sockets) costs one frame per peer per interval, not one per change. The
    first change after a quiet spell goes out at once."""

    def __init__(self, room: BattleRoom, interval_s: float) -> None:
        self.room = room
        self.interval_s = interval_s
        self.task: asyncio.Task[None] | None = None
        self._dirty = False

    def request(self) -> None:
        """Presence changed: send it now, or once the current interval is over."""
        self._dirty = True
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=f"presence:{self.room.battle_id}")

    async def _run(self) -> None:
        while self._dirty:
            self._dirty = False
            await broadcast_presence(self.room.hub.store, self.room)
            await asyncio.sleep(self.interval_s)


def presence_frame(
    battle_id: str,
    local: Sequence[Connection],
    remote: Sequence[PeerInfo],
    claims: Sequence[Claim],
) -> str:
    """The `presence` frame: every peer (here and on other instances) and every held station,
    marked connected when its holder's token is connected anywhere; purely computational."""
    connected = {c.token_hash for c in local if c.token_hash}
    connected |= {p.token_hash for p in remote if p.token_hash}
    return PresenceMessage(
        battle_id=battle_id,
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


async def broadcast_presence(store: BattleStore, room: BattleRoom) -> None:
    """Tell every peer of the battle who is here and which stations are held."""
    try:
        claims = await store.claims(room.battle_id)
        remote = await store.remote_peers(room.battle_id)
    except (StoreUnavailable, BattleNotFound):
        return
    frame = presence_frame(room.battle_id, list(room.peers.values()), remote, claims)
    for conn in list(room.peers.values()):
        conn.send(frame)
