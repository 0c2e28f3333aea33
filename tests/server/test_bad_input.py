"""Bad input never changes state and never kills the server; each class gets a clear answer."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from gameserver.app import create_app
from gameserver.hub import Hub
from gameserver.settings import Settings
from gameserver.store.memory import MemoryBattleStore
from tests.server.conftest import ConnectFn, WsPeer, create_battle


async def joined_player(client: TestClient[Any, Any], connect: ConnectFn) -> tuple[WsPeer, str]:
    battle = await create_battle(client)
    peer = await connect()
    await peer.join(
        battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=["pilot"]
    )
    await peer.recv_until("snapshot")
    return peer, battle["battle_id"]


@pytest.mark.parametrize(
    ("raw", "code", "client_id"),
    [
        pytest.param("{not json", "bad_message", None, id="malformed-json"),
        pytest.param("[1, 2]", "bad_message", None, id="not-an-object"),
        pytest.param('{"client_id": "x1"}', "bad_message", "x1", id="no-type"),
        pytest.param('{"type": "teleport", "client_id": "x2"}', "unknown_type", "x2", id="unknown"),
        pytest.param(
            '{"type": "command", "client_id": "x3"}', "bad_message", "x3", id="no-command"
        ),
        pytest.param(
            '{"type": "command", "client_id": "x4", "command": {"type": "warp"}}',
            "bad_command",
            "x4",
            id="engine-refuses-shape",
        ),
        pytest.param(
            '{"type": "join", "battle_id": "b", "role": "spectator"}',
            "already_joined",
            None,
            id="second-join",
        ),
    ],
)
async def test_bad_message_gets_an_error_and_the_connection_stays(
    client: TestClient[Any, Any],
    connect: ConnectFn,
    hub: Hub,
    raw: str,
    code: str,
    client_id: str | None,
) -> None:
    peer, battle_id = await joined_player(client, connect)
    seq_before = hub.rooms[battle_id].seq
    await peer.ws.send_str(raw)
    error = await peer.recv_until("error")
    assert error["code"] == code
    assert error["client_id"] == client_id
    assert error["message"]
    assert hub.rooms[battle_id].seq == seq_before
    await peer.send({"type": "ping", "client_id": "still-here"})
    assert (await peer.recv_until("pong"))["client_id"] == "still-here"


async def test_messages_before_join_are_refused(connect: ConnectFn) -> None:
    peer = await connect()
    await peer.send({"type": "command", "client_id": "a", "command": {"type": "end_step"}})
    assert (await peer.recv())["code"] == "not_joined"


@pytest.mark.parametrize(
    ("join", "code"),
    [
        pytest.param(
            {"battle_id": "nope", "role": "spectator"}, "battle_not_found", id="no-battle"
        ),
        pytest.param(
            {"join_code": "ZZZZZZ", "role": "spectator"}, "battle_not_found", id="no-code"
        ),
        pytest.param({"role": "spectator"}, "bad_message", id="no-battle-given"),
        pytest.param({"battle_id": "{id}", "role": "gm"}, "bad_message", id="gm-no-token"),
        pytest.param(
            {"battle_id": "{id}", "role": "gm", "gm_token": "guess"}, "bad_gm_token", id="gm-wrong"
        ),
        pytest.param(
            {"battle_id": "{id}", "role": "player", "ship_id": "alpha", "stations": ["helm"]},
            "unknown_station",
            id="no-such-station",
        ),
        pytest.param(
            {"battle_id": "{id}", "role": "player", "ship_id": "zulu", "stations": ["pilot"]},
            "unknown_station",
            id="no-such-ship",
        ),
        pytest.param({"battle_id": "{id}", "role": "player"}, "bad_message", id="player-no-claim"),
    ],
)
async def test_bad_joins_are_refused_with_a_code(
    client: TestClient[Any, Any], connect: ConnectFn, join: dict[str, Any], code: str
) -> None:
    battle = await create_battle(client)
    peer = await connect()
    fields = {
        k: (v.format(id=battle["battle_id"]) if k == "battle_id" else v) for k, v in join.items()
    }
    await peer.send({"type": "join", **fields})
    frame = await peer.recv()
    assert frame["type"] == "error"
    assert frame["code"] == code


async def test_a_frame_over_the_size_limit_closes_1009_with_a_reason(
    aiohttp_client: Any,
) -> None:
    app = create_app(Settings(max_message_bytes=1024), store=MemoryBattleStore())
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "ping", "client_id": "x" * 2000}))
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == 1009
    assert "1024" in msg.extra


async def test_too_many_messages_are_rate_limited_without_losing_the_connection(
    aiohttp_client: Any,
) -> None:
    app = create_app(Settings(rate_limit_per_s=0.5, rate_limit_burst=3), store=MemoryBattleStore())
    client = await aiohttp_client(app)
    peer = WsPeer(await client.ws_connect("/ws"))
    for i in range(6):
        await peer.send({"type": "ping", "client_id": f"p{i}"})
    answers = [await peer.recv() for _ in range(6)]
    assert [a["type"] for a in answers[:3]] == ["pong"] * 3
    assert {(a["type"], a["code"]) for a in answers[3:]} == {("error", "rate_limited")}
    assert [a["client_id"] for a in answers[3:]] == ["p3", "p4", "p5"]
    assert not peer.ws.closed


@pytest.mark.parametrize(
    ("allowed", "origin", "status"),
    [
        pytest.param("", "http://evil.example", 403, id="cross-site-refused"),
        pytest.param("", None, 101, id="no-origin-ok"),
        pytest.param("", "SAME", 101, id="same-origin-ok"),
        pytest.param("https://vtt.example", "https://vtt.example", 101, id="listed-ok"),
        pytest.param("https://vtt.example", "https://other.example", 403, id="unlisted-refused"),
    ],
)
async def test_websocket_origin_is_checked_on_upgrade(
    aiohttp_client: Any, allowed: str, origin: str | None, status: int
) -> None:
    app = create_app(Settings(allowed_origins=allowed), store=MemoryBattleStore())
    client = await aiohttp_client(app)
    headers = {}
    if origin == "SAME":
        headers["Origin"] = f"http://{client.server.host}:{client.server.port}"
    elif origin is not None:
        headers["Origin"] = origin
    if status == 403:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await client.ws_connect("/ws", headers=headers)
        assert info.value.status == 403
    else:
        ws = await client.ws_connect("/ws", headers=headers)
        await ws.close()


async def test_spectators_cannot_command(client: TestClient[Any, Any], connect: ConnectFn) -> None:
    battle = await create_battle(client)
    peer = await connect()
    await peer.join(battle_id=battle["battle_id"], role="spectator")
    answer = await peer.command({"type": "end_step"})
    assert answer["code"] == "read_only"
