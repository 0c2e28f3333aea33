"""spec.autoscaling end to end without a cluster: the model's defaults and refusals, the HPA the
floor renders, planning (no write while the floor stands), the AutoscalingFloor condition and its
Event, and the reconciler's poll: floor → HPA minReplicas, players → pod-deletion-cost, each write
one the RBAC rules grant."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from tvtt_operator.autoscaling import FloorReason, Window
from tvtt_operator.builders import build_children, build_hpa
from tvtt_operator.cache import Cache
from tvtt_operator.config import OperatorConfig
from tvtt_operator.deletion_cost import DELETION_COST
from tvtt_operator.kinds import BY_KIND, ChildKind
from tvtt_operator.kube import KubeError
from tvtt_operator.models import Autoscaling, TravellerVTT
from tvtt_operator.planning import plan_reconcile
from tvtt_operator.rbac import operator_rules
from tvtt_operator.reconciler import Reconciler

KEY = ("games", "skirmish")
FRIDAY_NOON = datetime(2026, 12, 4, 12, tzinfo=UTC)
GAME_NIGHT = {"name": "game-night", "start": "0 19 * * 5", "durationMinutes": 240, "minReplicas": 4}


def resource(
    autoscaling: dict[str, Any] | None, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"redis": {"enabled": True}}
    if autoscaling is not None:
        spec["autoscaling"] = autoscaling
    return {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {"name": "skirmish", "namespace": "games", "uid": "u1", "generation": 1},
        "spec": spec,
        "status": status or {},
    }


# --- the model ----------------------------------------------------------------------------------


def test_the_defaults_are_the_strategy_figures() -> None:
    a = Autoscaling()
    assert (a.min_replicas, a.max_replicas) == (2, 10)
    assert (a.target_cpu_utilization, a.scale_down_cpu_utilization) == (70, 30)
    assert (a.connections_per_pod, a.scale_down_connections_per_pod) == (500, 100)
    assert a.stabilization_window_seconds == 300
    # The HPA removes pods only when usage/target < 1 - tolerance: 30/70 ≈ 1 - 0.571.
    assert a.scale_down_tolerance == "571m"


def test_the_policy_carries_the_schedule() -> None:
    a = Autoscaling.model_validate({"schedule": [{**GAME_NIGHT, "timeZone": "Europe/Berlin"}]})
    assert a.policy().schedule == (Window("game-night", "0 19 * * 5", 240, 4, "Europe/Berlin"),)


@pytest.mark.parametrize(
    ("autoscaling", "words"),
    [
        pytest.param({"minReplicas": 5, "maxReplicas": 4}, "minReplicas must be <=", id="bounds"),
        pytest.param({"scaleDownCpuUtilization": 70}, "scaleDownCpuUtilization must be below",
                     id="cpu-thresholds"),
        pytest.param({"scaleDownConnectionsPerPod": 600}, "scaleDownConnectionsPerPod must be",
                     id="connection-thresholds"),
        pytest.param({"schedule": [{**GAME_NIGHT, "minReplicas": 11}]},
                     "schedule\\[\\].minReplicas must be <=", id="window-above-max"),
        pytest.param({"schedule": [GAME_NIGHT, GAME_NIGHT]}, "name must be unique",
                     id="duplicate-names"),
        pytest.param({"schedule": [{**GAME_NIGHT, "start": "0 25 * * 5"}]}, "five-field cron",
                     id="bad-cron"),
        pytest.param({"schedule": [{**GAME_NIGHT, "start": "0 19 * * 5-1"}]}, "runs backwards",
                     id="backwards-range"),
        pytest.param({"schedule": [{**GAME_NIGHT, "timeZone": "Mars/Olympus"}]},
                     "not an IANA time zone", id="bad-zone"),
        pytest.param({"schedule": [{**GAME_NIGHT, "durationMinutes": 0}]}, "greater than or equal",
                     id="zero-duration"),
        pytest.param({"schedule": [GAME_NIGHT | {"name": f"w{i}"} for i in range(17)]},
                     "at most 16", id="too-many-windows"),
        pytest.param({"connectionsPerPod": "many"}, "valid integer", id="not-a-number"),
    ],
)  # fmt: skip
def test_invalid_autoscaling_is_refused_naming_the_field(
    autoscaling: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValidationError, match=words):
        TravellerVTT.model_validate(resource(autoscaling))


# --- the HPA and planning -----------------------------------------------------------------------


def test_the_hpa_carries_the_floor_within_the_bounds_and_both_cpu_thresholds() -> None:
    tvtt = TravellerVTT.model_validate(resource({"maxReplicas": 6}))
    hpa = build_hpa(tvtt, 4)
    assert hpa is not None
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 6)
    assert hpa["spec"]["behavior"] == {
        "scaleUp": {"tolerance": "0"},
        "scaleDown": {"stabilizationWindowSeconds": 300, "tolerance": "571m"},
    }
    assert build_hpa(tvtt, 50)["spec"]["minReplicas"] == 6  # type: ignore[index]
    assert build_hpa(tvtt, 1)["spec"]["minReplicas"] == 2  # type: ignore[index]
    assert build_hpa(tvtt)["spec"]["minReplicas"] == 2  # type: ignore[index]


def live_world(tvtt: TravellerVTT, floor: int) -> dict[tuple[str, str], dict[str, Any]]:
    plan = plan_reconcile(tvtt, {}, fresh_password="pw", hpa_min_replicas=floor)
    return {(m["kind"], m["metadata"]["name"]): copy.deepcopy(m) for m in plan.applies}


def test_an_unchanged_floor_writes_nothing_and_a_new_one_only_the_hpa() -> None:
    tvtt = TravellerVTT.model_validate(resource({}))
    applied = plan_reconcile(tvtt, {}, fresh_password="pw", hpa_min_replicas=3)
    deployment = next(m for m in applied.applies if m["kind"] == "Deployment")
    done = TravellerVTT.model_validate(
        resource({}, {"appliedGeneration": 1, "appliedTemplateHash": applied.applied_template_hash})
    )
    assert deployment is not None
    live = live_world(tvtt, 3)
    assert plan_reconcile(done, live, hpa_min_replicas=3).writes == 0
    raised = plan_reconcile(done, live, hpa_min_replicas=5)
    assert [(m["kind"], m["spec"]["minReplicas"]) for m in raised.applies] == [
        ("HorizontalPodAutoscaler", 5)
    ]


# --- the reconciler -----------------------------------------------------------------------------


class FakePoller:
    """Answers /api/summary for the pods it knows."""

    def __init__(self, replies: dict[str, dict[str, Any]]) -> None:
        self.replies = replies

    async def poll_pods(self, pods: Mapping[str, str]) -> dict[str, Mapping[str, Any]]:
        return {name: self.replies[name] for name in pods if name in self.replies}

    async def close(self) -> None:
        return None


class RecordingClient:
    """Records every write as (verb, kind); answers like the API server would."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, str]] = []
        self.applied: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.pod_patches: list[tuple[str, dict[str, Any]]] = []
        self.pods: dict[str, dict[str, Any]] = {}
        self.owner: dict[str, Any] = {}

    async def apply(self, manifest: dict[str, Any], *, manager: str = "") -> dict[str, Any]:
        self.writes.append(("patch", manifest["kind"], manifest["metadata"]["name"]))
        self.applied.append(manifest)
        return copy.deepcopy(manifest)

    async def merge_patch(
        self, kind: ChildKind, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self.writes.append(("patch", kind.kind, name))
        if name not in self.pods:
            raise KubeError(404, "NotFound", f"pods {name!r} not found")
        self.pod_patches.append((name, body))
        pod = copy.deepcopy(self.pods[name])
        pod["metadata"].setdefault("annotations", {}).update(body["metadata"]["annotations"])
        pod["metadata"]["resourceVersion"] = str(int(pod["metadata"]["resourceVersion"]) + 1)
        self.pods[name] = pod
        return pod

    async def patch_status(
        self, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        self.writes.append(("patch", "TravellerVTT/status", name))
        self.statuses.append(status)
        self.owner = {**self.owner, "status": status}
        return copy.deepcopy(self.owner)

    async def post_event(self, event: dict[str, Any]) -> None:
        self.writes.append(("create", "Event", event["reason"]))
        self.events.append(event)


def pod(name: str, ip: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "games",
            "resourceVersion": "1",
            "labels": {
                "app.kubernetes.io/name": "traveller-vtt",
                "app.kubernetes.io/instance": "skirmish",
                "app.kubernetes.io/component": "gameserver",
                "app.kubernetes.io/managed-by": "traveller-vtt-operator",
            },
            "annotations": annotations or {},
        },
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]},
    }


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def setup(
    autoscaling: dict[str, Any] | None,
    replies: dict[str, dict[str, Any]],
    *,
    deletion_cost_seconds: float = 60.0,
) -> tuple[Reconciler, RecordingClient, Cache, Clock]:
    cache = Cache()
    cache.put(resource(autoscaling))
    client = RecordingClient()
    client.owner = resource(autoscaling)
    for i, name in enumerate(sorted(replies)):
        client.pods[name] = pod(name, f"10.0.0.{i + 1}")
        cache.put(client.pods[name])
    clock = Clock(FRIDAY_NOON)
    settings = OperatorConfig(deletion_cost_seconds=deletion_cost_seconds)
    rec = Reconciler(client, cache, settings, wall_clock=clock)  # type: ignore[arg-type]
    rec.poller = FakePoller(replies)  # type: ignore[assignment]
    return rec, client, cache, clock


def granted(verb: str, kind: str) -> bool:
    group, _, sub = kind.partition("/")
    target = BY_KIND[group]
    resource_name = f"{target.plural}/{sub}" if sub else target.plural
    return any(
        target.group in rule["apiGroups"]
        and resource_name in rule["resources"]
        and verb in rule["verbs"]
        for rule in operator_rules()
    )


def reply(players: int, connections: int, battles: int = 1) -> dict[str, Any]:
    return {"players": players, "connections": connections, "battles": battles}


async def test_each_pod_gets_its_players_as_deletion_cost_once_and_only_when_changed() -> None:
    replies = {"skirmish-a": reply(7, 9), "skirmish-b": reply(0, 2)}
    rec, client, cache, _ = setup({}, replies, deletion_cost_seconds=0)
    await rec._poll_one(KEY)
    assert sorted(
        (n, b["metadata"]["annotations"][DELETION_COST]) for n, b in client.pod_patches
    ) == [
        ("skirmish-a", "7"),
        ("skirmish-b", "0"),
    ]
    # The cache holds the patched pods: the next poll with the same figures writes nothing.
    assert cache.observed(KEY, "Pod")["skirmish-a"]["metadata"]["annotations"][DELETION_COST] == "7"
    client.pod_patches.clear()
    await rec._poll_one(KEY)
    assert client.pod_patches == []
    replies["skirmish-b"] = reply(3, 4)
    await rec._poll_one(KEY)
    assert [(n, b["metadata"]["annotations"][DELETION_COST]) for n, b in client.pod_patches] == [
        ("skirmish-b", "3")
    ]
    # Every write the poll made is one the operator's RBAC rules grant.
    assert client.writes
    assert all(granted(verb, kind) for verb, kind, _ in client.writes), client.writes


async def test_a_pod_is_written_at_most_once_per_interval() -> None:
    replies = {"skirmish-a": reply(1, 1)}
    rec, client, _, _ = setup({}, replies, deletion_cost_seconds=3600)
    await rec._poll_one(KEY)
    replies["skirmish-a"] = reply(2, 2)
    await rec._poll_one(KEY)
    assert [b["metadata"]["annotations"][DELETION_COST] for _, b in client.pod_patches] == ["1"]


async def test_a_pod_deleted_before_its_patch_is_no_error() -> None:
    replies = {"skirmish-a": reply(1, 1), "skirmish-b": reply(2, 2)}
    rec, client, _, _ = setup({}, replies)
    del client.pods["skirmish-b"]  # gone between the watch and the patch
    await rec._poll_one(KEY)
    assert [n for n, _ in client.pod_patches] == ["skirmish-a"]
    assert rec.alive()


async def test_garbage_player_counts_are_not_written() -> None:
    replies = {"skirmish-a": {"players": "lots", "connections": 3, "battles": 0}}
    rec, client, _, _ = setup({}, replies)
    await rec._poll_one(KEY)
    assert client.pod_patches == []


async def test_a_surge_raises_the_hpa_floor_with_a_condition_and_an_event() -> None:
    replies = {"skirmish-a": reply(10, 20), "skirmish-b": reply(10, 20)}
    rec, client, cache, clock = setup({}, replies)
    assert await rec.reconcile(KEY) is True
    (hpa,) = [m for m in client.applied if m["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["minReplicas"] == 2
    (status,) = client.statuses
    assert status["autoscalingFloor"] == 2
    floor = {c["type"]: c for c in status["conditions"]}["AutoscalingFloor"]
    assert (floor["status"], floor["reason"]) == ("False", "MinReplicas")
    # The cluster now holds what was applied and written.
    for manifest in client.applied:
        cache.put(copy.deepcopy(manifest))
    deployment = cache.children(KEY)[("Deployment", "skirmish")]
    deployment["spec"]["replicas"] = 2
    cache.put(deployment)

    # 1800 connections arrive: the next poll sees the floor differs and asks for a reconcile.
    replies.update({"skirmish-a": reply(900, 900), "skirmish-b": reply(900, 900)})
    client.applied.clear()
    clock.now += timedelta(seconds=30)
    await rec._poll_one(KEY)
    assert KEY in rec._queued
    assert await rec.reconcile(KEY) is True
    assert [(m["kind"], m["spec"]["minReplicas"]) for m in client.applied] == [
        ("HorizontalPodAutoscaler", 4)
    ]
    raised = client.statuses[-1]
    assert raised["autoscalingFloor"] == 4
    floor = {c["type"]: c for c in raised["conditions"]}["AutoscalingFloor"]
    assert (floor["status"], floor["reason"]) == ("True", FloorReason.CONNECTIONS.value)
    assert "1800 connections need 4 pods" in floor["message"]
    (event,) = [e for e in client.events if e["reason"] == "AutoscalingFloorChanged"]
    assert event["type"] == "Normal"
    assert event["message"] == (
        "HPA minReplicas 2 → 4 (Connections): 1800 connections need 4 pods at 500 per pod"
    )
    # The HPA apply, the status patch and the Events are all writes the RBAC rules grant.
    assert all(granted(verb, kind) for verb, kind, _ in client.writes), client.writes


async def test_the_schedule_is_checked_even_when_no_pod_answers() -> None:
    rec, client, cache, clock = setup({"schedule": [GAME_NIGHT]}, {})
    assert await rec.reconcile(KEY) is True
    for manifest in client.applied:
        cache.put(copy.deepcopy(manifest))
    await rec._poll_one(KEY)
    assert KEY not in rec._queued  # noon: the floor stands
    clock.now = FRIDAY_NOON.replace(hour=19, minute=1)
    await rec._poll_one(KEY)
    assert KEY in rec._queued


async def test_without_autoscaling_there_is_no_floor_and_no_condition() -> None:
    rec, client, _, _ = setup(None, {"skirmish-a": reply(1, 1)})
    assert await rec.reconcile(KEY) is True
    (status,) = client.statuses
    assert "autoscalingFloor" not in status
    assert "AutoscalingFloor" not in {c["type"] for c in status["conditions"]}
    assert not any(m["kind"] == "HorizontalPodAutoscaler" for m in client.applied)


def test_the_rendered_hpa_is_a_child_the_rbac_may_write() -> None:
    tvtt = TravellerVTT.model_validate(resource({}))
    kinds = {m["kind"] for m in build_children(tvtt)}
    assert "HorizontalPodAutoscaler" in kinds
    assert granted("patch", "HorizontalPodAutoscaler")
    assert granted("patch", "Pod")
