"""`GET /api/weapons`: the weapon table the page quotes when a gunner cannot reach a target."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient


async def test_the_weapon_table_names_each_maximum_band(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/weapons")
    assert resp.status == 200
    table = await resp.json()
    # MgT2e §8.B: a beam laser reaches Medium, a pulse laser Long; missiles have no band limit.
    assert table["beam_laser"]["max_band"] == "medium"
    assert table["pulse_laser"]["max_band"] == "long"
    assert table["missile_rack"]["max_band"] is None
    assert table["sandcaster"]["direct_fire"] is False
