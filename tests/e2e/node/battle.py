"""A Redis-mode battle on the real node that plays on through disruptions (phases).

Two game-server replicas share the operator's Redis StatefulSet (found by CoreDNS through its
headless Service). Two players, each connected to a different pod, play a battle with commands
the rules engine's bot picks. Each `Phase` disrupts the installation mid-battle (an image change,
`kubectl rollout undo`, a pod deletion, a drain, Redis killed); players keep playing through it
and after it, and what they saw is recorded per phase: reconnect gaps, error codes, seconds until
the installation recovered. The caller checks the exported log against what players were acked.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gameserver import rules
from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.node import NODE_LABEL, RealNode
from tests.e2e.node.players import Player
from tests.e2e.node.test_real_pods import pod_ready
from tests.e2e.test_chart import is_ready
from tests.server.conftest import scenario

NAME = "convention"
REDIS_UID = 999  # the operator's Redis pod runs as this uid
SERVER_SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=gameserver"
REDIS_SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=redis"
COMMANDS_BEFORE = 4  # acked commands before each disruption
COMMANDS_AFTER = 5  # acked commands after the installation recovered


def redis_volume(kubectl: Kubectl, node: RealNode, namespace: str, name: str = NAME) -> None:
    """A PersistentVolume pre-bound to the Redis claim of TravellerVTT `name`, in the run dir,
    owned by Redis's uid.

    The host-path provisioner would make a root-owned folder under /tmp that uid 999 cannot
    write (fsGroup does not apply to hostPath).
    """
    path = node.run_dir / "volumes" / namespace / name
    path.mkdir(parents=True)
    os.chown(path, REDIS_UID, REDIS_UID)
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"redis-{namespace}-{name}"},
            "spec": {
                "capacity": {"storage": "10Gi"},  # any claim of the examples fits
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": "standard",
                "hostPath": {"path": str(path), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": f"data-{name}-redis-0"},
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


def tvtt(image: str, redis_image: str, **spec: Any) -> dict[str, Any]:
    """The Redis-mode TravellerVTT these tests play on (Redis is the default: not spelled out)."""
    return {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {"name": NAME},
        "spec": {"image": image, "replicas": 2, "redis": {"image": redis_image}, **spec},
    }


@dataclass
class Phase:
    """One disruption: `disrupt(phase)` runs in a thread while players keep playing; the phase
    is over when it returned (its value is `outcome`) and `recovered()` holds."""

    name: str
    disrupt: Callable[[Phase], Any]
    recovered: Callable[[], bool]
    # Filled while playing.
    occupied: list[str] = field(default_factory=list)  # players' pod IPs when it started
    seconds: float = 0.0
    gaps: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    acked_during: int = 0
    outcome: Any = None


@dataclass
class Played:
    log: list[dict[str, Any]]
    players: list[Player]
    phases: list[Phase]
    state: rules.BattleState


async def play_through(kubectl: Kubectl, phases: list[Phase], round_limit: int = 60) -> Played:
    """Two players on two pods play a battle through every phase, in order."""

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
            json={"scenario": scenario(round_limit=round_limit, starting_range="distant")},
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

        pending = list(phases)
        current: Phase | None = None
        task: asyncio.Future[Any] | None = None
        started = recovered_at = 0.0
        gaps_before: dict[str, int] = {}
        calm = 0  # acked commands since the last phase ended (or since the start)
        last_check = 0.0
        while not state.is_over and (pending or current is not None):
            ship_id, _ = rules.awaiting(state)[0]
            legal = [
                c
                for c in rules.bot_commands(state, state.ships[ship_id].side)
                if (c.ship_id or ship_id) == ship_id
            ]
            answer = await players[ship_id].command(rules.command_to_dict(legal[0]))
            acked = answer is not None and answer["type"] == "ack"
            if answer is not None and answer["type"] == "error":
                # A command that raced a reconnect may be stale; the next one is chosen afresh.
                assert answer.get("code") != "internal_error", answer
                if current is not None:
                    current.errors[str(answer.get("code"))] += 1
            target = max(p.seq for p in players.values())
            if answer is not None and acked:
                target = max(target, answer["seq"])
            for player in players.values():
                await player.sync(target)
            mine = players[sorted(players)[0]]
            for event in [e for e in mine.events if e["seq"] > state.seq]:
                state = rules.evolve(state, rules.Event.from_dict(event))

            if current is None:
                calm += acked
                if calm >= COMMANDS_BEFORE and pending:
                    current = pending.pop(0)
                    gaps_before = {s: len(p.gaps) for s, p in players.items()}
                    started, recovered_at = time.monotonic(), 0.0
                    current.occupied = [p.pod_ip for p in players.values()]
                    task = asyncio.ensure_future(asyncio.to_thread(current.disrupt, current))
            else:
                current.acked_during += acked
                assert task is not None
                if not recovered_at and task.done() and time.monotonic() - last_check > 1:
                    last_check = time.monotonic()
                    current.outcome = task.result()
                    if await asyncio.to_thread(current.recovered):
                        recovered_at = time.monotonic()
                        current.seconds = recovered_at - started
                        calm = 0
                if recovered_at:
                    calm += acked
                    if calm >= COMMANDS_AFTER:
                        current.gaps = [
                            g for s, p in players.items() for g in p.gaps[gaps_before[s] :]
                        ]
                        current, calm = None, 0
            # Players think between moves; slow enough that the battle outlasts each phase.
            await asyncio.sleep(0.1 if current is None else 1.0)
        left = [p.name for p in ([current] if current else []) + pending]
        assert not left, f"the battle ended (round limit) before these phases were played: {left}"
        ip = await pick_pod(set())
        async with http.get(f"http://{ip}:3000/api/battles/{battle_id}/log") as resp:
            log: list[dict[str, Any]] = (await resp.json())["events"]
        for player in players.values():
            await player.close()
        return Played(log, list(players.values()), phases, state)


def check_every_acked_event_once(played: Played) -> None:
    """The exported log is gap-free; every player saw every event once, in order, across its
    reconnects (resuming with last_seq, never a second snapshot); every ack is in the log."""
    log = played.log
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1)), "the log: every seq once"
    by_seq = {e["seq"] for e in log}
    for player in played.players:
        assert player.snapshots == 1, f"{player.ship_id} resumed from a snapshot, not last_seq"
        first = player.events[0]["seq"]
        assert player.events == log[first - 1 : player.seq], (
            f"{player.ship_id} saw every event exactly once, in order, across reconnects"
        )
        lost = sorted(set(player.acked) - by_seq)
        assert not lost, f"acked events missing from the log: {lost}"


def wait_serving(kubectl: Kubectl, count: int = 2, timeout: float = 120) -> None:
    wait_for(
        lambda: len(serving(kubectl)) == count, timeout=timeout, message=f"{count} serving pods"
    )


def deploy(kubectl: Kubectl, node: RealNode, namespace: str, **spec: Any) -> None:
    """TravellerVTT `NAME` (Redis mode, the node's images, `spec` on top) on its Redis volume,
    waited for until Ready with both server pods serving: where every battle test starts."""
    redis_volume(kubectl, node, namespace)
    kubectl.apply(tvtt(node.refs["server"], node.refs["redis"], **spec))
    wait_for(lambda: is_ready(kubectl, NAME), timeout=240, message="TravellerVTT Ready")
    wait_serving(kubectl)
