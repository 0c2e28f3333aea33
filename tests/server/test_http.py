"""HTTP API: create, read, export (JSON, Markdown), import, presets, schema, probes, metrics."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gameserver import rules
from gameserver.hub import Hub
from gameserver.store.memory import MemoryBattleStore
from tests.server.conftest import ConnectFn, create_battle, scenario


async def export(client: TestClient[Any, Any], battle_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/battles/{battle_id}/log")
    assert resp.status == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    body: dict[str, Any] = await resp.json()
    return body


async def gm_export(client: TestClient[Any, Any], battle: dict[str, Any]) -> dict[str, Any]:
    """GET /api/battles/{id}/export with the GM token (the log and the sealed seed)."""
    resp = await client.get(
        f"/api/battles/{battle['battle_id']}/export",
        headers={"Authorization": f"Bearer {battle['gm_token']}"},
    )
    body: dict[str, Any] = await resp.json()
    assert resp.status == 200, body
    return body


async def test_create_returns_id_code_and_gm_token(client: TestClient[Any, Any]) -> None:
    battle = await create_battle(client, name="Ambush at Regina")
    assert len(battle["join_code"]) == 6
    assert not set(battle["join_code"]) & set("01IO")
    assert len(battle["gm_token"]) >= 32
    resp = await client.get(f"/api/battles/{battle['battle_id']}")
    info = await resp.json()
    assert info["name"] == "Ambush at Regina"
    assert info["seq"] == battle["seq"]
    assert "gm_token" not in str(info)
    assert battle["gm_token"] not in str(info)
    found = await (await client.get(f"/api/join/{battle['join_code'].lower()}")).json()
    assert found == {"battle_id": battle["battle_id"]}


@pytest.mark.parametrize(
    ("body", "status", "code", "needle"),
    [
        pytest.param({}, 400, "bad_request", "scenario", id="no-scenario"),
        pytest.param({"scenario": {"sides": []}}, 422, "bad_scenario", "sides", id="no-sides"),
        pytest.param(
            {"scenario": {**scenario(), "ships": [{"id": "x", "name": "X", "side": "red"}] * 2}},
            422,
            "bad_scenario",
            "preset",
            id="ship-without-design",
        ),
        pytest.param(
            {"scenario": scenario(), "bot_sides": ["green"]},
            422,
            "bad_scenario",
            "green",
            id="bad-bot",
        ),
        pytest.param({"scenario": scenario(), "name": "N" * 81}, 422, "bad_request", "name",
                     id="name-too-long"),
        pytest.param({"scenario": scenario(), "seed": 5}, 422, "seed_not_accepted", "seed",
                     id="chosen-seed"),
        pytest.param({"scenario": scenario(), "seed": -1}, 422, "seed_not_accepted", "seed",
                     id="bad-seed"),
    ],
)  # fmt: skip
async def test_a_bad_scenario_gets_a_readable_refusal(
    client: TestClient[Any, Any],
    store: MemoryBattleStore,
    body: dict[str, Any],
    status: int,
    code: str,
    needle: str,
) -> None:
    """A malformed body is 400; a well-formed one the rules refuse (a value out of bounds, an
    unknown side, a seed the creator chose) is 422 naming the field; nothing is stored."""
    resp = await client.post("/api/battles", json=body)
    error = await resp.json()
    assert resp.status == status, error
    assert error["error"] == code
    assert needle in error["message"]
    assert await store.list_battles() == []


async def test_a_body_that_is_not_json_gets_400(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/battles", data=b"{nope")
    assert resp.status == 400
    assert (await resp.json())["error"] == "bad_request"


async def test_unknown_battles_are_404(client: TestClient[Any, Any]) -> None:
    for path in ("/api/battles/nope", "/api/battles/nope/log", "/api/join/ZZZZZZ"):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert (await resp.json())["error"] == "battle_not_found"


async def test_the_markdown_log_is_a_readable_table(
    client: TestClient[Any, Any], connect: ConnectFn
) -> None:
    battle = await create_battle(client, name="Log | test")
    gm = await connect()
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    await gm.command({"type": "gm_advance"})
    resp = await client.get(f"/api/battles/{battle['battle_id']}/log?format=md")
    text = await resp.text()
    assert resp.content_type == "text/markdown"
    events = (await export(client, battle["battle_id"]))["events"]
    assert text.startswith("# Battle log: Log \\| test")
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == len(events)
    assert events[-1]["summary"].replace("|", "\\|") in rows[-1]


async def test_import_resumes_an_exported_battle_exactly(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    battle = await create_battle(client, bot_sides=[])
    gm = await connect()
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    for _ in range(3):
        await gm.command({"type": "gm_advance"})
    public = await export(client, battle["battle_id"])
    refused = await client.post("/api/battles/import", json=public)
    assert refused.status == 422, "a running battle's public log has no seed to resume with"
    assert (await refused.json())["error"] == "seed_sealed"
    exported = await gm_export(client, battle)
    assert exported["sealed_seed"].startswith("v1.")

    forged = copy.deepcopy(exported)
    rolled = next(e for e in forged["events"] if e["dice"])
    rolled["dice"][0] = rolled["dice"][0] % 6 + 1
    resp = await client.post("/api/battles/import", json=forged)
    refused_body = await resp.json()
    assert resp.status == 422, refused_body
    assert refused_body["error"] == "log_diverges"
    assert (refused_body["seq"], refused_body["path"]) == (rolled["seq"], "dice[0]")
    assert f"event {rolled['seq']} ({rolled['type']}) differs" in refused_body["message"]

    resp = await client.post("/api/battles/import", json=exported)
    imported = await resp.json()
    assert resp.status == 201, imported
    assert imported["battle_id"] != battle["battle_id"]
    assert imported["seq"] == len(exported["events"])
    original = hub.rooms[battle["battle_id"]].state
    resumed = await hub.room(imported["battle_id"])
    assert rules.public_view(resumed.state) == rules.public_view(original)
    assert resumed.state.dice_drawn == original.dice_drawn, (
        "the dice stream continues, not restarts"
    )

    gm2 = await connect()
    await gm2.join(battle_id=imported["battle_id"], role="gm", gm_token=imported["gm_token"])
    answer = await gm2.command({"type": "gm_advance"})
    assert answer["seqs"][0] == len(exported["events"]) + 1


async def test_an_old_version_log_without_commands_is_refused_clearly(
    client: TestClient[Any, Any], store: MemoryBattleStore
) -> None:
    """A log written before event schema version 4 (here version 0's field names) records no
    commands: the import, which re-executes them, refuses it with a clear 422 (accepting it on
    its dice alone would let anyone forge a patch by stripping the commands and downgrading
    the version). Its dice still verify (`python -m gameserver.verify`)."""
    battle = await create_battle(client, bot_sides=[])
    exported = await gm_export(client, battle)
    old = [
        {
            "sequence": e["seq"],
            "kind": e["type"],
            "payload": e["data"],
            "rolls": e["dice"],
            "text": e["summary"],
            "at": e["at"],
        }
        for e in exported["events"]
    ]
    body = {"events": old, "sealed_seed": exported["sealed_seed"]}
    resp = await client.post("/api/battles/import", json=body)
    refused = await resp.json()
    assert resp.status == 422, refused
    assert refused["error"] == "no_command_record"
    assert "schema version 4" in refused["message"]
    assert len(await store.list_battles()) == 1


async def test_a_stored_battle_of_an_older_version_still_loads_and_plays(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    """A battle stored before event schema version 4 (no command records) is upgraded when it
    is read, resumes where it stopped and records commands from then on."""
    battle = await create_battle(client, bot_sides=[])
    battle_id = battle["battle_id"]
    gm = await connect()
    await gm.join(battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    await gm.command({"type": "gm_advance"})
    before = rules.public_view(hub.rooms[battle_id].state)
    await hub.battles.drop_room(battle_id)
    stored = await hub.store.read(battle_id, 0)
    for event in stored:  # the memory store keeps the dicts it was given: make them version 3
        event.pop("cmd", None)
        event["v"] = 3
    info = await (await client.get(f"/api/battles/{battle_id}")).json()
    assert info["state"] == before
    gm2 = await connect()
    await gm2.join(battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    answer = await gm2.command({"type": "gm_advance"})
    assert answer["type"] == "ack", answer
    log = (await export(client, battle_id))["events"]
    assert all(e["v"] == rules.EVENT_SCHEMA_VERSION for e in log), "upgraded when read"
    assert log[answer["seqs"][0] - 1]["cmd"]["type"] == "gm_advance"


def _gap(log: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(log)
    del broken["events"][1]
    return broken


def _future(log: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(log)
    broken["events"][0]["v"] = 99
    return broken


def _headless(log: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(log)
    broken["events"] = broken["events"][1:]
    for i, event in enumerate(broken["events"], start=1):
        event["seq"] = i
    return broken


def _renamed_field(log: dict[str, Any]) -> dict[str, Any]:
    """A log written for another state layout: `hull` renamed in the patches."""
    broken = copy.deepcopy(log)
    broken["events"].append(
        {**broken["events"][-1], "seq": len(broken["events"]) + 1, "type": "gm_ruling"}
        | {"data": {"set": {"ships": {"alpha": {"hull_points_left": 0}}}}}
    )
    return broken


def _garbage(log: dict[str, Any]) -> dict[str, Any]:
    return {"events": [{"v": 1, "seq": "one"}]}


@pytest.mark.parametrize(
    ("breaker", "status", "code"),
    [
        pytest.param(_gap, 400, "bad_log", id="seq-gap"),
        pytest.param(_future, 400, "unsupported_schema_version", id="newer-version"),
        pytest.param(_headless, 400, "bad_log", id="no-battle-started"),
        pytest.param(_garbage, 400, "bad_log", id="garbage"),
        pytest.param(_renamed_field, 422, "log_diverges", id="unknown-state-field"),
        pytest.param(lambda _: {"events": []}, 422, "bad_log", id="empty"),
    ],
)
async def test_import_refuses_a_bad_log_with_a_clear_error(
    client: TestClient[Any, Any], store: MemoryBattleStore, breaker: Any, status: int, code: str
) -> None:
    battle = await create_battle(client)
    log = await gm_export(client, battle)
    resp = await client.post("/api/battles/import", json=breaker(log))
    error = await resp.json()
    assert resp.status == status, error
    assert error["error"] == code
    assert error["message"]
    assert len(await store.list_battles()) == 1


async def test_presets_and_protocol_schema(client: TestClient[Any, Any]) -> None:
    presets = await (await client.get("/api/presets")).json()
    assert {p["id"] for p in presets} >= {"scout", "free_trader", "patrol_corvette"}
    schema = await (await client.get("/api/protocol.json")).json()
    client_types = set(schema["$defs"]["client"]["discriminator"]["mapping"])
    server_types = set(schema["$defs"]["server"]["discriminator"]["mapping"])
    assert client_types == {
        "join",
        "command",
        "legal",
        "release",
        "kick",
        "unban",
        "table",
        "chat",
        "ping",
    }
    assert server_types >= {"joined", "snapshot", "event", "ack", "error", "presence", "chat"}
    assert "timer" in server_types
    assert "attack" in str(schema["$defs"]["Command"])


async def test_probes_and_metrics(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    assert (await client.get("/health")).status == 200
    assert (await client.get("/ready")).status == 200
    battle = await create_battle(client)
    gm = await connect()
    await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
    await gm.command({"type": "gm_advance"})
    await gm.send({"type": "nonsense"})
    await gm.recv_until("error")
    text = await (await client.get("/metrics")).text()
    assert "tvtt_websocket_connections 1.0" in text
    assert "tvtt_active_battles 1.0" in text
    assert 'tvtt_commands_total{command="gm_advance",result="ok"} 1.0' in text
    assert 'tvtt_command_latency_seconds_count{command="gm_advance"} 1.0' in text
    assert 'tvtt_errors_total{code="unknown_type"} 1.0' in text
    assert "tvtt_events_appended_total" in text


async def test_ready_reflects_the_store(
    client: TestClient[Any, Any], store: MemoryBattleStore
) -> None:
    await store.close()
    resp = await client.get("/ready")
    assert resp.status == 503
    assert (await resp.json())["status"] == "store_unavailable"


async def test_each_scrape_pings_the_store(
    client: TestClient[Any, Any], store: MemoryBattleStore
) -> None:
    text = await (await client.get("/metrics")).text()
    assert "tvtt_store_up 1.0" in text
    assert "tvtt_store_ping_seconds_count 1.0" in text
    await store.close()
    text = await (await client.get("/metrics")).text()
    assert "tvtt_store_up 0.0" in text
    assert "tvtt_store_ping_seconds_count 2.0" in text


async def test_refused_websocket_upgrades_are_counted_by_reason(
    client: TestClient[Any, Any],
) -> None:
    refused = await client.get("/ws", headers={"Origin": "http://elsewhere.example"})
    assert refused.status == 403
    ws = await client.ws_connect("/ws")
    text = await (await client.get("/metrics")).text()
    await ws.close()
    assert 'tvtt_websocket_upgrades_total{result="origin_refused"} 1.0' in text
    assert 'tvtt_websocket_upgrades_total{result="ok"} 1.0' in text


async def test_the_page_is_served(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert "<html" in (await resp.text()).lower()
