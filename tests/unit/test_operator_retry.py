"""Retries of a broken resource: one pending retry per key, exponential backoff with jitter and a
cap, so the API calls it costs stay bounded over time whatever else asks for a reconcile."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import pytest
from tvtt_operator.cache import Cache
from tvtt_operator.config import OperatorConfig
from tvtt_operator.kinds import ChildKind
from tvtt_operator.kube import KubeError
from tvtt_operator.reconciler import Reconciler
from tvtt_operator.retry import RetryTimers, backoff_delay, backoff_wait

KEY = ("games", "broken")


@pytest.mark.parametrize(
    ("base", "cap"),
    [pytest.param(1.0, 60.0, id="defaults"), pytest.param(0.05, 0.2, id="fast")],
)
def test_delays_grow_exponentially_with_jitter_up_to_the_cap(base: float, cap: float) -> None:
    wait = backoff_wait(base, cap)
    for failures in range(1, 16):
        full = min(cap, base * 2 ** (failures - 1))
        delays = {backoff_delay(wait, failures) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays), (failures, sorted(delays))
        assert len(delays) > 1  # jittered: resources failing together spread out


async def test_a_key_has_at_most_one_pending_retry() -> None:
    fired: list[str] = []
    timers: RetryTimers[str] = RetryTimers(0.02, 0.05)
    for _ in range(5):
        timers.failed("k", fired.append)
    assert timers.waiting("k")
    assert timers.failures("k") == 5
    await asyncio.sleep(0.15)
    assert fired == ["k"]
    assert not timers.waiting("k")
    timers.succeeded("k")
    assert timers.failures("k") == 0


class RejectingApi:
    """An API server that refuses every child apply (say, a quota or an admission webhook) but
    accepts the status; counts each call with its time."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.applies: list[float] = []

    async def apply(self, manifest: dict[str, Any], *, manager: str = "") -> dict[str, Any]:
        if manifest["kind"] == "Deployment":  # one per reconcile: every child is tried
            self.applies.append(time.monotonic())
        raise KubeError(403, "Forbidden", "exceeded quota: games-quota")

    async def delete(self, kind: ChildKind, namespace: str, name: str) -> None:
        raise AssertionError("nothing to delete here")

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        self.body = {**copy.deepcopy(self.body), "status": status}
        self.body["metadata"]["resourceVersion"] = str(
            int(self.body["metadata"]["resourceVersion"]) + 1
        )
        return copy.deepcopy(self.body)

    async def post_event(self, event: dict[str, Any]) -> None:
        pass


async def test_a_broken_resource_costs_bounded_api_calls_over_time() -> None:
    body = {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {
            "name": KEY[1],
            "namespace": KEY[0],
            "uid": "u1",
            "generation": 1,
            "resourceVersion": "1",
        },
        "spec": {},
    }
    api = RejectingApi(body)
    cache = Cache()
    cache.put(body)
    # A resync far more often than the backoff: before, each one started another retry chain.
    config = OperatorConfig(
        workers=2, resync_seconds=0.02, min_backoff_seconds=0.05, max_backoff_seconds=0.2
    )
    reconciler = Reconciler(api, cache, config)  # type: ignore[arg-type]
    reconciler.start()
    started = time.monotonic()
    reconciler.enqueue(KEY)
    try:
        await asyncio.sleep(2.0)
    finally:
        await reconciler.stop()
    first = sum(1 for t in api.applies if t - started < 1.0)
    second = len(api.applies) - first
    # Retries are at least cap/2 = 0.1 s apart once the backoff saturates (0.05, 0.1, 0.2 …
    # capped at 0.2, half of it random).
    assert 5 <= first <= 14, api.applies
    assert 5 <= second <= 11, api.applies  # flat, not growing: one chain only
    assert reconciler.retries.failures(KEY) == len(api.applies)


class ForbiddenApi(RejectingApi):
    """RBAC taken away: every write, the status too, is refused with 403."""

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        raise KubeError(403, "Forbidden", "cannot patch resource travellervtts/status")


async def test_healthz_fails_when_every_write_has_been_forbidden_for_a_while() -> None:
    body = {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {"name": KEY[1], "namespace": KEY[0], "uid": "u1", "resourceVersion": "1"},
        "spec": {},
    }
    cache = Cache()
    cache.put(body)
    config = OperatorConfig(forbidden_unhealthy_seconds=0.3, min_backoff_seconds=0.05)
    forbidden = ForbiddenApi(body)
    reconciler = Reconciler(forbidden, cache, config)  # type: ignore[arg-type]
    reconciler.start()
    try:
        assert await reconciler.reconcile(KEY) is False
        assert reconciler.alive()  # refused, but not for long yet
        await asyncio.sleep(0.4)
        assert not reconciler.alive()
        # RBAC restored: the next accepted write makes it healthy again.
        reconciler.client = RejectingApi(body)  # type: ignore[assignment]
        assert await reconciler.reconcile(KEY) is False  # applies refused (quota), status written
        assert reconciler.alive()
    finally:
        await reconciler.stop()
