"""The operator ↔ game server seam of autoscaling: the `/api/summary` fields the floor and the
deletion cost read.

Two real game server processes (two "pods" on 127.0.0.1 and 127.0.0.2, one port as pods share
one); the operator's own poller reads them keyed by pod name, `autoscaling.pod_load` turns the
replies into loads and `plan_floor` into the HPA's minReplicas, and `deletion_cost_patches` prices
each pod with its players. A summary field renamed on either side (`connections`, `players`,
`battles`) fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from tvtt_operator.autoscaling import FloorReason, Policy, plan_floor, pod_load
from tvtt_operator.deletion_cost import DELETION_COST, deletion_cost_patches
from tvtt_operator.summary import SummaryPoller

from testkit.ports import free_port
from testkit.servers import GAME_SERVER_ARGV, ServerProcess
from tests.server.conftest import WsPeer, scenario

SPECTATORS = 23


async def test_the_floor_and_the_deletion_costs_come_from_the_servers_own_summary(
    tmp_path: Path,
) -> None:
    port = free_port()
    hosts = {"pod-a": "127.0.0.1", "pod-b": "127.0.0.2"}
    pods = {
        name: ServerProcess(
            GAME_SERVER_ARGV,
            port=port,
            host=host,
            env={"BOT_DELAY_MS": "0"},
            log_path=tmp_path / f"{name}.log",
            name=name,
        )
        for name, host in hosts.items()
    }
    poller = SummaryPoller(timeout_seconds=2.0, port=port)
    try:
        for pod in pods.values():
            pod.start()
        async with aiohttp.ClientSession() as http:
            url = pods["pod-a"].url
            async with http.post(f"{url}/api/battles", json={"scenario": scenario()}) as r:
                assert r.status == 201, await r.text()
                battle_id = (await r.json())["battle_id"]
            ws_url = url.replace("http", "ws", 1) + "/ws"
            peers = []
            for ship in ("alpha", "bravo"):
                peer = WsPeer(await http.ws_connect(ws_url))
                await peer.join(
                    battle_id=battle_id, role="player", ship_id=ship, stations=["pilot"]
                )
                peers.append(peer)
            for _ in range(SPECTATORS):
                peer = WsPeer(await http.ws_connect(ws_url))
                await peer.join(battle_id=battle_id, role="spectator")
                peers.append(peer)

            replies = await poller.poll_pods(hosts)
            assert set(replies) == {"pod-a", "pod-b"}
            loads = {name: pod_load(reply) for name, reply in replies.items()}
            assert loads["pod-a"] is not None
            assert loads["pod-b"] is not None
            assert (loads["pod-a"].connections, loads["pod-a"].battles) == (25, 1)
            assert (loads["pod-b"].connections, loads["pod-b"].battles) == (0, 0)

            # 25 connections at 10 per pod want 3 pods; the strategy's 500 per pod, the minimum.
            now = datetime(2026, 12, 4, 12, tzinfo=UTC)
            known = {n: load for n, load in loads.items() if load is not None}
            busy = Policy(min_replicas=1, connections_per_pod=10, scale_down_connections_per_pod=2)
            floor = plan_floor(busy, known, current_replicas=2, now=now)
            assert (floor.replicas, floor.reason) == (3, FloorReason.CONNECTIONS)
            assert plan_floor(Policy(), known, current_replicas=2, now=now).replicas == 2

            # Each pod is priced with its players (spectators are not at a table).
            players = {name: reply["players"] for name, reply in replies.items()}
            patches = deletion_cost_patches({"pod-a": {}, "pod-b": {}}, players)
            assert {n: p["metadata"]["annotations"][DELETION_COST] for n, p in patches.items()} == {
                "pod-a": "2",
                "pod-b": "0",
            }
            for peer in peers:
                await peer.ws.close()
    finally:
        await poller.close()
        for pod in pods.values():
            pod.stop()
