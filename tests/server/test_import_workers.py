"""Import workers: the check runs in a separate process that imports only pure code, a bounded
number at a time (503 past the queue), stopped past its timeout and when the server stops."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from functools import cache
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gameserver.hub import Hub
from gameserver.importcheck import REPLY_HEAD, ImportRefused, decode_reply, encode_request
from gameserver.settings import Settings
from testkit.largest import longest_log
from tests.server.conftest import ConnectFn, fast_settings

JSON = {"Content-Type": "application/json"}


@cache
def _body(max_bytes: int) -> bytes:
    """A finished battle's public log of about `max_bytes` (every event real)."""
    return json.dumps({"events": longest_log(max_bytes)}).encode()


@pytest.fixture
def settings() -> Settings:
    """One worker and no queue: a second import while one is checked is refused at once."""
    return fast_settings(import_workers=1, import_queue=0)


def test_the_worker_imports_only_pure_code() -> None:
    """The worker's module pulls in the rules, the wire models and the JSON parser: no web
    framework, store, logger or metrics (import-linter checks the source; this the process)."""
    found = subprocess.run(
        [sys.executable, "-P", "-c", "import sys, gameserver.importcheck; print(*sys.modules)"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert "gameserver.rules" in found
    impure = ("aiohttp", "redis", "structlog", "prometheus_client", "multidict", "yarl")
    ours = ("gameserver.app", "gameserver.hub", "gameserver.store", "gameserver.settings")
    assert [m for m in found if m.split(".")[0] in impure or m.startswith(ours)] == []


def test_the_worker_needs_no_writable_file_system() -> None:
    """As in the pod (read-only root, no /tmp, a user without a home): no temporary directory,
    the working directory at /, nothing written; a request in, the checked import out."""
    log = longest_log(64 * 1024)
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "TMPDIR", "PYTHONPATH")}
    env |= {"TMPDIR": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1"}
    request = encode_request(json.dumps(log).encode(), bytes(32))
    out = subprocess.run(
        [sys.executable, "-P", "-m", "gameserver.importcheck"],
        input=request + encode_request(b"[1]", bytes(32)),
        capture_output=True,
        cwd="/",
        env=env,
        timeout=120,
        check=True,
    ).stdout
    (size,) = REPLY_HEAD.unpack_from(out)
    _name, _sides, _secret, state, texts, _tail, _chat = decode_reply(
        out[REPLY_HEAD.size : REPLY_HEAD.size + size]
    )
    assert state.seq == len(log)
    assert [e for text in texts for e in json.loads(text)] == log
    with pytest.raises(ImportRefused, match="events") as refused:
        decode_reply(out[REPLY_HEAD.size * 2 + size :])
    assert refused.value.status == 400


async def test_a_spectator_resuming_an_imported_battle_gets_the_events_it_missed(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    """The room's catch-up tail comes encoded from the worker: a peer that holds all but the
    last five events receives exactly those five."""
    log = json.loads(_body(64 * 1024))["events"]
    resp = await client.post("/api/battles/import", data=_body(64 * 1024), headers=JSON)
    battle = await resp.json()
    assert resp.status == 201, battle
    tail = hub.battles.rooms[battle["battle_id"]].tail
    assert [seq for seq, _ in tail] == list(range(1, len(log) + 1))[-hub.settings.catch_up_limit :]
    assert [json.loads(text) for _, text in tail] == log[-len(tail) :]
    peer = await connect()
    await peer.join(battle_id=battle["battle_id"], last_seq=len(log) - 5)
    await peer.drain_until_seq(len(log))
    assert peer.events == log[-5:]


async def test_an_import_past_the_queue_is_refused_at_once_and_the_first_completes(
    client: TestClient[Any, Any], hub: Hub
) -> None:
    big = _body(1 << 20)
    small = _body(64 * 1024)
    first = asyncio.create_task(client.post("/api/battles/import", data=big, headers=JSON))
    for _ in range(2000):
        if hub.battles.imports._slots.locked():
            break
        await asyncio.sleep(0.005)
    assert hub.battles.imports._slots.locked(), "the first import never started its check"
    resp = await client.post("/api/battles/import", data=small, headers=JSON)
    answer = await resp.json()
    assert resp.status == 503, answer
    assert answer["error"] == "import_busy"
    assert "try again" in answer["message"]
    done = await first
    assert done.status == 201, await done.text()
    resp = await client.post("/api/battles/import", data=small, headers=JSON)
    assert resp.status == 201, await resp.text()
    assert len(hub.battles.imports._idle) == 1, "the worker is kept for the next import"


async def test_a_check_past_its_timeout_kills_the_worker_and_the_next_import_works(
    client: TestClient[Any, Any], hub: Hub
) -> None:
    imports = hub.battles.imports
    imports.timeout_s = 0.2  # a 1 MiB log takes ~1 s of CPU to check
    resp = await client.post("/api/battles/import", data=_body(1 << 20), headers=JSON)
    answer = await resp.json()
    assert resp.status == 503, answer
    assert answer["error"] == "import_timeout"
    assert imports._idle == [], "the overrunning worker is not kept"
    assert not hub.battles.rooms, "nothing was stored"
    imports.timeout_s = 60.0
    resp = await client.post("/api/battles/import", data=_body(64 * 1024), headers=JSON)
    assert resp.status == 201, await resp.text()


async def test_the_workers_stop_with_the_server(client: TestClient[Any, Any], hub: Hub) -> None:
    resp = await client.post("/api/battles/import", data=_body(64 * 1024), headers=JSON)
    assert resp.status == 201, await resp.text()
    (worker,) = hub.battles.imports._idle
    await hub.close()
    assert worker.proc.returncode == 0, "the worker ends at the end of its input"
    resp = await client.post("/api/battles/import", data=_body(64 * 1024), headers=JSON)
    answer = await resp.json()
    assert resp.status == 503, answer
    assert answer["error"] == "import_unavailable"
