"""The TravellerVTT models: what a valid spec means, and the same refusals the CRD's CEL gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from tvtt_operator.models import TravellerVTT, TravellerVTTSpec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("tvtt-*.yaml"))


def test_an_empty_spec_gets_the_documented_defaults() -> None:
    spec = TravellerVTTSpec.model_validate({})
    assert spec.effective_replicas == 1
    assert spec.replicas == 1, "set, so the scale subresource reads the real count"
    assert spec.redis.enabled is True, "battles survive a restart unless the resource opts out"
    assert spec.redis.appendfsync == "everysec"
    assert spec.service.port == 80
    assert spec.drain.termination_grace_period_seconds == 60
    assert spec.effective_allowed_origins == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_is_valid(path: Path) -> None:
    body = yaml.safe_load(path.read_text())
    body["metadata"]["namespace"] = "default"
    tvtt = TravellerVTT.model_validate(body)
    assert tvtt.name == body["metadata"]["name"]


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"replicas": 2, "redis": {"enabled": False}},
            "requires redis.enabled=true",
            id="replicas-without-redis",
        ),
        pytest.param(
            {"autoscaling": {"maxReplicas": 3}, "redis": {"enabled": False}},
            "requires redis.enabled=true",
            id="hpa-without-redis",
        ),
        pytest.param(
            {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}, "redis": {"enabled": True}},
            "minReplicas must be <= autoscaling.maxReplicas",
            id="min-above-max",
        ),
        pytest.param(
            {"disruption": {"maxUnavailable": 1, "minAvailable": 1}},
            "not both",
            id="pdb-both",
        ),
        pytest.param({"disruption": {"maxUnavailable": "ten"}}, "percentage", id="pdb-word"),
        pytest.param({"resources": {"requests": {"cpu": "lots"}}}, "quantity", id="bad-cpu"),
        pytest.param(
            {"resources": {"requests": {"memory": "512Mi"}}},
            "requests.memory must not exceed resources.limits.memory",
            id="request-above-default-limit",
        ),
        pytest.param(
            {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1500m"}}},
            "requests.cpu must not exceed resources.limits.cpu",
            id="cpu-request-above-limit",
        ),
        pytest.param({"server": {"logLevel": "loud"}}, "Input should be", id="bad-log-level"),
        pytest.param({"service": {"type": "ExternalName"}}, "Input should be", id="bad-svc-type"),
        pytest.param(
            {"drain": {"terminationGracePeriodSeconds": 5}}, "greater than", id="short-drain"
        ),
        pytest.param({"ingress": {"host": "Not A Host"}}, "pattern", id="bad-host"),
        pytest.param({"replicaz": 1}, "Extra inputs", id="typo"),
    ],
)
def test_invalid_specs_are_refused_with_a_reason(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TravellerVTTSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("server", "ingress", "origins"),
    [
        pytest.param({}, None, [], id="none"),
        pytest.param(
            {},
            {"host": "vtt.example.org"},
            ["https://vtt.example.org", "http://vtt.example.org"],
            id="follow-plain-http-host",
        ),
        pytest.param(
            {},
            {"host": "vtt.example.org", "tlsSecretName": "cert"},
            ["https://vtt.example.org"],
            id="follow-tls-host",
        ),
        pytest.param(
            {"allowedOrigins": ["https://a.example"]},
            {"host": "vtt.example.org"},
            ["https://a.example"],
            id="explicit-wins",
        ),
        pytest.param({"allowedOrigins": []}, {"host": "h.example"}, [], id="explicit-empty-wins"),
    ],
)
def test_allowed_origins_follow_the_ingress_host_unless_set(
    server: dict[str, Any], ingress: dict[str, Any] | None, origins: list[str]
) -> None:
    spec = TravellerVTTSpec.model_validate({"server": server, "ingress": ingress})
    assert spec.effective_allowed_origins == origins


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        pytest.param("skirmish", True, id="plain"),
        pytest.param("a" * 40, True, id="forty"),
        pytest.param("a" * 41, False, id="too-long"),
        pytest.param("9lives", False, id="digit-first"),
        pytest.param("dotted.name", False, id="dot"),
    ],
)
def test_resource_names_must_fit_the_children(name: str, ok: bool) -> None:
    body = {"metadata": {"name": name, "namespace": "default"}}
    if ok:
        assert TravellerVTT.model_validate(body).name == name
    else:
        with pytest.raises(ValidationError, match="DNS-1035"):
            TravellerVTT.model_validate(body)


def test_camel_case_on_the_wire_snake_case_in_python() -> None:
    spec = TravellerVTTSpec.model_validate(
        {"redis": {"enabled": True, "storageClassName": "fast"}, "replicas": 3}
    )
    assert spec.redis.storage_class_name == "fast"
    dumped = spec.model_dump(by_alias=True, exclude_none=True)
    assert dumped["redis"]["storageClassName"] == "fast"
    assert "storage_class_name" not in dumped["redis"]
