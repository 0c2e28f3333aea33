"""Presence: who is connected to a battle and which stations are held, across instances.

Two directions: `peer_publisher` records this instance's peers of a room in the store (one write
in flight per room) so other instances list them; `broadcast_presence` sends every local peer the
`presence` frame built from the local peers, the other instances' peers and the store's claims,
at most once per `PRESENCE_INTERVAL_S` (`presence_broadcaster`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from gameserver.hub.connection import Connection
from gameserver.logs import get_logger
from gameserver.protocol import ClaimInfo, Peer, PresenceMessage, Role
from gameserver.store import BattleNotFound, BattleStore, Claim, PeerInfo, StoreUnavailable

if TYPE_CHECKING:
    from gameserver.hub.room import BattleRoom

log = get_logger("hub")


class Coalesced:
    """Runs `action` when asked, one run at a time: asks that arrive during a run (or the pause
    of `interval_s` after it) are merged into one more run. `action` returns False to stop."""

    def __init__(
        self, action: Callable[[], Awaitable[bool]], name: str, interval_s: float = 0.0
    ) -> None:
        self.action = action
        self.name = name
        self.interval_s = interval_s
        self.task: asyncio.Task[None] | None = None
        self._dirty = False

    def request(self) -> None:
        """Something changed: run now, or once more after the current run."""
        self._dirty = True
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while self._dirty:
            self._dirty = False
            if not await self.action():
                return
            if self.interval_s:
                await asyncio.sleep(self.interval_s)


def peer_publisher(room: BattleRoom) -> Coalesced:
    """Writes one room's local peers to the store for the other instances, one write in flight."""

    async def publish() -> bool:
        peers = [c.peer_info() for c in room.peers.values()]
        try:
            await room.hub.store.set_peers(room.battle_id, peers)
        except (StoreUnavailable, BattleNotFound) as exc:
            log.warning("peers_not_published", battle_id=room.battle_id, error=str(exc))
            return False
        return True

    return Coalesced(publish, f"peers:{room.battle_id}")


def presence_broadcaster(room: BattleRoom, interval_s: float) -> Coalesced:
    """Sends one room's `presence` at most once per `interval_s`: a burst of joins and leaves (or
    one client churning sockets) costs one frame per peer per interval, not one per change. The
    first change after a quiet spell goes out at once."""

    async def broadcast() -> bool:
        await broadcast_presence(room.hub.store, room)
        return True

    return Coalesced(broadcast, f"presence:{room.battle_id}", interval_s)


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
