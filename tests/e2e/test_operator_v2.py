"""Operator v2 against the real control plane: leader election with a Lease (the leader is
SIGKILLed, the standby takes over), the Redis password Secret and NetworkPolicies, the Redis claim
reported and expanded (and a refused expansion reported), Ingress annotations and a missing TLS
Secret, an autoscaled resource whose HPA gets no metrics (kwok runs no metrics-server), the
BATTLES/PLAYERS columns.

Same setup as test_operator.py (a namespace per test, RBAC exactly the chart's, waits on
conditions). kwok's pods have made-up addresses, so the summary poll is off here; the poll itself
is tested against real game servers in tests/contract.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tvtt_operator.rbac import leader_election_rules

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.operator_process import OperatorProcess, metric_sum, operator_kubeconfig
from tests.e2e.operator_helpers import (
    RESYNC_SECONDS,
    children,
    conditions,
    events,
    ready,
    tvtt,
    wait,
)

pytestmark = pytest.mark.e2e

LEASE = "tvtt-operator"


def lease(kubectl: Kubectl) -> dict[str, Any] | None:
    if not kubectl.exists("lease", LEASE):
        return None
    found: dict[str, Any] = kubectl.get("lease", LEASE)
    return found


def holder(kubectl: Kubectl) -> str | None:
    found = lease(kubectl)
    return None if found is None else (found.get("spec") or {}).get("holderIdentity")


def non_lease_writes(op: OperatorProcess) -> float:
    samples = op.metrics()
    total = metric_sum(samples, "tvtt_operator_api_writes_total")
    return total - metric_sum(samples, "tvtt_operator_api_writes_total", kind="Lease")


@pytest.fixture
def candidates(
    crd: None, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> Iterator[dict[str, OperatorProcess]]:
    """Two operator processes campaigning for one Lease (short timings to keep the test short)."""
    kubeconfig = operator_kubeconfig(kubectl, namespace, tmp_path / "operator.kubeconfig")
    assert leader_election_rules()[0]["resources"] == ["leases"]
    procs = {
        identity: OperatorProcess(
            kubeconfig,
            namespace,
            tmp_path / f"{identity}.log",
            resync_seconds=RESYNC_SECONDS,
            extra_env={
                "TVTT_OPERATOR_LEADER_ELECTION": "true",
                "TVTT_OPERATOR_LEASE_NAME": LEASE,
                "TVTT_OPERATOR_LEASE_NAMESPACE": namespace,
                "TVTT_OPERATOR_IDENTITY": identity,
                "TVTT_OPERATOR_LEASE_DURATION_SECONDS": "4",
                "TVTT_OPERATOR_RENEW_DEADLINE_SECONDS": "3",
                "TVTT_OPERATOR_RETRY_PERIOD_SECONDS": "0.5",
            },
        )
        for identity in ("op-a", "op-b")
    }
    try:
        for proc in procs.values():
            proc.start()
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
    for identity, proc in procs.items():
        log = proc.checked_log()
        assert "Forbidden" not in log, f"{identity}:\n{log[-4000:]}"
        assert "reconcile crashed" not in log, f"{identity}:\n{log[-4000:]}"


def test_one_leader_reconciles_and_the_standby_takes_over_when_it_is_killed(
    kubectl: Kubectl, candidates: dict[str, OperatorProcess]
) -> None:
    leader_id = wait_for(lambda: holder(kubectl), timeout=60, message="a Lease holder")
    standby_id = next(i for i in candidates if i != leader_id)
    leader, standby = candidates[leader_id], candidates[standby_id]

    kubectl.apply(tvtt("first", {}))
    wait(leader, lambda: ready(kubectl, "first"), "first Ready (by the leader)")
    assert metric_sum(leader.metrics(), "tvtt_operator_leader") == 1
    assert metric_sum(standby.metrics(), "tvtt_operator_leader") == 0
    # The standby watched the same events (warm cache) but wrote nothing and reconciled nothing.
    assert non_lease_writes(standby) == 0
    assert metric_sum(standby.metrics(), "tvtt_operator_reconciles_total") == 0
    assert non_lease_writes(leader) > 0

    killed = time.monotonic()
    leader.kill()
    kubectl.apply(tvtt("second", {}))
    wait(standby, lambda: holder(kubectl) == standby_id, "the standby holds the Lease", 60)
    took_over = time.monotonic() - killed
    wait(standby, lambda: ready(kubectl, "second"), "second Ready (by the new leader)")
    served = time.monotonic() - killed
    found = lease(kubectl)
    assert found is not None
    assert found["spec"]["leaseTransitions"] >= 1
    assert non_lease_writes(standby) > 0
    # 4 s lease: the standby may take over only after it saw no renewal for that long.
    assert 3.0 <= took_over <= 30.0, took_over
    print(f"\nleader SIGKILLed: Lease taken over after {took_over:.1f} s, "
          f"new resource Ready after {served:.1f} s (lease 4 s, retry 0.5 s)")  # fmt: skip

    # A graceful stop gives the Lease up (no waiting for expiry on a rolling update).
    standby.stop()
    assert holder(kubectl) in (None, "")


def storage_class(kubectl: Kubectl, name: str, expandable: bool) -> None:
    kubectl.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": "example.com/none",
            "allowVolumeExpansion": expandable,
            "volumeBindingMode": "Immediate",
        }
    )


def volume_for(kubectl: Kubectl, name: str, sc: str, namespace: str, claim: str) -> None:
    """A PersistentVolume pre-bound to the claim the StatefulSet will create (kwok runs no
    provisioner); the controller manager's binder binds them."""
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": sc,
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": f"/nonexistent/{name}"},  # never mounted: kwok
                "claimRef": {"namespace": namespace, "name": claim},
            },
        }
    )


def storage_condition(kubectl: Kubectl, name: str) -> tuple[str, str, str] | None:
    cond = conditions(kubectl.get("travellervtt", name)).get("RedisStorageReady")
    return None if cond is None else (cond["status"], cond["reason"], cond.get("message", ""))


def test_redis_secret_policies_and_the_claim_reported_and_expanded(
    kubectl: Kubectl, operator: OperatorProcess, namespace: str
) -> None:
    suffix = namespace.rsplit("-", 1)[-1]
    grow, fixed = f"tvtt-grow-{suffix}", f"tvtt-fixed-{suffix}"
    cluster = kubectl.in_namespace(None)
    try:
        storage_class(cluster, grow, expandable=True)
        storage_class(cluster, fixed, expandable=False)
        for name, sc in (("vault", grow), ("rigid", fixed)):
            volume_for(cluster, f"pv-{name}-{suffix}", sc, namespace, f"data-{name}-redis-0")
            spec = {"redis": {"enabled": True, "storageSize": "1Gi", "storageClassName": sc}}
            kubectl.apply(tvtt(name, spec))

        def all_children() -> dict[tuple[str, str], dict[str, Any]] | None:
            found = children(kubectl, "vault")
            return found if ("NetworkPolicy", "vault-redis") in found else None

        kids = wait(operator, all_children, "vault's children")
        secret = kubectl.get("secret", "vault-redis-auth")
        password = base64.b64decode(secret["data"]["password"]).decode()
        assert re.fullmatch(r"[0-9a-f]{48}", password)
        assert ("NetworkPolicy", "vault") in kids
        sts = kids[("StatefulSet", "vault-redis")]["spec"]["template"]["spec"]["containers"][0]
        assert sts["args"][1:] == ["--requirepass", "$(REDIS_PASSWORD)"]
        env = {e["name"]: e for e in kids[("Deployment", "vault")]["spec"]["template"]["spec"]
               ["containers"][0]["env"]}  # fmt: skip
        assert env["REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@vault-redis:6379/0"
        assert password not in json.dumps(kids[("Deployment", "vault")])

        def bound(name: str) -> dict[str, Any] | None:
            status = kubectl.get("travellervtt", name).get("status") or {}
            volume: dict[str, Any] | None = status.get("redisVolume")
            return volume if volume and volume.get("phase") == "Bound" else None

        def requested(name: str) -> str:
            pvc = kubectl.get("pvc", f"data-{name}-redis-0")
            return str(pvc["spec"]["resources"]["requests"]["storage"])

        def storage_reason(name: str, reason: str) -> tuple[str, str, str] | None:
            found = storage_condition(kubectl, name)
            return found if found is not None and found[1] == reason else None

        volume = wait(operator, lambda: bound("vault"), "vault's claim Bound in status")
        assert volume["claimName"] == "data-vault-redis-0"
        assert volume["requested"] == "1Gi"
        wait(operator, lambda: bound("rigid"), "rigid's claim Bound in status")
        # The password survives reconciles (never regenerated while the Secret exists).
        assert kubectl.get("secret", "vault-redis-auth")["data"] == secret["data"]

        # Grow: the claim is patched (the StorageClass allows it); shrinking is refused by CEL.
        kubectl("patch", "travellervtt", "vault", "--type=merge",
                "-p", '{"spec":{"redis":{"storageSize":"2Gi"}}}')  # fmt: skip
        wait(operator, lambda: requested("vault") == "2Gi", "vault's claim asks for 2Gi")
        # No resizer runs on kwok: the claim's capacity stays 1Gi, and status says so.
        expanding = wait(
            operator, lambda: storage_reason("vault", "Expanding"), "RedisStorageReady Expanding"
        )
        assert expanding[0] == "False"
        assert "capacity 1Gi" in expanding[2]
        assert events(kubectl, "vault", "RedisVolumeExpanding")
        shrink = kubectl.run(
            "patch", "travellervtt", "vault", "--type=merge",
            "-p", '{"spec":{"redis":{"storageSize":"1Gi"}}}', check=False,
        )  # fmt: skip
        assert shrink.returncode != 0
        assert "spec.redis.storageSize" in shrink.stderr
        assert "can only grow" in shrink.stderr

        # A StorageClass without allowVolumeExpansion: the refusal is reported, not retried.
        kubectl("patch", "travellervtt", "rigid", "--type=merge",
                "-p", '{"spec":{"redis":{"storageSize":"3Gi"}}}')  # fmt: skip
        refused = wait(
            operator, lambda: storage_reason("rigid", "ExpansionRefused"), "ExpansionRefused"
        )
        assert refused[0] == "False"
        assert "data-rigid-redis-0" in refused[2]
        assert "storageclass" in refused[2].lower() or "resize" in refused[2].lower(), refused
        assert events(kubectl, "rigid", "RedisVolumeExpansionRefused")
        assert requested("rigid") == "1Gi"
        writes = operator.writes()
        operator.wait_reconciles(operator.reconciles() + 3)
        assert operator.writes() == writes  # the refusal is not retried on every resync
    finally:
        for name in ("vault", "rigid"):
            kubectl("delete", "travellervtt", name, "--ignore-not-found", "--wait=false")
            kubectl("delete", "pvc", f"data-{name}-redis-0", "--ignore-not-found", "--wait=false")
            cluster("delete", "pv", f"pv-{name}-{suffix}", "--ignore-not-found", "--wait=false")
        cluster("delete", "storageclass", grow, fixed, "--ignore-not-found")


def test_ingress_annotations_class_and_a_missing_tls_secret(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    spec = {
        "ingress": {
            "host": "vtt.example.org",
            "className": "nginx",
            "tlsSecretName": "vtt-tls",
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
        }
    }
    kubectl.apply(tvtt("gate", spec))
    ingress = wait(operator, lambda: children(kubectl, "gate").get(("Ingress", "gate")), "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["vtt.example.org"], "secretName": "vtt-tls"}]

    def ingress_ready() -> tuple[str, str]:
        cond = conditions(kubectl.get("travellervtt", "gate")).get("IngressReady") or {}
        return cond.get("status", ""), cond.get("reason", "")

    wait(operator, lambda: ingress_ready() == ("False", "TLSSecretMissing"), "TLSSecretMissing")
    (event,) = events(kubectl, "gate", "TLSSecretMissing")
    assert "vtt-tls" in event["message"]
    # Ready is about serving: a missing certificate does not make the pods unready.
    wait(operator, lambda: ready(kubectl, "gate"), "gate Ready")
    kubectl("create", "secret", "generic", "vtt-tls", "--from-literal=tls.crt=x",
            "--from-literal=tls.key=y")  # fmt: skip
    wait(operator, lambda: ingress_ready() == ("True", "IngressApplied"), "TLS Secret found")


def test_an_autoscaled_resource_without_metrics_is_not_ready_and_says_why(
    kubectl: Kubectl, operator: OperatorProcess
) -> None:
    spec = {"autoscaling": {"minReplicas": 1, "maxReplicas": 3}, "redis": {"enabled": True}}
    kubectl.apply(tvtt("metered", spec))

    def no_metrics() -> dict[str, Any] | None:
        cond = conditions(kubectl.get("travellervtt", "metered")).get("Ready") or {}
        return cond if cond.get("reason") == "AutoscalerMetricsUnavailable" else None

    cond = wait(operator, no_metrics, "Ready=False AutoscalerMetricsUnavailable", timeout=120)
    assert cond["status"] == "False"
    assert "metrics" in cond["message"]
    assert events(kubectl, "metered", "AutoscalerMetricsUnavailable")
    table = kubectl("get", "tvtt", "metered")
    header = table.splitlines()[0].split()
    assert header[:5] == ["NAME", "DESIRED", "READY", "BATTLES", "PLAYERS"], table
