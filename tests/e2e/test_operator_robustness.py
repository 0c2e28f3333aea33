"""The operator against the real control plane: what the API server refuses (schema and CEL
validation, the scale subresource) and what the operator survives (deleted children, the resource
deleted, its own kill mid-reconcile, an API server restart), and that it writes nothing when all
is in order. Split out of `test_operator.py` (children, status, rollouts, HPA).

Same setup as test_operator.py: a namespace and an operator process per test with exactly
`tvtt_operator.rbac.operator_rules()` (a Forbidden in its log fails the test), resync every
second, waits on its /metrics and on conditions, never fixed sleeps; kwok runs no containers.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from tvtt_operator.kinds import TRAVELLER_VTT

from tests.cluster.kube import Kubectl
from tests.cluster.operator_process import (
    OPERATOR_WRITTEN,
    WRITE_VERBS,
    OperatorProcess,
    apiserver_writes,
)
from tests.e2e.conftest import Cluster
from tests.e2e.operator_helpers import (
    CHILD_RESOURCES,
    IMAGE_V1,
    IMAGE_V2,
    INSTANCE,
    Key,
    children,
    conditions,
    image_of,
    ready,
    settle,
    tvtt,
    wait,
)

pytestmark = pytest.mark.e2e

# Earlier tests' namespaces may still be emptied meanwhile; a delete by the operator would show
# as a changed uid in `versions()` anyway.
NOT_DELETES = WRITE_VERBS - {"DELETE", "DELETECOLLECTION"}


def versions(kubectl: Kubectl) -> dict[Key, tuple[str, str]]:
    """(uid, version) of every TravellerVTT and child in the namespace.

    The version is the resourceVersion, except for HPAs: the HPA controller rewrites their
    status on its own schedule, so their `generation` (bumped by any spec write) stands in.
    """
    items = kubectl.get(f"{TRAVELLER_VTT.plural},{CHILD_RESOURCES}", None)["items"]
    return {
        (o["kind"], o["metadata"]["name"]): (
            o["metadata"]["uid"],
            str(o["metadata"]["generation"])
            if o["kind"] == "HorizontalPodAutoscaler"
            else o["metadata"]["resourceVersion"],
        )
        for o in items
    }


# What kubectl prints for a 422 from the API server's schema and CEL validation.
INVALID = 'The TravellerVTT "bad" is invalid'
INVALID_CASES = [
    pytest.param(
        {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}, "redis": {"enabled": True}},
        [
            INVALID,
            "spec.autoscaling.minReplicas: Invalid value",
            "autoscaling.minReplicas must be <= autoscaling.maxReplicas",
        ],
        id="min-above-max",
    ),
    pytest.param(
        {"replicas": 3, "redis": {"enabled": False}},
        [
            INVALID,
            "spec.redis.enabled: Invalid value",
            "more than one replica or autoscaling requires redis.enabled=true",
        ],
        id="replicas-without-redis",
    ),
    pytest.param(
        {"autoscaling": {"maxReplicas": 4}, "redis": {"enabled": False}},
        [INVALID, "more than one replica or autoscaling requires redis.enabled=true"],
        id="autoscaling-without-redis",
    ),
    pytest.param(
        {"service": {"type": "ExternalName"}},
        [INVALID, "spec.service.type", 'Unsupported value: "ExternalName"', '"ClusterIP"'],
        id="bad-service-type-enum",
    ),
    pytest.param(
        {"redis": {"enabled": True, "appendfsync": "sometimes"}},
        [INVALID, "spec.redis.appendfsync", 'Unsupported value: "sometimes"', '"everysec"'],
        id="bad-appendfsync-enum",
    ),
    pytest.param(
        {"drain": {"terminationGracePeriodSeconds": 5}},
        [INVALID, "spec.drain.terminationGracePeriodSeconds", "greater than or equal to 15"],
        id="grace-period-below-minimum",
    ),
    pytest.param(
        {"autoscaling": {"maxReplicas": 1000}, "redis": {"enabled": True}},
        [INVALID, "spec.autoscaling.maxReplicas", "less than or equal to 100"],
        id="max-replicas-above-bound",
    ),
    pytest.param(
        {"replicas": "two"},
        [INVALID, "spec.replicas", "must be of type integer"],
        id="replicas-not-a-number",
    ),
    pytest.param(
        {"redis": {"enabled": True, "storageSize": "lots"}},
        [INVALID, "spec.redis.storageSize", "must be a Kubernetes quantity"],
        id="storage-size-not-a-quantity",
    ),
    pytest.param(
        {"disruption": {"maxUnavailable": 1, "minAvailable": 1}},
        [
            INVALID,
            "spec.disruption.minAvailable: Invalid value",
            "set disruption.maxUnavailable or disruption.minAvailable, not both",
        ],
        id="disruption-both",
    ),
    pytest.param(
        # The default limit is 256Mi: a larger request alone would make every pod invalid.
        {"resources": {"requests": {"memory": "512Mi"}}},
        [
            INVALID,
            "spec.resources.requests.memory: Invalid value",
            "resources.requests.memory must not exceed resources.limits.memory",
        ],
        id="memory-request-above-default-limit",
    ),
    pytest.param(
        {"resources": {"requests": {"cpu": 2}, "limits": {"cpu": "1500m"}}},
        [INVALID, "resources.requests.cpu must not exceed resources.limits.cpu"],
        id="cpu-request-above-limit",
    ),
    pytest.param(
        {"ingress": {"host": "Not A Host"}},
        [INVALID, "spec.ingress.host", "should match"],
        id="ingress-host-pattern",
    ),
    pytest.param(
        {"replica": 2},
        ['unknown field "spec.replica"'],
        id="unknown-field",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), INVALID_CASES)
def test_invalid_resource_is_rejected_by_the_api_server(
    crd: None, kubectl: Kubectl, spec: dict[str, Any], expected: list[str]
) -> None:
    proc = kubectl.run("apply", "-f", "-", input=json.dumps(tvtt("bad", spec)), check=False)
    assert proc.returncode != 0, proc.stdout
    for text in expected:
        assert text in proc.stderr, proc.stderr
    assert not kubectl.exists("travellervtt", "bad")


def test_the_scale_subresource_reads_and_sets_replicas_left_unset(
    crd: None, kubectl: Kubectl
) -> None:
    """`spec.replicas` left out is defaulted to 1 by the schema, so `kubectl scale` and the scale
    subresource read the real count (they read 0 before, and `--current-replicas=1` failed)."""
    kubectl.apply(tvtt("gauge", {}))
    scale = kubectl.get("travellervtt", "gauge", "--subresource=scale")
    assert scale["spec"]["replicas"] == 1, scale
    kubectl("scale", "travellervtt", "gauge", "--current-replicas=1", "--replicas=2")
    assert kubectl.get("travellervtt", "gauge")["spec"]["replicas"] == 2
    kubectl("patch", "travellervtt", "gauge", "--subresource=scale", "--type=merge",
            "-p", json.dumps({"spec": {"replicas": 3}}))  # fmt: skip
    assert kubectl.get("travellervtt", "gauge", "--subresource=scale")["spec"]["replicas"] == 3

    # Under an HPA the count is the HPA's: scaling the resource is refused, saying why.
    kubectl.apply(tvtt("gauge", {"autoscaling": {"minReplicas": 2, "maxReplicas": 4}}))
    proc = kubectl.run("scale", "travellervtt", "gauge", "--replicas=5", check=False)
    assert proc.returncode != 0, proc.stdout
    assert "replicas cannot change while autoscaling is set" in proc.stderr, proc.stderr
    assert kubectl.get("travellervtt", "gauge")["spec"]["replicas"] != 5


def test_invalid_name_and_shrinking_redis_storage_are_rejected(crd: None, kubectl: Kubectl) -> None:
    # Children derive names from the resource's; a DNS subdomain with dots cannot be a Service.
    proc = kubectl.run("apply", "-f", "-", input=json.dumps(tvtt("vtt.example", {})), check=False)
    assert proc.returncode != 0
    assert "metadata.name must be a DNS-1035 label" in proc.stderr, proc.stderr
    assert "metadata: Invalid value" in proc.stderr, proc.stderr  # not "<nil>: Invalid value"

    redis = {"enabled": True, "storageSize": "2Gi"}
    kubectl.apply(tvtt("archive", {"replicas": 2, "redis": redis}))
    smaller = tvtt("archive", {"replicas": 2, "redis": {**redis, "storageSize": "1536Mi"}})
    proc = kubectl.run("apply", "-f", "-", input=json.dumps(smaller), check=False)
    assert proc.returncode != 0
    assert 'The TravellerVTT "archive" is invalid' in proc.stderr, proc.stderr
    assert "redis.storageSize can only grow while redis is enabled" in proc.stderr
    assert "spec.redis.storageSize: Invalid value" in proc.stderr, proc.stderr
    assert kubectl.get("travellervtt", "archive")["spec"]["redis"]["storageSize"] == "2Gi"
    # Growing is allowed (the operator expands the claim), in any spelling of the quantity.
    kubectl.apply(tvtt("archive", {"replicas": 3, "redis": {**redis, "storageSize": "2048Mi"}}))
    kubectl.apply(tvtt("archive", {"replicas": 3, "redis": {**redis, "storageSize": "5Gi"}}))
    assert kubectl.get("travellervtt", "archive")["spec"]["replicas"] == 3


def test_deleted_children_come_back(kubectl: Kubectl, operator: OperatorProcess) -> None:
    spec = {
        "image": IMAGE_V1,
        "redis": {"enabled": True},
        "ingress": {"host": "outpost.example.test"},
    }
    kubectl.apply(tvtt("outpost", spec))
    wait(operator, lambda: ready(kubectl, "outpost"), "outpost Ready", timeout=120)
    before = children(kubectl, "outpost")
    assert len(before) == 11  # 8 + the Redis Secret and the two NetworkPolicies

    kubectl("delete", "--wait=false", *(f"{kind.lower()}/{name}" for kind, name in before))
    wait(
        operator,
        lambda: (
            (now := children(kubectl, "outpost")).keys() == before.keys()
            and all(
                now[k]["metadata"]["uid"] != before[k]["metadata"]["uid"]
                and not now[k]["metadata"].get("deletionTimestamp")
                for k in now
            )
        ),
        "every child recreated",
    )
    wait(operator, lambda: ready(kubectl, "outpost"), "outpost Ready again", timeout=120)


def test_deleting_the_resource_removes_its_children(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    kubectl.apply(
        [
            tvtt("keep", {"redis": {"enabled": True}, "ingress": {"host": "keep.example.test"}}),
            tvtt(
                "drop",
                {
                    "autoscaling": {"maxReplicas": 3},
                    "redis": {"enabled": True, "pvcRetention": "Delete"},
                },
            ),
            # Stays: its resyncs show the operator still at work after the others are gone.
            tvtt("stay", {"image": IMAGE_V1}),
        ]
    )
    for name in ("keep", "drop", "stay"):
        wait(operator, partial(ready, kubectl, name), f"{name} Ready", timeout=120)
    assert kubectl.exists("pvc", "data-keep-redis-0")
    assert kubectl.exists("pvc", "data-drop-redis-0")
    assert ("HorizontalPodAutoscaler", "drop") in children(kubectl, "drop")
    stay_before = versions(kubectl)

    kubectl("delete", "travellervtt", "keep", "drop", "--wait=false")
    owned = f"{CHILD_RESOURCES},replicasets.apps,pods"

    def gone() -> bool:
        selector = f"{INSTANCE} in (keep,drop)"
        return not kubectl.get(owned, None, "-l", selector)["items"]

    wait(operator, gone, "the garbage collector to remove every child", timeout=90)
    settle(operator)
    assert gone(), "the operator recreated children of a deleted resource"
    # Battle history outlives the resource unless pvcRetention says Delete (chart README).
    assert kubectl.exists("pvc", "data-keep-redis-0")
    wait(operator, lambda: not kubectl.exists("pvc", "data-drop-redis-0"), "the Delete claim gone")
    stay_after = versions(kubectl)
    assert {k: v for k, v in stay_before.items() if k[1].startswith("stay")} == {
        k: v for k, v in stay_after.items() if k[1].startswith("stay")
    }, "deleting other resources touched this one"


def test_operator_killed_mid_reconcile_converges_after_restart(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    names = [f"wing-{i}" for i in range(6)]
    # In memory: four children each, the set the check below expects.
    in_memory = {"image": IMAGE_V1, "redis": {"enabled": False}}
    kubectl.apply([tvtt(n, in_memory) for n in names])
    wait(
        operator,
        lambda: kubectl.get("deployments", None, "-l", f"{INSTANCE}")["items"],
        "the first Deployment",
    )
    operator.kill()
    done = [n for n in names if ready(kubectl, n)]
    assert len(done) < len(names), "all work finished before the kill; nothing was interrupted"

    operator.start()
    for name in names:
        obj = wait(operator, partial(ready, kubectl, name), f"{name} Ready", timeout=120)
        assert obj["status"]["appliedGeneration"] == 1
        assert set(children(kubectl, name)) == {
            ("ConfigMap", f"{name}-config"),
            ("Service", name),
            ("Deployment", name),
            ("PodDisruptionBudget", name),
            ("NetworkPolicy", name),
        }


def test_api_server_restart_converges(
    control_plane: Cluster, kubectl: Kubectl, operator: OperatorProcess
) -> None:
    cp = control_plane.control_plane
    if cp is None:
        pytest.fail("restarting the API server needs the loopback control plane (no external one)")
    kubectl.apply(tvtt("relay", {"image": IMAGE_V1}))
    wait(operator, lambda: ready(kubectl, "relay", 1), "relay Ready")

    # A change lands, then the API server goes away before (or while) the operator applies it.
    kubectl("patch", "travellervtt", "relay", "--type=merge", "-p",
            json.dumps({"spec": {"image": IMAGE_V2}}))  # fmt: skip
    restarted_at = operator.log_offset()
    outage = cp.restart_apiserver()
    assert operator.alive(), operator.output()
    wait(operator, lambda: ready(kubectl, "relay", 2), "relay Ready at generation 2", timeout=120)
    # Right after its restart the API server's authorizer may answer Forbidden until its RBAC
    # caches are filled; kopf retries. Only that window is excused from the log check.
    operator.excuse(restarted_at, operator.log_offset())
    assert image_of(kubectl.get("deployment", "relay")) == IMAGE_V2

    # The watches are back, not only the writes: a deleted child is noticed and recreated.
    uid = kubectl.get("configmap", "relay-config")["metadata"]["uid"]
    kubectl("delete", "configmap", "relay-config")
    wait(
        operator,
        lambda: kubectl.get("configmap", "relay-config")["metadata"]["uid"] != uid,
        f"relay-config recreated after a {outage:.1f}s API outage",
    )
    assert operator.http_status("/healthz") == 200


def test_steady_state_writes_nothing(kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(
        [
            tvtt("quiet", {"image": IMAGE_V1}),
            tvtt(
                "busy",
                {
                    "autoscaling": {"minReplicas": 2, "maxReplicas": 4},
                    "redis": {"enabled": True},
                    "ingress": {"host": "busy.example.test"},
                },
            ),
        ]
    )
    wait(operator, partial(ready, kubectl, "quiet"), "quiet Ready", timeout=120)

    def busy_settled() -> bool:
        # kwok runs no metrics-server: the end state is Ready=False for want of metrics (the
        # HPA says so on its first sync), with the HPA's minimum of 2 pods ready.
        obj = ready(kubectl, "busy", autoscaled=True)
        return bool(
            obj
            and obj["status"]["readyReplicas"] == 2
            and conditions(obj)["Ready"]["reason"] == "AutoscalerMetricsUnavailable"
        )

    wait(operator, busy_settled, "busy at its HPA minimum of 2, HPA without metrics", 150)
    settle(operator)

    rv_before = versions(kubectl)
    own_before = operator.writes()
    server_before = apiserver_writes(kubectl, OPERATOR_WRITTEN, NOT_DELETES)
    reconciles = operator.reconciles()
    # At least five resync rounds of both resources (each round reconciles each once).
    operator.wait_reconciles(reconciles + 10)
    server_after = apiserver_writes(kubectl, OPERATOR_WRITTEN, NOT_DELETES)
    assert operator.writes() == own_before
    assert versions(kubectl) == rv_before
    # Only the operator applies or patches these (controllers write their /status only).
    changed = {
        k: server_after[k] - server_before.get(k, 0.0)
        for k in server_after
        if k[3] != "status" or k[2] == TRAVELLER_VTT.plural
        if server_after[k] != server_before.get(k, 0.0)
    }
    assert not changed, f"writes while idle: {changed}"
