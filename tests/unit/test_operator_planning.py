"""What the reconciler writes, decided without a cluster: steady state, drift, rollback, HPA."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tvtt_operator.builders import (
    ANNOTATION_TEMPLATE_HASH,
    FIELD_MANAGER,
    HANDOVER_FIELD_MANAGER,
    build_children,
    template_hash,
)
from tvtt_operator.models import TravellerVTT
from tvtt_operator.planning import Plan, owns_replicas, plan_reconcile

REDIS = {"redis": {"enabled": True}}
Live = dict[tuple[str, str], dict[str, Any]]


def make(
    spec: dict[str, Any] | None = None,
    *,
    generation: int = 1,
    applied: TravellerVTT | None = None,
) -> TravellerVTT:
    """A resource; `applied` is the earlier version whose template the status says was applied."""
    status: dict[str, Any] = {}
    if applied is not None:
        deployment = next(m for m in build_children(applied) if m["kind"] == "Deployment")
        status = {
            "appliedGeneration": applied.generation,
            "appliedTemplateHash": template_hash(deployment),
        }
    return TravellerVTT.model_validate(
        {
            "metadata": {
                "name": "skirmish",
                "namespace": "games",
                "uid": "u1",
                "generation": generation,
            },
            "spec": spec or {},
            "status": status,
        }
    )


def settled(spec: dict[str, Any] | None = None, *, generation: int = 1) -> TravellerVTT:
    """A resource whose current generation was fully applied (status records it)."""
    return make(spec, generation=generation, applied=make(spec, generation=generation))


def as_live(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the API server would return after our apply: defaults added, managedFields set."""
    live = copy.deepcopy(manifest)
    live["metadata"].update(resourceVersion="100", generation=1, uid="child")
    spec_fields: dict[str, Any] = {"f:selector": {}, "f:template": {}}
    if "replicas" in live.get("spec", {}):
        spec_fields["f:replicas"] = {}
    live["metadata"]["managedFields"] = [
        {"manager": FIELD_MANAGER, "operation": "Apply", "fieldsV1": {"f:spec": spec_fields}}
    ]
    if live["kind"] == "Deployment":
        live["spec"].setdefault("replicas", 1)
        pod = live["spec"]["template"]["spec"]
        pod.update(
            restartPolicy="Always", dnsPolicy="ClusterFirst", schedulerName="default-scheduler"
        )
        for c in pod["containers"]:
            c.update(terminationMessagePath="/dev/termination-log", terminationMessagePolicy="File")
        live["status"] = {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1}
    return live


def world(tvtt: TravellerVTT) -> Live:
    """The cluster right after a complete reconcile of `tvtt`."""
    return {(m["kind"], m["metadata"]["name"]): as_live(m) for m in build_children(tvtt)}


def applied(plan: Plan) -> list[tuple[str, str]]:
    return [(m["kind"], m["metadata"]["name"]) for m in plan.applies]


DEPLOYMENT = ("Deployment", "skirmish")


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({}, id="minimal"),
        pytest.param(
            {**REDIS, "replicas": 3, "ingress": {"host": "a.example"}}, id="redis-ingress"
        ),
        pytest.param({**REDIS, "autoscaling": {"maxReplicas": 5}}, id="autoscaled"),
    ],
)
def test_steady_state_writes_nothing(spec: dict[str, Any]) -> None:
    tvtt = settled(spec)
    plan = plan_reconcile(tvtt, world(tvtt))
    assert plan.writes == 0
    assert plan.template_overridden is False
    assert (plan.applied_generation, plan.applied_template_hash) == (
        tvtt.status.applied_generation,
        tvtt.status.applied_template_hash,
    )


def test_first_reconcile_applies_every_child_in_dependency_order() -> None:
    tvtt = make({**REDIS, "ingress": {"host": "a.example"}})
    plan = plan_reconcile(tvtt, {})
    order = applied(plan)
    assert order.index(("ConfigMap", "skirmish-config")) < order.index(DEPLOYMENT)
    assert order.index(("StatefulSet", "skirmish-redis")) < order.index(DEPLOYMENT)
    assert order.index(("Service", "skirmish")) < order.index(("Ingress", "skirmish"))
    assert len(order) == len(build_children(tvtt))
    assert plan.applied_generation == 1
    assert plan.applied_template_hash == template_hash(plan.applies[order.index(DEPLOYMENT)])


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param(("Service", "skirmish"), id="service"),
        pytest.param(DEPLOYMENT, id="deployment"),
        pytest.param(("StatefulSet", "skirmish-redis"), id="statefulset"),
        pytest.param(("ConfigMap", "skirmish-config"), id="configmap"),
    ],
)
def test_a_deleted_child_is_recreated_alone(missing: tuple[str, str]) -> None:
    tvtt = settled(REDIS)
    live = world(tvtt)
    del live[missing]
    assert applied(plan_reconcile(tvtt, live)) == [missing]


def test_a_spec_change_applies_only_what_changed() -> None:
    old = settled(REDIS, generation=1)
    new = make({**REDIS, "service": {"port": 8080}}, generation=2, applied=old)
    plan = plan_reconcile(new, world(old))
    # The Service changed; the Deployment is re-applied because the generation moved (so a
    # rollback in force ends with the next change), nothing else is touched.
    assert sorted(applied(plan)) == sorted([("Service", "skirmish"), DEPLOYMENT])
    assert plan.applied_generation == 2


def test_a_lost_status_means_apply_again() -> None:
    tvtt = make(REDIS)  # no appliedGeneration recorded
    assert applied(plan_reconcile(tvtt, world(tvtt))) == [DEPLOYMENT]


def test_features_turned_off_are_deleted() -> None:
    old = settled({**REDIS, "autoscaling": {"maxReplicas": 3}, "ingress": {"host": "a.example"}})
    new = make({"redis": {"enabled": False}}, generation=2, applied=old)
    plan = plan_reconcile(new, world(old))
    assert sorted((k.api_version, k.kind, name) for k, name in plan.deletes) == [
        ("apps/v1", "StatefulSet", "skirmish-redis"),
        ("autoscaling/v2", "HorizontalPodAutoscaler", "skirmish"),
        ("networking.k8s.io/v1", "Ingress", "skirmish"),
        ("networking.k8s.io/v1", "NetworkPolicy", "skirmish-redis"),
        ("v1", "ConfigMap", "skirmish-redis-config"),
        ("v1", "Secret", "skirmish-redis-auth"),
        ("v1", "Service", "skirmish-redis"),
    ]


def rolled_back(live: Live, image: str = "old:1", template: str = "0123456789abcdef") -> Live:
    """What `kubectl rollout undo` leaves: an older template, its older hash annotation."""
    out = copy.deepcopy(live)
    pod_template = out[DEPLOYMENT]["spec"]["template"]
    pod_template["spec"]["containers"][0]["image"] = image
    pod_template["metadata"]["annotations"][ANNOTATION_TEMPLATE_HASH] = template
    return out


def with_status(tvtt: TravellerVTT, **changes: Any) -> TravellerVTT:
    return tvtt.model_copy(update={"status": tvtt.status.model_copy(update=changes)})


class TestRollbackRespect:
    def test_a_manual_rollback_is_reported_and_not_reverted(self) -> None:
        tvtt = settled({"image": "new:2"})
        plan = plan_reconcile(tvtt, rolled_back(world(tvtt)))
        assert plan.template_overridden is True
        assert plan.writes == 0
        assert plan.applied_template_hash == tvtt.status.applied_template_hash

    def test_a_rollback_to_the_same_image_is_still_seen(self) -> None:
        tvtt = settled({"image": "new:2"})
        live = rolled_back(world(tvtt), image="new:2")
        assert plan_reconcile(tvtt, live).template_overridden is True

    def test_set_image_counts_as_an_override_too(self) -> None:
        tvtt = settled({"image": "new:2"})
        live = world(tvtt)
        live[DEPLOYMENT]["spec"]["template"]["spec"]["containers"][0]["image"] = "hotfix:3"
        assert plan_reconcile(tvtt, live).template_overridden is True

    def test_the_next_change_to_the_resource_applies_again(self) -> None:
        old = settled({"image": "new:2"}, generation=1)
        live = rolled_back(world(old))
        new = make({"image": "new:3"}, generation=2, applied=old)
        plan = plan_reconcile(new, live)
        assert plan.template_overridden is False
        assert applied(plan) == [DEPLOYMENT]
        assert plan.applied_generation == 2

    def test_apiserver_defaults_are_not_mistaken_for_a_rollback(self) -> None:
        tvtt = settled()
        live = world(tvtt)
        pod = live[DEPLOYMENT]["spec"]["template"]["spec"]
        pod["containers"][0]["imagePullPolicy"] = "IfNotPresent"
        pod["securityContext"]["fsGroupChangePolicy"] = "Always"
        assert plan_reconcile(tvtt, live).template_overridden is False

    def test_an_operator_upgrade_applies_where_no_rollback_is_in_force(self) -> None:
        # An older operator rendered a different template at the same generation.
        tvtt = with_status(settled(), applied_template_hash="oldtmpl")
        live = world(tvtt)
        live[DEPLOYMENT]["metadata"]["annotations"]["traveller-vtt.io/applied-hash"] = "older"
        live[DEPLOYMENT]["spec"]["template"]["metadata"]["annotations"][
            ANNOTATION_TEMPLATE_HASH
        ] = "oldtmpl"
        plan = plan_reconcile(tvtt, live)
        assert applied(plan) == [DEPLOYMENT]
        assert plan.template_overridden is False
        assert plan.applied_template_hash == template_hash(plan.applies[0])

    def test_an_operator_upgrade_leaves_a_rollback_alone(self) -> None:
        tvtt = with_status(settled(), applied_template_hash="oldtmpl")
        live = rolled_back(world(tvtt), image=tvtt.spec.image, template="evenoldertmpl")
        live[DEPLOYMENT]["metadata"]["annotations"]["traveller-vtt.io/applied-hash"] = "older"
        plan = plan_reconcile(tvtt, live)
        assert plan.template_overridden is True
        assert plan.writes == 0


class TestReplicas:
    def test_kubectl_scale_is_corrected_without_autoscaling(self) -> None:
        tvtt = settled({**REDIS, "replicas": 3})
        live = world(tvtt)
        live[DEPLOYMENT]["spec"]["replicas"] = 5
        assert applied(plan_reconcile(tvtt, live)) == [DEPLOYMENT]

    def test_kubectl_scale_and_hpa_changes_are_left_alone_with_autoscaling(self) -> None:
        tvtt = settled({**REDIS, "autoscaling": {"minReplicas": 2, "maxReplicas": 5}})
        live = world(tvtt)
        live[DEPLOYMENT]["spec"]["replicas"] = 4
        assert plan_reconcile(tvtt, live).writes == 0

    def test_turning_autoscaling_on_hands_replicas_over_first(self) -> None:
        old = settled({**REDIS, "replicas": 3}, generation=1)
        live = world(old)
        assert owns_replicas(live[DEPLOYMENT])
        new = make(
            {**REDIS, "autoscaling": {"minReplicas": 2, "maxReplicas": 5}},
            generation=2,
            applied=old,
        )
        plan = plan_reconcile(new, live)
        (handover,) = plan.handovers
        assert handover["spec"] == {"replicas": 3}
        assert handover["metadata"] == {"name": "skirmish", "namespace": "games"}
        assert applied(plan) == [DEPLOYMENT, ("HorizontalPodAutoscaler", "skirmish")]
        assert "replicas" not in plan.applies[0]["spec"]

    def test_no_handover_once_the_operator_no_longer_owns_replicas(self) -> None:
        spec = {**REDIS, "autoscaling": {"maxReplicas": 5}}
        old = settled(spec)
        live = world(old)
        assert not owns_replicas(live[DEPLOYMENT])
        plan = plan_reconcile(make(spec, generation=2, applied=old), live)
        assert plan.handovers == []
        assert applied(plan) == [DEPLOYMENT]

    def test_owns_replicas_reads_only_our_apply_entry(self) -> None:
        live = {
            "metadata": {
                "managedFields": [
                    {"manager": HANDOVER_FIELD_MANAGER, "operation": "Apply",
                     "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                    {"manager": FIELD_MANAGER, "operation": "Update",
                     "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                ]
            }
        }  # fmt: skip
        assert owns_replicas(live) is False


def test_children_of_other_kinds_are_never_deleted() -> None:
    tvtt = settled()
    live = world(tvtt)
    live[("ServiceAccount", "skirmish-extra")] = {
        "kind": "ServiceAccount",
        "metadata": {"name": "skirmish-extra"},
    }
    assert plan_reconcile(tvtt, live).deletes == []
