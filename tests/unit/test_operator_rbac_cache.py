"""RBAC rules cover every write the planner can make; the watch cache files children by owner."""

from __future__ import annotations

from typing import Any

import pytest
from tvtt_operator.builders import build_children
from tvtt_operator.cache import Cache
from tvtt_operator.config import OperatorConfig
from tvtt_operator.kinds import BY_KIND, CHILD_KINDS, ChildKind
from tvtt_operator.kube import object_path
from tvtt_operator.models import TravellerVTT
from tvtt_operator.rbac import leader_election_rules, operator_rules


def allowed(group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for rule in operator_rules():
        if group in rule["apiGroups"] and resource in rule["resources"]:
            verbs |= set(rule["verbs"])
    return verbs


@pytest.mark.parametrize("kind", CHILD_KINDS, ids=lambda k: k.kind)
def test_every_child_kind_can_be_watched_applied_and_deleted(kind: ChildKind) -> None:
    # Secrets also `get`: the metadata-only check that the Ingress's TLS Secret exists.
    extra = {"get"} if kind.kind == "Secret" else set()
    assert allowed(kind.group, kind.plural) == {"list", "watch", "create", "patch", "delete"} | (
        extra
    )


def test_the_resource_itself_is_read_only_except_status() -> None:
    assert allowed("traveller-vtt.io", "travellervtts") == {"list", "watch"}
    assert allowed("traveller-vtt.io", "travellervtts/status") == {"patch"}
    assert allowed("", "events") == {"create"}


def test_no_wildcards_and_nothing_sensitive() -> None:
    for rule in operator_rules():
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]
        assert not {"customresourcedefinitions", "pods/exec", "nodes"} & set(rule["resources"])
    # Pods are read (polled for the summary) and patched (their deletion cost), never created or
    # deleted; the Redis claim patched (expanded), the backup claim created once.
    assert allowed("", "pods") == {"list", "watch", "patch"}
    assert allowed("", "persistentvolumeclaims") == {"list", "watch", "create", "patch"}


def test_leader_election_needs_only_its_lease() -> None:
    (rule,) = leader_election_rules()
    assert rule == {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "create", "update"],
    }


@pytest.mark.parametrize(
    ("api_version", "kind", "path"),
    [
        pytest.param("v1", "ConfigMap", "/api/v1/namespaces/ns/configmaps/x", id="core"),
        pytest.param(
            "apps/v1", "Deployment", "/apis/apps/v1/namespaces/ns/deployments/x", id="apps"
        ),
        pytest.param(
            "traveller-vtt.io/v1alpha1",
            "TravellerVTT",
            "/apis/traveller-vtt.io/v1alpha1/namespaces/ns/travellervtts/x",
            id="custom",
        ),
    ],
)
def test_object_paths(api_version: str, kind: str, path: str) -> None:
    assert BY_KIND[kind].api_version == api_version
    assert object_path(kind, "ns", "x") == path


def _tvtt(uid: str = "u1", rv: str = "5") -> dict[str, Any]:
    return {
        "apiVersion": "traveller-vtt.io/v1alpha1",
        "kind": "TravellerVTT",
        "metadata": {"name": "skirmish", "namespace": "games", "uid": uid, "resourceVersion": rv},
        "spec": {},
    }


def test_cache_files_children_under_their_owner() -> None:
    cache = Cache()
    assert cache.put(_tvtt()) == ("games", "skirmish")
    tvtt = TravellerVTT.model_validate(_tvtt())
    for manifest in build_children(tvtt):
        assert cache.put(manifest) == ("games", "skirmish")
    assert set(cache.children(("games", "skirmish"), "u1")) == {
        (m["kind"], m["metadata"]["name"]) for m in build_children(tvtt)
    }
    assert cache.children(("games", "skirmish"), "another-uid") == {}
    foreign = {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "games", "labels": {}}}
    assert cache.put(foreign) is None
    assert cache.remove(build_children(tvtt)[0]) == ("games", "skirmish")
    assert len(cache.children(("games", "skirmish"))) == len(build_children(tvtt)) - 1


def test_cache_ignores_a_late_older_event() -> None:
    cache = Cache()
    cache.put(_tvtt(rv="10"))
    cache.put(_tvtt(rv="9"))
    body = cache.owner(("games", "skirmish"))
    assert body is not None
    assert body["metadata"]["resourceVersion"] == "10"
    cache.put(_tvtt(rv="11"))
    body = cache.owner(("games", "skirmish"))
    assert body is not None
    assert body["metadata"]["resourceVersion"] == "11"


def test_operator_config_reads_its_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVTT_OPERATOR_HTTP_PORT", "9090")
    monkeypatch.setenv("TVTT_OPERATOR_NAMESPACES", "bridge, hangar,")
    monkeypatch.setenv("HTTP_PORT", "1")  # not ours: no prefix
    config = OperatorConfig()
    assert config.http_port == 9090
    assert config.workers == 4
    assert config.namespaces == ["bridge", "hangar"]
    monkeypatch.setenv("TVTT_OPERATOR_HTTP_PORT", "-1")
    with pytest.raises(ValueError, match="http_port"):
        OperatorConfig()
