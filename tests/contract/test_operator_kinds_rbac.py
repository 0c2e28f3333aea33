"""The kinds the operator writes, the RBAC rules it declares and the chart's Role agree.

Three places must say the same thing: the builders (what the operator applies), the RBAC rules in
`tvtt_operator.rbac` (what it asks for), and the Role / ClusterRole the Helm chart grants (what it
gets). A child kind the builders produce without a grant fails with Forbidden in a cluster; a grant
no builder needs is a permission too many. The chart is rendered with the pinned helm, in both
RBAC modes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from tvtt_operator.backup import build_backup_children
from tvtt_operator.builders import Inputs, build_children
from tvtt_operator.kinds import (
    CHILD_KINDS,
    CHILDREN_BY_KIND,
    EVENT,
    POD,
    PVC,
    REPLICA_SET,
    SECRET,
    TRAVELLER_VTT,
)
from tvtt_operator.models import TravellerVTT
from tvtt_operator.planning import plan_reconcile
from tvtt_operator.rbac import leader_election_rules, operator_rules

from tests.packaging.chart import by_kind, canonical_rules, render

CHILD_VERBS = {"list", "watch", "create", "patch", "delete"}
# Beyond the child verbs: the TLS Secret check (a metadata-only get), the polled pods (patched:
# their deletion cost), the expanded Redis claim and the created-once backup claim, the
# ReplicaSets an automatic rollback reads its template from.
EXTRA_VERBS = {
    (REPLICA_SET.group, REPLICA_SET.plural): {"list"},
    (SECRET.group, SECRET.plural): {"get"},
    (POD.group, POD.plural): {"list", "watch", "patch"},
    (PVC.group, PVC.plural): {"list", "watch", "create", "patch"},
}
# Every feature on: the union of these renders every kind the operator can write.
EVERYTHING = {
    "redis": {"enabled": True},
    "autoscaling": {"minReplicas": 1, "maxReplicas": 3},
    "ingress": {"host": "vtt.example.org"},
    "backup": {"schedule": "0 3 * * *"},
}
GRID = [
    pytest.param({}, id="minimal"),
    pytest.param({"replicas": 2, "redis": {"enabled": True}}, id="replicas-redis"),
    pytest.param(EVERYTHING, id="everything"),
]


def resource(spec: Mapping[str, Any]) -> TravellerVTT:
    return TravellerVTT.model_validate(
        {
            "metadata": {"name": "contract", "namespace": "games", "uid": "u-1", "generation": 1},
            "spec": dict(spec),
        }
    )


def children(tvtt: TravellerVTT) -> list[dict[str, Any]]:
    """Every child the operator renders (the backup volume is not one: it is never deleted)."""
    inputs = Inputs(backup_token="token", export_key="key")
    first, last = build_backup_children(tvtt, inputs, claim_exists=True)
    return [*first, *build_children(tvtt), *last]


def granted(rules: Sequence[Mapping[str, Any]], group: str, resource_name: str) -> set[str]:
    """Verbs a list of PolicyRules allows on one resource (no wildcards are used anywhere)."""
    verbs: set[str] = set()
    for rule in rules:
        if group in rule["apiGroups"] and resource_name in rule["resources"]:
            verbs |= set(rule["verbs"])
    return verbs


@pytest.mark.parametrize("spec", GRID)
def test_every_rendered_child_is_in_the_kinds_table(spec: Mapping[str, Any]) -> None:
    for manifest in children(resource(spec)):
        kind = CHILDREN_BY_KIND.get(manifest["kind"])
        assert kind is not None, f"{manifest['kind']} rendered but not in tvtt_operator.kinds"
        assert manifest["apiVersion"] == kind.api_version


def test_every_kind_in_the_table_is_rendered_by_some_spec() -> None:
    """No stale row: each kind is watched and granted because a builder produces it."""
    rendered = {m["kind"] for m in children(resource(EVERYTHING))}
    assert rendered == set(CHILDREN_BY_KIND)


def test_what_planning_deletes_is_a_table_kind() -> None:
    """Turning every feature off deletes through the table's kinds (the RBAC grants delete);
    the backup Secret stays (its export key opens the backups' sealed seeds)."""
    everything = resource(EVERYTHING)
    live = {(m["kind"], m["metadata"]["name"]): m for m in children(everything)}
    plan = plan_reconcile(resource({"redis": {"enabled": False}}), live)
    assert {(kind.kind, name) for kind, name in plan.deletes} == {
        ("StatefulSet", "contract-redis"),
        ("Service", "contract-redis"),
        ("ConfigMap", "contract-redis-config"),
        ("HorizontalPodAutoscaler", "contract"),
        ("Ingress", "contract"),
        ("Secret", "contract-redis-auth"),
        ("NetworkPolicy", "contract-redis"),
        ("CronJob", "contract-backup"),
    }
    assert all(kind in CHILD_KINDS for kind, _ in plan.deletes)


def expected_rules_hold(rules: Sequence[Mapping[str, Any]]) -> None:
    """Exactly the child verbs on every child kind, and nothing on anything else but the
    resource itself (read, status, finalizers) and Events (create)."""
    for kind in CHILD_KINDS:
        extra = EXTRA_VERBS.get((kind.group, kind.plural), set())
        assert granted(rules, kind.group, kind.plural) == CHILD_VERBS | extra, kind
    for (group, name), verbs in EXTRA_VERBS.items():
        if (group, name) not in {(k.group, k.plural) for k in CHILD_KINDS}:
            assert granted(rules, group, name) == verbs, name
    plural = TRAVELLER_VTT.plural
    assert granted(rules, TRAVELLER_VTT.group, plural) == {"list", "watch"}
    assert granted(rules, TRAVELLER_VTT.group, f"{plural}/status") == {"patch"}
    assert granted(rules, TRAVELLER_VTT.group, f"{plural}/finalizers") == {"update"}
    assert granted(rules, EVENT.group, EVENT.plural) == {"create"}
    allowed = (
        {(k.group, k.plural) for k in CHILD_KINDS}
        | set(EXTRA_VERBS)
        | {
            (TRAVELLER_VTT.group, plural),
            (TRAVELLER_VTT.group, f"{plural}/status"),
            (TRAVELLER_VTT.group, f"{plural}/finalizers"),
            (EVENT.group, EVENT.plural),
        }
    )
    for rule in rules:
        for group in rule["apiGroups"]:
            for name in rule["resources"]:
                assert (group, name) in allowed, f"grant nobody needs: {group}/{name}"


def test_the_operator_declares_exactly_the_rules_its_kinds_need() -> None:
    expected_rules_hold(operator_rules())


@pytest.mark.parametrize(
    ("values", "role_kind"),
    [
        pytest.param({}, "Role", id="namespaced"),
        pytest.param({"watchNamespaces": ["a", "b"]}, "Role", id="watch-namespaces"),
        pytest.param({"rbac": {"clusterWide": True}}, "ClusterRole", id="cluster-wide"),
    ],
)
def test_the_chart_grants_what_the_operator_declares(
    values: Mapping[str, Any], role_kind: str
) -> None:
    rendered = render(values)
    roles = [r for r in by_kind(rendered, role_kind) if not r["metadata"]["name"].endswith(LEADER)]
    assert roles, f"the chart rendered no {role_kind}"
    for role in roles:
        expected_rules_hold(role["rules"])
        assert canonical_rules(role["rules"]) == canonical_rules(operator_rules())
    # Leader election: one Role in the release namespace, bound to the operator's account.
    (leader,) = [r for r in by_kind(rendered, "Role") if r["metadata"]["name"].endswith(LEADER)]
    assert leader["metadata"]["namespace"] == "games"
    assert canonical_rules(leader["rules"]) == canonical_rules(leader_election_rules())
    (binding,) = [
        b for b in by_kind(rendered, "RoleBinding") if b["metadata"]["name"].endswith(LEADER)
    ]
    assert binding["roleRef"]["name"] == leader["metadata"]["name"]


LEADER = "-leader-election"
