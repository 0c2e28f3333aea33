"""Rolling update mid-battle in Redis mode on the real node: nothing acked is lost or repeated.

Two game-server replicas share the Redis StatefulSet the operator makes (found by CoreDNS through
its headless Service). Two players, each connected to a different pod, play a battle; halfway the
TravellerVTT's `spec.image` changes to a second tag. The rollout replaces both pods; each player
is told `server_shutdown`, reconnects to a new pod, resumes with `last_seq`, and must receive
every event exactly once, in order. The exported log must hold every acked event once.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gameserver import rules
from tests.cluster.kube import Helm, Kubectl, wait_for
from tests.cluster.node import NODE_LABEL, NODE_NAME, NODE_TAINT, RealNode
from tests.e2e.conftest import Cluster
from tests.e2e.node.players import Player
from tests.e2e.node.test_real_pods import install_operator, pod_ready
from tests.e2e.test_chart import is_ready, release_name
from tests.server.conftest import scenario

pytestmark = pytest.mark.node

NAME = "convention"
REDIS_UID = 999  # the operator's Redis pod runs as this uid
SERVER_SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=gameserver"
COMMANDS_AFTER_ROLLOUT = 6


@pytest.fixture
def only_real_node(control_plane: Cluster, real_node: RealNode) -> Iterator[None]:
    """Pods without a toleration (the operator's Redis) must land on the real node: cordon
    kwok's nodes and lift the real node's taint for this test, then put both back."""
    admin = control_plane.kubectl()
    fake = admin("get", "nodes", "-l", "type=kwok", "-o", "name").split()
    taint = f"{NODE_TAINT['key']}={NODE_TAINT['value']}:{NODE_TAINT['effect']}"
    admin("cordon", *fake)
    admin("taint", "node", NODE_NAME, f"{NODE_TAINT['key']}-")
    try:
        yield
    finally:
        admin("taint", "node", NODE_NAME, taint, "--overwrite")
        admin("uncordon", *fake)


def redis_volume(kubectl: Kubectl, node: RealNode, namespace: str) -> None:
    """A PersistentVolume pre-bound to the Redis claim, in the run dir, owned by Redis's uid.

    The host-path provisioner would make a root-owned folder under /tmp that uid 999 cannot
    write (fsGroup does not apply to hostPath).
    """
    path = node.run_dir / "volumes" / namespace
    path.mkdir(parents=True)
    os.chown(path, REDIS_UID, REDIS_UID)
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"redis-{namespace}"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": "standard",
                "hostPath": {"path": str(path), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": f"data-{NAME}-redis-0"},
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


def server_pods(kubectl: Kubectl) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.get("pods", None, "-l", SERVER_SELECTOR)["items"]
    return items


def serving(kubectl: Kubectl) -> list[dict[str, Any]]:
    """Ready server pods that are not terminating."""
    return [
        p
        for p in server_pods(kubectl)
        if pod_ready(p) and not p["metadata"].get("deletionTimestamp")
    ]


def rolled_out(kubectl: Kubectl, image: str) -> bool:
    """Both pods run `image`, are Ready, and no old pod is left."""
    pods = server_pods(kubectl)
    return len(pods) == 2 and all(
        p["spec"]["containers"][0]["image"] == image
        and pod_ready(p)
        and not p["metadata"].get("deletionTimestamp")
        for p in pods
    )


async def play_through_rollout(kubectl: Kubectl, second_image: str) -> dict[str, Any]:
    """Two players on two pods; change the image after a few commands; play on until both
    pods are replaced and a few more commands are acked. Returns what the checks need."""

    async def pick_pod(avoid: set[str]) -> str:
        def ready_ip() -> str | None:
            ips = [str(p["status"]["podIP"]) for p in serving(kubectl)]
            fresh = [ip for ip in ips if ip not in avoid]
            return (fresh or ips)[0] if ips else None

        ip: str = await asyncio.to_thread(
            wait_for, ready_ip, timeout=120, message="a Ready game server pod"
        )
        return ip

    first, second = (p["status"]["podIP"] for p in serving(kubectl)[:2])
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"http://{first}:3000/api/battles",
            json={"scenario": scenario(round_limit=30, starting_range="distant")},
        ) as resp:
            assert resp.status == 201, await resp.text()
            battle_id = (await resp.json())["battle_id"]
        async with http.get(f"http://{first}:3000/api/battles/{battle_id}/log") as resp:
            state = rules.replay([rules.Event.from_dict(e) for e in (await resp.json())["events"]])
        players: dict[str, Player] = {}
        for ship_id, ip in zip(sorted(state.ships), (first, second), strict=False):
            stations = list(state.ships[ship_id].design.station_ids())

            async def on(avoid: set[str], _ip: str = ip) -> str:
                return _ip

            player = Player(http, battle_id, ship_id, stations, on)
            await player.connect()
            player.pick_pod = pick_pod
            players[ship_id] = player
        for player in players.values():
            while player.snapshots == 0:
                await player.recv()

        commands = acked_after = 0
        changed_at: float | None = None
        done_at: float | None = None
        last_check = 0.0
        while not state.is_over and acked_after < COMMANDS_AFTER_ROLLOUT:
            ship_id, _ = rules.awaiting(state)[0]
            legal = [
                c
                for c in rules.bot_commands(state, state.ships[ship_id].side)
                if (c.ship_id or ship_id) == ship_id
            ]
            answer = await players[ship_id].command(rules.command_to_dict(legal[0]))
            commands += 1
            if answer is not None and answer["type"] == "error":
                # A command that raced a reconnect may be stale; the next one is chosen afresh.
                assert answer.get("code") != "internal_error", answer
            target = max(p.seq for p in players.values())
            if answer is not None and answer["type"] == "ack":
                target = max(target, answer["seq"])
            for player in players.values():
                await player.sync(target)
            mine = players[sorted(players)[0]]
            for event in [e for e in mine.events if e["seq"] > state.seq]:
                state = rules.evolve(state, rules.Event.from_dict(event))
            if commands == 4:
                await asyncio.to_thread(
                    kubectl, "patch", "travellervtt", NAME, "--type=merge",
                    "-p", json.dumps({"spec": {"image": second_image}}),
                )  # fmt: skip
                changed_at = time.monotonic()
            if changed_at and done_at is None and time.monotonic() - last_check > 1:
                last_check = time.monotonic()
                if await asyncio.to_thread(rolled_out, kubectl, second_image):
                    done_at = time.monotonic()
            if done_at is not None and answer is not None and answer["type"] == "ack":
                acked_after += 1
            # Players think between moves; slow enough that the battle outlasts the rollout.
            await asyncio.sleep(0.1 if changed_at is None else 1.0)
        assert not state.is_over or done_at is not None, f"battle over after {commands} commands"
        assert changed_at is not None, "the image was never changed"
        assert done_at is not None, "the rollout never completed"
        ip = await pick_pod(set())
        async with http.get(f"http://{ip}:3000/api/battles/{battle_id}/log") as resp:
            log: list[dict[str, Any]] = (await resp.json())["events"]
        for player in players.values():
            await player.close()
        return {
            "log": log,
            "players": list(players.values()),
            "rollout_s": done_at - changed_at,
            "state": state,
        }


def test_rolling_update_mid_battle_in_redis_mode_loses_nothing(
    control_plane: Cluster,
    real_node: RealNode,
    only_real_node: None,
    helm: Helm,
    kubectl: Kubectl,
    namespace: str,
    tmp_path: Path,
) -> None:
    install_operator(helm, control_plane, real_node, release_name(namespace), tmp_path)
    redis_volume(kubectl, real_node, namespace)
    second_image = real_node.tag_image("server", "second")
    kubectl.apply(
        {
            "apiVersion": "traveller-vtt.io/v1alpha1",
            "kind": "TravellerVTT",
            "metadata": {"name": NAME},
            "spec": {
                "image": real_node.refs["server"],
                "replicas": 2,
                "redis": {"enabled": True, "image": real_node.refs["redis"]},
            },
        }
    )
    wait_for(lambda: is_ready(kubectl, NAME), timeout=240, message="TravellerVTT Ready")
    wait_for(lambda: len(serving(kubectl)) == 2, timeout=60, message="two serving pods")
    before = {p["metadata"]["name"] for p in server_pods(kubectl)}

    result = asyncio.run(play_through_rollout(kubectl, second_image))

    log = result["log"]
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1)), "the log: every seq once"
    after = {p["metadata"]["name"] for p in server_pods(kubectl)}
    assert not before & after, "both pods were replaced"
    gaps: list[float] = []
    for player in result["players"]:
        assert player.snapshots == 1, f"{player.ship_id} resumed from a snapshot, not last_seq"
        assert len(player.pods_used) >= 2, f"{player.ship_id} was never moved to a new pod"
        first = player.events[0]["seq"]
        assert player.events == log[first - 1 : player.seq], (
            f"{player.ship_id} saw every event exactly once, in order, across reconnects"
        )
        by_seq = {e["seq"] for e in log}
        assert set(player.acked) <= by_seq, "every acked event is in the log"
        gaps += player.gaps
    assert gaps, "no player was told to reconnect"
    print(
        f"rollout {result['rollout_s']:.1f}s; reconnect gap p50 {statistics.median(gaps):.2f}s "
        f"max {max(gaps):.2f}s over {len(gaps)} reconnects; {len(log)} events"
    )
