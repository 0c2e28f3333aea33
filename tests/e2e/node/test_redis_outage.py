"""Redis killed mid-battle on the real node: players are told to retry, nothing acked is lost.

The operator's Redis (a StatefulSet whose redis.conf has `appendonly yes` in `/data`, the
PersistentVolumeClaim it renders) is SIGKILLed while two players on two game-server pods are
playing: a crash, not a clean shutdown. The kubelet restarts the container in the same pod on the
same volume; Redis replays its append-only file. While it is down the game servers answer
`/ready` with 503 and commands with `store_unavailable`; afterwards play continues on the same
sockets (or, where a socket drops, after a lossless resume) and the exported log holds every
event that was acked before, during and after.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import statistics
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.cluster.kube import Kubectl
from tests.cluster.node import RealNode
from tests.e2e.node.battle import (
    NAME,
    REDIS_SELECTOR,
    Phase,
    check_every_acked_event_once,
    deploy,
    play_through,
    serving,
)
from tests.e2e.node.test_real_pods import container_pids, pod_ready

pytestmark = pytest.mark.node


def redis_pod(kubectl: Kubectl) -> dict[str, Any]:
    (pod,) = kubectl.get("pods", None, "-l", REDIS_SELECTOR)["items"]
    return dict(pod)


def restarts(pod: dict[str, Any]) -> int:
    return sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses") or [])


SAMPLE_GAP_S = 1.5
"""The longest gap between two /ready samples of `kill_redis` (two HTTP calls, then up to
three kubectl calls a second)."""


def ready_status(ip: str) -> int:
    """The game server's own readiness answer (what the kubelet's probe reads)."""
    try:
        with urllib.request.urlopen(f"http://{ip}:3000/ready", timeout=3) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0  # no answer at all


def kill_redis(kubectl: Kubectl, node: RealNode) -> dict[str, Any]:
    """SIGKILL redis-server, then watch the game servers until Redis and they are back."""
    pod = redis_pod(kubectl)
    before = restarts(pod)
    servers = serving(kubectl)
    ips = [p["status"]["podIP"] for p in servers]
    pids = container_pids(node, pod, "redis")
    killed = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    seen: collections.Counter[int] = collections.Counter()
    kube_not_ready = False
    first_503: float | None = None
    back: float | None = None
    last_kube = 0.0
    deadline = killed + 120
    while time.monotonic() < deadline:
        statuses = [ready_status(ip) for ip in ips]
        seen.update(statuses)
        if first_503 is None and 503 in statuses:
            first_503 = time.monotonic() - killed
        if time.monotonic() - last_kube > 1:
            last_kube = time.monotonic()
            if len(serving(kubectl)) < len(ips):
                kube_not_ready = True
            pod = redis_pod(kubectl)
            if (
                restarts(pod) > before
                and pod_ready(pod)
                and all(s == 200 for s in statuses)
                and len(serving(kubectl)) == len(ips)
            ):
                back = time.monotonic() - killed
                break
        time.sleep(0.2)
    return {
        "ready_statuses": dict(seen),
        "first_503_s": first_503,
        "back_s": back,
        "kube_not_ready_seen": kube_not_ready,
        "redis_restarts": restarts(pod) - before,
    }


def test_redis_killed_mid_battle_loses_no_acked_event(
    installed_operator: None,
    real_node: RealNode,
    kubectl: Kubectl,
    namespace: str,
) -> None:
    deploy(kubectl, real_node, namespace)
    # What the operator rendered: AOF on, in /data, and /data is the claim's volume.
    statefulset = kubectl.get("statefulset", f"{NAME}-redis")["spec"]
    conf = kubectl.get("configmap", f"{NAME}-redis-config")["data"]["redis.conf"].splitlines()
    assert "appendonly yes" in conf, conf
    assert "dir /data" in conf, conf
    (mount,) = [
        m
        for m in statefulset["template"]["spec"]["containers"][0]["volumeMounts"]
        if m["mountPath"] == "/data"
    ]
    assert mount["name"] in {c["metadata"]["name"] for c in statefulset["volumeClaimTemplates"]}

    crash = Phase(
        "redis killed",
        disrupt=lambda _: kill_redis(kubectl, real_node),
        recovered=lambda: len(serving(kubectl)) == 2,
    )
    played = asyncio.run(play_through(kubectl, [crash]))

    check_every_acked_event_once(played)
    outcome = crash.outcome
    assert outcome["back_s"] is not None, f"Redis and the servers never came back: {outcome}"
    assert outcome["redis_restarts"] >= 1, "the kubelet restarted the same pod's container"
    if outcome["back_s"] > SAMPLE_GAP_S:
        # Down for longer than the watch loop's gap between /ready samples (kubectl calls sit
        # between them): some sample must have met the outage. A shorter one can fall between
        # samples: CI once saw Redis restarted and every server ready 0.43 s after the kill,
        # the first sample already answering 200 (every acked event was still there).
        assert outcome["first_503_s"] is not None, f"/ready never said 503: {outcome}"
    aof = list((real_node.run_dir / "volumes" / namespace).rglob("*.aof"))
    assert aof, "the AOF lives on the claim's volume"
    assert any(p.stat().st_size > 0 for p in aof), aof
    acked_before_kill = min(
        (e for p in played.players for e in p.acked), default=0
    )  # the earliest ack: played before the kill, replayed from the AOF
    assert acked_before_kill in {e["seq"] for e in played.log}
    gaps = crash.gaps
    print(
        f"redis killed: /ready 503 after {outcome['first_503_s']}s, all back after "
        f"{outcome['back_s']:.1f}s (kubelet saw NotReady: {outcome['kube_not_ready_seen']}); "
        f"/ready answers {outcome['ready_statuses']}; errors to players {dict(crash.errors)}; "
        f"{crash.acked_during} commands acked meanwhile; reconnects {len(gaps)}"
        + (f" p50 {statistics.median(gaps):.2f}s" if gaps else "")
        + f"; {len(played.log)} events"
    )
