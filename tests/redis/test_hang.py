"""A hung Redis (SIGSTOP of the real redis-server) and commands resent with the same id.

What a client must be able to rely on: an answer within the store timeout (never a hang), a
`store_unavailable` command that Redis does not write when it resumes, and a command resent with
its `client_id` (after a lost ack, or after `store_unavailable`) applied exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from testkit.redis_server import RedisProcess
from testkit.servers import ServerProcess
from tests.redis.servers import WsClient, game_server_process

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

STORE_TIMEOUT_S = 1.0
ANSWER_WITHIN_S = STORE_TIMEOUT_S + 2.0
"""The store timeout plus the loop's and the loaded machine's slack."""

SCENARIO = {
    "name": "hang",
    "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
    "ships": [
        {"id": "alpha", "name": "Alpha", "side": "red", "preset": "scout"},
        {"id": "bravo", "name": "Bravo", "side": "blue", "preset": "free_trader"},
    ],
    "starting_range": "short",
}


@pytest.fixture
async def server(redis_server: RedisProcess, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    env = {
        "REDIS_URL": redis_server.url,
        "STORE_TIMEOUT_S": str(STORE_TIMEOUT_S),
        "RATE_LIMIT_BURST": "1000",
        "EXPIRY_INTERVAL_S": "3600",
    }
    process = game_server_process(tmp_path, env)
    await asyncio.to_thread(process.start)
    try:
        yield process
    finally:
        await asyncio.to_thread(process.stop)
        print(f"--- game server ---\n{process.log_tail()}")


@contextmanager
def hung(redis: RedisProcess) -> Iterator[None]:
    """Redis stopped (SIGSTOP): its socket accepts and buffers, nothing answers."""
    assert redis.proc is not None
    os.kill(redis.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)


async def gm_of_new_battle(
    http: aiohttp.ClientSession, server: ServerProcess
) -> tuple[WsClient, dict[str, Any]]:
    """A new battle and its GM's socket; the creation answer holds the id and the GM token."""
    async with http.post(f"{server.url}/api/battles", json={"scenario": SCENARIO}) as resp:
        created: dict[str, Any] = await resp.json()
    return await join_gm(http, server, created), created


async def join_gm(
    http: aiohttp.ClientSession, server: ServerProcess, created: dict[str, Any]
) -> WsClient:
    gm = await WsClient.connect(http, server)
    joined = await gm.join(battle_id=created["battle_id"], role="gm", gm_token=created["gm_token"])
    assert joined["type"] == "joined", joined
    return gm


async def log_seq(http: aiohttp.ClientSession, server: ServerProcess, battle_id: str) -> int:
    async with http.get(f"{server.url}/api/battles/{battle_id}/log") as resp:
        events: list[Any] = (await resp.json())["events"]
        return len(events)


async def advance(gm: WsClient, client_id: str) -> dict[str, Any]:
    return await gm.request(
        {"type": "command", "client_id": client_id, "command": {"type": "gm_advance"}}
    )


async def test_a_command_resent_after_a_lost_ack_is_applied_once(
    server: ServerProcess,
) -> None:
    async with aiohttp.ClientSession() as http:
        gm, battle = await gm_of_new_battle(http, server)
        first = await advance(gm, "move-1")
        assert first["type"] == "ack", first
        seq = await log_seq(http, server, battle["battle_id"])

        # The ack was lost: the client reconnects and sends the same command again.
        await gm.close()
        again = await join_gm(http, server, battle)
        for _ in range(2):
            answer = await advance(again, "move-1")
            assert answer["type"] == "ack", answer
            assert answer["seqs"] == first["seqs"]
        assert await log_seq(http, server, battle["battle_id"]) == seq, "applied once"
        assert (await advance(again, "move-2"))["type"] == "ack", "a new id is a new command"
        assert await log_seq(http, server, battle["battle_id"]) > seq
        await again.close()


async def test_a_hung_redis_answers_in_time_writes_nothing_late_and_the_resend_applies_once(
    server: ServerProcess, redis_server: RedisProcess
) -> None:
    async with aiohttp.ClientSession() as http:
        gm, battle = await gm_of_new_battle(http, server)
        second = await join_gm(http, server, battle)  # its command queues behind the first
        assert (await advance(gm, "before"))["type"] == "ack"
        seq = await log_seq(http, server, battle["battle_id"])

        with hung(redis_server):
            started = time.monotonic()
            answers = await asyncio.gather(advance(gm, "during"), advance(second, "queued"))
            waited = time.monotonic() - started
            # Held past the Lua deadline, so Redis runs the buffered script only after it.
            await asyncio.sleep(STORE_TIMEOUT_S)

        assert waited < ANSWER_WITHIN_S, f"answered after {waited:.1f} s"
        for answer in answers:
            assert answer["code"] == "store_unavailable", answer
            assert "same client_id" in answer["message"]
        async with asyncio.timeout(20):
            while True:
                async with http.get(f"{server.url}/ready") as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.1)
        assert await log_seq(http, server, battle["battle_id"]) == seq, "nothing written late"

        resent = await advance(gm, "during")
        assert resent["type"] == "ack", resent
        assert await advance(gm, "during") == resent, "and once only"
        assert await log_seq(http, server, battle["battle_id"]) == seq + len(resent["seqs"])
        await gm.close()
        await second.close()
