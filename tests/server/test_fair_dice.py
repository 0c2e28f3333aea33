"""Fair dice over the wire: the seed is nowhere a player, a spectator or an anonymous HTTP
client can read until the battle ends; then it is revealed and the dice verify."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from gameserver import rules
from gameserver.hub import Hub
from gameserver.verify import main as verify_main
from tests.server.conftest import ConnectFn, create_battle


async def _public_texts(client: TestClient[Any, Any], battle_id: str) -> list[str]:
    """Every HTTP body a client without a token can read about the battle."""
    texts = []
    for path in (
        f"/api/battles/{battle_id}",
        f"/api/battles/{battle_id}/log",
        f"/api/battles/{battle_id}/log?format=md",
        f"/api/battles/{battle_id}/verify",
        "/metrics",
    ):
        resp = await client.get(path)
        texts.append(await resp.text())
    return texts


async def test_the_seed_is_unreadable_until_the_end_then_revealed_and_verified(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub, tmp_path: Path
) -> None:
    battle = await create_battle(client, bot_sides=[])
    battle_id = battle["battle_id"]
    meta = await hub.store.get_meta(battle_id)
    assert meta.dice_secret is not None
    secret = rules.DiceSecret.from_text(meta.dice_secret)
    needles = (str(secret.seed), secret.salt.hex())

    gm = await connect()
    await gm.join(battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    ship_id = hub.rooms[battle_id].state.order[0]
    player = await connect()
    await player.join(battle_id=battle_id, role="player", ship_id=ship_id, stations=["pilot"])
    spectator = await connect()
    await spectator.join(battle_id=battle_id, role="spectator")
    for peer in (gm, player, spectator):
        await peer.recv_until("snapshot")
    for _ in range(6):
        answer = await gm.command({"type": "gm_advance"})
        assert answer["type"] == "ack", answer
    seq = hub.rooms[battle_id].seq
    for peer in (player, spectator):
        await peer.drain_until_seq(seq)
    assert sum(len(e["dice"]) for e in await _log(client, battle_id)) > 0, "dice were rolled"

    running = [json.dumps(f) for p in (gm, player, spectator) for f in p.frames]
    running += await _public_texts(client, battle_id)
    for text in running:
        for needle in needles:
            assert needle not in text, "the seed or salt leaked before the end"
    verdict = await (await client.get(f"/api/battles/{battle_id}/verify")).json()
    assert verdict["verified"] is False
    assert "not revealed" in verdict["reason"]

    answer = await gm.command({"type": "gm_end", "reason": "time is up"})
    assert answer["type"] == "ack", answer
    seq = hub.rooms[battle_id].seq
    for peer in (player, spectator):
        await peer.drain_until_seq(seq)
    revealed = spectator.events[-1]
    assert revealed["type"] == "dice_revealed"
    assert revealed["data"]["seed"] == str(secret.seed), "a string: 64-bit seeds stay exact"
    assert revealed["data"]["salt"] == secret.salt.hex()
    verdict = await (await client.get(f"/api/battles/{battle_id}/verify")).json()
    assert verdict["verified"] is True, verdict
    assert verdict["dice"] == sum(len(e["dice"]) for e in await _log(client, battle_id))

    log = await (await client.get(f"/api/battles/{battle_id}/log")).json()
    path = tmp_path / "battle.json"
    path.write_text(json.dumps(log))
    assert verify_main([str(path)]) == 0
    rolled = next(e for e in log["events"] if e["dice"])
    rolled["dice"][0] = rolled["dice"][0] % 6 + 1
    path.write_text(json.dumps(log))
    assert verify_main([str(path)]) == 1


async def _log(client: TestClient[Any, Any], battle_id: str) -> list[dict[str, Any]]:
    body: dict[str, Any] = await (await client.get(f"/api/battles/{battle_id}/log")).json()
    events: list[dict[str, Any]] = body["events"]
    return events


async def test_a_stored_battle_that_cannot_be_read_is_refused_alone(
    client: TestClient[Any, Any], hub: Hub
) -> None:
    """A battle stored by an incompatible version answers a clear error; others still work."""
    good = await create_battle(client, bot_sides=[])
    bad = await create_battle(client, bot_sides=[])
    stored = await hub.store.read(bad["battle_id"], 0)
    await hub.battles.drop_room(bad["battle_id"])
    stored[1]["v"] = 99  # the memory store keeps the dicts it was given
    resp = await client.get(f"/api/battles/{bad['battle_id']}")
    body = await resp.json()
    assert resp.status == 409, body
    assert body["error"] == "battle_unreadable"
    assert "newer than this server" in body["message"]
    assert (await client.get(f"/api/battles/{good['battle_id']}")).status == 200


async def test_a_finished_bot_battle_reimports_exactly_and_a_forged_copy_is_refused(
    client: TestClient[Any, Any], hub: Hub
) -> None:
    """The server's bot plays both sides to the end; the public log (its seed revealed)
    imports as a new battle whose log is the same, every command re-executed; the same file
    with one hull patch changed is refused at that event."""
    battle = await create_battle(client, bot_sides=["red", "blue"])
    room = await hub.room(battle["battle_id"])
    for _ in range(600):
        if room.state.is_over:
            break
        await asyncio.sleep(0.02)
    assert room.state.is_over, "the bots finish a 30-round battle"
    public = await (await client.get(f"/api/battles/{battle['battle_id']}/log")).json()
    commands = [e["cmd"] for e in public["events"] if "cmd" in e]
    assert {c["actor"]["role"] for c in commands[1:]} == {"bot"}

    resp = await client.post("/api/battles/import", json={"events": public["events"]})
    imported = await resp.json()
    assert resp.status == 201, imported
    again = await (await client.get(f"/api/battles/{imported['battle_id']}/log")).json()
    assert again["events"] == public["events"]

    forged = json.loads(json.dumps(public["events"]))
    hit = next(
        e
        for e in forged
        if "hull" in e["data"].get("set", {}).get("ships", {}).get(e["data"].get("target", ""), {})
    )
    hit["data"]["set"]["ships"][hit["data"]["target"]]["hull"] += 5
    resp = await client.post("/api/battles/import", json={"events": forged})
    refused = await resp.json()
    assert resp.status == 422, refused
    assert refused["error"] == "log_diverges"
    assert refused["seq"] == hit["seq"]
    assert refused["path"] == f"data.set.ships.{hit['data']['target']}.hull"
