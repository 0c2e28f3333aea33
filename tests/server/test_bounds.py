"""Bounds: every number a scenario, its rules options or an import accepts is limited, an
out-of-bounds value is refused naming the field and the limit, and the largest legal battle
never stalls the event loop for more than 50 ms on any request."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gameserver.rules.ships import MAX_TURRETS
from gameserver.settings import Settings
from testkit.largest import largest_scenario, longest_log
from testkit.stall import loop_stall_meter, wall_lag_meter
from tests.server.conftest import ConnectFn, scenario

# The target is 50 ms per request (`make bench` prints the worst, bench/bench_stall.py). This
# in-process measure also counts the test client's own work in the same thread (parsing the
# frames and answers it reads), and the shared test machine is slow at times: the assertion
# leaves room for both.
STALL_LIMIT_S = 0.100
# The wall-clock lag of a ticker on the loop while the largest import is checked, less the time
# the loop's thread waited for a core (the shared machine's load): what is left is the loop's
# own work and waiting for the GIL. A check in a thread of this process held the GIL for
# 73-200 ms at a time (its collections walk the parsed log's 300,000 objects); with the check
# in a worker process, 14-31 ms under loads of 5-17 on 2 cores. The bound (the 50 ms goal with
# room for the test client's work on this loop) fails the thread and not the worker.
IMPORT_HELD_LIMIT_S = 0.060


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """As in production, the import workers start with the server: these tests measure the
    requests, not starting a process."""
    return settings.model_copy(update={"import_prestart": True})


@pytest.mark.parametrize(
    ("option", "value", "limit"),
    [
        pytest.param("missile_damage_dice", 1_000_000_000, "from 1 to 12", id="damage-dice"),
        pytest.param("undo_limit", 100_000, "from 0 to 20", id="undo-limit"),
        pytest.param("missile_rack_load", -1, "from 0 to 100", id="negative-load"),
        pytest.param("missile_flight_rounds", {"long": 10**9}, "from 0 to 20", id="flight"),
        pytest.param("missile_flight_rounds", {"x" * 50: 1}, "with the keys", id="flight-keys"),
    ],
)
async def test_an_option_out_of_bounds_names_the_field_and_the_limit(
    client: TestClient[Any, Any], option: str, value: Any, limit: str
) -> None:
    body = scenario()
    body["config"] = {option: value}
    started = time.perf_counter()
    resp = await client.post("/api/battles", json={"scenario": body})
    answer = await resp.json()
    assert time.perf_counter() - started < 1.0
    assert resp.status == 422, answer
    assert answer["error"] == "bad_scenario"
    assert option in answer["message"]
    assert limit in answer["message"]


ONE_LASER = {"mount": "single", "weapons": ["beam_laser"]}


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param("turrets", [ONE_LASER] * (MAX_TURRETS + 1),
                     "turrets", id="one-turret-too-many"),
        pytest.param("missile_reserve", 10**12, "missile_reserve", id="reserve"),
        pytest.param("hull", 10**9, "hull", id="hull"),
    ],
)  # fmt: skip
async def test_a_design_out_of_bounds_is_refused(
    client: TestClient[Any, Any], path: str, value: Any, field: str
) -> None:
    body = scenario()
    body["ships"][0] = {
        "id": "alpha",
        "name": "Alpha",
        "side": "red",
        "design": {"name": "Big", "tons": 1000, path: value},
    }
    resp = await client.post("/api/battles", json={"scenario": body})
    answer = await resp.json()
    assert resp.status == 422, answer
    assert field in answer["message"]


async def test_a_20000_turret_ship_is_refused_before_it_is_read(
    client: TestClient[Any, Any],
) -> None:
    """The attack that once stalled every battle: refused by the body limit (413) before any
    parsing, or by the turret bound (422) where the limit is raised."""
    body = scenario()
    turrets = [{"mount": "single", "weapons": ["beam_laser"]}] * 20_000
    body["ships"][0] = {
        "id": "alpha",
        "name": "Alpha",
        "side": "red",
        "design": {"name": "Big", "tons": 1000, "turrets": turrets},
    }
    started = time.perf_counter()
    resp = await client.post("/api/battles", json={"scenario": body})
    answer = await resp.json()
    assert time.perf_counter() - started < 1.0
    assert resp.status in (413, 422), answer
    assert answer["error"] in ("bad_scenario", "too_large")


async def test_an_import_has_an_event_count_limit(client: TestClient[Any, Any]) -> None:
    events = [{"seq": i, "type": "x", "data": {}} for i in range(1, 20_002)]
    resp = await client.post("/api/battles/import", json={"events": events})
    answer = await resp.json()
    assert resp.status == 422, answer
    assert "events" in answer["message"]
    assert "20000" in answer["message"]


async def test_the_largest_legal_battle_never_stalls_the_loop(
    client: TestClient[Any, Any], connect: ConnectFn
) -> None:
    """Create, read, join, play, export and import the largest legal battle; the loop's worst
    stall stays under 50 ms (printed for the record)."""
    worst: dict[str, float] = {}
    phase = ["idle"]
    with loop_stall_meter(worst, phase):
        await asyncio.sleep(0.01)
        phase[0] = "create"
        resp = await client.post("/api/battles", json={"scenario": largest_scenario()})
        battle = await resp.json()
        assert resp.status == 201, battle
        battle_id = battle["battle_id"]
        for path in ("", "/log", "/log?format=md", "/verify"):
            phase[0] = f"GET{path or ' battle'}"
            assert (await client.get(f"/api/battles/{battle_id}{path}")).status == 200
        phase[0] = "join + snapshot"
        gm = await connect()
        await gm.join(battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
        await gm.recv_until("snapshot")
        phase[0] = "20 commands"
        for _ in range(20):
            answer = await gm.command({"type": "gm_advance"})
            assert answer["type"] == "ack", answer
        phase[0] = "export"
        resp = await client.get(
            f"/api/battles/{battle_id}/export",
            headers={"Authorization": f"Bearer {battle['gm_token']}"},
        )
        exported = await resp.json()
        phase[0] = "import"
        resp = await client.post("/api/battles/import", json=exported)
        assert resp.status == 201, await resp.text()
        phase[0] = "end + verify"
        answer = await gm.command({"type": "gm_end", "reason": "done"})
        assert answer["type"] == "ack", answer
        verdict = await (await client.get(f"/api/battles/{battle_id}/verify")).json()
        assert verdict["verified"], verdict
        phase[0] = "idle"
        await asyncio.sleep(0.01)
    report = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in worst.items())
    print(f"worst event-loop stall per request, largest legal battle: {report}")
    assert max(v for k, v in worst.items() if k != "garbage collection") < STALL_LIMIT_S, report


async def test_the_largest_legal_import_never_stalls_the_loop(
    client: TestClient[Any, Any], connect: ConnectFn, settings: Settings
) -> None:
    """Import a finished battle's log as long as the body limit allows (every command is
    re-executed), then read, join and export it: the loop's worst stall stays under the bound
    (printed for the record)."""
    log = longest_log(settings.max_import_bytes)
    body = json.dumps({"events": log}).encode()
    assert len(body) <= settings.max_import_bytes
    worst: dict[str, float] = {}
    wall: dict[str, float] = {}
    held: dict[str, float] = {}
    phase = ["idle"]
    with loop_stall_meter(worst, phase), wall_lag_meter(wall, held, phase):
        await asyncio.sleep(0.01)
        phase[0] = importing = f"import ({len(log)} events, {len(body) / 2**20:.1f} MiB)"
        resp = await client.post(
            "/api/battles/import", data=body, headers={"Content-Type": "application/json"}
        )
        battle = await resp.json()
        assert resp.status == 201, battle
        assert battle["seq"] == len(log)
        phase[0] = "GET battle"
        assert (await client.get(f"/api/battles/{battle['battle_id']}")).status == 200
        phase[0] = "join + snapshot"
        gm = await connect()
        await gm.join(battle_id=battle["battle_id"], role="gm", gm_token=battle["gm_token"])
        await gm.recv_until("snapshot")
        phase[0] = "GET log"
        resp = await client.get(f"/api/battles/{battle['battle_id']}/log")
        exported = await resp.read()
        assert resp.status == 200
        phase[0] = "idle"
        await asyncio.sleep(0.01)
    assert json.loads(exported)["events"] == log, "the import stores the log it re-executed"
    report = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in worst.items())
    lag = ", ".join(f"{k} {v * 1000:.1f} / {held[k] * 1000:.1f} ms" for k, v in wall.items())
    print(f"worst event-loop stall per request, largest legal import: {report}")
    print(f"wall lag / less waiting for a core: {lag}")
    assert max(v for k, v in worst.items() if k != "garbage collection") < STALL_LIMIT_S, report
    assert held[importing] < IMPORT_HELD_LIMIT_S, lag
