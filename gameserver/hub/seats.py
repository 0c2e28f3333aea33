"""Who sits where: players' station claims, the GM's release and kick, and the notices other
instances send about them.

A player's command is appended with a `ClaimGuard`: the store writes it only while the player's
stations are still bound to its resume token. A GM release or kick on another instance reaches this
one as a store `Notice` (the holder is told at once); should the notice be late, the guard refuses
the append (`ClaimLost`), the hub drops the lost stations, tells the player and decides again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gameserver import rules
from gameserver.hub.connection import Connection
from gameserver.hub.errors import HubError
from gameserver.hub.presence import broadcast_presence
from gameserver.hub.room import BattleRoom
from gameserver.logs import get_logger
from gameserver.protocol import AckMessage, ErrorCode, KickMessage, ReleaseMessage, Role
from gameserver.store import Claim, ClaimLost, Notice

if TYPE_CHECKING:
    from gameserver.hub.hub import Hub

log = get_logger("hub")

KICKED_CLOSE_CODE = 4000
"""The WebSocket close code a kicked peer gets (application range: not a server failure)."""


def known_stations(state: rules.BattleState) -> set[tuple[str, str]]:
    """Every (ship, station) of the battle: the stations of each ship's design."""
    return {
        (ship_id, station)
        for ship_id, ship in state.ships.items()
        for station in ship.design.station_ids()
    }


class Seats:
    """Station claims and the GM's say over them, for every room of the hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def claim(
        self, room: BattleRoom, ship_id: str, stations: Sequence[str], hashed: str, name: str
    ) -> list[str]:
        """Take every station or none; a station held by another token refuses the join.

        Returns the stations this call took (not those the token held already)."""
        known = known_stations(room.state)
        for station in stations:
            if (ship_id, station) not in known:
                raise HubError(
                    ErrorCode.UNKNOWN_STATION, f"ship {ship_id!r} has no station {station!r}"
                )
        taken_now: list[str] = []
        held_before = {
            c.station
            for c in await self.hub.store.claims(room.battle_id)
            if c.ship_id == ship_id and c.token_hash == hashed
        }
        for station in dict.fromkeys(stations):
            holder = await self.hub.store.claim(
                room.battle_id,
                Claim(ship_id=ship_id, station=station, token_hash=hashed, name=name),
            )
            if holder.token_hash != hashed:
                for mine in taken_now:
                    await self.hub.store.release(room.battle_id, ship_id, mine)
                who = f" by {holder.name}" if holder.name else ""
                raise HubError(
                    ErrorCode.STATION_TAKEN,
                    f"{station} on {ship_id} is held{who}; ask the GM to release it",
                )
            if station not in held_before:
                taken_now.append(station)
        return taken_now

    def claims_lost(self, room: BattleRoom, exc: ClaimLost, token: str | None) -> None:
        """The store refused a player's append: its stations were released elsewhere."""
        changed = False
        for station in exc.stations:
            changed |= self.strip_station(room, exc.ship_id, station, token)
        if changed:
            room.peers_changed()
            room.presence.request()

    def strip_station(
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
            self.hub.error(
                peer,
                ErrorCode.STATION_RELEASED,
                f"the GM released {station} on {ship_id}",
                None,
            )
            changed = True
        return changed

    async def release(self, conn: Connection, room: BattleRoom, msg: ReleaseMessage) -> None:
        """GM: free a station; a local holder loses it at once."""
        if conn.role is not Role.GM:
            raise HubError(ErrorCode.GM_ONLY, "only the GM can release a station")
        if (msg.ship_id, msg.station) not in known_stations(room.state):
            raise HubError(
                ErrorCode.UNKNOWN_STATION, f"ship {msg.ship_id!r} has no station {msg.station!r}"
            )
        freed = await self.hub.store.release(room.battle_id, msg.ship_id, msg.station)
        if self.strip_station(room, msg.ship_id, msg.station, None):
            room.peers_changed()
        if freed is not None:
            # The holder may be connected to another instance: its instance tells it. (Should
            # this notice be lost, the store's claim guard still refuses the holder's commands.)
            await self.hub.store.notify(
                room.battle_id,
                Notice(
                    kind="released",
                    ship_id=msg.ship_id,
                    station=msg.station,
                    token_hash=freed.token_hash,
                ),
            )
        log.info("released", battle_id=room.battle_id, ship_id=msg.ship_id, station=msg.station)
        await broadcast_presence(self.hub.store, room)
        self._ack_admin(conn, room, msg.client_id)

    async def kick(self, conn: Connection, room: BattleRoom, msg: KickMessage) -> None:
        """GM: disconnect a peer and free the stations it held."""
        if conn.role is not Role.GM:
            raise HubError(ErrorCode.GM_ONLY, "only the GM can kick")
        target = room.peers.get(msg.peer_id)
        if target is not None:
            if target.ship_id is not None:
                for station in target.stations:
                    await self.hub.store.release(room.battle_id, target.ship_id, station)
            self.remove_kicked(room, target)
        else:
            # Connected to another instance? Free its stations here; its instance closes it.
            remote = {p.peer_id: p for p in await self.hub.store.remote_peers(room.battle_id)}
            info = remote.get(msg.peer_id)
            if info is None:
                raise HubError(ErrorCode.NOT_FOUND, f"no peer {msg.peer_id!r} in this battle")
            if info.ship_id is not None:
                for station in info.stations:
                    await self.hub.store.release(room.battle_id, info.ship_id, station)
            await self.hub.store.notify(room.battle_id, Notice(kind="kicked", peer_id=msg.peer_id))
        log.info("kicked", battle_id=room.battle_id, peer_id=msg.peer_id)
        await broadcast_presence(self.hub.store, room)
        self._ack_admin(conn, room, msg.client_id)

    def remove_kicked(self, room: BattleRoom, target: Connection) -> None:
        """Tell a kicked peer of this instance, close it with 4000 and forget it."""
        room.peers.pop(target.peer_id, None)
        target.room = None
        self.hub.error(target, ErrorCode.KICKED, "the GM removed you from the battle", None)
        target.queue.put_nowait(None)
        self.hub.spawn(
            target.ws.close(code=KICKED_CLOSE_CODE, message=b"kicked by the GM"), "kick-close"
        )
        room.peers_changed()

    def on_notice(self, room: BattleRoom, notice: Notice) -> None:
        """Act on another instance's release, kick or presence change for this room's peers."""
        if self.hub.rooms.get(room.battle_id) is not room:
            return
        if notice.kind == "released" and notice.ship_id and notice.station:
            # Only the holder bound to the freed claim's token: someone who claimed the station
            # since (here, before this notice arrived) keeps it.
            token = notice.token_hash or ""
            if self.strip_station(room, notice.ship_id, notice.station, token):
                room.peers_changed()
        elif notice.kind == "kicked" and notice.peer_id:
            target = room.peers.get(notice.peer_id)
            if target is not None:
                # The kicking instance freed its stations already; freeing them again here could
                # free a claim someone took since.
                self.remove_kicked(room, target)
                log.info("kicked", battle_id=room.battle_id, peer_id=notice.peer_id)
        room.presence.request()

    @staticmethod
    def _ack_admin(conn: Connection, room: BattleRoom, client_id: str | None) -> None:
        """Confirm a GM release/kick to a client that asked with a `client_id` (no events)."""
        if client_id is not None:
            conn.send_model(AckMessage(client_id=client_id, seq=room.seq, seqs=[]))
