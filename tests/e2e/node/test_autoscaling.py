"""Autoscaling on the real node: a connection surge adds game server pods, the emptiest goes first.

One game server pod, `connectionsPerPod: 10`. Two players and 23 spectators connect (25
WebSockets): the operator's poll sees them, writes the floor ceil(25 / 10) = 3 as the HPA's
minReplicas, and the real HPA controller scales the Deployment to 3 although this node runs no
metrics API. The reaction time is measured and printed (surge → floor written → Deployment at 3 →
3 pods Ready); `pollSeconds` is 2 here, the chart's default 30 adds up to 28 s.

Then the spectators leave: after the stabilisation window the floor falls back to 1, and each
pod's `controller.kubernetes.io/pod-deletion-cost` is its players (2 on the first pod, 0 on the
new ones). Scaling the Deployment down (the HPA does not, without metrics) removes the two empty
pods: the players' pod stays and their sockets are never told to leave.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from tvtt_operator.deletion_cost import DELETION_COST

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.node import RealNode
from tests.e2e.node.battle import redis_volume
from tests.e2e.node.test_real_pods import pod_ready, pods
from tests.e2e.operator_helpers import conditions, ready as converged
from tests.server.conftest import WsPeer, scenario

pytestmark = pytest.mark.node

NAME = "surge"
SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=gameserver"
SPECTATORS = 23
WINDOW_SECONDS = 20


def resource(node: RealNode) -> dict[str, Any]:
    return {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {"name": NAME},
        "spec": {
            "image": node.refs["server"],
            "redis": {"image": node.refs["redis"]},
            "autoscaling": {
                "minReplicas": 1,
                "maxReplicas": 3,
                "connectionsPerPod": 10,
                "scaleDownConnectionsPerPod": 2,
                "stabilizationWindowSeconds": WINDOW_SECONDS,
            },
        },
    }


def serving(kubectl: Kubectl) -> list[dict[str, Any]]:
    return [
        p
        for p in pods(kubectl, SELECTOR)
        if pod_ready(p) and not p["metadata"].get("deletionTimestamp")
    ]


def hpa_min(kubectl: Kubectl) -> int:
    return int(kubectl.get("horizontalpodautoscaler", NAME)["spec"]["minReplicas"])


def replicas(kubectl: Kubectl) -> int:
    return int(kubectl.get("deployment", NAME)["spec"].get("replicas", 0))


def costs(kubectl: Kubectl) -> dict[str, str | None]:
    return {
        p["metadata"]["name"]: (p["metadata"].get("annotations") or {}).get(DELETION_COST)
        for p in serving(kubectl)
    }


async def timed(check: Any, message: str, within: float = 180) -> float:
    """Seconds until `check()` holds (polled from a thread: the sockets stay served)."""
    started = time.monotonic()
    await asyncio.to_thread(wait_for, check, timeout=within, interval=0.2, message=message)
    return time.monotonic() - started


class Listener:
    """Reads a socket in the background (aiohttp answers the server's heartbeat pings only while
    someone reads), keeping the frame types it saw and whether the socket ended."""

    def __init__(self, peer: WsPeer) -> None:
        self.peer = peer
        self.seen: list[str] = []
        self.ended = False
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            msg = await self.peer.ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                self.ended = True
                return
            self.seen.append(str(json.loads(msg.data).get("type")))

    async def close(self) -> None:
        await self.peer.ws.close()
        await self.task


async def surge_and_drain(kubectl: Kubectl, first: dict[str, Any]) -> dict[str, Any]:
    name, ip = first["metadata"]["name"], first["status"]["podIP"]
    url = f"http://{ip}:3000"
    out: dict[str, Any] = {"first": name}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/battles", json={"scenario": scenario()}) as response:
            assert response.status == 201, await response.text()
            battle_id = (await response.json())["battle_id"]
        players = []
        for ship in ("alpha", "bravo"):
            peer = WsPeer(await http.ws_connect(f"ws://{ip}:3000/ws", heartbeat=None))
            await peer.join(battle_id=battle_id, role="player", ship_id=ship, stations=["pilot"])
            players.append(Listener(peer))
        spectators = []
        for _ in range(SPECTATORS):
            peer = WsPeer(await http.ws_connect(f"ws://{ip}:3000/ws", heartbeat=None))
            await peer.join(battle_id=battle_id, role="spectator")
            spectators.append(Listener(peer))
        # The surge is complete: 25 connections on one pod, 10 per pod wanted.
        started = time.monotonic()
        out["floor_s"] = await timed(lambda: hpa_min(kubectl) == 3, "HPA minReplicas 3")
        out["scaled_s"] = out["floor_s"] + await timed(
            lambda: replicas(kubectl) == 3, "the HPA scaled the Deployment to 3"
        )
        await timed(lambda: len(serving(kubectl)) == 3, "3 game server pods Ready")
        out["ready_s"] = time.monotonic() - started
        obj = kubectl.get("travellervtt", NAME)
        out["condition"] = conditions(obj)["AutoscalingFloor"]
        out["floor_status"] = obj["status"]["autoscalingFloor"]

        # Each pod's deletion cost is its players: 2 where the players are, 0 elsewhere.
        def players_priced() -> bool:
            found = costs(kubectl)
            return len(found) == 3 and found[name] == "2" and list(found.values()).count("0") == 2

        await timed(players_priced, "deletion costs 2, 0, 0")
        out["costs"] = costs(kubectl)

        # The spectators leave: 2 connections on 3 pods allow the floor back to 1, after the
        # stabilisation window.
        for listener in spectators:
            await listener.close()
        left = time.monotonic()
        await timed(lambda: hpa_min(kubectl) == 1, "HPA minReplicas back to 1")
        out["fell_after_s"] = time.monotonic() - left

        # Scale down by hand (no metrics: the HPA would not): the empty pods go, not the players'.
        await asyncio.to_thread(kubectl, "scale", "deployment", NAME, "--replicas=1")
        await timed(
            lambda: [p["metadata"]["name"] for p in pods(kubectl, SELECTOR)] == [name],
            "only the players' pod left",
        )
        for listener in players:  # still connected, never told server_shutdown
            await listener.peer.send({"type": "ping"})
        await timed(
            lambda: all("pong" in listener.seen for listener in players),
            "both players answered",
            within=30,
        )
        out["players_kept"] = not any(
            listener.ended or "server_shutdown" in listener.seen for listener in players
        )
        for listener in players:
            await listener.close()
    return out


@pytest.fixture
def operator_values() -> dict[str, Any]:
    """A 2 s poll and no wait before deletion costs: the surge and its scale-down fit the test."""
    return {"pollSeconds": 2, "deletionCostSeconds": 0}


def test_a_connection_surge_scales_up_and_the_emptiest_pod_goes_first(
    installed_operator: None,
    real_node: RealNode,
    kubectl: Kubectl,
    namespace: str,
) -> None:
    redis_volume(kubectl, real_node, namespace, NAME)
    kubectl.apply(resource(real_node))
    wait_for(
        lambda: (
            converged(kubectl, NAME, autoscaled=True) is not None and len(serving(kubectl)) == 1
        ),
        timeout=300,
        message=f"{NAME} converged with one game server pod",
    )
    (first,) = serving(kubectl)

    out = asyncio.run(surge_and_drain(kubectl, first))

    assert out["floor_status"] == 3
    assert (out["condition"]["status"], out["condition"]["reason"]) == ("True", "Connections")
    assert "25 connections need 3 pods" in out["condition"]["message"]
    assert out["players_kept"]
    print(
        f"surge of 25 connections (poll 2 s): HPA minReplicas 3 after {out['floor_s']:.1f}s, "
        f"Deployment at 3 after {out['scaled_s']:.1f}s, 3 pods Ready after {out['ready_s']:.1f}s; "
        f"floor back to 1 {out['fell_after_s']:.1f}s after the surge left "
        f"(window {WINDOW_SECONDS}s); deletion costs {out['costs']}"
    )
