"""Table chat and whispers: kept beside the battle in the store (the GM's download has them),
never in its rules log, so replay, undo and dice verification never see a word of it.

Who reads a line: everyone (``table``); the GM and its sender (a whisper to the GM); the GM, the
sender and the person it names (the GM's whisper, bound to that person's resume-token hash, so it
follows them across reconnects). Lines reach other instances by a `chat` notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gameserver.hub.clock import now_iso
from gameserver.hub.connection import Connection, TokenBucket
from gameserver.hub.errors import HubError
from gameserver.logs import get_logger
from gameserver.protocol import (
    CHAT_MAX_CHARS,
    AckMessage,
    ChatLine,
    ChatMessage,
    ChatRequest,
    ErrorCode,
    Role,
)
from gameserver.store import ChatEntry, Notice

if TYPE_CHECKING:
    from gameserver.hub.hub import Hub
    from gameserver.hub.room import BattleRoom

log = get_logger("hub")

CHAT_RATE_PER_S = 0.5
CHAT_BURST = 5
"""One line every two seconds on average, five at once: a conversation, not a flood."""


def may_read(conn: Connection, entry: ChatEntry) -> bool:
    """Whether this connection may read the line; purely computational."""
    if entry.to == "table" or conn.role is Role.GM:
        return True
    mine = conn.token_hash is not None
    if mine and conn.token_hash == entry.sender_token_hash:
        return True
    return entry.to == "person" and mine and conn.token_hash == entry.to_token_hash


def chat_line(entry: ChatEntry) -> ChatLine:
    """The line as readers get it: names only, no token hashes."""
    return ChatLine(
        id=entry.id,
        at=entry.at,
        sender=entry.sender,
        sender_role=entry.sender_role,
        to=entry.to,
        to_name=entry.to_name,
        text=entry.text,
    )


def clean_text(text: str) -> str:
    """The line as kept: trimmed, control characters (but newlines) dropped. Markup is kept
    as typed: the page shows it as text, never as HTML. Raises `HubError` when empty or long."""
    kept = "".join(ch for ch in text if ch == "\n" or ch.isprintable()).strip()
    if not kept:
        raise HubError(ErrorCode.BAD_CHAT, "say something: the line is empty")
    if len(kept) > CHAT_MAX_CHARS:
        raise HubError(
            ErrorCode.BAD_CHAT,
            f"a chat line is at most {CHAT_MAX_CHARS} characters; this one has {len(kept)}",
        )
    return kept


class ChatDesk:
    """The chat of every room of this instance: checks, stores and delivers lines."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._buckets: dict[str, TokenBucket] = {}
        self._delivered: dict[str, int] = {}
        """Per battle: the newest line id this instance has sent to its peers."""

    async def say(self, conn: Connection, room: BattleRoom, msg: ChatRequest) -> None:
        """Check one line, keep it, send it to its readers here and tell the other instances."""
        bucket = self._buckets.get(conn.peer_id)
        if bucket is None:
            bucket = self._buckets[conn.peer_id] = TokenBucket(CHAT_RATE_PER_S, CHAT_BURST)
        text = clean_text(msg.text)
        role = conn.role or Role.SPECTATOR
        to_name, to_hash = "", None
        if msg.to == "gm" and role is Role.GM:
            raise HubError(ErrorCode.BAD_CHAT, "you are the GM: say it to the table or whisper")
        if msg.to not in ("table", "gm"):
            if role is not Role.GM:
                raise HubError(ErrorCode.GM_ONLY, "players whisper only to the GM")
            to_name, to_hash = await self._person(room, msg.to)
        if not bucket.take():
            conn.refused("chat_rate")
            raise HubError(ErrorCode.RATE_LIMITED, "too many chat lines; wait a moment")
        entry = ChatEntry(
            at=now_iso(),
            sender=conn.name or ("GM" if role is Role.GM else "Someone"),
            sender_role=role.value,
            sender_token_hash=conn.token_hash,
            to="table" if msg.to == "table" else "gm" if msg.to == "gm" else "person",
            to_name=to_name,
            to_token_hash=to_hash,
            text=text,
        )
        stored = await self.hub.store.append_chat(room.battle_id, entry)
        log.info("chat", battle_id=room.battle_id, to=stored.to, chars=len(stored.text))
        if msg.client_id is not None:
            conn.send_model(AckMessage(client_id=msg.client_id, seq=room.seq, seqs=[]))
        self._deliver(room, [stored])
        await self.hub.store.notify(room.battle_id, Notice(kind="chat"))

    async def _person(self, room: BattleRoom, peer_id: str) -> tuple[str, str]:
        """The name and token hash of someone at the table now (here or on another instance)."""
        peer = room.peers.get(peer_id)
        if peer is not None and peer.role is not Role.GM and peer.token_hash:
            return peer.name, peer.token_hash
        for info in await self.hub.store.remote_peers(room.battle_id):
            if info.peer_id == peer_id and info.role != Role.GM.value and info.token_hash:
                return info.name, info.token_hash
        raise HubError(
            ErrorCode.NOT_AT_TABLE, "nobody with that id is at the table now; pick someone present"
        )

    def _deliver(self, room: BattleRoom, entries: list[ChatEntry]) -> None:
        last = self._delivered.get(room.battle_id, 0)
        fresh = [e for e in entries if e.id > last]
        if not fresh:
            return
        self._delivered[room.battle_id] = fresh[-1].id
        for conn in list(room.peers.values()):
            lines = [chat_line(e) for e in fresh if may_read(conn, e)]
            if lines:
                conn.send_model(ChatMessage(battle_id=room.battle_id, lines=lines))

    async def on_notice(self, room: BattleRoom) -> None:
        """Another instance added a line: send the new ones to this instance's readers."""
        self._deliver(room, await self.hub.store.chat(room.battle_id))

    async def history(self, conn: Connection, room: BattleRoom) -> None:
        """The kept lines this connection may read (on join)."""
        entries = await self.hub.store.chat(room.battle_id)
        if entries:
            self._delivered.setdefault(room.battle_id, entries[-1].id)
        lines = [chat_line(e) for e in entries if may_read(conn, e)]
        if lines:
            conn.send_model(ChatMessage(battle_id=room.battle_id, lines=lines))

    def forget(self, conn: Connection) -> None:
        """A closed connection's flood bucket goes with it."""
        self._buckets.pop(conn.peer_id, None)

    def unloaded(self, battle_id: str) -> None:
        """An unloaded room's delivery mark goes with it (a reload reads history afresh)."""
        self._delivered.pop(battle_id, None)
