"""Backups on the real node: the CronJob backs up on its schedule, Redis loses its data, a
restore Job puts the battle back, and the player resumes it.
(This node has no kube-proxy: the job reaches the pods through a headless Service, see below.)

The operator renders the CronJob from `spec.backup` (every minute here); its pod runs the game
server image as uid 10001 and writes to the backup volume (a PersistentVolume in the run dir, so
the test reads the files the job wrote). Then Redis is FLUSHALLed (from this machine, with the
password from the operator's Secret) and the game server pods are deleted: the new pods start on
an empty store, the battle is gone (404). A Job like the one docs/operator.md shows runs
`python -m gameserver.backup restore`; the battle is back under its id with the same log, the
GM's old token works, and the player's next move continues the log where the backup left it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from gameserver import rules
from gameserver.backup import complete_backups
from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.node import NODE_LABEL, RealNode
from tests.e2e.node.battle import (
    NAME,
    REDIS_SELECTOR,
    SERVER_SELECTOR,
    deploy,
    serving,
)
from tests.e2e.node.test_real_pods import PLAYER_STATIONS
from tests.server.conftest import WsPeer, scenario

pytestmark = pytest.mark.node

SERVER_UID = 10001
BACKUP_CLAIM = f"{NAME}-backups"
BACKUP_SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=backup"
# This node has no kube-proxy (docs/cluster.md): the Service's ClusterIP, which the CronJob uses
# on a real cluster, goes nowhere here. CoreDNS resolves a headless Service to the pods, so the
# test adds one and points the job at it (with the resource paused, so the operator does not
# correct that drift).
PODS_SERVICE = f"{NAME}-pods"
PODS_URL = f"http://{PODS_SERVICE}:3000"


def headless_service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": PODS_SERVICE},
        "spec": {
            "clusterIP": "None",
            "selector": dict(part.split("=") for part in SERVER_SELECTOR.split(",")),
            "ports": [{"name": "http", "port": 3000, "targetPort": 3000}],
        },
    }


def point_the_job_at_the_pods(kubectl: Kubectl, cronjob: dict[str, Any]) -> None:
    """Pause the resource, then give the CronJob the headless Service's URL and unsuspend it."""
    kubectl("patch", "travellervtt", NAME, "--type=merge", "-p", '{"spec": {"paused": true}}')
    containers = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = list(containers[0]["command"])
    command[command.index("--url") + 1] = PODS_URL
    patch = {
        "spec": {
            "suspend": False,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": containers[0]["name"], "command": command}]
                        }
                    }
                }
            },
        }
    }
    kubectl("patch", "cronjob", f"{NAME}-backup", "--type=strategic", "-p", json.dumps(patch))


def backup_volume(kubectl: Kubectl, node: RealNode, namespace: str) -> Path:
    """A PersistentVolume pre-bound to the backup claim, owned by the server image's uid."""
    path = Path(node.run_dir) / "volumes" / namespace / "backups"
    path.mkdir(parents=True)
    os.chown(path, SERVER_UID, SERVER_UID)
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"backups-{namespace}"},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": "standard",
                "hostPath": {"path": str(path), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": BACKUP_CLAIM},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": NODE_LABEL, "operator": "In", "values": ["true"]}
                                ]
                            }
                        ]
                    }
                },
            },
        }
    )
    return path


def secret_value(kubectl: Kubectl, name: str, key: str) -> str:
    return base64.b64decode(kubectl.get("secret", name)["data"][key]).decode()


async def play(base: str, battle_id: str, moves: int, **join: Any) -> list[dict[str, Any]]:
    """Join as Alpha's crew (the bot plays Blue) and make `moves` acked moves; the log after."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/battles/{battle_id}/log") as resp:
            assert resp.status == 200, await resp.text()
            log = (await resp.json())["events"]
        state = rules.replay([rules.Event.from_dict(d) for d in log])
        ws = await http.ws_connect(f"{base.replace('http', 'ws')}/ws")
        player = WsPeer(ws)
        await player.join(battle_id=battle_id, role="player", ship_id="alpha",
                          stations=PLAYER_STATIONS, **join)  # fmt: skip
        await player.recv_until("snapshot")
        made = 0
        while made < moves and not state.is_over:
            for event in [e for e in player.events if e["seq"] > state.seq]:
                state = rules.evolve(state, rules.Event.from_dict(event))
            awaited = rules.awaiting(state)
            if awaited and awaited[0][0] == "alpha":
                commands = [
                    c
                    for c in rules.bot_commands(state, state.ships["alpha"].side)
                    if (c.ship_id or "alpha") == "alpha"
                ]
                answer = await player.command(rules.command_to_dict(commands[0]))
                assert answer["type"] == "ack", answer
                assert answer["seqs"][0] == state.seq + 1, (answer, state.seq)
                await player.drain_until_seq(answer["seq"])
                made += 1
            else:
                await player.recv_until("event")
        await ws.close()
        async with http.get(f"{base}/api/battles/{battle_id}/log") as resp:
            return list((await resp.json())["events"])


def battle_status(base: str, battle_id: str) -> int:
    async def get() -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base}/api/battles/{battle_id}") as resp,
        ):
            return resp.status

    return asyncio.run(get())


def jobs(kubectl: Kubectl) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.get("jobs", None, "-l", BACKUP_SELECTOR)["items"]
    return items


def succeeded_after(kubectl: Kubectl, after: str) -> dict[str, Any] | None:
    """A backup Job that started at or after `after` (RFC 3339, second precision) and
    succeeded."""
    for job in jobs(kubectl):
        status = job.get("status") or {}
        if status.get("succeeded") and status.get("startTime", "") >= after:
            return job
    return None


def restore_job(image: str) -> dict[str, Any]:
    """The restore as docs/operator.md shows it, as a Job (its pod is kept for its log)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "restore"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": SERVER_UID},
                    "volumes": [
                        {"name": "b", "persistentVolumeClaim": {"claimName": BACKUP_CLAIM}}
                    ],
                    "containers": [
                        {
                            "name": "restore",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "volumeMounts": [{"name": "b", "mountPath": "/backups"}],
                            "env": [
                                {
                                    "name": "BACKUP_TOKEN",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": f"{NAME}-backup", "key": "token"}
                                    },
                                }
                            ],
                            "command": [
                                "python",
                                "-m",
                                "gameserver.backup",
                                "restore",
                                "/backups",
                                "--url",
                                PODS_URL,
                            ],
                        }
                    ],
                }
            },
        },
    }


def test_scheduled_backup_survives_a_redis_wipe_and_the_player_resumes(
    installed_operator: None,
    real_node: RealNode,
    kubectl: Kubectl,
    namespace: str,
) -> None:
    redis_dir = Path(real_node.run_dir) / "volumes" / namespace / NAME
    backups = backup_volume(kubectl, real_node, namespace)
    backup = {"schedule": "* * * * *", "retention": 2, "suspend": True}
    deploy(kubectl, real_node, namespace, backup=backup)
    cronjob = kubectl.get("cronjob", f"{NAME}-backup")
    assert cronjob["spec"]["schedule"] == "* * * * *"
    kubectl.apply(headless_service())
    point_the_job_at_the_pods(kubectl, cronjob)

    base = f"http://{serving(kubectl)[0]['status']['podIP']}:3000"

    async def create() -> dict[str, Any]:
        body = {"scenario": scenario(round_limit=30), "bot_sides": ["blue"]}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{base}/api/battles", json=body) as resp,
        ):
            assert resp.status == 201, await resp.text()
            return dict(await resp.json())

    battle = asyncio.run(create())
    battle_id = battle["battle_id"]
    before = asyncio.run(play(base, battle_id, moves=3))
    played_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    # The schedule runs the backup (at the next minute; a run already under way may end first).
    wait_for(
        lambda: succeeded_after(kubectl, played_at) is not None,
        timeout=180,
        interval=2,
        message="a scheduled backup Job that started after the moves succeeded",
    )
    # No more runs: one after the wipe would find no battle (it could not push this one out).
    kubectl(
        "patch", "cronjob", f"{NAME}-backup", "--type=merge", "-p", '{"spec": {"suspend": true}}'
    )
    newest = complete_backups(backups)[-1]
    manifest = json.loads((newest / "manifest.json").read_text())
    assert battle_id in {e["battle_id"] for e in manifest["battles"]}
    saved = json.loads((newest / f"{battle_id}.json").read_text())
    # The bot plays blue on after our moves: the backup holds them and whatever it did since.
    assert [e["seq"] for e in saved["events"][: len(before)]] == [e["seq"] for e in before]
    assert len(saved["events"]) >= len(before)
    assert saved["restore"]["join_code"] == battle["join_code"]
    assert "gm_token" not in json.dumps(saved["restore"]).replace("gm_token_hash", "")
    assert (newest / f"{battle_id}.json").stat().st_uid == SERVER_UID
    assert (redis_dir / "dump.rdb").exists(), "BGSAVE wrote an RDB snapshot on the Redis volume"
    print(
        f"backup: {len(manifest['battles'])} battles, "
        f"{sum(e['bytes'] for e in manifest['battles'])} bytes in {newest.name}"
    )

    # Redis loses its data; the game servers restart on the empty store.
    (redis_pod,) = kubectl.get("pods", None, "-l", REDIS_SELECTOR)["items"]
    password = secret_value(kubectl, f"{NAME}-redis-auth", "password")
    client = redis.Redis(host=redis_pod["status"]["podIP"], port=6379, password=password)
    try:
        client.flushall()
        assert client.dbsize() == 0
    finally:
        client.close()
    old = {p["metadata"]["name"] for p in serving(kubectl)}
    kubectl("delete", "pods", "-l", SERVER_SELECTOR, "--wait=false")
    wait_for(
        lambda: len([p for p in serving(kubectl) if p["metadata"]["name"] not in old]) == 2,
        timeout=180,
        message="two new game server pods",
    )
    base = f"http://{serving(kubectl)[0]['status']['podIP']}:3000"
    assert battle_status(base, battle_id) == 404

    started = time.monotonic()
    kubectl.apply(restore_job(real_node.refs["server"]))
    wait_for(
        lambda: (
            (kubectl.get("job", "restore").get("status") or {}).get("succeeded") == 1
            or (kubectl.get("job", "restore").get("status") or {}).get("failed")
        ),
        timeout=180,
        message="the restore Job finished",
    )
    # `kubectl logs` cannot reach this node's kubelet: the log files are read where it wrote them.
    (pod,) = kubectl.get("pods", None, "-l", "job-name=restore")["items"]
    logs = real_node.container_logs(namespace, pod["metadata"]["name"])
    output = " ".join(path.read_text() for path in logs)
    assert (kubectl.get("job", "restore").get("status") or {}).get("succeeded") == 1, output
    print(f"restore Job: {time.monotonic() - started:.1f} s; {output.strip()}")
    assert f"{len(manifest['battles'])} battles restored" in output, output
    assert battle_status(base, battle_id) == 200

    async def gm_joins() -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"{base.replace('http', 'ws')}/ws")
            gm = WsPeer(ws)
            await gm.join(battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
            await gm.recv_until("snapshot")
            await ws.close()
            assert gm.joined is not None
            return gm.joined

    assert asyncio.run(gm_joins())["join_code"] == battle["join_code"]
    after = asyncio.run(play(base, battle_id, moves=2))
    assert after[: len(before)] == before
    assert len(after) > len(before)
