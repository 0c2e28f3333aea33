"""The reconciler's failure paths without a cluster: API outages are retried, never crash it,
and a manual rollback is reported at least once even when the status write fails."""

from __future__ import annotations

import copy
from typing import Any

import aiohttp
import pytest
from tvtt_operator.builders import ANNOTATION_TEMPLATE_HASH, build_children, template_hash
from tvtt_operator.cache import Cache
from tvtt_operator.config import OperatorConfig
from tvtt_operator.kinds import CONFIG_MAP, ChildKind
from tvtt_operator.kube import KubeClient, KubeError
from tvtt_operator.models import TravellerVTT
from tvtt_operator.reconciler import Reconciler

KEY = ("games", "skirmish")


class FakeClient:
    """Records writes; `fail_status` makes every status patch fail like an unreachable server."""

    def __init__(self, *, fail_status: bool = False) -> None:
        self.fail_status = fail_status
        self.applied: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []

    async def apply(self, manifest: dict[str, Any], *, manager: str = "") -> dict[str, Any]:
        self.applied.append(f"{manifest['kind']}/{manifest['metadata']['name']}")
        return copy.deepcopy(manifest)

    async def delete(self, kind: ChildKind, namespace: str, name: str) -> None:
        raise AssertionError("nothing to delete here")

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        if self.fail_status:
            raise KubeError(0, "Unavailable", "API server unreachable")
        self.statuses.append(status)
        return {"kind": "TravellerVTT", "metadata": {"namespace": namespace, "name": name}}

    async def post_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)


def warnings(client: FakeClient) -> list[dict[str, Any]]:
    """The Warning Events (Normal ones report transitions: created, rolling out ...)."""
    return [e for e in client.events if e["type"] == "Warning"]


def body(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {"name": "skirmish", "namespace": "games", "uid": "u1", "generation": 1},
        # In-memory: the fewest children (one Service), which is what these tests count.
        "spec": {"redis": {"enabled": False}},
        "status": status or {},
    }


def reconciler(client: FakeClient, cache: Cache) -> Reconciler:
    return Reconciler(client, cache, OperatorConfig())  # type: ignore[arg-type]


async def test_a_failed_status_write_is_a_retry_not_a_crash() -> None:
    cache = Cache()
    cache.put(body())
    client = FakeClient(fail_status=True)
    assert await reconciler(client, cache).reconcile(KEY) is False
    assert "Deployment/skirmish" in client.applied  # the children were still written


async def test_manual_rollback_event_is_sent_even_if_the_status_write_fails() -> None:
    tvtt = TravellerVTT.model_validate(body())
    rendered = build_children(tvtt)
    deployment = next(m for m in rendered if m["kind"] == "Deployment")
    status = {"appliedGeneration": 1, "appliedTemplateHash": template_hash(deployment)}
    cache = Cache()
    cache.put(body(status))
    for child in rendered:
        cache.put(child)
    rolled_back = copy.deepcopy(deployment)
    rolled_back["spec"]["template"]["metadata"]["annotations"][ANNOTATION_TEMPLATE_HASH] = "older"
    cache.put(rolled_back)

    client = FakeClient(fail_status=True)
    assert await reconciler(client, cache).reconcile(KEY) is False
    assert [e["reason"] for e in warnings(client)] == ["ManualRollback"]
    assert "Deployment/skirmish" not in client.applied  # the rollback is left alone

    # The status never recorded the rollback, so the next attempt reports it again.
    client.fail_status = False
    assert await reconciler(client, cache).reconcile(KEY) is True
    assert [e["reason"] for e in warnings(client)] == ["ManualRollback", "ManualRollback"]
    (written,) = client.statuses
    overridden = {c["type"]: c for c in written["conditions"]}["TemplateOverridden"]
    assert (overridden["status"], overridden["reason"]) == ("True", "ManualRollback")


class UnreachableApi:
    """Stands in for kubernetes_asyncio's ApiClient while the API server restarts."""

    async def call_api(self, *args: Any, **kwargs: Any) -> Any:
        raise aiohttp.ClientConnectionError("Connection refused")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.apply({"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "a", "namespace": "n"}}), id="apply"),
        pytest.param(lambda c: c.patch_status("n", "a", {}), id="status"),
        pytest.param(lambda c: c.delete(CONFIG_MAP, "n", "a"), id="delete"),
    ],
)  # fmt: skip
async def test_an_unreachable_api_server_raises_kube_error(call: Any) -> None:
    client = KubeClient(api=UnreachableApi())  # type: ignore[arg-type]
    with pytest.raises(KubeError) as info:
        await call(client)
    assert info.value.status == 0
    assert "unreachable" in info.value.message


class PartlyRefusingClient(FakeClient):
    """Refuses applies of one kind with the API server's own message; keeps the status."""

    def __init__(
        self, refused_kind: str, message: str, owner: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.owner = owner or body()
        self.refused_kind = refused_kind
        self.message = message
        self.patches: list[tuple[str, list[dict[str, Any]]]] = []

    async def apply(self, manifest: dict[str, Any], *, manager: str = "") -> dict[str, Any]:
        if manifest["kind"] == self.refused_kind:
            raise KubeError(422, "Invalid", self.message)
        return await super().apply(manifest, manager=manager)

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        await super().patch_status(namespace, name, status)
        meta = {**self.owner["metadata"], "resourceVersion": str(9 + len(self.statuses))}
        return {**self.owner, "status": status, "metadata": meta}

    async def json_patch(
        self, kind: ChildKind, namespace: str, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self.patches.append((f"{kind.kind}/{name}", operations))
        raise AssertionError("no drift here")


async def test_a_refused_child_degrades_with_the_api_message_and_the_others_are_applied() -> None:
    cache = Cache()
    cache.put(body())
    message = 'Service "skirmish" is invalid: spec.ports[0].nodePort: Invalid value: 99'
    client = PartlyRefusingClient("Service", message)
    rec = reconciler(client, cache)
    assert await rec.reconcile(KEY) is False
    assert "Service/skirmish" not in client.applied
    assert {"ConfigMap/skirmish-config", "Deployment/skirmish", "PodDisruptionBudget/skirmish"} <= (
        set(client.applied)
    )
    (status,) = client.statuses
    degraded = {c["type"]: c for c in status["conditions"]}["Degraded"]
    assert degraded["status"] == "True"
    assert degraded["message"] == f"Service/skirmish: {message}"
    assert status.get("appliedGeneration") is None  # not recorded: the next try applies again
    assert [(e["reason"], e["message"]) for e in warnings(client)] == [
        ("ApplyFailed", f"Service/skirmish: {message}")
    ]
    # The same failure again: no second Event, no status write (nothing changed).
    events_before = len(client.events)
    assert await rec.reconcile(KEY) is False
    assert len(client.events) == events_before
    assert len(client.statuses) == 1


class DriftClient(FakeClient):
    """Returns applied objects; records JSON patches and answers them like the API server."""

    def __init__(self) -> None:
        super().__init__()
        self.patches: list[list[dict[str, Any]]] = []
        self.live: dict[str, dict[str, Any]] = {}

    async def json_patch(
        self, kind: ChildKind, namespace: str, name: str, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self.patches.append(operations)
        patched = copy.deepcopy(self.live[f"{kind.kind}/{name}"])
        patched["spec"]["template"]["spec"]["containers"][0]["env"].pop()
        patched["metadata"]["managedFields"] = []
        return patched


async def test_drift_is_corrected_with_an_event() -> None:
    tvtt = TravellerVTT.model_validate(body())
    rendered = build_children(tvtt)
    deployment = next(m for m in rendered if m["kind"] == "Deployment")
    status = {"appliedGeneration": 1, "appliedTemplateHash": template_hash(deployment)}
    cache = Cache()
    cache.put(body(status))
    for child in rendered:
        cache.put(child)
    drifted = copy.deepcopy(deployment)
    container = drifted["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "ALLOWED_ORIGINS", "value": "*"})
    added = len(container["env"]) - 1
    drifted["metadata"]["managedFields"] = [
        {"manager": "kubectl-set", "operation": "Update", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
             'k:{"name":"gameserver"}': {"f:env": {'k:{"name":"ALLOWED_ORIGINS"}': {}}}}}}}}},
    ]  # fmt: skip
    cache.put(drifted)
    client = DriftClient()
    client.live["Deployment/skirmish"] = drifted
    assert await reconciler(client, cache).reconcile(KEY) is True
    assert client.applied == []  # nothing of ours changed: only the addition goes
    (patch,) = client.patches
    assert patch[-1] == {"op": "remove", "path": f"/spec/template/spec/containers/0/env/{added}"}
    (event,) = warnings(client)
    assert event["reason"] == "DriftCorrected"
    assert f"env[{added}] (added by kubectl-set)" in event["message"]
    after = cache.children(KEY)[("Deployment", "skirmish")]
    assert "ALLOWED_ORIGINS" not in {
        e["name"] for e in after["spec"]["template"]["spec"]["containers"][0]["env"]
    }


async def test_a_paused_resource_gets_no_writes_only_its_status_and_one_event() -> None:
    tvtt = TravellerVTT.model_validate(body())
    rendered = build_children(tvtt)
    cache = Cache()
    paused_body = {**body(), "spec": {"paused": True, "image": "new:2"}}
    cache.put(paused_body)
    drifted = copy.deepcopy(next(m for m in rendered if m["kind"] == "ConfigMap"))
    drifted["data"]["LOG_LEVEL"] = "debug"
    drifted["metadata"]["managedFields"] = [
        {"manager": "kubectl-patch", "operation": "Update", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:LOG_LEVEL": {}}}},
    ]  # fmt: skip
    cache.put(drifted)
    client = PartlyRefusingClient("none", "", owner=paused_body)
    rec = reconciler(client, cache)
    assert await rec.reconcile(KEY) is True
    assert client.applied == []  # no new image, no missing child created, no drift corrected
    assert client.patches == []
    (status,) = client.statuses
    paused = {c["type"]: c for c in status["conditions"]}["Paused"]
    assert (paused["status"], paused["reason"]) == ("True", "SpecPaused")
    assert [(e["reason"], e["type"]) for e in client.events] == [("Paused", "Normal")]
    # Still paused: no second Event and no status write.
    assert await rec.reconcile(KEY) is True
    assert len(client.events) == 1
    assert len(client.statuses) == 1
