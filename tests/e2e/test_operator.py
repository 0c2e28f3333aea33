"""The operator against the real control plane: children, status, rollouts and rollbacks, HPA.

The API server's validation and the operator's recovery from faults are in
`test_operator_robustness.py`.

Every test gets its own namespace and its own operator process (`python -m tvtt_operator
--namespace NS`, the real code) running under a ServiceAccount with exactly
`tvtt_operator.rbac.operator_rules()`; a Forbidden in its log fails the test. The operator resyncs
every second here, so "the operator left X alone" is checked after a few more reconciles have
finished (read from its /metrics), never after a fixed sleep.

Images are never pulled: kwok marks pods Running and Ready without running a container.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from tvtt_operator.builders import FIELD_MANAGER
from tvtt_operator.models import API_VERSION, KIND

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.operator_process import OperatorProcess
from tests.e2e.operator_helpers import (
    IMAGE_V1,
    IMAGE_V2,
    IMAGE_V3,
    INSTANCE,
    MANAGED,
    children,
    conditions,
    image_of,
    pods,
    ready,
    settle,
    table_cells,
    tvtt,
    wait,
)

pytestmark = pytest.mark.e2e


# ------------------------------------------------------------------------------------------------
# fixtures


# ------------------------------------------------------------------------------------------------
# helpers


def owns_field(obj: dict[str, Any], manager: str, *path: str) -> bool:
    """Whether `manager` owns the field at `path` (e.g. "f:spec", "f:replicas") by Apply."""
    for entry in obj["metadata"].get("managedFields") or []:
        if entry["manager"] != manager or entry["operation"] != "Apply":
            continue
        node: Any = entry.get("fieldsV1") or {}
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return True
    return False


def pod_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )


def rollout_complete(kubectl: Kubectl, name: str) -> dict[str, Any] | None:
    """The Deployment once its controller finished the latest template (all replicas updated)."""
    d: dict[str, Any] = kubectl.get("deployment", name)
    s = d.get("status") or {}
    want = d["spec"]["replicas"]
    done = (
        s.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and s.get("updatedReplicas") == want
        and s.get("readyReplicas") == want
        and s.get("replicas") == want
    )
    return d if done else None


def rolled_out(kubectl: Kubectl, name: str, image: str) -> dict[str, Any] | None:
    """The Deployment once a rollout to `image` is complete."""
    d = rollout_complete(kubectl, name)
    return d if d is not None and image_of(d) == image else None


def manual_rollback_events(kubectl: Kubectl, name: str) -> list[dict[str, Any]]:
    selector = f"involvedObject.kind={KIND},involvedObject.name={name},reason=ManualRollback"
    items: list[dict[str, Any]] = kubectl.get("events", None, "--field-selector", selector)["items"]
    return items


@contextlib.contextmanager
def watched(kubectl: Kubectl, kind: str, name: str, jsonpath: str) -> Iterator[list[str]]:
    """Every value of `jsonpath` the object takes while the block runs (a kubectl watch).

    A watch delivers each stored revision, so a value that exists only briefly is still seen.
    """
    argv = [kubectl.binary, "--kubeconfig", str(kubectl.kubeconfig)]
    if kubectl.namespace:
        argv += ["--namespace", kubectl.namespace]
    argv += ["get", kind, name, "--watch", "-o", f'jsonpath={jsonpath}{{"\\n"}}']
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line.strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: seen, timeout=30, message=f"first watch event of {kind}/{name}")
        yield seen
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=10)


# ------------------------------------------------------------------------------------------------
# tests


FULL_SPEC: dict[str, Any] = {
    "image": IMAGE_V1,
    "replicas": 2,
    "resources": {"requests": {"cpu": "200m", "memory": "192Mi"}, "limits": {"memory": "384Mi"}},
    "server": {"logLevel": "debug", "maxConnections": 500},
    "service": {"type": "ClusterIP", "port": 8080},
    "redis": {"enabled": True, "storageSize": "2Gi", "appendfsync": "always"},
    "disruption": {"minAvailable": 1},
    "drain": {"terminationGracePeriodSeconds": 90},
    "ingress": {"className": "nginx", "host": "vtt.example.test", "tlsSecretName": "vtt-tls"},
    "podLabels": {"team": "referees"},
    "podAnnotations": {"prometheus.io/scrape": "true"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "games"}],
}


def test_apply_creates_every_child_with_its_spec_and_reports_ready(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    kubectl.apply(tvtt("fleet", FULL_SPEC))
    obj = wait(operator, lambda: ready(kubectl, "fleet"), "fleet Ready", timeout=120)
    uid = obj["metadata"]["uid"]

    kids = children(kubectl, "fleet")
    assert set(kids) == {
        ("ConfigMap", "fleet-config"),
        ("ConfigMap", "fleet-redis-config"),
        ("Service", "fleet"),
        ("Service", "fleet-redis"),
        ("StatefulSet", "fleet-redis"),
        ("Deployment", "fleet"),
        ("PodDisruptionBudget", "fleet"),
        ("Ingress", "fleet"),
        ("Secret", "fleet-redis-auth"),
        ("NetworkPolicy", "fleet"),
        ("NetworkPolicy", "fleet-redis"),
    }
    owner = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": "fleet",
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    for key, child in kids.items():
        meta = child["metadata"]
        assert meta["ownerReferences"] == [owner], key
        assert meta["labels"]["app.kubernetes.io/managed-by"] == FIELD_MANAGER, key
        assert meta["labels"]["app.kubernetes.io/name"] == "traveller-vtt", key
        assert meta["labels"]["app.kubernetes.io/part-of"] == "traveller-vtt", key
        assert owns_field(child, FIELD_MANAGER, "f:metadata", "f:labels"), key

    config = kids[("ConfigMap", "fleet-config")]["data"]
    assert config == {
        "LOG_LEVEL": "debug",
        "MAX_CONNECTIONS": "500",
        "ALLOWED_ORIGINS": "https://vtt.example.test",  # follows the ingress host
    }
    redis_conf = kids[("ConfigMap", "fleet-redis-config")]["data"]["redis.conf"]
    assert "appendonly yes" in redis_conf.splitlines()
    assert "appendfsync always" in redis_conf.splitlines()

    deployment = kids[("Deployment", "fleet")]
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert owns_field(deployment, FIELD_MANAGER, "f:spec", "f:replicas")
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    template = spec["template"]
    assert template["metadata"]["labels"]["team"] == "referees"
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    pod = template["spec"]
    assert pod["terminationGracePeriodSeconds"] == 90
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "games"}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == IMAGE_V1
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"] == FULL_SPEC["resources"]
    assert container["envFrom"] == [{"configMapRef": {"name": "fleet-config"}}]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # The kubelet expands the password from the Secret (REDIS_PASSWORD, defined before it).
    assert env["REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@fleet-redis:6379/0"
    assert int(env["SHUTDOWN_GRACE_S"]) < 90  # drains before the kubelet's SIGKILL

    service = kids[("Service", "fleet")]["spec"]
    assert service["type"] == "ClusterIP"
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(8080, "http")]
    assert service["selector"] == spec["selector"]["matchLabels"]
    assert kids[("Service", "fleet-redis")]["spec"]["clusterIP"] == "None"

    statefulset = kids[("StatefulSet", "fleet-redis")]["spec"]
    assert statefulset["replicas"] == 1
    assert statefulset["serviceName"] == "fleet-redis"
    (claim,) = statefulset["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert statefulset["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"

    pdb = kids[("PodDisruptionBudget", "fleet")]["spec"]
    assert pdb["minAvailable"] == 1
    assert "maxUnavailable" not in pdb

    ingress = kids[("Ingress", "fleet")]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["vtt.example.test"]
    assert ingress["spec"]["tls"] == [{"hosts": ["vtt.example.test"], "secretName": "vtt-tls"}]
    timeouts = ingress["metadata"]["annotations"]
    assert timeouts["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"

    # kwok made the pods Ready; the claim bound through the hostpath provisioner.
    servers = pods(kubectl, "fleet", "gameserver")
    assert len(servers) == 2
    assert all(pod_ready(p) for p in servers)
    (redis_pod,) = pods(kubectl, "fleet", "redis")
    assert pod_ready(redis_pod)
    pvc = kubectl.get("pvc", "data-fleet-redis-0")
    assert pvc["status"]["phase"] == "Bound"

    status = obj["status"]
    assert status["observedGeneration"] == 1
    assert (status["replicas"], status["readyReplicas"]) == (2, 2)
    assert status["image"] == IMAGE_V1
    assert status["endpoint"] == "https://vtt.example.test"
    conds = conditions(obj)
    assert {t: (c["status"], c["reason"]) for t, c in conds.items()} == {
        "Ready": ("True", "AllReplicasReady"),
        "Progressing": ("False", "RolloutComplete"),
        "Degraded": ("False", "AsExpected"),
        "RedisReady": ("True", "StatefulSetReady"),
        "TemplateOverridden": ("False", "TemplateApplied"),
        "Paused": ("False", "Reconciling"),
        "IngressReady": ("False", "TLSSecretMissing"),  # no Secret vtt-tls in the namespace
        "RedisStorageReady": ("True", "SizeAsSpecified"),
    }
    assert all(c["observedGeneration"] == 1 for c in conds.values())

    cells = table_cells(kubectl("get", "tvtt", "fleet", "-o", "wide"))
    assert list(cells) == [
        "NAME",
        "DESIRED",
        "READY",
        "BATTLES",
        "PLAYERS",
        "IMAGE",
        "STATUS",
        "AGE",
        "ENDPOINT",
    ]
    assert [cells[c] for c in ("NAME", "DESIRED", "READY", "IMAGE", "STATUS")] == [
        "fleet",
        "2",
        "2",
        IMAGE_V1,
        "Ready",
    ]
    assert cells["ENDPOINT"] == "https://vtt.example.test"

    assert operator.http_status("/healthz") == 200
    assert operator.reconciles() > 0


def test_image_change_rolls_out_and_rollout_undo_is_respected(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    kubectl.apply(tvtt("patrol", {"image": IMAGE_V1}))
    first = wait(operator, lambda: ready(kubectl, "patrol", 1), "patrol Ready")
    before = conditions(first)

    # A change of the resource → a rollout of the new template.
    kubectl("patch", "travellervtt", "patrol", "--type=merge", "-p",
            json.dumps({"spec": {"image": IMAGE_V2}}))  # fmt: skip
    wait(operator, partial(rolled_out, kubectl, "patrol", IMAGE_V2), "rollout of v2")
    second = wait(operator, lambda: ready(kubectl, "patrol", 2), "patrol Ready at generation 2")
    assert second["status"]["image"] == IMAGE_V2
    after = conditions(second)
    assert all(c["observedGeneration"] == 2 for c in after.values())
    # No flip, no new lastTransitionTime — even though the rollout changed messages meanwhile.
    for kind in ("TemplateOverridden", "Degraded", "RedisReady"):
        assert after[kind]["status"] == before[kind]["status"]
        assert after[kind]["lastTransitionTime"] == before[kind]["lastTransitionTime"], kind
    rs = kubectl.get("replicasets", None, "-l", f"{INSTANCE}=patrol")["items"]
    assert sorted(image_of(r) for r in rs) == [IMAGE_V1, IMAGE_V2]

    # A person rolls back: the operator reports it and does not fight it.
    kubectl("rollout", "undo", "deployment/patrol")
    overridden = wait(
        operator,
        lambda: (
            (o := kubectl.get("travellervtt", "patrol"))
            and conditions(o).get("TemplateOverridden", {}).get("status") == "True"
            and o
        ),
        "TemplateOverridden=True",
    )
    flipped = conditions(overridden)["TemplateOverridden"]
    assert flipped["reason"] == "ManualRollback"
    # A new transition (False → True), stamped no earlier than the first: the stamps have
    # one-second resolution, and on kwok the whole story can fit in one second (seen in CI).
    assert before["TemplateOverridden"]["status"] == "False"
    assert flipped["lastTransitionTime"] >= before["TemplateOverridden"]["lastTransitionTime"]
    (event,) = wait(operator, lambda: manual_rollback_events(kubectl, "patrol"), "the Event")
    assert event["type"] == "Warning"
    assert event["involvedObject"]["uid"] == first["metadata"]["uid"]
    assert "rollout undo" in event["message"]
    rolled_back = wait(operator, partial(rolled_out, kubectl, "patrol", IMAGE_V1), "rollback")

    settle(operator)
    deployment = kubectl.get("deployment", "patrol")
    assert image_of(deployment) == IMAGE_V1, "the operator reverted a manual rollback"
    assert deployment["metadata"]["generation"] == rolled_back["metadata"]["generation"]
    still = kubectl.get("travellervtt", "patrol")
    assert conditions(still)["TemplateOverridden"] == flipped
    assert still["status"]["image"] == IMAGE_V1  # what really runs
    assert len(manual_rollback_events(kubectl, "patrol")) == 1  # reported once, not per resync

    # The next change of the resource is applied again, and the condition flips back.
    kubectl("patch", "travellervtt", "patrol", "--type=merge", "-p",
            json.dumps({"spec": {"image": IMAGE_V3}}))  # fmt: skip
    third = wait(operator, lambda: ready(kubectl, "patrol", 3), "patrol Ready at generation 3")
    wait(operator, partial(rolled_out, kubectl, "patrol", IMAGE_V3), "rollout of v3")
    cleared = conditions(third)["TemplateOverridden"]
    assert (cleared["status"], cleared["reason"]) == ("False", "TemplateApplied")
    assert cleared["lastTransitionTime"] >= flipped["lastTransitionTime"]


def test_autoscaling_leaves_replicas_to_the_hpa_and_to_kubectl_scale(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    redis = {"enabled": True}
    kubectl.apply(tvtt("squadron", {"image": IMAGE_V1, "replicas": 2, "redis": redis}))
    wait(
        operator,
        lambda: (
            (d := kubectl.get("deployment", "squadron", MANAGED))["spec"]["replicas"] == 2
            and owns_field(d, FIELD_MANAGER, "f:spec", "f:replicas")
        ),
        "2 replicas owned by the operator",
    )

    with watched(kubectl, "deployment", "squadron", "{.spec.replicas}") as seen:
        # Hand-over: replicas leave the operator's apply without ever being reset to 1.
        autoscaled = {"image": IMAGE_V1, "redis": redis}
        kubectl.apply(
            tvtt("squadron", {**autoscaled, "autoscaling": {"minReplicas": 2, "maxReplicas": 5}})
        )
        wait(operator, lambda: kubectl.exists("hpa", "squadron"), "the HPA")
        wait(
            operator,
            lambda: (
                not owns_field(
                    kubectl.get("deployment", "squadron", MANAGED),
                    FIELD_MANAGER,
                    "f:spec",
                    "f:replicas",
                )
            ),
            "the operator to give up spec.replicas",
        )
        hpa = kubectl.get("hpa", "squadron")["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "squadron",
        }
        assert kubectl.get("deployment", "squadron")["spec"]["replicas"] == 2

        # The HPA acts (below its new minimum → scale up); the operator leaves its choice.
        bounds = {"minReplicas": 3, "maxReplicas": 5}
        kubectl.apply(tvtt("squadron", {**autoscaled, "autoscaling": bounds}))

        def replicas() -> int:
            return int(kubectl.get("deployment", "squadron")["spec"]["replicas"])

        wait(operator, lambda: replicas() == 3, "the HPA to scale to its minimum of 3")

        # A person scales by hand within the HPA's bounds: not fought.
        kubectl("scale", "deployment/squadron", "--replicas=4")
        settle(operator)
        assert replicas() == 4

        # Above the maximum: the HPA (not the operator) brings it back to 5, then it stays.
        kubectl("scale", "deployment/squadron", "--replicas=9")
        wait(operator, lambda: replicas() == 5, "the HPA to cap replicas at 5", timeout=60)
        settle(operator)
        assert replicas() == 5

        # A new template under autoscaling: applied, and the HPA's replica count survives it.
        kubectl.apply(
            tvtt(
                "squadron",
                {**autoscaled, "image": IMAGE_V2, "autoscaling": bounds},
            )
        )
        wait(
            operator,
            partial(rolled_out, kubectl, "squadron", IMAGE_V2),
            "rollout of v2 under the HPA",
        )
        settle(operator)
        assert replicas() == 5
        deployment = kubectl.get("deployment", "squadron", MANAGED)
        assert not owns_field(deployment, FIELD_MANAGER, "f:spec", "f:replicas")
    values = [int(v) for v in seen if v]
    assert min(values) >= 2, f"replicas dropped during the hand-over: {values}"
    assert {2, 3, 4, 9, 5} <= set(values), values

    # Autoscaling off again: the HPA goes, and replicas are the operator's (forced apply) again.
    kubectl.apply(tvtt("squadron", {"image": IMAGE_V2, "replicas": 2, "redis": redis}))
    wait(operator, lambda: not kubectl.exists("hpa", "squadron"), "the HPA deleted")
    wait(
        operator,
        lambda: (
            (d := kubectl.get("deployment", "squadron", MANAGED))["spec"]["replicas"] == 2
            and owns_field(d, FIELD_MANAGER, "f:spec", "f:replicas")
        ),
        "replicas back to 2, owned by the operator",
    )
