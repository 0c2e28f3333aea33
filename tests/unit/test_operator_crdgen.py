"""The CRD generator: a structural schema the API server accepts, and drift detection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from tvtt_operator import crdgen
from tvtt_operator.crdgen import SchemaError, build_crd, structural

ROOT = Path(__file__).resolve().parents[2]


def _root_schema() -> dict[str, Any]:
    schema: dict[str, Any] = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key in ("properties",):
            for name, child in node.get(key, {}).items():
                yield from _nodes(child, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            yield from _nodes(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            yield from _nodes(node["additionalProperties"], f"{path}{{}}")


def _spec(*path: str) -> dict[str, Any]:
    node: dict[str, Any] = _root_schema()["properties"]["spec"]
    for name in path:
        node = node["properties"][name]
    return node


def test_schema_is_structural() -> None:
    for path, node in _nodes(_root_schema()):
        for forbidden in ("$ref", "$defs", "title", "anyOf", "oneOf", "allOf", "const"):
            assert forbidden not in node, f"{path} has {forbidden}"
        assert node.get("additionalProperties") is not False, path
        if node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            continue
        assert "type" in node, f"{path} has no type"
        if "properties" in node:
            assert node["type"] == "object", path
        assert node.get("default", "x") is not None, f"{path} has default null"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(
            ("replicas",),
            {"type": "integer", "minimum": 0, "default": 1, "nullable": None},
            id="replicas-defaulted-for-the-scale-subresource",
        ),
        pytest.param(("redis", "storageSize"), {"x-kubernetes-int-or-string": True}, id="quantity"),
        pytest.param(
            ("disruption", "maxUnavailable"),
            {"x-kubernetes-int-or-string": True, "nullable": True},
            id="int-or-percent",
        ),
        pytest.param(
            ("server", "logLevel"),
            {"enum": ["debug", "info", "warning", "error"], "default": "info"},
            id="enum-default",
        ),
        pytest.param(
            ("redis",),
            {
                "type": "object",
                "default": {
                    "enabled": True,
                    "image": "redis:7.0.15",
                    "storageSize": "1Gi",
                    "appendfsync": "everysec",
                    "pvcRetention": "Retain",
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"memory": "256Mi"},
                    },
                },
            },
            id="object-default-complete-for-cel",
        ),
        pytest.param(
            ("affinity",),
            {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            id="free-form",
        ),
        pytest.param(("ingress",), {"required": ["host"], "nullable": True}, id="required"),
        pytest.param(
            ("drain", "terminationGracePeriodSeconds"),
            {"minimum": 15, "maximum": 3600},
            id="bounds",
        ),
    ],
)
def test_fields_keep_their_constraints(path: tuple[str, ...], expected: dict[str, Any]) -> None:
    node = _spec(*path)
    assert {k: node.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        pytest.param((), "self.redis.enabled", id="replicas-need-redis"),
        pytest.param((), "self.replicas == oldSelf.replicas", id="replicas-held-under-hpa"),
        pytest.param(("autoscaling",), "self.minReplicas <= self.maxReplicas", id="min-max"),
        pytest.param(
            ("redis",),
            "quantity(string(self.storageSize)).compareTo(quantity(string(oldSelf.storageSize)))"
            " >= 0",
            id="storage-only-grows",
        ),
        pytest.param(("disruption",), "has(self.minAvailable)", id="pdb"),
        pytest.param(("resources", "requests", "cpu"), "isQuantity(self)", id="quantity"),
    ],
)
def test_cross_field_checks_become_cel_rules(path: tuple[str, ...], fragment: str) -> None:
    rules = _spec(*path)["x-kubernetes-validations"]
    assert any(fragment in r["rule"] and r["message"] for r in rules), rules


def test_name_rule_sits_on_the_root() -> None:
    rules = _root_schema()["x-kubernetes-validations"]
    assert any("self.metadata.name" in r["rule"] for r in rules)


def test_status_conditions_are_a_map_keyed_by_type() -> None:
    conditions = _root_schema()["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["items"]["properties"]["lastTransitionTime"]["format"] == "date-time"


def test_subresources_columns_and_names() -> None:
    crd = build_crd()
    version = crd["spec"]["versions"][0]
    assert crd["metadata"]["name"] == "travellervtts.traveller-vtt.io"
    assert crd["spec"]["names"]["shortNames"] == ["tvtt"]
    assert version["name"] == "v1alpha1"
    assert version["storage"]
    assert version["served"]
    assert version["subresources"]["status"] == {}
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:7] == ["Desired", "Ready", "Battles", "Players", "Image", "Status", "Age"]


def test_committed_crds_are_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert crdgen.main(["--check"]) == 0, "run make crds"
    committed = yaml.safe_load((ROOT / "crds" / crdgen.FILE_NAME).read_text())
    assert committed == build_crd()


def test_check_names_the_fix_when_a_file_drifted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert crdgen.main(["--out", str(tmp_path)]) == 0
    target = tmp_path / crdgen.FILE_NAME
    assert crdgen.main(["--check", "--out", str(tmp_path)]) == 0
    target.write_text(target.read_text().replace("minimum: 15", "minimum: 1"))
    assert crdgen.main(["--check", "--out", str(tmp_path)]) == 1
    assert "run make crds" in capsys.readouterr().err


def test_unions_without_a_structural_form_are_refused() -> None:
    class A(BaseModel):
        a: int

    class B(BaseModel):
        b: str

    class Union(BaseModel):
        x: A | B

    raw = Union.model_json_schema()
    with pytest.raises(SchemaError, match="anyOf"):
        structural(raw, raw["$defs"])


@pytest.mark.parametrize("part", ["spec", "status"])
def test_kubectl_explain_documents_every_field(part: str) -> None:
    """`kubectl explain tvtt.spec` / `tvtt.status` reads these descriptions, down to the leaves."""
    top = _root_schema()["properties"][part]
    undocumented = [
        path
        for path, node in _nodes(top, part)
        if not path.endswith(("[]", "{}")) and not node.get("description")  # fields only
    ]
    assert not undocumented, f"fields without a description: {undocumented}"


def test_cel_rules_on_objects_name_the_field_they_are_about() -> None:
    """A rule on an object reports `spec.redis.storageSize: ...` rather than the object's path
    (or `<nil>` at the root): its fieldPath must resolve to a property under that object."""
    checked = 0
    for path, node in _nodes(_root_schema()):
        if node.get("type") != "object":
            continue
        for rule in node.get("x-kubernetes-validations") or []:
            field_path = rule.get("fieldPath")
            assert field_path, f"{path or '<root>'}: rule without fieldPath: {rule['rule']}"
            target: dict[str, Any] = node
            for name in field_path.lstrip(".").split("."):
                assert name in target.get("properties", {}), f"{path}: bad fieldPath {field_path}"
                target = target["properties"][name]
            checked += 1
    assert checked >= 7
