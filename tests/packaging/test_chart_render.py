"""The operator chart rendered with the pinned helm: RBAC equals the operator's own list, the
Deployment keeps its promises, and values.schema.json turns bad values into readable errors.

No cluster: `helm template` only (tests/e2e/test_chart.py installs it for real).
"""

from __future__ import annotations

from typing import Any

import pytest
from tvtt_operator.config import ENV_PREFIX, OperatorConfig
from tvtt_operator.rbac import leader_election_rules, operator_rules

from tests.packaging.chart import (
    RenderError,
    by_kind,
    canonical_rules,
    one,
    render,
)
from tests.packaging.images import IMAGE_UID, ROOT, read_stages

OPERATOR_RULES = canonical_rules(operator_rules())
LEADER = "-leader-election"


def operator_roles(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Roles/bindings of the watched namespaces (not the leader election Lease's)."""
    return [m for m in by_kind(manifests, kind) if not m["metadata"]["name"].endswith(LEADER)]


def test_leader_election_role_is_in_the_release_namespace_only() -> None:
    for values in ({}, {"watchNamespaces": ["bridge"]}, {"rbac": {"clusterWide": True}}):
        manifests = render(values, namespace="ops")
        (role,) = [r for r in by_kind(manifests, "Role") if r["metadata"]["name"].endswith(LEADER)]
        assert role["metadata"]["namespace"] == "ops"
        assert canonical_rules(role["rules"]) == canonical_rules(leader_election_rules())


def test_namespaced_default_grants_exactly_the_operator_rules_in_the_release_namespace() -> None:
    manifests = render(namespace="games")
    (role,) = operator_roles(manifests, "Role")
    (binding,) = operator_roles(manifests, "RoleBinding")
    assert canonical_rules(role["rules"]) == OPERATOR_RULES
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "games"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    account = one(manifests, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": "games"}
    ]
    assert not by_kind(manifests, "ClusterRole")
    assert not by_kind(manifests, "ClusterRoleBinding")


def test_watch_namespaces_get_one_role_each_bound_to_the_release_service_account() -> None:
    manifests = render({"watchNamespaces": ["bridge", "hangar"]}, namespace="ops")
    roles = operator_roles(manifests, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["bridge", "hangar"]
    assert all(canonical_rules(r["rules"]) == OPERATOR_RULES for r in roles)
    bindings = operator_roles(manifests, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["bridge", "hangar"]
    assert {b["subjects"][0]["namespace"] for b in bindings} == {"ops"}
    args = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--namespace")] == [
        "--namespace=bridge",
        "--namespace=hangar",
    ]


def test_cluster_wide_grants_the_same_rules_through_a_cluster_role_only() -> None:
    manifests = render({"rbac": {"clusterWide": True}})
    cluster_role = one(manifests, "ClusterRole")
    assert canonical_rules(cluster_role["rules"]) == OPERATOR_RULES
    binding = one(manifests, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert not operator_roles(manifests, "Role")
    assert not operator_roles(manifests, "RoleBinding")
    args = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--all-namespaces" in args
    assert not [a for a in args if a.startswith("--namespace")]


def test_rbac_create_false_renders_no_rbac_and_needs_a_named_service_account() -> None:
    manifests = render(
        {"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "x"}}
    )
    kinds = {m["kind"] for m in manifests}
    assert kinds.isdisjoint({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})
    assert "ServiceAccount" not in kinds
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "x"
    with pytest.raises(RenderError, match=r"serviceAccount\.name is required"):
        render({"serviceAccount": {"create": False}})


@pytest.mark.parametrize(
    ("values", "replicas", "strategy", "pdb"),
    [
        pytest.param({}, 1, "RollingUpdate", False, id="default-leader-election"),
        pytest.param({"replicaCount": 2}, 2, "RollingUpdate", True, id="two-with-pdb"),
        pytest.param(
            {"leaderElection": {"enabled": False}}, 1, "Recreate", False, id="no-election-recreate"
        ),
    ],
)
def test_replicas_strategy_and_pdb_follow_leader_election(
    values: dict[str, Any], replicas: int, strategy: str, pdb: bool
) -> None:
    manifests = render(values)
    spec = one(manifests, "Deployment")["spec"]
    assert spec["replicas"] == replicas
    assert spec["strategy"]["type"] == strategy
    if strategy == "RollingUpdate":
        # The new pod starts and waits for the Lease before the old one stops.
        assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    budgets = by_kind(manifests, "PodDisruptionBudget")
    assert bool(budgets) == pdb
    if pdb:
        assert budgets[0]["spec"]["minAvailable"] == 1
        assert budgets[0]["spec"]["selector"] == spec["selector"]
    with pytest.raises(RenderError, match=r"needs leaderElection\.enabled"):
        render({"replicaCount": 2, "leaderElection": {"enabled": False}})


def test_operator_deployment_is_a_non_root_pod_with_a_liveness_probe() -> None:
    deployment = one(render({"healthPort": 9090}), "Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    # The uid the image's USER declares, so runAsNonRoot is checkable by the kubelet.
    image_user = read_stages(ROOT / "Dockerfile.operator")[-1].values("USER")[-1]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == (
        image_user
    )
    assert pod["securityContext"]["runAsUser"] == IMAGE_UID
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["ports"] == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]
    probe = container["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "http"}
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


def test_image_tag_defaults_to_the_app_version() -> None:
    chart = (ROOT / "charts/traveller-vtt-operator/Chart.yaml").read_text()
    app_version = next(
        line.split(":", 1)[1].strip().strip('"')
        for line in chart.splitlines()
        if line.startswith("appVersion:")
    )
    image = one(render({"image": {"repository": "r.example/op"}}), "Deployment")
    assert image["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"r.example/op:{app_version}"
    )
    pinned = one(render({"image": {"repository": "r.example/op", "tag": "1.2.3"}}), "Deployment")
    assert pinned["spec"]["template"]["spec"]["containers"][0]["image"] == "r.example/op:1.2.3"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"rbac": {"clusterwide": True}}, "'clusterwide' not allowed", id="typo-key"),
        pytest.param({"replicas": 2}, "'replicas' not allowed", id="no-replicas-knob"),
        pytest.param({"healthPort": 80}, "healthPort", id="privileged-port"),
        pytest.param({"logLevel": "loud"}, "logLevel", id="log-level-enum"),
        pytest.param({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy", id="pull-policy"),
        pytest.param({"watchNamespaces": ["Bad_NS"]}, "watchNamespaces", id="namespace-name"),
        pytest.param({"resources": {"limits": {"memory": "lots"}}}, "memory", id="quantity"),
    ],
)
def test_schema_rejects_bad_values_with_a_readable_message(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(RenderError, match="don't meet the specifications") as failure:
        render(values)
    assert message in str(failure.value)


def test_deployment_env_is_read_by_the_operator_config(monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = one(render({"healthPort": 9191, "logLevel": "debug"}), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    downward = {"metadata.namespace": "games", "metadata.name": "operator-7d9f-abcde"}
    env = {
        item["name"]: item["value"]
        if "value" in item
        else downward[item["valueFrom"]["fieldRef"]["fieldPath"]]
        for item in container["env"]
    }
    known = {ENV_PREFIX + field.upper() for field in OperatorConfig.model_fields}
    assert set(env) <= known, f"the operator ignores {set(env) - known}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = OperatorConfig()
    assert config.http_port == 9191
    assert config.log_level == "debug"
    assert config.leader_election is True
    assert config.lease_namespace == "games"
    assert config.identity == "operator-7d9f-abcde"
    assert config.poll_seconds == 30
    assert config.deletion_cost_seconds == 60
