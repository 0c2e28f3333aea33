"""Drift read from managedFields, without a cluster: what `kubectl set/patch/edit` leave behind is
found and planned for correction; controllers, the HPA, others' annotations and a rollback are not
drift; steady state still plans no write. The field sets are the API server's own format."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tvtt_operator.builders import FIELD_MANAGER, build_children, template_hash
from tvtt_operator.drift import Drift, find_drift, removal_patch, same
from tvtt_operator.models import TravellerVTT, quantity
from tvtt_operator.planning import OURS, plan_reconcile

Live = dict[tuple[str, str], dict[str, Any]]
GAMESERVER = 'k:{"name":"gameserver"}'
DEPLOYMENT = ("Deployment", "skirmish")


def settled(spec: dict[str, Any] | None = None) -> TravellerVTT:
    first = TravellerVTT.model_validate(
        {"metadata": {"name": "skirmish", "namespace": "games", "uid": "u1", "generation": 1},
         "spec": spec or {}}
    )  # fmt: skip
    deployment = next(m for m in build_children(first) if m["kind"] == "Deployment")
    return first.model_copy(
        update={
            "status": first.status.model_copy(
                update={"applied_generation": 1, "applied_template_hash": template_hash(deployment)}
            )
        }
    )


def world(tvtt: TravellerVTT) -> Live:
    """Children as the API server returns them after our apply (our entry, a controller's)."""
    out: Live = {}
    for manifest in build_children(tvtt):
        live = copy.deepcopy(manifest)
        live["metadata"]["managedFields"] = [
            {"manager": FIELD_MANAGER, "operation": "Apply", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:spec": {}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}},
        ]  # fmt: skip
        out[(manifest["kind"], manifest["metadata"]["name"])] = live
    return out


def edit(live: dict[str, Any], manager: str, fields: dict[str, Any], **kw: Any) -> None:
    """Record a write by another manager (`fields` in FieldsV1 form)."""
    live["metadata"]["managedFields"].append(
        {"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields,
         **kw}
    )  # fmt: skip


def container(live: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = live["spec"]["template"]["spec"]["containers"][0]
    return found


def in_container(fields: dict[str, Any]) -> dict[str, Any]:
    return {"f:spec": {"f:template": {"f:spec": {"f:containers": {GAMESERVER: fields}}}}}


def test_steady_state_with_controllers_and_others_metadata_has_no_drift() -> None:
    tvtt = settled({"autoscaling": {"maxReplicas": 4}, "redis": {"enabled": True}})
    live = world(tvtt)
    deployment = live[DEPLOYMENT]
    deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3"
    edit(
        deployment,
        "kube-controller-manager",
        {"f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}},
    )
    deployment["spec"]["replicas"] = 3
    edit(deployment, "kube-controller-manager", {"f:spec": {"f:replicas": {}}}, subresource="scale")
    edit(deployment, "traveller-vtt-operator-handover", {"f:spec": {"f:replicas": {}}})
    restarted = {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}
    deployment["spec"]["template"]["metadata"]["annotations"].update(restarted)
    edit(
        deployment,
        "kubectl-rollout",
        {
            "f:spec": {
                "f:template": {
                    "f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/restartedAt": {}}}
                }
            }
        },
    )
    # Same value written by someone else: shared ownership, nothing to correct.
    edit(live[("Service", "skirmish")], "kubectl-edit", {"f:spec": {"f:type": {}}})
    plan = plan_reconcile(tvtt, live)
    assert plan.writes == 0
    assert plan.corrections == []


def test_a_changed_resource_limit_is_taken_back_with_an_apply() -> None:
    tvtt = settled({"resources": {"limits": {"memory": "512Mi"}}})
    live = world(tvtt)
    container(live[DEPLOYMENT])["resources"]["limits"]["memory"] = "2Gi"
    edit(
        live[DEPLOYMENT],
        "kubectl-set",
        in_container({"f:resources": {"f:limits": {"f:memory": {}}}}),
    )
    plan = plan_reconcile(tvtt, live)
    assert [m["kind"] for m in plan.applies] == ["Deployment"]
    (correction,) = plan.corrections
    assert correction.removal == ()
    assert correction.describe() == (
        "Deployment/skirmish: spec.template.spec.containers[0].resources.limits.memory "
        "(changed by kubectl-set)"
    )


def test_an_added_env_var_is_removed_by_a_guarded_json_patch() -> None:
    """`kubectl set env deployment/skirmish ALLOWED_ORIGINS='*'`: survives any apply otherwise."""
    tvtt = settled()
    live = world(tvtt)
    env = container(live[DEPLOYMENT])["env"]
    env.append({"name": "ALLOWED_ORIGINS", "value": "*"})
    index = len(env) - 1
    edit(live[DEPLOYMENT], "kubectl-set", in_container({"f:env": {
        'k:{"name":"ALLOWED_ORIGINS"}': {".": {}, "f:name": {}, "f:value": {}}}}))  # fmt: skip
    plan = plan_reconcile(tvtt, live)
    assert plan.applies == []  # nothing of ours changed
    (correction,) = plan.corrections
    pointer = f"/spec/template/spec/containers/0/env/{index}"
    assert list(correction.removal) == [
        {"op": "test", "path": pointer, "value": {"name": "ALLOWED_ORIGINS", "value": "*"}},
        {"op": "remove", "path": pointer},
    ]
    assert plan.writes == 1


@pytest.mark.parametrize(
    ("child", "mutate", "fields", "path"),
    [
        pytest.param(("ConfigMap", "skirmish-config"),
                     lambda o: o["data"].update(LOG_LEVEL="debug"),
                     {"f:data": {"f:LOG_LEVEL": {}}}, ("data", "LOG_LEVEL"), id="configmap"),
        pytest.param(("Service", "skirmish"), lambda o: o["spec"].update(type="NodePort"),
                     {"f:spec": {"f:type": {}}}, ("spec", "type"), id="service-type"),
        pytest.param(("HorizontalPodAutoscaler", "skirmish"),
                     lambda o: o["spec"].update(maxReplicas=50),
                     {"f:spec": {"f:maxReplicas": {}}}, ("spec", "maxReplicas"), id="hpa-max"),
        pytest.param(("PodDisruptionBudget", "skirmish"),
                     lambda o: o["spec"].update(maxUnavailable=3),
                     {"f:spec": {"f:maxUnavailable": {}}}, ("spec", "maxUnavailable"), id="pdb"),
    ],
)  # fmt: skip
def test_changed_fields_of_every_child_are_drift(
    child: tuple[str, str], mutate: Any, fields: dict[str, Any], path: tuple[str, ...]
) -> None:
    tvtt = settled({"autoscaling": {"maxReplicas": 4}, "redis": {"enabled": True}})
    live = world(tvtt)
    mutate(live[child])
    edit(live[child], "kubectl-patch", fields)
    plan = plan_reconcile(tvtt, live)
    assert [(m["kind"], m["metadata"]["name"]) for m in plan.applies] == [child]
    (correction,) = plan.corrections
    assert correction.drifts == (Drift(path, "kubectl-patch", added=False),)


def test_a_rollback_is_still_left_alone_and_not_called_drift() -> None:
    tvtt = settled()
    live = world(tvtt)
    deployment = live[DEPLOYMENT]
    container(deployment)["image"] = "old:1"
    edit(deployment, "kubectl-rollout", in_container({"f:image": {}}))
    plan = plan_reconcile(tvtt, live)
    assert plan.template_overridden is True
    assert plan.writes == 0
    assert plan.corrections == []


def test_quantities_compare_by_value() -> None:
    assert quantity("500m") == quantity("0.5") == quantity(0.5)
    assert quantity("1Gi") == quantity("1073741824")
    assert quantity("http") is None
    assert same({"cpu": "0.5"}, {"cpu": "500m", "memory": "1Gi"})  # defaulted keys are fine
    assert not same(["a"], ["a", "b"])


def test_removals_go_deepest_and_last_index_first() -> None:
    live = {"spec": {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "x/y": 1}}
    drifts = [
        Drift(("spec", "items", 0), "m", added=True),
        Drift(("spec", "items", 2), "m", added=True),
        Drift(("spec", "x/y"), "m", added=True),
    ]
    removes = [op["path"] for op in removal_patch(drifts, live) if op["op"] == "remove"]
    assert removes == ["/spec/x~1y", "/spec/items/2", "/spec/items/0"]


def test_set_list_values_and_owned_but_gone_fields() -> None:
    desired = {"kind": "Deployment", "spec": {"drop": ["ALL"], "keep": "x"}}
    fields: dict[str, Any] = {
        "f:spec": {"f:drop": {'v:"NET_RAW"': {}, 'v:"ALL"': {}}, "f:gone": {}}
    }
    live = {
        "kind": "Deployment",
        "spec": {"drop": ["ALL", "NET_RAW"], "keep": "x"},
        "metadata": {"managedFields": [
            {"manager": "kubectl-edit", "operation": "Update", "fieldsType": "FieldsV1",
             "fieldsV1": fields},
        ]},
    }  # fmt: skip
    assert find_drift(desired, live, OURS) == [Drift(("spec", "drop", 1), "kubectl-edit", True)]
