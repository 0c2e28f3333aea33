"""Helpers of the operator e2e tests: resources, waits that quote the operator's log, readers.

The fixtures (`crd`, `operator`) live in conftest.py; these are plain functions the operator test
modules share.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tvtt_operator.kinds import CHILD_KINDS
from tvtt_operator.models import API_VERSION, KIND

from tests.cluster.kube import Kubectl, wait_for
from tests.cluster.operator_process import OperatorProcess

T = TypeVar("T")
Key = tuple[str, str]

INSTANCE = "app.kubernetes.io/instance"
CHILD_RESOURCES = ",".join(kind.resource for kind in CHILD_KINDS)
RESYNC_SECONDS = 1.0
MANAGED = "--show-managed-fields"  # kubectl hides managedFields otherwise
IMAGE_V1 = "ghcr.io/traveller-vtt/gameserver:0.1.0"
IMAGE_V2 = "ghcr.io/traveller-vtt/gameserver:0.2.0"
IMAGE_V3 = "ghcr.io/traveller-vtt/gameserver:0.3.0"


def tvtt(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": spec}


def wait(
    op: OperatorProcess,
    predicate: Callable[[], T | None],
    message: str,
    timeout: float = 90.0,
) -> T:
    """`wait_for` that quotes the operator's log on timeout (what it was doing instead)."""
    try:
        return wait_for(predicate, timeout=timeout, message=message)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- operator log ---\n{op.output()}") from None


def settle(op: OperatorProcess, rounds: int = 3) -> None:
    """Wait until a few more resync rounds have run (each reconciles every resource)."""
    op.wait_reconciles(op.reconciles() + rounds)


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def ready(
    kubectl: Kubectl, name: str, generation: int | None = None, *, autoscaled: bool = False
) -> dict[str, Any] | None:
    """The resource once status says Ready for its current generation (optionally a given one).

    `autoscaled`: kwok runs no metrics-server, so an autoscaled resource's Ready is False with
    reason AutoscalerMetricsUnavailable once the HPA has tried; everything else being ready
    counts then (that reason is only given when replicas and Redis are ready).
    """
    obj: dict[str, Any] = kubectl.get("travellervtt", name)
    gen = obj["metadata"]["generation"]
    cond = conditions(obj).get("Ready", {})
    serving = cond.get("status") == "True" or (
        autoscaled and cond.get("reason") == "AutoscalerMetricsUnavailable"
    )
    ok = (
        (generation is None or gen == generation)
        and (obj.get("status") or {}).get("observedGeneration") == gen
        and serving
    )
    return obj if ok else None


def children(kubectl: Kubectl, name: str) -> dict[Key, dict[str, Any]]:
    """Every child of one resource by (kind, name), found by its instance label."""
    items = kubectl.get(CHILD_RESOURCES, None, "-l", f"{INSTANCE}={name}", MANAGED)["items"]
    return {(o["kind"], o["metadata"]["name"]): o for o in items}


def events(kubectl: Kubectl, name: str, reason: str) -> list[dict[str, Any]]:
    """Events of one TravellerVTT with one reason (what `kubectl describe` lists)."""
    selector = f"involvedObject.kind={KIND},involvedObject.name={name},reason={reason}"
    items: list[dict[str, Any]] = kubectl.get("events", None, "--field-selector", selector)["items"]
    return items


def table_cells(table: str) -> dict[str, str]:
    """`kubectl get` output (header and one row) as column → cell, cut at the header's column
    starts, so an empty cell (BATTLES before any poll) does not shift the others."""
    header, row = table.strip("\n").splitlines()
    names = header.split()
    starts = [header.index(f" {n}") + 1 if i else 0 for i, n in enumerate(names)]
    ends = [*starts[1:], None]
    return {n: row[a:b].strip() for n, a, b in zip(names, starts, ends, strict=True)}


def pods(kubectl: Kubectl, name: str, component: str) -> list[dict[str, Any]]:
    selector = f"{INSTANCE}={name},app.kubernetes.io/component={component}"
    items: list[dict[str, Any]] = kubectl.get("pods", None, "-l", selector)["items"]
    return items


def image_of(deployment: dict[str, Any]) -> str:
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image
