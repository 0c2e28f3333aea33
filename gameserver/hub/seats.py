"""Who sits where: players' station claims, the GM's release, kick, bans and table rules, and
the notices other instances send about them.

Resume tokens are issued by the server only: a join that names a token the battle never issued
is refused (`bad_resume_token`). A kick revokes the kicked player's token (`banned` until the GM
lifts it with `unban`); a locked table takes no new players or spectators; the GM may cap the
stations one token holds. The store checks bans, issued tokens, the lock and the cap in the same
atomic step as the claim, so parallel joins cannot slip past them.

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
from gameserver.protocol import (
    AckMessage,
    BanInfo,
    ErrorCode,
    KickMessage,
    ReleaseMessage,
    Role,
    TableMessage,
    TableRequest,
    UnbanMessage,
)
from gameserver.store import Claim, ClaimLost, Notice, SeatRefused

if TYPE_CHECKING:
    from gameserver.hub.hub import Hub

log = get_logger("hub")

KICKED_CLOSE_CODE = 4000
"""The WebSocket close code a kicked peer gets (application range: not a server failure)."""

_REFUSALS: dict[str, tuple[ErrorCode, str]] = {
    "banned": (ErrorCode.BANNED, "the GM removed you from this battle"),
    "unknown_token": (
        ErrorCode.BAD_RESUME_TOKEN,
        "this resume token was not issued for this battle; join without one for a new seat",
    ),
    "table_locked": (ErrorCode.TABLE_LOCKED, "the GM has locked the table: no new players"),
    "station_cap": (ErrorCode.STATION_CAP, "you hold as many stations as the GM allows"),
}
"""A store's `SeatRefused` reason as the client's error (and the refusal metric's label)."""


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
        self,
        room: BattleRoom,
        ship_id: str,
        stations: Sequence[str],
        hashed: str,
        name: str,
        new_token: bool = False,
    ) -> list[str]:
        """Take every station or none; a station held by another token, or the table's rules
        (ban, unknown token, lock, station cap), refuse the join.

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
            try:
                holder = await self.hub.store.claim(
                    room.battle_id,
                    Claim(ship_id=ship_id, station=station, token_hash=hashed, name=name),
                    new_token=new_token,
                    max_stations=self.hub.settings.max_stations_per_player,
                )
            except SeatRefused as exc:
                for mine in taken_now:
                    await self.hub.store.release(room.battle_id, ship_id, mine)
                self.hub.metrics.refusals.labels(limit=exc.reason).inc()
                code, message = _REFUSALS[exc.reason]
                if exc.reason == "station_cap":
                    message = f"{message} ({exc.cap})"
                raise HubError(code, message) from None
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
        """GM: disconnect a peer, revoke its resume token (banned from the battle, its stations
        freed) and close every connection that holds the token, on any instance."""
        if conn.role is not Role.GM:
            raise HubError(ErrorCode.GM_ONLY, "only the GM can kick")
        target = room.peers.get(msg.peer_id)
        if target is not None:
            token, name = target.token_hash, target.name
        else:
            # Connected to another instance? Revoke here; its instance closes it.
            remote = {p.peer_id: p for p in await self.hub.store.remote_peers(room.battle_id)}
            info = remote.get(msg.peer_id)
            if info is None:
                raise HubError(ErrorCode.NOT_FOUND, f"no peer {msg.peer_id!r} in this battle")
            token, name = info.token_hash, info.name
        if token is not None:
            await self.hub.store.revoke(room.battle_id, token, name)
        self.remove_kicked(room, msg.peer_id, token)
        await self.hub.store.notify(
            room.battle_id, Notice(kind="kicked", peer_id=msg.peer_id, token_hash=token)
        )
        log.info("kicked", battle_id=room.battle_id, peer_id=msg.peer_id, banned=token is not None)
        await broadcast_presence(self.hub.store, room)
        self._ack_admin(conn, room, msg.client_id)
        if token is not None:
            await self.table_changed(room)

    def remove_kicked(self, room: BattleRoom, peer_id: str, token: str | None) -> None:
        """Tell the kicked peer of this instance, and every one with its revoked token, close
        them with 4000 and forget them."""
        gone = [
            p
            for p in room.peers.values()
            if p.peer_id == peer_id or (token is not None and p.token_hash == token)
        ]
        for target in gone:
            room.peers.pop(target.peer_id, None)
            target.room = None
            self.hub.error(target, ErrorCode.KICKED, "the GM removed you from the battle", None)
            target.queue.put_nowait(None)
            self.hub.spawn(
                target.ws.close(code=KICKED_CLOSE_CODE, message=b"kicked by the GM"), "kick-close"
            )
        if gone:
            room.peers_changed()

    async def unban(self, conn: Connection, room: BattleRoom, msg: UnbanMessage) -> None:
        """GM: lift a ban; the player may rejoin with its old resume token."""
        if conn.role is not Role.GM:
            raise HubError(ErrorCode.GM_ONLY, "only the GM can lift a ban")
        if not await self.hub.store.lift_ban(room.battle_id, msg.ban_id):
            raise HubError(ErrorCode.NOT_FOUND, f"no ban {msg.ban_id!r} in this battle")
        log.info("unbanned", battle_id=room.battle_id, ban_id=msg.ban_id)
        self._ack_admin(conn, room, msg.client_id)
        await self.table_changed(room)

    async def set_table(self, conn: Connection, room: BattleRoom, msg: TableRequest) -> None:
        """GM: lock or unlock the table, set the per-player station cap."""
        if conn.role is not Role.GM:
            raise HubError(ErrorCode.GM_ONLY, "only the GM can change the table")
        rules = (await self.hub.store.table(room.battle_id)).rules
        changes = {
            k: v
            for k, v in (
                ("locked", msg.locked),
                ("max_stations", msg.max_stations),
                ("idle_crew_pass", msg.idle_crew_pass),
                ("turn_timer_s", msg.turn_timer_s),
            )
            if v is not None
        }
        new_rules = rules.model_copy(update=changes)
        await self.hub.store.set_table(room.battle_id, new_rules)
        room.table_set(new_rules)
        log.info("table_changed", battle_id=room.battle_id, **changes)
        self._ack_admin(conn, room, msg.client_id)
        await self.table_changed(room)

    async def table_changed(self, room: BattleRoom) -> None:
        """Send the table to this instance's GMs and tell the other instances to do the same."""
        await self.send_table(room, None)
        await self.hub.store.notify(room.battle_id, Notice(kind="table"))
        room.autopass.kick()
        room.timer.kick()

    async def send_table(self, room: BattleRoom, to: Connection | None) -> None:
        """The `table` frame to one GM connection, or to every GM of the room on this instance."""
        gms = [to] if to is not None else [p for p in room.peers.values() if p.role is Role.GM]
        if not gms:
            return
        table = await self.hub.store.table(room.battle_id)
        frame = TableMessage(
            battle_id=room.battle_id,
            locked=table.rules.locked,
            max_stations=table.rules.max_stations or self.hub.settings.max_stations_per_player,
            bans=[BanInfo(ban_id=b.ban_id, name=b.name) for b in table.bans],
            idle_crew_pass=table.rules.idle_crew_pass,
            turn_timer_s=table.rules.turn_timer_s,
        ).model_dump_json()
        for gm in gms:
            gm.send(frame)

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
            # The kicking instance revoked the token and freed its stations already.
            self.remove_kicked(room, notice.peer_id, notice.token_hash)
        elif notice.kind == "table":
            room.table_set(None)  # another instance changed them: read them again when asked
            self.hub.spawn(self.send_table(room, None), "table")
            room.autopass.kick()
            room.timer.kick()
        elif notice.kind == "chat":
            self.hub.spawn(self.hub.chat.on_notice(room), "chat")
        room.presence.request()

    @staticmethod
    def _ack_admin(conn: Connection, room: BattleRoom, client_id: str | None) -> None:
        """Confirm a GM's seat or table change to a client that asked with a `client_id`."""
        if client_id is not None:
            conn.send_model(AckMessage(client_id=client_id, seq=room.seq, seqs=[]))
