"""The operator chart against the real control plane: install, run, upgrade, uninstall.

The operator runs as a local process built the way Dockerfile.operator builds it (the wheel in a
fresh venv, the image's entrypoint and ENV) with the chart's own args and env, and with nothing
but a TokenRequest token of the chart's ServiceAccount as credentials, so a missing RBAC rule in
the chart (or in tvtt_operator.rbac, which the chart must equal) fails here.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from tvtt_operator.crdgen import build_crd

from testkit.ports import free_port
from testkit.processes import http_status
from tests.cluster.kube import Helm, Kubectl, wait_for
from tests.cluster.operator_process import CRD_FILE, install_crd
from tests.e2e.conftest import Cluster
from tests.packaging.chart import CHART, render
from tests.packaging.images import Image, built_image, started

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
INSTANCE = "app.kubernetes.io/instance"
# Everything a release could leave behind, namespaced or not (pods/replicasets via the GC).
RELEASE_KINDS = (
    "serviceaccounts,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io,"
    "deployments.apps,replicasets.apps,pods,services,configmaps"
)
CLUSTER_KINDS = (
    "clusterroles.rbac.authorization.k8s.io,clusterrolebindings.rbac.authorization.k8s.io"
)


@pytest.fixture(scope="module")
def operator_image() -> Iterator[Image]:
    """Dockerfile.operator replayed into a fresh venv (the wheel, the lock, the entrypoint)."""
    with built_image("operator") as image:
        yield image


def release_name(namespace: str) -> str:
    """Unique per test: the ClusterRole/ClusterRoleBinding names derive from it."""
    return f"op-{namespace.rsplit('-', 1)[-1]}"


def service_account_kubeconfig(kubectl: Kubectl, account: str, namespace: str, path: Path) -> Path:
    """A kubeconfig whose only credential is a TokenRequest token of `account`."""
    token = kubectl.in_namespace(namespace)("create", "token", account, "--duration=3600s")
    admin = kubectl.json("config", "view", "--raw", "--minify")
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": admin["clusters"][0]["cluster"]}],
                "users": [{"name": account, "user": {"token": token.strip()}}],
                "contexts": [
                    {
                        "name": "c",
                        "context": {"cluster": "c", "user": account, "namespace": namespace},
                    }
                ],
                "current-context": "c",
            }
        )
    )
    path.chmod(0o600)
    return path


def notes_manifest(install_output: str) -> dict[str, Any]:
    """The TravellerVTT that NOTES.txt tells people to apply (the heredoc between the YAMLs)."""
    _, _, rest = install_output.partition("<<'YAML'\n")
    body, found, _ = rest.partition("\n  YAML")
    assert found, f"NOTES.txt shows no TravellerVTT heredoc:\n{install_output}"
    manifest: dict[str, Any] = yaml.safe_load(textwrap.dedent(body))
    return manifest


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """One status condition by type (None until the operator has written it)."""
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == kind:
            found: dict[str, Any] = cond
            return found
    return None


def is_ready(kubectl: Kubectl, name: str) -> bool:
    """What `kubectl get tvtt` shows in its READY column."""
    ready = condition(kubectl.get("travellervtt", name), "Ready")
    return bool(ready and ready["status"] == "True")


def leftovers(kubectl: Kubectl, release: str) -> list[str]:
    """Every object still labelled with the release, in any namespace or cluster-scoped."""
    selector = f"{INSTANCE}={release}"
    names = kubectl("get", RELEASE_KINDS, "-A", "-l", selector, "-o", "name").split()
    names += kubectl("get", CLUSTER_KINDS, "-l", selector, "-o", "name").split()
    secrets = kubectl("get", "secrets", "-A", "-l", f"owner=helm,name={release}", "-o", "name")
    return names + secrets.split()


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="namespaced"),
        pytest.param({"rbac": {"clusterWide": True}}, id="cluster-wide"),
    ],
)
def test_rendered_chart_passes_server_side_dry_run(
    kubectl: Kubectl, namespace: str, values: dict[str, Any]
) -> None:
    manifests = render(values, namespace=namespace)
    kinds = {m["kind"] for m in manifests}
    assert {"CustomResourceDefinition", "Deployment", "ServiceAccount"} <= kinds
    out = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": manifests}
    ))  # fmt: skip
    assert out.count("(server dry run)") == len(manifests), out


def test_install_then_operator_as_the_chart_account_makes_examples_ready(
    control_plane: Cluster,
    helm: Helm,
    kubectl: Kubectl,
    namespace: str,
    operator_image: Image,
    tmp_path: Path,
) -> None:
    release = release_name(namespace)
    out = helm("install", release, str(CHART), "--wait", "--timeout", "120s")
    assert "kind: TravellerVTT" in out
    assert f"kubectl apply -n {namespace}" in out

    deployment = kubectl.get("deployment", f"{release}-traveller-vtt-operator")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    sa_config = service_account_kubeconfig(
        kubectl, pod["serviceAccountName"], namespace, tmp_path / "sa.kubeconfig"
    )
    as_operator = Kubectl(kubectl.binary, sa_config, namespace)
    can_i = ["auth", "can-i", "patch", "travellervtts.traveller-vtt.io", "--subresource=status"]
    assert as_operator(*can_i).strip() == "yes"
    # Least privilege: namespaced by default, nothing in other namespaces, pods only read.
    for denied in (
        ["create", "pods"],
        ["delete", "persistentvolumeclaims"],
        ["list", "deployments", "-n", "default"],
        ["get", "secrets", "-n", "default"],
    ):
        assert as_operator.run("auth", "can-i", *denied, check=False).stdout.strip() == "no"

    port = free_port()
    # The downward API as the kubelet would fill it; polling off: kwok's pod addresses are
    # made up (a private range) and never dialled.
    downward = {"metadata.namespace": namespace, "metadata.name": f"{release}-pod-0"}
    chart_env = {
        e["name"]: e["value"] if "value" in e else downward[e["valueFrom"]["fieldRef"]["fieldPath"]]
        for e in container["env"]
    }
    assert chart_env["TVTT_OPERATOR_LEADER_ELECTION"] == "true"
    chart_env["TVTT_OPERATOR_POLL_SECONDS"] = "0"
    http_port_var = "TVTT_OPERATOR_HTTP_PORT"
    assert http_port_var in chart_env
    with started(
        operator_image,
        [*operator_image.argv, *container["args"]],
        **{**chart_env, http_port_var: str(port), "KUBECONFIG": str(sa_config)},
    ) as operator:
        healthz = f"http://127.0.0.1:{port}{container['livenessProbe']['httpGet']['path']}"
        operator.wait_for(f"200 from {healthz}", lambda: http_status(healthz) == 200)

        applied = {
            yaml.safe_load((EXAMPLES / "tvtt-minimal.yaml").read_text())["metadata"]["name"],
            yaml.safe_load((EXAMPLES / "tvtt-two-replicas.yaml").read_text())["metadata"]["name"],
        }
        kubectl("apply", "-f", str(EXAMPLES / "tvtt-minimal.yaml"))
        kubectl("apply", "-f", str(EXAMPLES / "tvtt-two-replicas.yaml"))
        from_notes = notes_manifest(out)
        kubectl.apply(from_notes)
        applied.add(from_notes["metadata"]["name"])
        for name in sorted(applied):
            try:
                wait_for(partial(is_ready, kubectl, name), timeout=180, message=f"{name} Ready")
            except TimeoutError as exc:
                seen = kubectl.get("travellervtt", name).get("status")
                raise AssertionError(f"{exc}\nstatus: {seen}\n{operator.output()}") from exc
        table = kubectl("get", "tvtt")
        assert all(name in table for name in applied)
        log = operator.output()
    assert "Forbidden" not in log, log


def test_upgrade_and_uninstall_leave_no_orphans(
    helm: Helm, kubectl: Kubectl, namespace: str
) -> None:
    release = release_name(namespace)
    other = f"{namespace}-b"
    kubectl("create", "namespace", other)
    try:
        helm("install", release, str(CHART), "--wait", "--timeout", "120s")
        role = f"{release}-traveller-vtt-operator"
        assert kubectl.exists("role", role)

        helm("upgrade", release, str(CHART), "--wait", "--timeout", "120s",
             "--set-json", f'watchNamespaces=["{namespace}","{other}"]')  # fmt: skip
        assert kubectl.in_namespace(other).exists("role", role)
        assert kubectl.in_namespace(other).exists("rolebinding", role)

        helm("upgrade", release, str(CHART), "--wait", "--timeout", "120s",
             "--set", "rbac.clusterWide=true")  # fmt: skip
        assert kubectl.exists("clusterrole", role)
        assert kubectl.exists("clusterrolebinding", role)
        for ns in (namespace, other):
            assert not kubectl.in_namespace(ns).exists("role", role), f"Role left in {ns}"
            assert not kubectl.in_namespace(ns).exists("rolebinding", role)
        args = kubectl.get("deployment", role)["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args == ["--all-namespaces"]

        # Back to the defaults (a bare `helm upgrade` would silently reuse the last values).
        helm("upgrade", release, str(CHART), "--reset-values", "--wait", "--timeout", "120s")
        assert kubectl.exists("role", role)
        assert not kubectl.in_namespace(other).exists("role", role)
        assert not kubectl.exists("clusterrole", role)
        assert not kubectl.exists("clusterrolebinding", role)
        # One ReplicaSet per template revision (a rolling update: the new pod waits for the Lease).
        assert len(kubectl.get("replicasets", None, "-l", f"{INSTANCE}={release}")["items"]) >= 2

        helm("uninstall", release, "--wait", "--timeout", "120s")
        wait_for(lambda: not leftovers(kubectl, release), timeout=120,
                 message=f"nothing labelled {INSTANCE}={release}")  # fmt: skip
        # By design (chart README): Helm never deletes what it installed from crds/.
        assert kubectl.exists("crd", "travellervtts.traveller-vtt.io")
    finally:
        kubectl("delete", "namespace", other, "--wait=false", "--ignore-not-found")


CRD = "travellervtts.traveller-vtt.io"
HELM_OWNER = ("meta.helm.sh/release-name", "meta.helm.sh/release-namespace")


def printer_columns(kubectl: Kubectl) -> list[str]:
    crd = kubectl.get("crd", CRD)
    return [c["name"] for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]


def disown_crd(kubectl: Kubectl) -> None:
    """The CRD as `kubectl apply -f crds/` leaves it: no Helm ownership metadata."""
    gone = {
        "metadata": {
            "annotations": dict.fromkeys([*HELM_OWNER, "helm.sh/resource-policy"]),
            "labels": {"app.kubernetes.io/managed-by": None},
        }
    }
    kubectl("patch", "crd", CRD, "--type=merge", "-p", json.dumps(gone))


def test_helm_upgrade_upgrades_the_crd(helm: Helm, kubectl: Kubectl, namespace: str) -> None:
    """An older CRD (no BATTLES/PLAYERS columns) applied by hand: the release leaves it alone
    until adopted with the two commands the chart README gives, then `helm upgrade` upgrades it,
    and `helm uninstall` keeps it."""
    cluster = kubectl.in_namespace(None)
    release = release_name(namespace)
    install_crd(cluster)
    try:
        disown_crd(cluster)
        old = [c for c in build_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
               if c["name"] not in ("Battles", "Players")]  # fmt: skip
        patch = [{"op": "replace", "path": "/spec/versions/0/additionalPrinterColumns",
                  "value": old}]  # fmt: skip
        cluster("patch", "crd", CRD, "--type=json", "-p", json.dumps(patch))
        assert "Battles" not in printer_columns(cluster)

        out = helm("install", release, str(CHART), "--wait", "--timeout", "120s")
        assert "Battles" not in printer_columns(cluster)  # not this release's: left alone
        assert "is not this release's" in out  # NOTES.txt says so and points to the README

        # The README's adoption commands.
        cluster("label", "crd", CRD, "app.kubernetes.io/managed-by=Helm", "--overwrite")
        cluster("annotate", "crd", CRD, f"meta.helm.sh/release-name={release}",
                f"meta.helm.sh/release-namespace={namespace}", "--overwrite")  # fmt: skip
        helm("upgrade", release, str(CHART), "--wait", "--timeout", "120s")
        columns = printer_columns(cluster)
        assert columns[:7] == ["Desired", "Ready", "Battles", "Players", "Image", "Status", "Age"]
        crd = cluster.get("crd", CRD)
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["spec"] == {**crd["spec"], **yaml.safe_load(CRD_FILE.read_text())["spec"]}

        helm("uninstall", release, "--wait", "--timeout", "120s")
        assert cluster.exists("crd", CRD)  # kept: deleting it would delete every TravellerVTT
    finally:
        disown_crd(cluster)
        install_crd(cluster)
