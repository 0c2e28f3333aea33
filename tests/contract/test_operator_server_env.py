"""The operator → game server contract: every setting the operator renders is one the server reads.

The operator and the server share no code (import-linter keeps them independent); they meet in the
environment of the game server container. Here both sides are imported: for a grid of TravellerVTT
specs the operator's pure builders render the children, and every environment variable and
ConfigMap key they produce must be a field of `gameserver.settings.Settings` (its env prefix and
aliases respected), and `Settings` built from exactly that environment must accept the values and
hold what the spec asked for. A renamed setting on either side fails here, not in a cluster.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from pydantic import AliasChoices, AliasPath
from tvtt_operator.builders import SERVER_CONTAINER, build_children, shutdown_grace_seconds
from tvtt_operator.kinds import CONFIG_MAP, DEPLOYMENT
from tvtt_operator.models import TravellerVTT
from tvtt_operator.status import build_status

from gameserver.app import origin_allowed
from gameserver.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def resource(spec: Mapping[str, Any], name: str = "contract") -> TravellerVTT:
    """A parsed TravellerVTT as the operator sees it after the API server stored it."""
    return TravellerVTT.model_validate(
        {
            "metadata": {"name": name, "namespace": "games", "uid": "u-1", "generation": 1},
            "spec": dict(spec),
        }
    )


def example(file_name: str) -> TravellerVTT:
    doc = yaml.safe_load((EXAMPLES / file_name).read_text())
    return resource(doc.get("spec") or {}, doc["metadata"]["name"])


SPECS = [
    pytest.param(resource({}), id="minimal-defaults"),
    pytest.param(example("tvtt-minimal.yaml"), id="example-minimal"),
    pytest.param(example("tvtt-production.yaml"), id="example-production"),
    pytest.param(example("tvtt-two-replicas.yaml"), id="example-two-replicas"),
    pytest.param(resource({"redis": {"enabled": True}}), id="redis-on"),
    pytest.param(resource({"redis": {"enabled": False}}), id="redis-off"),
    pytest.param(resource({"drain": {"terminationGracePeriodSeconds": 3600}}), id="drain-long"),
    pytest.param(resource({"drain": {"terminationGracePeriodSeconds": 15}}), id="drain-short"),
    pytest.param(
        resource(
            {
                "server": {
                    "logLevel": "debug",
                    "maxConnections": 1,
                    "allowedOrigins": ["https://a.example", "https://b.example"],
                }
            }
        ),
        id="server-settings",
    ),
    pytest.param(
        resource({"server": {"logLevel": "error"}, "ingress": {"host": "vtt.example.org"}}),
        id="ingress-origin",
    ),
    pytest.param(
        resource({"autoscaling": {"minReplicas": 1, "maxReplicas": 4}, "redis": {"enabled": True}}),
        id="autoscaled",
    ),
    pytest.param(
        resource({"server": {"testFailCommands": True}, "rollout": {"analysis": {}}}),
        id="test-fail-commands",
    ),
]


def server_container(tvtt: TravellerVTT) -> dict[str, Any]:
    deployment = next(m for m in build_children(tvtt) if m["kind"] == DEPLOYMENT.kind)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    found: dict[str, Any] = next(c for c in containers if c["name"] == SERVER_CONTAINER)
    return found


def rendered_environment(tvtt: TravellerVTT) -> tuple[dict[str, str], set[str]]:
    """What the container's environment holds: literal values, and names filled from elsewhere.

    ConfigMaps named in `envFrom` contribute their keys with their values (the operator renders
    them too); `valueFrom` entries (Secrets, fieldRefs) contribute only their names.
    """
    configmaps = {
        m["metadata"]["name"]: m for m in build_children(tvtt) if m["kind"] == CONFIG_MAP.kind
    }
    container = server_container(tvtt)
    literal: dict[str, str] = {}
    referenced: set[str] = set()
    for source in container.get("envFrom") or []:
        assert set(source) == {"configMapRef"}, f"envFrom the contract cannot check: {source}"
        name = source["configMapRef"]["name"]
        assert name in configmaps, f"envFrom names a ConfigMap the operator never renders: {name}"
        literal.update({str(k): str(v) for k, v in configmaps[name]["data"].items()})
    for item in container.get("env") or []:
        assert item["name"] not in literal, f"{item['name']} set twice (env wins silently)"
        if "value" in item:
            literal[item["name"]] = str(item["value"])
        else:
            assert set(item["valueFrom"]) <= {"secretKeyRef", "fieldRef", "configMapKeyRef"}
            referenced.add(item["name"])
    return literal, referenced


def setting_names() -> dict[str, str]:
    """Environment variable name (upper case) → Settings field, the way pydantic-settings reads."""
    config = Settings.model_config
    prefix = str(config.get("env_prefix", ""))
    assert not config.get("case_sensitive"), "the contract compares names case-insensitively"
    names: dict[str, str] = {}
    for field_name, info in Settings.model_fields.items():
        aliases: list[str] = []
        alias = info.validation_alias or info.alias
        if isinstance(alias, str):
            aliases.append(alias)
        elif isinstance(alias, AliasChoices):
            aliases.extend(a for a in alias.choices if isinstance(a, str))
        elif isinstance(alias, AliasPath):
            aliases.append(str(alias.path[0]))
        else:
            aliases.append(prefix + field_name)
        for env_name in aliases:
            names[env_name.upper()] = field_name
    return names


def settings_from(env: Mapping[str, str]) -> Settings:
    """`Settings()` exactly as the server process would build it from this environment."""
    with mock.patch.dict(os.environ, dict(env), clear=True):
        return Settings()


def expanded_only(tvtt: TravellerVTT) -> set[str]:
    """Variables that exist to be expanded by the kubelet into a later one (`$(REDIS_PASSWORD)`
    inside REDIS_URL): the server need not read them, the variable they fill is checked."""
    names: set[str] = set()
    for item in server_container(tvtt).get("env") or []:
        names |= set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(item.get("value", ""))))
    return names


@pytest.mark.parametrize("tvtt", SPECS)
def test_every_rendered_variable_is_a_server_setting(tvtt: TravellerVTT) -> None:
    literal, referenced = rendered_environment(tvtt)
    known = setting_names()
    helpers = expanded_only(tvtt)
    unknown = sorted(
        name for name in {*literal, *referenced} - helpers if name.upper() not in known
    )
    assert not unknown, f"the game server ignores {unknown} (its Settings read {sorted(known)})"


@pytest.mark.parametrize("tvtt", SPECS)
def test_the_server_accepts_the_rendered_values_and_gets_what_the_spec_says(
    tvtt: TravellerVTT,
) -> None:
    literal, _ = rendered_environment(tvtt)
    settings = settings_from(literal)
    spec = tvtt.spec
    grace = spec.drain.termination_grace_period_seconds
    assert settings.shutdown_grace_s == shutdown_grace_seconds(grace)
    assert settings.shutdown_grace_s < grace  # the server exits before the kubelet's SIGKILL
    assert settings.log_level == spec.server.log_level.value.lower()
    assert settings.max_connections == spec.server.max_connections
    assert settings.allowed_origins == list(spec.effective_allowed_origins)
    assert (settings.redis_url is not None) == spec.redis.enabled
    assert settings.test_fail_commands == spec.server.test_fail_commands
    assert settings.host == "0.0.0.0"  # reachable through the Service, not only on loopback
    ports = {p["name"]: p["containerPort"] for p in server_container(tvtt)["ports"]}
    assert settings.port == ports["http"]


@pytest.mark.parametrize("tvtt", SPECS)
def test_every_rendered_configmap_is_consumed_by_a_workload(tvtt: TravellerVTT) -> None:
    """A ConfigMap nobody reads is a setting that goes nowhere (the server's: by envFrom, whose
    keys the tests above check; Redis's: mounted as its config file)."""
    children = build_children(tvtt)
    consumed: set[str] = set()
    for workload in children:
        pod = (workload.get("spec") or {}).get("template", {}).get("spec")
        if pod is None:
            continue
        consumed |= {v["configMap"]["name"] for v in pod.get("volumes") or [] if "configMap" in v}
        for container in pod["containers"]:
            consumed |= {
                s["configMapRef"]["name"]
                for s in container.get("envFrom") or []
                if "configMapRef" in s
            }
    rendered = {m["metadata"]["name"] for m in children if m["kind"] == CONFIG_MAP.kind}
    assert rendered == consumed


def test_the_contract_check_itself_catches_a_misnamed_variable() -> None:
    """The drain setting under the wrong name is reported (what shipped before this suite)."""
    known = setting_names()
    assert "SHUTDOWN_GRACE_SECONDS" not in known
    assert "SHUTDOWN_GRACE_S" in known
    settings = settings_from({"SHUTDOWN_GRACE_SECONDS": "80"})
    assert settings.shutdown_grace_s == Settings.model_fields["shutdown_grace_s"].default


@pytest.mark.parametrize(
    "ingress",
    [
        pytest.param({"host": "vtt.example.org"}, id="plain-http"),
        pytest.param({"host": "vtt.example.org", "tlsSecretName": "vtt-cert"}, id="tls"),
    ],
)
def test_a_browser_on_the_advertised_endpoint_may_open_its_websocket(
    ingress: dict[str, Any],
) -> None:
    """The page a player opens (the status `endpoint`, http:// without a TLS secret) sends that
    origin with its WebSocket upgrade; the server, configured by what the operator renders, must
    let it in. Before, an Ingress without TLS advertised http:// and allowed only https://."""
    tvtt = resource({"ingress": ingress})
    endpoint = build_status(tvtt, {}, template_overridden=False, error=None, now="t").endpoint
    assert endpoint is not None
    literal, _ = rendered_environment(tvtt)
    settings = settings_from(literal)
    host = ingress["host"]
    assert origin_allowed(endpoint, host, settings.allowed_origins), (endpoint, literal)
    assert not origin_allowed("http://evil.example", host, settings.allowed_origins)


# PodLifecycleSleepAction (`lifecycle.preStop.sleep`) is on by default from Kubernetes 1.30;
# older API servers drop the field or refuse the pod.
SLEEP_ACTION_SINCE = (1, 30)


def chart_kube_floor() -> tuple[int, int]:
    """The lowest Kubernetes minor the chart's `kubeVersion` (`>=1.30.0-0`) admits."""
    chart = yaml.safe_load((ROOT / "charts" / "traveller-vtt-operator" / "Chart.yaml").read_text())
    match = re.fullmatch(r">=\s*v?(\d+)\.(\d+)(\.\d+)?(-0)?", str(chart["kubeVersion"]).strip())
    assert match, f"kubeVersion this test cannot read: {chart['kubeVersion']}"
    return int(match[1]), int(match[2])


@pytest.mark.parametrize("tvtt", SPECS)
def test_the_chart_floor_admits_every_pod_field_the_operator_renders(tvtt: TravellerVTT) -> None:
    """A preStop `sleep` needs a Kubernetes the chart's `kubeVersion` promises."""
    uses_sleep = any(
        "sleep" in ((c.get("lifecycle") or {}).get("preStop") or {})
        for m in build_children(tvtt)
        if "template" in (m.get("spec") or {})
        for c in m["spec"]["template"]["spec"]["containers"]
    )
    if uses_sleep:
        assert chart_kube_floor() >= SLEEP_ACTION_SINCE, (
            f"preStop.sleep needs Kubernetes >= {SLEEP_ACTION_SINCE}; the chart admits "
            f"{chart_kube_floor()}"
        )
