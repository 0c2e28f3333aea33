"""Acceptance tests of the e2e harness itself: the control plane behaves like a real cluster.

Each test exercises one component we rely on (kwok, controller manager, garbage collector, CRD
validation with CEL, RBAC, the hostpath provisioner, helm), so a broken harness fails here with a
clear name instead of as a confusing operator-test failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.controlplane import pid_alive, read_versions
from tests.cluster.kube import CommandError, Helm, Kubectl, wait_for
from tests.e2e.conftest import FIXTURES, Cluster

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
# kwok never pulls images; on kind (make e2e-kind) this one is preloaded into the nodes.
IMAGE = os.environ.get("TVTT_E2E_IMAGE", "registry.k8s.io/pause:3.10")


def deployment(name: str, replicas: int = 2, revision: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "env": [{"name": "REVISION", "value": revision}],
                        }
                    ]
                },
            },
        },
    }


def rollout_complete(kubectl: Kubectl, name: str, replicas: int) -> bool:
    """The controller has observed the latest spec and all replicas are updated and available."""
    d = kubectl.get("deployment", name)
    s = d.get("status", {})
    return bool(
        s.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and s.get("updatedReplicas") == replicas
        and s.get("readyReplicas") == replicas
        and s.get("availableReplicas") == replicas
        and s.get("replicas") == replicas
    )


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return pod.get("status", {}).get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conditions
    )


def test_server_reports_pinned_version(control_plane: Cluster) -> None:
    """Version ldflags took effect (helm kubeVersion checks depend on it)."""
    version = control_plane.kubectl().json("version")
    assert version["clientVersion"]["gitVersion"] == read_versions()["KUBERNETES_VERSION"]
    if not control_plane.external:
        assert version["serverVersion"]["gitVersion"] == read_versions()["KUBERNETES_VERSION"]


def test_deployment_pods_become_running_and_ready(kubectl: Kubectl) -> None:
    kubectl.apply(deployment("web", replicas=3))
    wait_for(lambda: rollout_complete(kubectl, "web", 3), timeout=60, message="web rolled out")
    pods = kubectl.get("pods", None, "-l", "app=web")["items"]
    assert len(pods) == 3
    assert all(pod_ready(p) for p in pods), [p["status"] for p in pods]
    assert all(p["spec"].get("nodeName") for p in pods), "scheduler bound every pod"


def revision_env(obj: dict[str, Any]) -> str:
    """The REVISION env value of the (pod or deployment) template's first container."""
    spec = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else obj["spec"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env", [])}
    return str(env.get("REVISION"))


def test_rollout_undo_restores_previous_template(kubectl: Kubectl) -> None:
    kubectl.apply(deployment("app", replicas=2, revision="1"))
    wait_for(lambda: rollout_complete(kubectl, "app", 2), timeout=60, message="rev 1")
    kubectl("set", "env", "deployment/app", "REVISION=2")
    wait_for(
        lambda: (
            revision_env(kubectl.get("deployment", "app")) == "2"
            and rollout_complete(kubectl, "app", 2)
        ),
        timeout=60,
        message="rev 2",
    )
    replicasets = kubectl.get("replicasets", None, "-l", "app=app")["items"]
    assert sorted(revision_env(rs) for rs in replicasets) == ["1", "2"], (
        "the controller manager keeps one ReplicaSet per revision"
    )

    kubectl("rollout", "undo", "deployment/app")

    wait_for(
        lambda: (
            revision_env(kubectl.get("deployment", "app")) == "1"
            and rollout_complete(kubectl, "app", 2)
        ),
        timeout=60,
        message="undo back to the rev 1 template",
    )
    wait_for(
        lambda: (
            {revision_env(p) for p in kubectl.get("pods", None, "-l", "app=app")["items"]} == {"1"}
        ),
        timeout=60,
        message="only rev 1 pods left",
    )
    history = kubectl("rollout", "history", "deployment/app")
    assert "3" in history.split(), history  # undo re-applied rev 1 as revision 3


def test_deleting_owner_garbage_collects_dependents(kubectl: Kubectl) -> None:
    owner = json.loads(kubectl("create", "configmap", "owner", "-o", "json"))
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "dependent",
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "owner",
                        "uid": owner["metadata"]["uid"],
                    }
                ],
            },
        }
    )
    kubectl.apply(deployment("gc", replicas=2))
    wait_for(lambda: rollout_complete(kubectl, "gc", 2), timeout=60, message="gc rolled out")
    assert kubectl.get("replicasets", None, "-l", "app=gc")["items"]

    kubectl("delete", "configmap", "owner", "--wait=false")
    kubectl("delete", "deployment", "gc", "--wait=false")
    wait_for(lambda: not kubectl.exists("configmap", "dependent"), timeout=60, message="GC cm")
    wait_for(
        lambda: (
            not kubectl.get("replicasets", None, "-l", "app=gc")["items"]
            and not kubectl.get("pods", None, "-l", "app=gc")["items"]
        ),
        timeout=60,
        message="ReplicaSet and pods collected",
    )


CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "harnesswidgets.e2e.tvtt.dev"},
    "spec": {
        "group": "e2e.tvtt.dev",
        "scope": "Namespaced",
        "names": {"plural": "harnesswidgets", "singular": "harnesswidget", "kind": "HarnessWidget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["replicas"],
                                "properties": {
                                    "replicas": {"type": "integer", "minimum": 0},
                                    "minReplicas": {"type": "integer", "minimum": 0},
                                },
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "!has(self.minReplicas)"
                                        " || self.minReplicas <= self.replicas",
                                        "message": "minReplicas must not exceed replicas",
                                    }
                                ],
                            }
                        },
                    }
                },
            }
        ],
    },
}


def widget(name: str, replicas: int | str, min_replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "e2e.tvtt.dev/v1",
        "kind": "HarnessWidget",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "minReplicas": min_replicas},
    }


def test_crd_schema_and_cel_rule_reject_invalid_objects(kubectl: Kubectl) -> None:
    admin = kubectl.in_namespace(None)
    admin.apply(CRD)
    try:
        wait_for(
            lambda: any(
                c["type"] == "Established" and c["status"] == "True"
                for c in admin.get("crd", CRD["metadata"]["name"])["status"]["conditions"]
            ),
            timeout=30,
            message="CRD Established",
        )
        # Discovery can lag behind Established for a moment; the valid object proves it's served.
        wait_for(lambda: kubectl.apply(widget("ok", 3, 1)), timeout=30, message="valid widget")

        with pytest.raises(CommandError) as cel:
            kubectl.apply(widget("bad", 1, 5))
        assert "minReplicas must not exceed replicas" in cel.value.stderr
        assert "spec: Invalid value" in cel.value.stderr  # the API server's own wording

        with pytest.raises(CommandError) as schema:
            kubectl.apply(widget("typo", "three", 1))
        assert "spec.replicas" in schema.value.stderr
        assert 'must be of type integer: "string"' in schema.value.stderr
        assert not kubectl.exists("harnesswidget", "bad")
    finally:
        admin("delete", "crd", CRD["metadata"]["name"], "--wait=false", "--ignore-not-found")


def test_serviceaccount_without_role_is_denied(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    kubectl("create", "serviceaccount", "nobody")
    # A real bearer token from the TokenRequest API, used in a kubeconfig holding nothing else.
    token = kubectl("create", "token", "nobody", "--duration=10m").strip()
    admin_cfg = kubectl.json("config", "view", "--raw", "--minify")
    cluster = admin_cfg["clusters"][0]["cluster"]
    sa_cfg = tmp_path / "sa.kubeconfig"
    sa_cfg.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "nobody", "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "nobody"}}],
                "current-context": "c",
            }
        )
    )
    as_sa = Kubectl(kubectl.binary, sa_cfg, namespace)
    assert as_sa("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == (
        f"system:serviceaccount:{namespace}:nobody"
    )
    with pytest.raises(CommandError) as denied:
        as_sa("get", "pods")
    assert "Forbidden" in denied.value.stderr
    assert f'"system:serviceaccount:{namespace}:nobody" cannot list resource "pods"' in (
        denied.value.stderr
    )
    impersonated = kubectl.run(
        "auth", "can-i", "list", "pods", f"--as=system:serviceaccount:{namespace}:nobody",
        check=False,
    )  # fmt: skip
    assert impersonated.stdout.strip() == "no"

    # With a Role bound, the same token is allowed: RBAC, not authentication, said no.
    kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    kubectl("create", "rolebinding", "nobody-reads", "--role=pod-reader",
            f"--serviceaccount={namespace}:nobody")  # fmt: skip
    wait_for(lambda: as_sa.run("get", "pods").returncode == 0, timeout=30, message="allowed")


def test_statefulset_claim_binds_and_pod_becomes_ready(kubectl: Kubectl) -> None:
    kubectl.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "db"},
                "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 80}]},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "db"},
                "spec": {
                    "serviceName": "db",
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": {
                        "metadata": {"labels": {"app": "db"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "db",
                                    "image": IMAGE,
                                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                                }
                            ]
                        },
                    },
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data"},
                            "spec": {
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "1Gi"}},
                            },
                        }
                    ],
                },
            },
        ]
    )
    pvc = wait_for(
        lambda: (p := kubectl.get("pvc", "data-db-0"))["status"].get("phase") == "Bound" and p,
        timeout=60,
        message="PVC data-db-0 Bound",
    )
    assert pvc["spec"]["volumeName"]
    wait_for(lambda: pod_ready(kubectl.get("pod", "db-0")), timeout=60, message="db-0 Ready")
    wait_for(
        lambda: kubectl.get("statefulset", "db")["status"].get("readyReplicas") == 1,
        timeout=60,
        message="StatefulSet ready",
    )


def test_helm_install_of_a_tiny_chart(helm: Helm, kubectl: Kubectl) -> None:
    chart = FIXTURES / "charts" / "tiny"
    helm("install", "demo", str(chart), "--set", "greeting=ahoy", "--set", f"image={IMAGE}",
         "--wait", "--timeout", "2m")  # fmt: skip
    releases = json.loads(helm("list", "-o", "json"))
    assert [(r["name"], r["status"]) for r in releases] == [("demo", "deployed")]
    assert kubectl.get("configmap", "demo-config")["data"] == {"greeting": "ahoy"}
    assert kubectl.get("deployment", "demo")["status"].get("readyReplicas") == 2
    helm("upgrade", "demo", str(chart), "--reuse-values", "--set", "replicas=1", "--wait")
    wait_for(lambda: rollout_complete(kubectl, "demo", 1), timeout=60, message="upgraded")
    helm("uninstall", "demo", "--wait")
    assert not kubectl.exists("deployment", "demo")


CHILD = """
import json, sys, time
from tests.cluster.controlplane import ControlPlane
cp = ControlPlane().start()
print(json.dumps({"pids": cp.pids(), "kubeconfig": str(cp.kubeconfig),
                  "run_dir": str(cp.run_dir)}), flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_second_control_plane_coexists_and_leaves_no_orphans(
    control_plane: Cluster, sig: signal.Signals
) -> None:
    """A second run gets its own free ports; killing its owner (even with SIGKILL) stops it all."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    info: dict[str, Any] = {}
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            child.wait(timeout=30)
            pytest.fail(f"child failed to start a control plane:\n{child.stderr.read()}")  # type: ignore[union-attr]
        info = json.loads(line)
        pids: list[int] = info["pids"]
        assert len(pids) == 5
        second = Kubectl(control_plane.bin_dir / "kubectl", Path(info["kubeconfig"]))
        nodes = second.get("nodes")["items"]
        assert nodes
        assert second.kubeconfig != control_plane.kubeconfig
        os.kill(child.pid, sig)
        child.wait(timeout=30)

        def all_gone() -> bool:
            return not any(pid_alive(pid) for pid in pids)

        wait_for(all_gone, timeout=30, message=f"components of the second run gone after {sig!r}")
        if sig == signal.SIGTERM:  # the handler ran stop(), which removes its temp run dir
            assert not Path(info["run_dir"]).exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if info:
            shutil.rmtree(info["run_dir"], ignore_errors=True)
