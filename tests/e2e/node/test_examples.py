"""Every file in examples/ applied on the real node: accepted by the API server, and it converges.

The examples are applied as written, except what a machine without a registry must change: the
game server and Redis images point at the ones built for the node. Their Redis claims bind to
volumes in the run dir (no provisioner here writes as Redis's uid). Converged = the resource is
Ready: its game server pods (the production example's HPA keeps its minimum without a metrics
API) and its Redis pod really run and answer their probes. This node runs no metrics API, so an
autoscaled example's Ready is False with reason AutoscalerMetricsUnavailable (the operator says the
HPA cannot scale), given only once its replicas and Redis are ready: that counts as converged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.node import RealNode
from tests.e2e.node.battle import redis_volume
from tests.e2e.node.test_real_pods import pod_ready, pods
from tests.e2e.operator_helpers import ready as converged

pytestmark = pytest.mark.node

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yaml"))


def local_images(doc: dict[str, Any], node: RealNode) -> dict[str, Any]:
    spec = doc.setdefault("spec", {})
    spec["image"] = node.refs["server"]
    spec.setdefault("redis", {})["image"] = node.refs["redis"]
    return doc


def test_every_example_is_accepted_and_converges(
    installed_operator: None,
    real_node: RealNode,
    kubectl: Kubectl,
    namespace: str,
) -> None:
    assert len(EXAMPLES) >= 3, EXAMPLES
    names: dict[str, bool] = {}
    for path in EXAMPLES:
        doc = local_images(yaml.safe_load(path.read_text()), real_node)
        name = doc["metadata"]["name"]
        names[name] = "autoscaling" in doc["spec"]
        redis_volume(kubectl, real_node, namespace, name)
        kubectl.apply(doc)  # refused → CommandError with the API server's message
    for name, autoscaled in names.items():

        def ready(name: str = name, autoscaled: bool = autoscaled) -> bool:
            return converged(kubectl, name, autoscaled=autoscaled) is not None

        wait_for(ready, timeout=300, message=f"{name} Ready (or only missing HPA metrics)")
        status = kubectl.get("travellervtt", name)["status"]
        running = [p for p in pods(kubectl, f"app.kubernetes.io/instance={name}") if pod_ready(p)]
        components = [p["metadata"]["labels"].get("app.kubernetes.io/component") for p in running]
        servers = components.count("gameserver")
        assert servers >= 1, status  # the HPA may still be on its way to its minimum
        assert status["readyReplicas"] >= 1, status
        assert components.count("redis") == 1, f"{name}: its Redis pod runs (Redis is the default)"
        print(f"{name}: Ready with {servers} game server pod(s) and Redis")
