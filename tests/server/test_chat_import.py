"""Chat restored on import: the GM's download carries the table's chat beside the events; an
import brings it back (whispers stay whispers: the GM's alone, as the file has no tokens), and
a chat the server could not have written is refused with a clear error, storing nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gameserver import protocol
from gameserver.app import create_app
from gameserver.settings import Settings
from gameserver.store import CHAT_KEEP, ChatEntry
from gameserver.store.memory import MemoryBattleStore
from tests.server.conftest import ConnectFn, WsPeer, create_battle
from tests.server.test_http import gm_export


async def _say(peer: WsPeer, text: str, to: str = "table") -> None:
    await peer.send(
        {"type": "chat", "client_id": f"chat-{len(peer.frames)}", "to": to, "text": text}
    )
    await peer.recv_until("ack")


async def _chat_read_on_join(connect: ConnectFn, **join: Any) -> list[dict[str, Any]]:
    """The chat lines a new connection reads when it joins (its history frame, if any)."""
    peer = await connect()
    await peer.join(**join)
    await peer.send({"type": "ping", "client_id": "p"})
    await peer.recv_until("pong")  # the history frame, if any, came before the answer
    return [line for f in peer.frames if f["type"] == "chat" for line in f["lines"]]


async def _battle_with_chat(
    client: TestClient[Any, Any], connect: ConnectFn
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A battle where a player, the GM and a spectator talked (a table line and a whisper
    each way), and its GM export."""
    battle = await create_battle(client)
    gm = await connect()
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    ana = await connect()
    joined = await ana.join(
        battle_id=battle["battle_id"],
        role="player",
        ship_id="alpha",
        stations=["pilot"],
        name="Ana",
    )
    await _say(ana, "hello table")
    await _say(ana, "they are bluffing", to="gm")
    await _say(gm, "roll with it", to=joined["peer_id"])
    exported = await gm_export(client, battle)
    return battle, exported


async def test_an_import_brings_back_the_chat_and_whispers_stay_whispers(
    client: TestClient[Any, Any], connect: ConnectFn, store: MemoryBattleStore
) -> None:
    _battle, exported = await _battle_with_chat(client, connect)
    assert [line["text"] for line in exported["chat"]] == [
        "hello table",
        "they are bluffing",
        "roll with it",
    ]
    resp = await client.post("/api/battles/import", json=exported)
    imported = await resp.json()
    assert resp.status == 201, imported
    battle_id = imported["battle_id"]

    kept = await store.chat(battle_id)
    assert [(e.sender, e.to, e.to_name, e.text) for e in kept] == [
        ("Ana", "table", "", "hello table"),
        ("Ana", "gm", "", "they are bluffing"),
        ("GM", "person", "Ana", "roll with it"),
    ]
    assert [e.at for e in kept] == [line["at"] for line in exported["chat"]], "times kept"
    assert all(e.sender_token_hash is None and e.to_token_hash is None for e in kept)

    # The GM reads every line; a player or a spectator of the resumed battle only the table's.
    gm_lines = await _chat_read_on_join(
        connect, battle_id=battle_id, role="gm", gm_token=imported["gm_token"]
    )
    assert [line["text"] for line in gm_lines] == [
        "hello table",
        "they are bluffing",
        "roll with it",
    ]
    assert (gm_lines[2]["to"], gm_lines[2]["to_name"]) == ("person", "Ana")
    for join in (
        {"role": "player", "ship_id": "alpha", "stations": ["pilot"], "name": "Ana"},
        {"role": "spectator", "name": "Wren"},
    ):
        lines = await _chat_read_on_join(connect, battle_id=battle_id, **join)
        assert [line["text"] for line in lines] == ["hello table"], join

    # The resumed battle's chat goes on after the restored lines.
    gm = await connect()
    await gm.join(battle_id=battle_id, role="gm", gm_token=imported["gm_token"])
    await _say(gm, "welcome back")
    assert [e.id for e in await store.chat(battle_id)] == [1, 2, 3, 4]


def _line(i: int, **fields: Any) -> dict[str, Any]:
    line = {
        "id": i,
        "at": "2026-12-02T22:00:00Z",
        "sender": "Ana",
        "sender_role": "player",
        "to": "table",
        "to_name": "",
        "text": f"line {i}",
    }
    return line | fields


FORGERIES: dict[str, tuple[Any, str]] = {
    "too long": (
        [_line(1, text="x" * (protocol.CHAT_MAX_CHARS + 1))],
        "chat.0.text: String should have at most 500 characters",
    ),
    "too many": (
        [_line(i) for i in range(1, protocol.MAX_IMPORT_CHAT + 2)],
        "chat: List should have at most 500 items",
    ),
    "unknown sender role": ([_line(1, sender_role="admiral")], "chat.0.sender_role"),
    "unknown addressee": ([_line(1, to="everyone")], "chat.0.to"),
    "a player whispering to another": (
        [_line(1, to="person", to_name="Bob")],
        "line 1: only the GM whispers to one person",
    ),
    "a whisper naming nobody": (
        [_line(1, sender="GM", sender_role="gm", to="person")],
        "line 1: a whisper to one person names that person",
    ),
    "a table line with an addressee": (
        [_line(1, to_name="Bob")],
        "line 1: only a whisper to one person names an addressee",
    ),
    "a token hash smuggled in": (
        [_line(1, to="gm", sender_token_hash="ab" * 32)],
        "chat.0.sender_token_hash: Extra inputs are not permitted",
    ),
    "a control character": ([_line(1, text="bell\x07")], "line 1: control characters"),
    "ids out of order": ([_line(2), _line(1)], "line 1 comes after line 2"),
    "a name past its bound": ([_line(1, sender="A" * 41)], "chat.0.sender: String should"),
    "not a list": ({"lines": []}, "chat: Input should be a valid list"),
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_a_forged_chat_is_refused_and_nothing_is_stored(
    client: TestClient[Any, Any], connect: ConnectFn, store: MemoryBattleStore, forgery: str
) -> None:
    _battle, exported = await _battle_with_chat(client, connect)
    before = {m.battle_id for m in await store.list_battles()}
    chat, expected = FORGERIES[forgery]
    forged = copy.deepcopy(exported)
    forged["chat"] = chat
    resp = await client.post("/api/battles/import", json=forged)
    body = await resp.json()
    assert resp.status in (400, 422), body
    assert body["error"] == "bad_log"
    assert expected in body["message"], body["message"]
    assert {m.battle_id for m in await store.list_battles()} == before, "no battle was stored"
    # The genuine file still imports: the refusal was about the chat alone.
    assert (await client.post("/api/battles/import", json=exported)).status == 201


def test_the_import_bounds_are_the_stores() -> None:
    """The import's chat bounds (protocol) are what the store keeps (`ChatEntry`, `CHAT_KEEP`):
    a file this server wrote always fits, and nothing the store would refuse gets through."""
    assert protocol.MAX_IMPORT_CHAT == CHAT_KEEP
    imported = protocol.ImportedChatLine.model_fields
    entry = ChatEntry.model_fields
    for name in ("sender", "to_name", "text"):
        assert _max_length(imported[name]) == _max_length(entry[name]), name
    assert imported["to"].annotation == entry["to"].annotation
    assert imported["sender_role"].annotation == entry["sender_role"].annotation
    assert set(protocol.ChatLine.model_fields) == set(imported), "the export's fields, no more"


def _max_length(field: Any) -> int:
    return int(next(m.max_length for m in field.metadata if hasattr(m, "max_length")))


async def test_a_backup_restore_brings_back_the_chat_too(
    settings: Settings, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]
) -> None:
    """The backup API's restore (same battle id, join code and GM token) is an import too:
    backed up from one store, restored into an empty one, the chat comes back."""
    token = "backup-token-for-tests-0123456789abcdef"
    with_token = settings.model_copy(update={"backup_token": token})
    auth = {"Authorization": f"Bearer {token}"}
    source = await aiohttp_client(create_app(with_token, store=MemoryBattleStore()))
    battle = await create_battle(source)
    gm = WsPeer(await source.ws_connect("/ws"))
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    await _say(gm, "to the table")
    resp = await source.get(f"/api/backup/battles/{battle['battle_id']}", headers=auth)
    backup = json.loads(await resp.read())
    assert resp.status == 200, backup
    assert [line["text"] for line in backup["chat"]] == ["to the table"]

    target_store = MemoryBattleStore()
    target = await aiohttp_client(create_app(with_token, store=target_store))
    identity = backup["restore"]
    headers = auth | {
        "Content-Type": "application/json",
        "X-Restore-Battle-Id": identity["battle_id"],
        "X-Restore-Join-Code": identity["join_code"],
        "X-Restore-Gm-Token-Hash": identity["gm_token_hash"],
        "X-Restore-Created-At": identity["created_at"],
    }
    resp = await target.post("/api/backup/battles", data=json.dumps(backup), headers=headers)
    assert resp.status == 201, await resp.text()
    kept = await target_store.chat(battle["battle_id"])
    assert [(e.sender, e.to, e.text) for e in kept] == [("GM", "table", "to the table")]
