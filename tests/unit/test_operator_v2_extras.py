"""Pure pieces of the operator's Redis password, claim expansion, summaries, HPA metrics and
Lease: no cluster, real object shapes (as the API server and the HPA controller write them)."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from tvtt_operator.builders import (
    Inputs,
    build_children,
    redis_maxmemory,
    render_redis_conf,
    secret_password,
)
from tvtt_operator.config import OperatorConfig
from tvtt_operator.leader import lease_body
from tvtt_operator.models import ConditionStatus, ConditionType, TravellerVTT
from tvtt_operator.planning import plan_expansion, plan_reconcile, render_inputs
from tvtt_operator.status import (
    Summary,
    build_status,
    combine_summaries,
    observe,
    ready_pod_addresses,
    transitions,
)
from tvtt_operator.summary import summary_url

REDIS = {"redis": {"enabled": True}}


def make(spec: dict[str, Any], *, generation: int = 1, status: Any = None) -> TravellerVTT:
    return TravellerVTT.model_validate(
        {
            "metadata": {"name": "skirmish", "namespace": "games", "uid": "u-1",
                         "generation": generation},
            "spec": spec,
            "status": status or {},
        }
    )  # fmt: skip


def live_of(tvtt: TravellerVTT, password: str = "p4ss") -> dict[tuple[str, str], Any]:
    children = build_children(tvtt, Inputs(redis_password=password))
    return {(m["kind"], m["metadata"]["name"]): copy.deepcopy(m) for m in children}


class TestRedisPassword:
    def test_the_live_password_is_kept_and_a_fresh_one_only_fills_a_missing_secret(self) -> None:
        tvtt = make(REDIS)
        live = live_of(tvtt, "kept-password")
        assert render_inputs(tvtt, live, "fresh").redis_password == "kept-password"
        kept = plan_reconcile(tvtt, live, fresh_password="fresh")
        assert all(m["kind"] != "Secret" for m in kept.applies)
        del live[("Secret", "skirmish-redis-auth")]
        assert render_inputs(tvtt, live, "fresh").redis_password == "fresh"
        (secret,) = [
            m for m in plan_reconcile(tvtt, live, fresh_password="fresh").applies
            if m["kind"] == "Secret"
        ]  # fmt: skip
        assert base64.b64decode(secret["data"]["password"]) == b"fresh"

    def test_the_password_is_never_in_a_configmap_or_a_pod_template(self) -> None:
        for manifest in build_children(make(REDIS), Inputs(redis_password="s3cret-value")):
            if manifest["kind"] != "Secret":
                assert "s3cret-value" not in str(manifest), manifest["kind"]

    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            pytest.param({"password": base64.b64encode(b"abc").decode()}, "abc", id="ok"),
            pytest.param({}, None, id="no-key"),
            pytest.param({"password": "!!not base64"}, None, id="garbage"),
        ],
    )
    def test_secret_password_reads_only_valid_data(
        self, data: dict[str, str], expected: str | None
    ) -> None:
        assert secret_password({"data": data}) == expected

    @pytest.mark.parametrize(
        ("limit", "maxmemory"),
        [
            pytest.param("256Mi", 192 * 2**20, id="default"),
            pytest.param("1Gi", 768 * 2**20, id="gibibyte"),
            pytest.param("1G", 750_000_000, id="decimal"),
            pytest.param(None, None, id="no-limit"),
        ],
    )
    def test_maxmemory_is_three_quarters_of_the_limit_with_noeviction(
        self, limit: str | None, maxmemory: int | None
    ) -> None:
        tvtt = make({"redis": {"enabled": True, "resources": {"limits": {"memory": limit}}}})
        assert redis_maxmemory(tvtt) == maxmemory
        lines = render_redis_conf(tvtt).splitlines()
        assert "maxmemory-policy noeviction" in lines
        assert (f"maxmemory {maxmemory}" in lines) == (maxmemory is not None)


class TestNetworkPolicies:
    def test_redis_admits_only_this_resources_game_servers_on_its_port(self) -> None:
        kids = live_of(make(REDIS))
        policy = kids[("NetworkPolicy", "skirmish-redis")]["spec"]
        assert policy["policyTypes"] == ["Ingress"]
        (rule,) = policy["ingress"]
        (source,) = rule["from"]
        assert source["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "gameserver"
        assert source["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "skirmish"
        assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]

    def test_game_servers_are_reachable_on_their_port_only(self) -> None:
        policy = live_of(make({}))[("NetworkPolicy", "skirmish")]["spec"]
        assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 3000}]}]


def claim(requested: str, capacity: str | None = None, phase: str = "Bound") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if capacity is not None:
        status["capacity"] = {"storage": capacity}
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-skirmish-redis-0", "namespace": "games"},
        "spec": {"resources": {"requests": {"storage": requested}}},
        "status": status,
    }


class TestClaim:
    @pytest.mark.parametrize(
        ("size", "requested", "expected"),
        [
            pytest.param("2Gi", "1Gi", "2Gi", id="grown"),
            pytest.param("1Gi", "1Gi", None, id="same"),
            pytest.param("1Gi", "1024Mi", None, id="same-other-spelling"),
            pytest.param("1Gi", "5Gi", None, id="claim-bigger"),
        ],
    )
    def test_a_smaller_claim_is_expanded_to_the_spec(
        self, size: str, requested: str, expected: str | None
    ) -> None:
        tvtt = make({"redis": {"enabled": True, "storageSize": size}})
        assert plan_expansion(tvtt, claim(requested)) == expected

    def test_a_refused_expansion_waits_for_the_next_generation(self) -> None:
        refused = {
            "conditions": [
                {"type": "RedisStorageReady", "status": "False", "reason": "ExpansionRefused",
                 "message": "no", "lastTransitionTime": "t0", "observedGeneration": 2}
            ]
        }  # fmt: skip
        spec = {"redis": {"enabled": True, "storageSize": "2Gi"}}
        assert plan_expansion(make(spec, generation=2, status=refused), claim("1Gi")) is None
        assert plan_expansion(make(spec, generation=3, status=refused), claim("1Gi")) == "2Gi"

    def test_the_statefulset_keeps_its_immutable_claim_template_size(self) -> None:
        old = make({"redis": {"enabled": True, "storageSize": "1Gi"}})
        new = make({"redis": {"enabled": True, "storageSize": "3Gi"}}, generation=2)
        live = live_of(old)
        inputs = render_inputs(new, live, "x")
        assert inputs.redis_claim_size == "1Gi"
        plan = plan_reconcile(new, live, claim=claim("1Gi", "1Gi"))
        assert all(m["kind"] != "StatefulSet" for m in plan.applies)
        assert plan.expand_claim_to == "3Gi"

    @pytest.mark.parametrize(
        ("pvc", "error", "expected"),
        [
            pytest.param(None, None, ("True", "ClaimPending"), id="no-claim-yet"),
            pytest.param(claim("2Gi", "2Gi"), None, ("True", "SizeAsSpecified"), id="fits"),
            pytest.param(claim("2Gi", "1Gi"), None, ("False", "Expanding"), id="resizing"),
            pytest.param(
                claim("1Gi", "1Gi"), "refused: no", ("False", "ExpansionRefused"), id="refused"
            ),
        ],
    )
    def test_storage_condition_and_status(
        self, pvc: dict[str, Any] | None, error: str | None, expected: tuple[str, str]
    ) -> None:
        tvtt = make({"redis": {"enabled": True, "storageSize": "2Gi"}})
        status = build_status(
            tvtt, {}, template_overridden=False, error=None, now="t1", claim=pvc,
            expansion_error=error,
        )  # fmt: skip
        (cond,) = [c for c in status.conditions if c.type == ConditionType.REDIS_STORAGE_READY]
        assert (cond.status.value, cond.reason) == expected
        if pvc is not None:
            assert status.redis_volume is not None
            assert status.redis_volume.capacity == pvc["status"]["capacity"]["storage"]
            assert status.redis_volume.claim_name == "data-skirmish-redis-0"
        if error is not None:
            assert cond.message == error
            events = transitions(tvtt.status, status)
            assert ("Warning", "RedisVolumeExpansionRefused", error) in events


# The status the HPA controller writes when metrics-server is missing (kubectl get hpa -o yaml).
HPA_WITHOUT_METRICS: dict[str, Any] = {
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "skirmish", "namespace": "games"},
    "status": {
        "currentReplicas": 2,
        "desiredReplicas": 2,
        "currentMetrics": None,
        "conditions": [
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale",
             "message": "the HPA controller was able to get the target's current scale",
             "lastTransitionTime": "2026-12-02T09:00:00Z"},
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
             "message": "the HPA was unable to compute the replica count: failed to get cpu "
                        "utilization: unable to get metrics for resource cpu: unable to fetch "
                        "metrics from resource metrics API: the server could not find the "
                        "requested resource (get pods.metrics.k8s.io)",
             "lastTransitionTime": "2026-12-02T09:00:00Z"},
        ],
    },
}  # fmt: skip
HPA_SCALED_TO_ZERO = copy.deepcopy(HPA_WITHOUT_METRICS)
HPA_SCALED_TO_ZERO["status"]["conditions"][1].update(
    reason="ScalingDisabled", message="scaling is disabled since the replica count is zero"
)


def ready_deployment(replicas: int = 2) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "skirmish", "generation": 1},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": []}}},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": replicas},
    }  # fmt: skip


class TestAutoscalerMetrics:
    SPEC: ClassVar[dict[str, Any]] = {"autoscaling": {"minReplicas": 2, "maxReplicas": 4}, **REDIS}

    def live(self, hpa: dict[str, Any]) -> dict[tuple[str, str], Any]:
        sts = {"kind": "StatefulSet", "metadata": {"name": "skirmish-redis"},
               "status": {"readyReplicas": 1}}  # fmt: skip
        return {
            ("Deployment", "skirmish"): ready_deployment(),
            ("HorizontalPodAutoscaler", "skirmish"): hpa,
            ("StatefulSet", "skirmish-redis"): sts,
        }

    def test_no_metrics_makes_ready_false_with_the_hpas_words(self) -> None:
        tvtt = make(self.SPEC)
        o = observe(tvtt, self.live(HPA_WITHOUT_METRICS), template_overridden=False, error=None)
        assert o.hpa_no_metrics is not None
        assert o.hpa_no_metrics.startswith("FailedGetResourceMetric: the HPA was unable")
        status = build_status(
            tvtt, self.live(HPA_WITHOUT_METRICS), template_overridden=False, error=None, now="t"
        )
        (ready,) = [c for c in status.conditions if c.type == ConditionType.READY]
        assert ready.status == ConditionStatus.FALSE
        assert ready.reason == "AutoscalerMetricsUnavailable"
        assert "pods.metrics.k8s.io" in ready.message
        assert ("Warning", "AutoscalerMetricsUnavailable", ready.message) in transitions(
            tvtt.status, status
        )
        # Also when Ready was already False for another reason (pods still starting).
        starting = make(
            self.SPEC,
            status={
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "ReplicasNotReady",
                     "lastTransitionTime": "t0"}
                ]
            },
        )  # fmt: skip
        events = transitions(starting.status, status)
        assert [e for e in events if e[1] == "AutoscalerMetricsUnavailable"]
        assert not [
            e for e in transitions(status, status) if e[1] == "AutoscalerMetricsUnavailable"
        ]

    def test_scaling_disabled_is_not_a_metrics_problem(self) -> None:
        tvtt = make(self.SPEC)
        status = build_status(
            tvtt, self.live(HPA_SCALED_TO_ZERO), template_overridden=False, error=None, now="t"
        )
        (ready,) = [c for c in status.conditions if c.type == ConditionType.READY]
        assert (ready.status, ready.reason) == (ConditionStatus.TRUE, "AllReplicasReady")


def pod(ip: str | None, ready: bool, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"p-{ip}"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T09:00:00Z"
    status: dict[str, Any] = {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]
    }
    if ip is not None:
        status["podIP"] = ip
    return {"kind": "Pod", "metadata": meta, "status": status}


class TestSummaries:
    def test_only_ready_pods_with_an_address_are_polled(self) -> None:
        pods = {
            "a": pod("10.0.0.2", True),
            "b": pod("10.0.0.1", True),
            "c": pod("10.0.0.3", False),
            "d": pod(None, True),
            "e": pod("10.0.0.4", True, deleting=True),
        }
        assert ready_pod_addresses(pods) == ["10.0.0.1", "10.0.0.2"]

    def test_a_battle_on_two_pods_counts_once_and_players_add_up(self) -> None:
        replies = [
            {"battles": 2, "players": 3, "battleDigests": ["aa", "bb"]},
            {"battles": 1, "players": 1, "battleDigests": ["bb"]},
        ]
        assert combine_summaries(replies) == Summary(battles=2, players=4)

    def test_ipv6_pod_addresses_are_bracketed(self) -> None:
        assert summary_url("fd00::5") == "http://[fd00::5]:3000/api/summary"
        assert summary_url("10.1.2.3") == "http://10.1.2.3:3000/api/summary"

    def test_status_carries_the_summary_and_keeps_it_when_no_poll_answered(self) -> None:
        tvtt = make({}, status={"battles": 4, "players": 9})
        kept = build_status(tvtt, {}, template_overridden=False, error=None, now="t")
        assert (kept.battles, kept.players) == (4, 9)
        fresh = build_status(
            tvtt, {}, template_overridden=False, error=None, now="t", summary=Summary(1, 2)
        )
        assert (fresh.battles, fresh.players) == (1, 2)


class TestLease:
    NOW = datetime(2026, 12, 2, 9, 30, 0, 123456, tzinfo=UTC)

    def test_a_new_lease_names_its_holder_and_duration(self) -> None:
        body = lease_body("op", "ops", "pod-a", 15.0, self.NOW)
        assert body["spec"] == {
            "holderIdentity": "pod-a",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-12-02T09:30:00.123456Z",
            "renewTime": "2026-12-02T09:30:00.123456Z",
            "leaseTransitions": 0,
        }
        assert "resourceVersion" not in body["metadata"]

    def test_renewal_keeps_acquire_time_and_takeover_counts_a_transition(self) -> None:
        previous = {
            "metadata": {"name": "op", "namespace": "ops", "resourceVersion": "41"},
            "spec": {"holderIdentity": "pod-a", "acquireTime": "then", "leaseTransitions": 3},
        }
        renewed = lease_body("op", "ops", "pod-a", 15.0, self.NOW, previous=previous)
        assert renewed["metadata"]["resourceVersion"] == "41"  # conditional write
        assert renewed["spec"]["acquireTime"] == "then"
        assert renewed["spec"]["leaseTransitions"] == 3
        taken = lease_body("op", "ops", "pod-b", 15.0, self.NOW, previous=previous)
        assert taken["spec"]["acquireTime"] == "2026-12-02T09:30:00.123456Z"
        assert taken["spec"]["leaseTransitions"] == 4

    def test_timing_must_let_a_leader_give_up_before_others_take_over(self) -> None:
        with pytest.raises(ValueError, match="RENEW_DEADLINE"):
            OperatorConfig(leader_election=True, lease_duration_seconds=10,
                           renew_deadline_seconds=10)  # fmt: skip
        assert OperatorConfig(leader_election=True).lease_duration_seconds == 15
