"""Fixtures for the e2e suite: one real control plane per session, a fresh namespace per test.

Set ``TVTT_E2E_KUBECONFIG`` to run against an existing cluster (e.g. kind via ``make e2e-kind``);
otherwise the pinned binaries from ``make cluster-bins`` are started on loopback. Missing binaries
FAIL the suite loudly: the e2e tests never skip.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.controlplane import ControlPlane, ControlPlaneError, bin_dir, missing_binaries
from tests.cluster.kube import Helm, Kubectl, wait_for
from tests.cluster.operator_process import OperatorProcess, install_crd, operator_kubeconfig
from tests.e2e.operator_helpers import RESYNC_SECONDS

__all__ = ["Cluster", "Helm", "Kubectl", "wait_for"]

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Cluster:
    """What a test needs to reach the cluster; ``control_plane`` is None for external clusters."""

    kubeconfig: Path
    bin_dir: Path
    control_plane: ControlPlane | None

    @property
    def external(self) -> bool:
        return self.control_plane is None

    def kubectl(self, namespace: str | None = None) -> Kubectl:
        return Kubectl(self.bin_dir / "kubectl", self.kubeconfig, namespace)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[Cluster]:
    """The session's cluster: an external one from TVTT_E2E_KUBECONFIG, or our own on loopback."""
    bins = bin_dir()
    external = os.environ.get("TVTT_E2E_KUBECONFIG")
    if external:
        for tool in ("kubectl", "helm"):
            if not os.access(bins / tool, os.X_OK):
                pytest.fail(f"{bins / tool} missing: run `make cluster-bins`", pytrace=False)
        yield Cluster(Path(external).expanduser().resolve(), bins, None)
        return
    missing = missing_binaries(bins)
    if missing:
        pytest.fail(
            f"control-plane binaries missing in {bins}: {', '.join(missing)}. "
            "Run `make cluster-bins` (make test does this first).",
            pytrace=False,
        )
    cp = ControlPlane()
    try:
        cp.start()
    except ControlPlaneError as e:
        pytest.fail(f"control plane failed to start: {e}", pytrace=False)
    try:
        yield Cluster(cp.kubeconfig, bins, cp)
    finally:
        cp.stop()


@pytest.fixture(scope="session")
def kubeconfig(control_plane: Cluster) -> Path:
    """Admin kubeconfig of the session's cluster."""
    return control_plane.kubeconfig


@pytest.fixture
def namespace(control_plane: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, deleted (without waiting) afterwards."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"e2e-{slug}-{secrets.token_hex(3)}"
    kc = control_plane.kubectl()
    kc("create", "namespace", name)
    # Pods are rejected until the controller manager has made the namespace's default SA.
    wait_for(
        lambda: kc.in_namespace(name).exists("serviceaccount", "default"),
        timeout=30,
        message=f"ServiceAccount default in {name}",
    )
    yield name
    kc("delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.fixture
def kubectl(control_plane: Cluster, namespace: str) -> Kubectl:
    """The pinned kubectl, as cluster admin, defaulting to the test's namespace."""
    return control_plane.kubectl(namespace)


@pytest.fixture
def helm(control_plane: Cluster, namespace: str, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The pinned helm, in the test's namespace, with its state dirs in a temp folder."""
    home = tmp_path_factory.mktemp("helm")
    env = {f"HELM_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "CACHE", "DATA")}
    return Helm(control_plane.bin_dir / "helm", control_plane.kubeconfig, namespace, env)


@pytest.fixture(scope="module")
def crd(control_plane: Cluster) -> None:
    """The generated CRD (crds/), installed once for the module."""
    install_crd(control_plane.kubectl())


@pytest.fixture
def operator(
    crd: None, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """The operator, watching only this test's namespace with the chart's RBAC; always stopped."""
    kubeconfig = operator_kubeconfig(kubectl, namespace, tmp_path / "operator.kubeconfig")
    proc = OperatorProcess(
        kubeconfig, namespace, tmp_path / "operator.log", resync_seconds=RESYNC_SECONDS
    )
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
    log = proc.checked_log()
    assert "Forbidden" not in log, f"the operator's RBAC is missing something:\n{log[-4000:]}"
    assert "reconcile crashed" not in log, f"unexpected exception in a reconcile:\n{log[-4000:]}"
