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


def body(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {"name": "skirmish", "namespace": "games", "uid": "u1", "generation": 1},
        "spec": {},
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
    assert [e["reason"] for e in client.events] == ["ManualRollback"]
    assert "Deployment/skirmish" not in client.applied  # the rollback is left alone

    # The status never recorded the rollback, so the next attempt reports it again.
    client.fail_status = False
    assert await reconciler(client, cache).reconcile(KEY) is True
    assert [e["reason"] for e in client.events] == ["ManualRollback", "ManualRollback"]
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
