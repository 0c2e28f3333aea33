"""Redis mode on the real node: a battle played through every way its pods go away loses nothing.

Two players, each connected to a different game-server pod, play a battle (tests/e2e/node/
battle.py) while the installation is disrupted: `spec.image` changes to a second tag (the rollout
replaces both pods), `kubectl rollout undo` goes back to the first image, one pod is deleted, and
the node is drained of its game servers (the PodDisruptionBudget lets one go at a time). Each
player is told `server_shutdown`, reconnects to a Ready pod, resumes with `last_seq`, and must
receive every event exactly once, in order; the exported log holds every acked event once.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from typing import Any

import pytest
from tvtt_operator.builders import shutdown_grace_seconds

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.node import NODE_NAME, RealNode
from tests.e2e.conftest import Cluster
from tests.e2e.node.battle import (
    NAME,
    SERVER_SELECTOR,
    Phase,
    check_every_acked_event_once,
    deploy,
    play_through,
    rolled_out,
    server_pods,
    serving,
)
from tests.e2e.test_chart import condition

pytestmark = pytest.mark.node

DEFAULT_GRACE = 60  # drain.terminationGracePeriodSeconds when the resource does not say


def report(phase: Phase) -> str:
    gaps = phase.gaps
    spread = f"gap p50 {statistics.median(gaps):.2f}s max {max(gaps):.2f}s" if gaps else "no gap"
    return (
        f"{phase.name}: {phase.seconds:.1f}s to recover; {len(gaps)} reconnects, {spread}; "
        f"{phase.acked_during} commands acked meanwhile; errors {dict(phase.errors)}"
    )


def start(kubectl: Kubectl, real_node: RealNode, namespace: str) -> None:
    deploy(kubectl, real_node, namespace)
    stored = kubectl.get("travellervtt", NAME)["spec"]["redis"]
    assert stored["enabled"] is True, "Redis is the default: the API server filled it in"


def set_image(kubectl: Kubectl, image: str) -> None:
    patch = json.dumps({"spec": {"image": image}})
    kubectl("patch", "travellervtt", NAME, "--type=merge", "-p", patch)


def test_rolling_update_mid_battle_in_redis_mode_loses_nothing(
    installed_operator: None,
    real_node: RealNode,
    kubectl: Kubectl,
    namespace: str,
) -> None:
    start(kubectl, real_node, namespace)
    second_image = real_node.tag_image("server", "second")
    before = {p["metadata"]["name"] for p in server_pods(kubectl)}
    rollout = Phase(
        "image change",
        disrupt=lambda _: set_image(kubectl, second_image),
        recovered=lambda: rolled_out(kubectl, second_image),
    )

    played = asyncio.run(play_through(kubectl, [rollout]))

    check_every_acked_event_once(played)
    after = {p["metadata"]["name"] for p in server_pods(kubectl)}
    assert not before & after, "both pods were replaced"
    for player in played.players:
        assert len(player.pods_used) >= 2, f"{player.ship_id} was never moved to a new pod"
    assert rollout.gaps, "no player was told to reconnect"
    print(f"{report(rollout)}; {len(played.log)} events")


def shutdown_grace_logged(node: RealNode, namespace: str, pod: str) -> int:
    """The drain budget the server says it got (`shutdown_requested grace_s=...`), read from the
    kubelet's pod log while the pod terminates."""

    def logged() -> int | None:
        for path in node.container_logs(namespace, pod):
            for line in path.read_text().splitlines():
                found = re.search(r'"grace_s":\s*(\d+)', line)
                if found and '"shutdown_requested"' in line:
                    return int(found[1])
        return None

    return wait_for(logged, timeout=30, interval=0.1, message=f"{pod} logging shutdown_requested")


def delete_one_pod(
    kubectl: Kubectl, node: RealNode, namespace: str, occupied: list[str]
) -> dict[str, Any]:
    """Delete (gracefully) the pod a player is connected to."""
    pod = next(p for p in serving(kubectl) if p["status"]["podIP"] in occupied)
    name = pod["metadata"]["name"]
    kubectl("delete", "pod", name, "--wait=false")
    return {
        "pod": name,
        "ip": pod["status"]["podIP"],
        "grace_s": shutdown_grace_logged(node, namespace, name),
    }


def drain(admin: Kubectl, kubectl: Kubectl, occupied: list[str]) -> dict[str, Any]:
    """Drain the node of this installation's game servers (its Redis and the operator stay: the
    one real node has nowhere else to put them), the players' pod first: a label picks it for a
    first `kubectl drain`, which the budget allows (both pods healthy). Its replacement cannot
    schedule on the cordoned node, so a second drain of the remaining game servers is refused by
    the budget until it gives up. Uncordoned afterwards."""
    pods = {p["metadata"]["name"]: p["status"]["podIP"] for p in serving(kubectl)}
    first = next(name for name, ip in pods.items() if ip in occupied)
    kubectl("label", "pod", first, "tvtt-test/drain=first")
    started = time.monotonic()
    common = [NODE_NAME, "--ignore-daemonsets", "--delete-emptydir-data"]
    try:
        admin("drain", *common, f"--pod-selector={SERVER_SELECTOR},tvtt-test/drain=first",
              "--timeout=60s")  # fmt: skip
        rest = admin.run(
            "drain", *common, f"--pod-selector={SERVER_SELECTOR}", "--timeout=20s",
            check=False, timeout=60,
        )  # fmt: skip
    finally:
        admin("uncordon", NODE_NAME)
    evicted = sorted(set(pods) - {p["metadata"]["name"] for p in serving(kubectl)})
    return {
        "first": first,
        "returncode": rest.returncode,
        "output": rest.stdout + rest.stderr,
        "evicted": evicted,
        "evicted_ips": [pods[name] for name in evicted],
        "kept": sorted(set(pods) - set(evicted)),
        "seconds": time.monotonic() - started,
    }


@pytest.mark.timeout(600)  # three disruptions, one battle
def test_rollout_undo_pod_deletion_and_drain_mid_battle_lose_nothing(
    control_plane: Cluster,
    installed_operator: None,
    real_node: RealNode,
    kubectl: Kubectl,
    namespace: str,
) -> None:
    start(kubectl, real_node, namespace)
    first_image = real_node.refs["server"]
    second_image = real_node.tag_image("server", "undo")
    set_image(kubectl, second_image)  # a second revision to go back from
    wait_for(lambda: rolled_out(kubectl, second_image), timeout=120, message="second image")
    admin = control_plane.kubectl()
    undo = Phase(
        "rollout undo",
        disrupt=lambda _: kubectl("rollout", "undo", f"deployment/{NAME}"),
        recovered=lambda: rolled_out(kubectl, first_image),
    )
    deletion = Phase(
        "pod deletion",
        disrupt=lambda phase: delete_one_pod(kubectl, real_node, namespace, phase.occupied),
        recovered=lambda: len(serving(kubectl)) == 2 and len(server_pods(kubectl)) == 2,
    )
    drained = Phase(
        "drain",
        disrupt=lambda phase: drain(admin, kubectl, phase.occupied),
        recovered=lambda: len(serving(kubectl)) == 2 and len(server_pods(kubectl)) == 2,
    )

    played = asyncio.run(play_through(kubectl, [undo, deletion, drained]))

    check_every_acked_event_once(played)
    # Undo: the pods run the first image again and the operator leaves the person's choice alone.
    assert rolled_out(kubectl, first_image)
    overridden = condition(kubectl.get("travellervtt", NAME), "TemplateOverridden")
    assert overridden is not None
    assert overridden["status"] == "True", overridden
    # Deletion: the server got the drain budget the operator computed from the grace period.
    assert deletion.outcome["grace_s"] == shutdown_grace_seconds(DEFAULT_GRACE)
    # Drain: one pod at a time; the other kept serving while its peer had nowhere to go.
    outcome = drained.outcome
    assert outcome["evicted"] == [outcome["first"]], outcome
    assert len(outcome["kept"]) == 1, outcome
    assert outcome["returncode"] != 0, outcome
    assert "disruption budget" in outcome["output"], outcome["output"]
    # Every player whose pod went away reconnected (and the checks above: resumed losslessly).
    assert len(undo.gaps) >= 2, "undo replaced both pods: both players reconnect"
    assert deletion.occupied.count(deletion.outcome["ip"]) <= len(deletion.gaps)
    assert len(deletion.gaps) >= 1
    moved = sum(drained.occupied.count(ip) for ip in outcome["evicted_ips"])
    assert moved >= 1, "a player was on the drained pod"
    assert len(drained.gaps) >= moved, (drained.gaps, moved)
    for phase in (undo, deletion, drained):
        print(report(phase))
    print(
        f"drain: evicted {outcome['evicted']}, kept {outcome['kept']} (the second drain gave up: "
        f"budget; {outcome['seconds']:.0f}s in all); {len(played.log)} events"
    )
