"""The project's own images on a real node: the chart's operator pod, a game server pod, a battle.

Everything here really runs: the operator image installed by `helm install` with the chart's
ServiceAccount (RBAC on), the game-server pod it builds from a TravellerVTT (its probes, its
securityContext), and a battle played over WebSocket to the pod's address on the node's bridge.
The operator pod reaches the API server on loopback through the chart's `hostNetwork` and
`apiServer` values (no kube-proxy here; see docs/cluster.md).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gameserver import rules
from testkit.ports import free_port
from tests.cluster.kube import Helm, Kubectl, wait_for
from tests.cluster.node import BRIDGE_IP, NODE_NAME, RealNode
from tests.e2e.conftest import Cluster
from tests.e2e.node.conftest import on_real_node
from tests.e2e.test_chart import condition, is_ready, release_name
from tests.packaging.chart import CHART
from tests.packaging.images import IMAGE_UID
from tests.server.conftest import WsPeer, scenario

pytestmark = pytest.mark.node

PLAYER_STATIONS = ["pilot", "engineer", "sensors", "gunner:0"]  # the Scout's crew (§14)


def split_ref(ref: str) -> tuple[str, str]:
    repository, _, tag = ref.rpartition(":")
    return repository, tag


def install_operator(
    helm: Helm,
    cluster: Cluster,
    node: RealNode,
    release: str,
    tmp_path: Path,
    extra: dict[str, Any] | None = None,
) -> str:
    """`helm install` with the just-built operator image, on the real node, host network;
    `extra` values on top (e.g. a faster pollSeconds)."""
    assert cluster.control_plane is not None
    repository, tag = split_ref(node.refs["operator"])
    values = {
        "image": {"repository": repository, "tag": tag},
        "hostNetwork": True,
        "apiServer": {"host": "127.0.0.1", "port": str(cluster.control_plane.ports["apiserver"])},
        # Host network: the health port is a port of this machine, so pick a free one.
        "healthPort": free_port(),
        **on_real_node(),
        **(extra or {}),
    }
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    return helm("install", release, str(CHART), "--wait", "--timeout", "180s", "-f", str(path))


def pods(kubectl: Kubectl, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.get("pods", None, "-l", selector)["items"]
    return items


def pod_ready(pod: dict[str, Any]) -> bool:
    return bool((cond := condition(pod, "Ready")) and cond["status"] == "True")


def container_pids(node: RealNode, pod: dict[str, Any], container: str) -> list[int]:
    """Host pids of one container: its cgroup under the node's cgroupRoot (cgroupfs driver)."""
    status = next(s for s in pod["status"]["containerStatuses"] if s["name"] == container)
    container_id = status["containerID"].split("://", 1)[1]
    hierarchy = Path("/sys/fs/cgroup/memory")
    if not hierarchy.is_dir():
        hierarchy = Path("/sys/fs/cgroup")
    root = hierarchy / node.cgroup.strip("/")
    found = list(root.rglob(f"pod{pod['metadata']['uid']}/{container_id}/cgroup.procs"))
    assert found, f"no cgroup for container {container_id} under {root}"
    return [int(p) for p in found[0].read_text().split()]


def proc_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


def root_mount_options(pid: int) -> set[str]:
    """Mount options of the container's `/` as the container sees it."""
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            return set(fields[5].split(","))
    raise AssertionError(f"no root mount for pid {pid}")


def default_routes(pid: int) -> list[str]:
    """Default routes in the network namespace of `pid` (/proc/<pid>/net/route, hex fields)."""
    lines = Path(f"/proc/{pid}/net/route").read_text().splitlines()[1:]
    return [ln for ln in lines if ln.split()[1] == "00000000"]


async def play_solo_battle(base: str) -> tuple[int, list[dict[str, Any]]]:
    """Create a battle against the server's bot and play our side until it is over.

    Returns the final seq and the log the server exports. Every command comes from the rules
    engine's own bot picker, so the battle always progresses.
    """
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base}/api/battles",
            json={"scenario": scenario(round_limit=2), "bot_sides": ["blue"]},
        ) as resp:
            assert resp.status == 201, await resp.text()
            battle = await resp.json()
        battle_id = battle["battle_id"]
        async with http.get(f"{base}/api/battles/{battle_id}/log") as resp:
            log = (await resp.json())["events"]
        state = rules.replay([rules.Event.from_dict(d) for d in log])
        ws = await http.ws_connect(f"{base.replace('http', 'ws')}/ws")
        player = WsPeer(ws)
        await player.join(battle_id=battle_id, role="player", ship_id="alpha",
                          stations=PLAYER_STATIONS)  # fmt: skip
        await player.recv_until("snapshot")
        for _ in range(2000):
            for event in [e for e in player.events if e["seq"] > state.seq]:
                state = rules.evolve(state, rules.Event.from_dict(event))
            if state.is_over:
                break
            awaited = rules.awaiting(state)
            if awaited and awaited[0][0] == "alpha":
                ship_id = awaited[0][0]
                commands = [
                    c
                    for c in rules.bot_commands(state, state.ships[ship_id].side)
                    if (c.ship_id or ship_id) == ship_id
                ]
                answer = await player.command(rules.command_to_dict(commands[0]))
                assert answer["type"] == "ack", answer
                await player.drain_until_seq(answer["seq"])
            else:
                await player.recv_until("event")
        assert state.is_over, "a two-round battle must end"
        async with http.get(f"{base}/api/battles/{battle_id}/log") as resp:
            log = (await resp.json())["events"]
        # The end is followed by the reveal of the dice (`dice_revealed`): take it too.
        await player.drain_until_seq(log[-1]["seq"])
        for event in [e for e in player.events if e["seq"] > state.seq]:
            state = rules.evolve(state, rules.Event.from_dict(event))
        await ws.close()
        return state.seq, log


def test_chart_operator_pod_runs_a_game_server_pod_that_plays_a_battle(
    control_plane: Cluster,
    real_node: RealNode,
    helm: Helm,
    kubectl: Kubectl,
    namespace: str,
    tmp_path: Path,
) -> None:
    release = release_name(namespace)
    install_operator(helm, control_plane, real_node, release, tmp_path)
    operator_pods = pods(kubectl, f"app.kubernetes.io/instance={release}")
    assert len(operator_pods) == 1
    operator = operator_pods[0]
    assert operator["status"]["phase"] == "Running"
    assert operator["spec"]["nodeName"] == NODE_NAME
    assert operator["spec"]["serviceAccountName"] == release or operator["spec"][
        "serviceAccountName"
    ].startswith(release), "the chart's ServiceAccount, so its RBAC is what the test exercises"
    [op_pid, *_] = container_pids(real_node, operator, "operator")
    assert proc_uid(op_pid) == IMAGE_UID
    assert "ro" in root_mount_options(op_pid)

    placement = on_real_node()
    kubectl.apply(
        {
            "apiVersion": "traveller-vtt.io/v1alpha1",
            "kind": "TravellerVTT",
            "metadata": {"name": "skirmish"},
            # In memory (opted out of the Redis default): one pod, the battle lives in it.
            "spec": {"image": real_node.refs["server"], "redis": {"enabled": False}, **placement},
        }
    )
    wait_for(lambda: is_ready(kubectl, "skirmish"), timeout=180, message="TravellerVTT Ready")
    server = wait_for(
        lambda: [p for p in pods(kubectl, "app.kubernetes.io/instance=skirmish") if pod_ready(p)],
        timeout=60,
        message="a Ready game server pod",
    )[0]
    assert server["spec"]["nodeName"] == NODE_NAME
    pod_ip = server["status"]["podIP"]
    assert pod_ip.rsplit(".", 1)[0] == BRIDGE_IP.rsplit(".", 1)[0], pod_ip
    [pid, *_] = container_pids(real_node, server, "gameserver")
    assert proc_uid(pid) == IMAGE_UID, "the game server runs as the image's non-root uid"
    assert "ro" in root_mount_options(pid), "read-only root filesystem"
    assert f"{real_node.cgroup}/kubepods" in Path(f"/proc/{pid}/cgroup").read_text(), (
        "the container lives in the run's own cgroup tree (kubelet cgroupRoot)"
    )

    seq, log = asyncio.run(play_solo_battle(f"http://{pod_ip}:3000"))
    assert [e["seq"] for e in log] == list(range(1, seq + 1)), "every event once, in order"
    assert any(e["data"].get("ship") == "bravo" for e in log if e["type"] != "turn_started"), (
        "the server's bot played its side inside the pod"
    )
    statuses = kubectl.get("pod", server["metadata"]["name"])["status"]["containerStatuses"]
    assert statuses[0]["restartCount"] == 0, "liveness never failed during the battle"
    assert real_node.forwarding() == real_node.ip_forward, "IP forwarding untouched"
    assert default_routes(pid) == [], "a pod has the on-link route only: nothing leaves"
