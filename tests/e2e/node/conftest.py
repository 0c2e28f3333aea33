"""Fixtures for the real-node suite: a kubelet + containerd node that really runs pods.

The node joins the session's control plane (tests/e2e/conftest.py) on first use and leaves
when this folder's tests are done. Missing pieces FAIL the suite loudly (`make node-bins` builds
them): these tests never skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.kube import Helm
from tests.cluster.node import (
    NODE_LABEL,
    NODE_NAME,
    NODE_TAINT,
    NodeError,
    RealNode,
    missing_commands,
    missing_pieces,
)
from tests.e2e.conftest import Cluster
from tests.e2e.test_chart import release_name

NO_NODE_FIRST = "test_node_harness.py"
"""Its test starts a node of its own in a child process, so it must run before this folder's
package-scoped `real_node` starts (one real node per machine: the child would find the lock
held)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run `NO_NODE_FIRST` before the other tests of this folder (their order is kept)."""
    here = [i for i, item in enumerate(items) if item.path.parent.name == "node"]
    ordered = sorted((items[i] for i in here), key=lambda item: item.path.name != NO_NODE_FIRST)
    for i, item in zip(here, ordered, strict=True):
        items[i] = item


@pytest.fixture(scope="package")
def real_node(control_plane: Cluster) -> Iterator[RealNode]:
    """The real node (Ready, images imported) for this folder's tests; stopped after them, so
    the rest of the e2e suite does not carry it. Its pods need `on_real_node()`."""
    if control_plane.control_plane is None:
        pytest.fail("the real-node suite runs on the loopback control plane only", pytrace=False)
    missing = missing_pieces() + missing_commands()
    if missing:
        pytest.fail(
            f"real-node pieces missing: {', '.join(missing)}. Run `make node-bins` "
            "(make e2e-node does this first).",
            pytrace=False,
        )
    node = RealNode(control_plane.control_plane)
    try:
        node.start()
    except NodeError as e:
        pytest.fail(f"real node failed to start: {e}", pytrace=False)
    try:
        yield node
    finally:
        node.stop()
    leaks = node.leaks()
    if leaks:
        pytest.fail(f"the real node left the host changed: {leaks}", pytrace=False)


def on_real_node() -> dict[str, Any]:
    """Pod spec fields that place a pod on the real node (kwok's fake nodes run nothing)."""
    return {
        "nodeSelector": {NODE_LABEL: "true"},
        "tolerations": [{**NODE_TAINT, "operator": "Equal"}],
    }


@pytest.fixture
def only_real_node(control_plane: Cluster, real_node: RealNode) -> Iterator[None]:
    """Pods without a toleration (the operator's Redis) must land on the real node: cordon
    kwok's nodes and lift the real node's taint for this test, then put both back."""
    admin = control_plane.kubectl()
    fake = admin("get", "nodes", "-l", "type=kwok", "-o", "name").split()
    taint = f"{NODE_TAINT['key']}={NODE_TAINT['value']}:{NODE_TAINT['effect']}"
    admin("cordon", *fake)
    admin("taint", "node", NODE_NAME, f"{NODE_TAINT['key']}-")
    try:
        yield
    finally:
        admin("uncordon", NODE_NAME)  # a drain test may have left it cordoned
        admin("taint", "node", NODE_NAME, taint, "--overwrite")
        admin("uncordon", *fake)


@pytest.fixture
def operator_values() -> dict[str, Any]:
    """Helm values on top of `installed_operator`'s defaults; a module overrides this fixture
    for its own (e.g. a faster pollSeconds)."""
    return {}


@pytest.fixture
def installed_operator(
    control_plane: Cluster,
    real_node: RealNode,
    only_real_node: None,
    helm: Helm,
    namespace: str,
    tmp_path: Path,
    operator_values: dict[str, Any],
) -> None:
    """The just-built operator, installed by Helm for this test (release named after its
    namespace), with every pod kept to the real node."""
    # Imported here: test_real_pods imports this conftest (on_real_node).
    from tests.e2e.node.test_real_pods import install_operator

    install_operator(
        helm, control_plane, real_node, release_name(namespace), tmp_path, extra=operator_values
    )
