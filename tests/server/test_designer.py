"""The lobby's ship designer, server side: `POST /api/designs/check` answers a legal design's
figures as the engine opens it, and refuses a hostile one field by field; `POST /api/battles`
refuses the same designs, storing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gameserver.hub import Hub
from gameserver.hub.addresses import AddressLimits
from gameserver.rules.ships import MAX_TURRETS
from gameserver.store.memory import MemoryBattleStore
from tests.server.conftest import create_battle, scenario

GUNBOAT: dict[str, Any] = {
    "name": "Gunboat",
    "tons": 300,
    "armour": 6,
    "thrust": 4,
    "jump": 1,
    "fire_control": 2,
    "sensors": "military",
    "turrets": [
        {"mount": "triple", "weapons": ["beam_laser", "beam_laser", "sandcaster"]},
        {"mount": "double", "weapons": ["missile_rack", "missile_rack"]},
    ],
    "missile_reserve": 24,
    "stations": ["captain", "pilot", "engineer", "sensors"],
}


async def _check(client: TestClient[Any, Any], design: Any, ruleset: str = "MGT2E_2016") -> Any:
    resp = await client.post("/api/designs/check", json={"ruleset": ruleset, "design": design})
    return resp.status, await resp.json()


@pytest.mark.parametrize("ruleset", ["MGT2E_2016", "MGT2E_2022", "CE"])
async def test_a_design_checks_with_the_figures_its_battle_starts_with(
    client: TestClient[Any, Any], ruleset: str
) -> None:
    status, figures = await _check(client, GUNBOAT, ruleset)
    assert status == 200, figures
    assert figures["stations"] == [
        "captain",
        "pilot",
        "engineer",
        "sensors",
        "gunner:0",
        "gunner:1",
    ]
    body = scenario()
    body["ruleset"] = ruleset
    body["ships"] = [
        {"id": "alpha", "name": "Gunboat", "side": "red", "design": GUNBOAT},
        {"id": "bravo", "name": "Other", "side": "blue", "design": GUNBOAT},
    ]
    battle = await create_battle(client, scenario=body)
    public = await (await client.get(f"/api/battles/{battle['battle_id']}")).json()
    ship = next(s for s in public["state"]["ships"] if s["id"] == "alpha")
    assert ship["hull"] == figures["hull"]
    assert ship["armour"] == figures["armour"] == 6
    assert [c["station"] for c in ship["crew"]] == figures["stations"]
    if ruleset == "CE":
        assert (figures["hull"], figures["structure"]) == (300 // 50, 300 // 50)
        assert figures["power"] is None
    else:
        assert figures["hull"] == 120, "Hull = 0.4 x tons (§10.B.1)"
        assert figures["power"] >= figures["power_need"] > 0


HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "huge": ({"tons": 10**9}, "tons"),
    "negative armour": ({"armour": -1}, "armour"),
    "thrust past the rules": ({"thrust": 16}, "thrust"),
    "too many turrets": (
        {"turrets": [{"mount": "single", "weapons": ["pulse_laser"]}] * (MAX_TURRETS + 1)},
        "turrets",
    ),
    "an overfull turret": (
        {"turrets": [{"mount": "triple", "weapons": ["pulse_laser"] * 4}]},
        "turrets.0",
    ),
    "an unknown weapon": (
        {"turrets": [{"mount": "single", "weapons": ["death_ray"]}]},
        "turrets.0.weapons.0",
    ),
    "a smuggled field": ({"seed": 42}, "seed"),
    "no name": ({"name": ""}, "name"),
    "a repeated station": ({"stations": ["pilot", "pilot"]}, "design"),
    "a string for tons": ({"tons": "lots"}, "tons"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_a_hostile_design_is_refused_by_field_and_stores_nothing(
    client: TestClient[Any, Any], store: MemoryBattleStore, case: str
) -> None:
    change, field = HOSTILE[case]
    design = GUNBOAT | change
    status, body = await _check(client, design)
    assert status == 422, body
    assert body["error"] == "bad_design"
    assert field in body["fields"], body["fields"]
    assert body["message"]

    hostile = scenario()
    hostile["ships"] = [
        {"id": "alpha", "name": "Gunboat", "side": "red", "design": design},
        {"id": "bravo", "name": "Bravo", "side": "blue", "preset": "free_trader"},
    ]
    refused = await create_battle(client, status=422, scenario=hostile)
    assert refused["error"] == "bad_scenario"
    assert await store.list_battles() == []


async def test_a_malformed_check_is_refused(client: TestClient[Any, Any]) -> None:
    bodies: list[Any] = [[], {"design": "big"}, {"ruleset": "D20", "design": GUNBOAT}]
    for body in bodies:
        resp = await client.post("/api/designs/check", json=body)
        assert resp.status in (400, 422), body


async def test_design_checks_are_limited_per_address(
    client: TestClient[Any, Any], hub: Hub
) -> None:
    """Each check opens a small battle: an address gets the same budget as for creating one."""
    hub.addresses = AddressLimits(rate_per_s=0.001, burst=2)
    statuses = [(await _check(client, GUNBOAT))[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert (await client.get("/api/presets")).status == 200, "only design checks are limited"
