"""The operator converging against the real control plane: drift of every owned field is put back
with an Event, a child the API server refuses degrades the resource without stopping the others and
costs a bounded number of retries, `spec.paused` stops reconciliation, 0 replicas is not Ready.

Same setup as test_operator.py: a namespace and an operator process per test, RBAC exactly the
chart's, resync every second, waits on conditions (never fixed sleeps, except the measuring window
of the retry count, which is the point of that test).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.cluster.kube import Kubectl
from tests.cluster.operator_process import OperatorProcess, metric_sum
from tests.e2e.operator_helpers import (
    children,
    conditions,
    events,
    ready,
    settle,
    table_cells,
    tvtt,
    wait,
)

pytestmark = pytest.mark.e2e

IMAGE_V1 = "ghcr.io/traveller-vtt/gameserver:0.1.0"
IMAGE_V2 = "ghcr.io/traveller-vtt/gameserver:0.2.0"


def gameserver(deployment: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return found


def restored(kubectl: Kubectl, name: str) -> bool:
    kids = children(kubectl, name)
    container = gameserver(kids[("Deployment", name)])
    env = {e["name"] for e in container.get("env") or []}
    return (
        "cpu" not in (container.get("resources") or {}).get("limits", {})
        and "ALLOWED_ORIGINS" not in env
        and kids[("ConfigMap", f"{name}-config")]["data"]["LOG_LEVEL"] == "info"
        and kids[("Service", name)]["spec"]["type"] == "ClusterIP"
        and kids[("HorizontalPodAutoscaler", name)]["spec"]["maxReplicas"] == 3
        and kids[("PodDisruptionBudget", name)]["spec"].get("maxUnavailable") == 1
    )


def test_drift_of_every_owned_field_is_corrected_with_an_event(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    name = "drifter"
    spec = {
        "image": IMAGE_V1,
        "autoscaling": {"minReplicas": 1, "maxReplicas": 3},
        "redis": {"enabled": True},
    }
    kubectl.apply(tvtt(name, spec))
    wait(operator, lambda: ready(kubectl, name, autoscaled=True), f"{name} Ready", timeout=120)
    settle(operator)
    started = time.monotonic()

    # What people do by hand: each leaves its own field manager in managedFields.
    kubectl("set", "resources", f"deployment/{name}", "-c", "gameserver", "--limits=cpu=2")
    kubectl("set", "env", f"deployment/{name}", "ALLOWED_ORIGINS=*")
    kubectl("patch", "configmap", f"{name}-config", "-p", '{"data": {"LOG_LEVEL": "debug"}}')
    kubectl("patch", "service", name, "-p", '{"spec": {"type": "NodePort"}}')
    kubectl("patch", "hpa", name, "-p", '{"spec": {"maxReplicas": 9}}')
    kubectl("patch", "pdb", name, "--type=merge", "-p", '{"spec": {"maxUnavailable": 3}}')

    wait(operator, lambda: restored(kubectl, name), "every drifted field restored", timeout=60)
    latency = time.monotonic() - started
    reported = " ".join(e["message"] for e in events(kubectl, name, "DriftCorrected"))
    for text in (
        "Deployment/drifter",
        "added by kubectl-set",
        "ConfigMap/drifter-config: data.LOG_LEVEL (changed by kubectl-patch)",
        "Service/drifter: ",
        "spec.type (changed by kubectl-patch)",
        "spec.externalTrafficPolicy (added by kubectl-patch)",  # defaulted for NodePort
        "resources.limits.cpu (added by kubectl-set)",
        "HorizontalPodAutoscaler/drifter: spec.maxReplicas (changed by kubectl-patch)",
        "PodDisruptionBudget/drifter: spec.maxUnavailable (changed by kubectl-patch)",
    ):
        assert text in reported, reported
    print(f"\ndrift of 6 edits on 5 children corrected in {latency:.1f} s")

    # Corrected once: afterwards the operator is idle again (no write per resync).
    wait(
        operator,
        lambda: ready(kubectl, name, autoscaled=True),
        f"{name} Ready again",
        timeout=120,
    )
    settle(operator)
    writes = operator.writes()
    settle(operator, rounds=4)
    assert operator.writes() == writes, operator.output()


def test_a_refused_child_degrades_the_resource_and_retries_back_off(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    name = "quota"
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-services"},
        "spec": {"hard": {"services": "0"}},
    }
    kubectl.apply(quota)
    # In memory: the game server's Service is the only one the quota refuses.
    kubectl.apply(tvtt(name, {"image": IMAGE_V1, "redis": {"enabled": False}}))

    def degraded() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.get("travellervtt", name)
        cond = conditions(obj).get("Degraded", {})
        return obj if cond.get("status") == "True" else None

    obj = wait(operator, degraded, "Degraded=True")
    message = conditions(obj)["Degraded"]["message"]
    assert message.startswith(f"Service/{name}: "), message
    assert "exceeded quota" in message, message  # the API server's own words
    kids = children(kubectl, name)
    assert {("ConfigMap", f"{name}-config"), ("Deployment", name)} <= kids.keys()
    assert ("PodDisruptionBudget", name) in kids  # applied after the refused Service
    assert ("Service", name) not in kids
    (event,) = wait(operator, lambda: events(kubectl, name, "ApplyFailed"), "ApplyFailed Event")
    assert "exceeded quota" in event["message"]
    assert f"reconciled applied=['Service/{name}'" not in operator.checked_log()

    # API calls for the broken child over time: one retry chain with backoff (capped at 5 s in
    # the e2e operator) although the resync runs every second.
    def service_attempts() -> float:
        return metric_sum(
            operator.metrics(), "tvtt_operator_api_writes_total", verb="APPLY", kind="Service"
        )

    first = service_attempts()
    window = 12.0
    time.sleep(window)
    attempts = service_attempts() - first
    print(f"\nService applies for a refused child in {window:.0f} s: {attempts:.0f}")
    assert 1 <= attempts <= window / 2.5 + 2, attempts  # resync alone would be ~12
    assert len(events(kubectl, name, "ApplyFailed")) == 1  # one Event per new message

    kubectl("delete", "resourcequota", "no-services")
    wait(operator, lambda: ready(kubectl, name), "Ready once the quota is gone", timeout=120)
    assert conditions(kubectl.get("travellervtt", name))["Degraded"]["status"] == "False"


def test_paused_resource_is_left_alone_until_unpaused(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    name = "frozen"
    kubectl.apply(tvtt(name, {"image": IMAGE_V1}))
    wait(operator, lambda: ready(kubectl, name, autoscaled=True), f"{name} Ready", timeout=120)
    kubectl.apply(tvtt(name, {"image": IMAGE_V2, "paused": True}))

    def paused() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.get("travellervtt", name)
        cond = conditions(obj).get("Paused", {})
        gen = obj["metadata"]["generation"]
        current = cond.get("observedGeneration") == gen
        return obj if current and cond.get("status") == "True" else None

    obj = wait(operator, paused, "Paused=True")
    assert obj["status"]["state"] == "Paused"
    assert len(events(kubectl, name, "Paused")) == 1
    kubectl("delete", "configmap", f"{name}-config")
    settle(operator)
    kids = children(kubectl, name)
    assert gameserver(kids[("Deployment", name)])["image"] == IMAGE_V1  # not rolled out
    assert ("ConfigMap", f"{name}-config") not in kids  # not recreated

    kubectl.apply(tvtt(name, {"image": IMAGE_V2, "paused": False}))
    wait(
        operator,
        lambda: (o := ready(kubectl, name)) is not None and o["status"].get("image") == IMAGE_V2,
        "rolled out after unpausing",
        timeout=120,
    )
    assert ("ConfigMap", f"{name}-config") in children(kubectl, name)
    assert conditions(kubectl.get("travellervtt", name))["Paused"]["status"] == "False"


def test_zero_replicas_is_not_ready_and_the_columns_say_so(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    name = "idle"
    kubectl.apply(tvtt(name, {"image": IMAGE_V1, "replicas": 0}))

    def not_serving() -> dict[str, Any] | None:
        obj: dict[str, Any] = kubectl.get("travellervtt", name)
        cond = conditions(obj).get("Ready", {})
        return obj if cond.get("reason") == "NoReplicas" else None

    obj = wait(operator, not_serving, "Ready=False NoReplicas")
    assert conditions(obj)["Ready"]["status"] == "False"

    # The STATUS column follows the status the operator writes after Ready (one more patch).
    def settled() -> dict[str, str] | None:
        cells = table_cells(kubectl("get", "travellervtt", name))
        return cells if cells.get("STATUS") == "NotReady" else None

    cells = wait(operator, settled, "STATUS NotReady")
    assert list(cells) == [
        "NAME",
        "DESIRED",
        "READY",
        "BATTLES",
        "PLAYERS",
        "IMAGE",
        "STATUS",
        "AGE",
    ]
    assert [cells[c] for c in ("NAME", "DESIRED", "READY", "IMAGE", "STATUS")] == [
        name,
        "0",
        "0",
        IMAGE_V1,
        "NotReady",
    ]

    kubectl(
        "patch", "travellervtt", name, "--type=merge", "-p", json.dumps({"spec": {"replicas": 1}})
    )
    wait(operator, lambda: ready(kubectl, name), f"{name} Ready at 1 replica", timeout=120)
    cells = table_cells(kubectl("get", "travellervtt", name))
    assert [cells[c] for c in ("DESIRED", "READY", "IMAGE", "STATUS")] == [
        "1",
        "1",
        IMAGE_V1,
        "Ready",
    ]
