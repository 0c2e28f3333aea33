"""`python -m gameserver.backup` against real game server processes on a real Redis.

Back up, lose the store (FLUSHALL, a new server process), restore, and the players resume the
same battle: same id, same join code, the GM's old token, the next move continues the log (its
dice from the sealed seed). And the attacks: a truncated file, a forged file (its manifest
updated to match), a file naming another battle and a wrong token each restore nothing of that
file, with a readable reason, while the intact files are restored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from gameserver.backup import BACKUP_TOKEN_ENV, MANIFEST, complete_backups
from gameserver.settings import Settings
from testkit.redis_server import RedisProcess
from testkit.servers import ServerProcess
from tests.redis.servers import game_server_process
from tests.redis.test_multi_instance import (
    CREW,
    SERVER_ENV,
    Cluster,
    Referee,
    join,
    play,
    skirmish,
)

pytestmark = [pytest.mark.redis, pytest.mark.timeout(180)]

TOKEN = "backup-token-for-tests-0123456789abcdef"
EXPORT_KEY = "export-key-for-tests"


@dataclass
class Site:
    """One Redis, the test's HTTP session, and the server processes started on it."""

    redis: RedisProcess
    http: aiohttp.ClientSession
    log_dir: Path
    servers: list[ServerProcess]

    def start_server(self, name: str, **extra: str) -> ServerProcess:
        env = {
            "REDIS_URL": self.redis.url,
            BACKUP_TOKEN_ENV: TOKEN,
            "EXPORT_KEY": EXPORT_KEY,
            **SERVER_ENV,
            **extra,
        }
        server = game_server_process(self.log_dir, env, name=name)
        self.servers.append(server)
        return server.start()

    def cluster(self, server: ServerProcess) -> Cluster:
        return Cluster(self.redis, server, server, self.http)

    async def create(self, server: ServerProcess, round_limit: int = 6) -> dict[str, Any]:
        return await self.cluster(server).create_battle(server, round_limit)

    async def create_any(self, server: ServerProcess) -> dict[str, Any]:
        body = {"scenario": skirmish(6)}
        async with self.http.post(f"{server.url}/api/battles", json=body) as resp:
            assert resp.status == 201
            return dict(await resp.json())

    async def status(self, server: ServerProcess, battle_id: str) -> int:
        async with self.http.get(f"{server.url}/api/battles/{battle_id}") as resp:
            return resp.status

    async def battle_ids(self, server: ServerProcess) -> list[str]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with self.http.get(f"{server.url}/api/backup/battles", headers=headers) as resp:
            assert resp.status == 200
            return list((await resp.json())["battles"])

    async def lose_everything(self, server: ServerProcess) -> ServerProcess:
        """Stop the server, FLUSHALL, start a new server process: an empty store."""
        await asyncio.to_thread(server.stop)
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            await client.flushall()
            assert await client.dbsize() == 0
        finally:
            await client.aclose()
        return await asyncio.to_thread(self.start_server, f"{server.name}-after")


@pytest.fixture
async def site(redis_server: RedisProcess, tmp_path: Path) -> AsyncIterator[Site]:
    async with aiohttp.ClientSession() as http:
        running = Site(redis_server, http, tmp_path, [])
        try:
            yield running
        finally:
            for server in running.servers:
                await asyncio.to_thread(server.stop)
                print(f"--- {server.name} ---\n{server.log_tail()}")


def cli(*args: str, token: str = TOKEN, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """Run the backup command as the CronJob does (its token from the environment)."""
    env = {**os.environ, BACKUP_TOKEN_ENV: token, **env_vars}
    return subprocess.run(
        [sys.executable, "-m", "gameserver.backup", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_and_the_server_read_the_same_token_variable() -> None:
    assert Settings.model_fields["backup_token"].alias is None
    assert BACKUP_TOKEN_ENV.lower() == "backup_token"
    os.environ[BACKUP_TOKEN_ENV] = "x"
    try:
        assert Settings().backup_token == "x"
    finally:
        del os.environ[BACKUP_TOKEN_ENV]


async def test_backup_flushall_restore_and_the_players_resume(site: Site, tmp_path: Path) -> None:
    server = await asyncio.to_thread(site.start_server, "before")
    battle = await site.create(server)
    other = await site.create(server)
    cluster = site.cluster(server)
    referee = Referee(await cluster.log(server, battle["battle_id"]))
    alpha = await join(
        cluster, server, join_code=battle["join_code"], role="player", ship_id="alpha",
        stations=CREW["alpha"],
    )  # fmt: skip
    bravo = await join(
        cluster, server, join_code=battle["join_code"], role="player", ship_id="bravo",
        stations=CREW["bravo"],
    )  # fmt: skip
    await play(referee, {"alpha": alpha, "bravo": bravo}, [alpha, bravo], moves=6)
    before = await cluster.log(server, battle["battle_id"])
    await alpha.close()
    await bravo.close()

    backups = tmp_path / "backups"
    started = time.perf_counter()
    done = cli("backup", "--url", server.url, "--dir", str(backups), "--keep", "2", "--bgsave",
               REDIS_URL=site.redis.url)  # fmt: skip
    backup_s = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    # (creating a battle in which Alpha moves first may take a few tries: all are kept)
    stored = await site.battle_ids(server)
    assert f"{len(stored)} battles" in done.stdout
    assert "BGSAVE started" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
    (backup,) = complete_backups(backups)
    files = {p.name: p.stat().st_size for p in backup.iterdir()}
    assert set(files) == {MANIFEST, *(f"{b}.json" for b in stored)}
    assert {battle["battle_id"], other["battle_id"]} <= set(stored)
    print(f"backup of {len(stored)} battles: {sum(files.values())} bytes in {backup_s:.2f} s")

    after = await site.lose_everything(server)
    assert await site.status(after, battle["battle_id"]) == 404

    started = time.perf_counter()
    done = cli("restore", str(backups), "--url", after.url)
    print(f"restore: {time.perf_counter() - started:.2f} s: {done.stdout.strip()}")
    assert done.returncode == 0, done.stderr
    assert f"{len(stored)} battles restored" in done.stdout, done.stdout
    assert await site.battle_ids(after) == stored
    cluster = site.cluster(after)
    assert await cluster.log(after, battle["battle_id"]) == before
    assert await site.status(after, other["battle_id"]) == 200

    # The same join code, the GM's old token, and the next moves continue the same log.
    gm = await join(cluster, after, battle_id=battle["battle_id"], role="gm",
                    gm_token=battle["gm_token"])  # fmt: skip
    assert gm.joined["join_code"] == battle["join_code"]
    alpha = await join(cluster, after, join_code=battle["join_code"], role="player",
                       ship_id="alpha", stations=CREW["alpha"])  # fmt: skip
    bravo = await join(cluster, after, join_code=battle["join_code"], role="player",
                       ship_id="bravo", stations=CREW["bravo"])  # fmt: skip
    referee = Referee(before)
    made = await play(referee, {"alpha": alpha, "bravo": bravo}, [alpha, bravo, gm], moves=6)
    assert made
    assert made[0][1]["seqs"][0] == len(before) + 1
    for client in (gm, alpha, bravo):
        await client.close()

    # Restoring again over the live battles changes nothing: they are reported as present.
    again = cli("restore", str(backups), "--url", after.url)
    assert again.returncode == 0, again.stderr
    assert f"{len(stored)} already present" in again.stdout, again.stdout
    assert len(await cluster.log(after, battle["battle_id"])) == referee.seq
    # BGSAVE wrote an RDB snapshot next to the AOF.
    assert (site.redis.data_dir / "dump.rdb").exists()


def _forge(path: Path) -> None:
    """Change one recorded die: a well-formed file whose commands no longer re-execute."""
    data = json.loads(path.read_bytes())
    for event in data["events"]:
        if event.get("dice"):
            event["dice"][0] = 7 - int(event["dice"][0]) if event["dice"][0] != 3.5 else 1
            break
    else:
        raise AssertionError("no event with dice to forge")
    path.write_text(json.dumps(data))


async def test_a_truncated_or_forged_file_restores_nothing_of_it(
    site: Site, tmp_path: Path
) -> None:
    server = await asyncio.to_thread(site.start_server, "before")
    truncated, forged, moved, intact = [await site.create_any(server) for _ in range(4)]
    backups = tmp_path / "backups"
    done = cli("backup", "--url", server.url, "--dir", str(backups))
    assert done.returncode == 0, done.stderr
    (backup,) = complete_backups(backups)

    path = backup / f"{truncated['battle_id']}.json"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    # Forged files with the manifest updated to match: only the server's check can tell.
    manifest = json.loads((backup / MANIFEST).read_text())
    _forge(backup / f"{forged['battle_id']}.json")
    moved_path = backup / f"{moved['battle_id']}.json"
    moved_data = json.loads(moved_path.read_bytes())
    moved_data["restore"]["battle_id"] = "0123456789abcdef"
    moved_path.write_text(json.dumps(moved_data))
    for entry in manifest["battles"]:
        if entry["battle_id"] in (forged["battle_id"], moved["battle_id"]):
            raw = (backup / entry["file"]).read_bytes()
            entry["bytes"] = len(raw)
            entry["sha256"] = hashlib.sha256(raw).hexdigest()
    (backup / MANIFEST).write_text(json.dumps(manifest))

    after = await site.lose_everything(server)
    wrong = cli("restore", str(backup), "--url", after.url, token="not-the-token")
    assert wrong.returncode == 1
    assert "bad_backup_token" in wrong.stderr, wrong.stderr

    done = cli("restore", str(backup), "--url", after.url)
    assert done.returncode == 1
    assert "1 battles restored" in done.stdout, done.stdout
    lines = {line.split()[2]: line for line in done.stderr.splitlines() if "NOT restored" in line}
    assert set(lines) == {truncated["battle_id"], forged["battle_id"], moved["battle_id"]}
    assert "truncated or altered" in lines[truncated["battle_id"]]
    assert "HTTP 422" in lines[forged["battle_id"]], lines[forged["battle_id"]]
    assert "names another battle" in lines[moved["battle_id"]]
    for refused in (truncated, forged, moved):
        assert await site.status(after, refused["battle_id"]) == 404
    assert await site.status(after, "0123456789abcdef") == 404
    assert await site.status(after, intact["battle_id"]) == 200


async def test_the_backup_api_needs_its_token_and_is_off_without_one(site: Site) -> None:
    server = await asyncio.to_thread(site.start_server, "on")
    off = await asyncio.to_thread(site.start_server, "off", **{BACKUP_TOKEN_ENV: ""})
    url = "/api/backup/battles"
    for target, headers, status, code in (
        (server, {}, 401, "bad_backup_token"),
        (server, {"Authorization": "Bearer nope"}, 401, "bad_backup_token"),
        (off, {"Authorization": "Bearer "}, 403, "backup_disabled"),
        (off, {"Authorization": f"Bearer {TOKEN}"}, 403, "backup_disabled"),
    ):
        async with site.http.get(f"{target.url}{url}", headers=headers) as resp:
            assert (resp.status, (await resp.json())["error"]) == (status, code)
        async with site.http.post(f"{target.url}{url}", headers=headers, data=b"{}") as resp:
            assert resp.status == status
    # Malformed identity headers are refused before the body is read.
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Restore-Battle-Id": "../../etc"}
    async with site.http.post(f"{server.url}{url}", headers=headers, data=b"{}") as resp:
        body = await resp.json()
        assert (resp.status, body["field"]) == (400, "X-Restore-Battle-Id"), body
