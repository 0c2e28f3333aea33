"""The game server's children: its ConfigMap, pod template, Deployment, Service, HPA, PDB and
Ingress. Pure, like every builder (see `builders`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tvtt_operator.builders_common import (
    ANNOTATION_CONFIG_HASH,
    ANNOTATION_TEMPLATE_HASH,
    BACKUP_TOKEN_ENV,
    COMPONENT_SERVER,
    EXPORT_KEY_ENV,
    PROBE_TIMEOUT_SECONDS,
    READY_STORE_TIMEOUT_S,
    REDIS_PASSWORD_ENV,
    SERVER_CONTAINER,
    SERVER_UID,
    TEST_FAIL_COMMANDS_ENV,
    WEBSOCKET_TIMEOUT_SECONDS,
    _metadata,
    _password_env,
    _resources,
    backup_secret_env,
    config_name,
    content_hash,
    pod_placement,
    redis_name,
    selector_labels,
    server_name,
    server_pod_security_context,
    stamp,
    standard_labels,
)
from tvtt_operator.kinds import (
    CONFIG_MAP,
    DEPLOYMENT,
    HPA,
    INGRESS,
    PDB,
    SERVICE,
)
from tvtt_operator.models import (
    DRAIN_MARGIN_SECONDS,
    PRESTOP_SLEEP_SECONDS,
    PROBE_PORT,
    REDIS_PORT,
    SERVER_PORT,
    TravellerVTT,
)


def build_configmap(tvtt: TravellerVTT) -> dict[str, Any]:
    """Game server settings as environment variables (`envFrom`); see the server's settings."""
    spec = tvtt.spec
    return {
        "apiVersion": CONFIG_MAP.api_version,
        "kind": CONFIG_MAP.kind,
        "metadata": _metadata(tvtt, config_name(tvtt), COMPONENT_SERVER),
        "data": {
            "LOG_LEVEL": spec.server.log_level.value,
            "MAX_CONNECTIONS": str(spec.server.max_connections),
            "ALLOWED_ORIGINS": ",".join(spec.effective_allowed_origins),
        },
    }


def redis_url(tvtt: TravellerVTT) -> str:
    """The URL the server uses for its event store: the headless Service of the StatefulSet.

    The password is not in the manifest: the kubelet expands `$(REDIS_PASSWORD)`, an earlier
    variable of the same container filled from the Secret (hex, so nothing needs escaping).
    """
    return f"redis://:$({REDIS_PASSWORD_ENV})@{redis_name(tvtt)}:{REDIS_PORT}/0"


def shutdown_grace_seconds(grace_period: int) -> int:
    """The server's own drain budget: the pod's grace period minus preStop and a margin.

    The kubelet's clock starts before preStop; the server must finish draining battles and
    exit before SIGKILL, so it gets what is left after the preStop sleep and a safety margin.
    """
    return max(1, grace_period - PRESTOP_SLEEP_SECONDS - DRAIN_MARGIN_SECONDS)


def build_pod_template(tvtt: TravellerVTT, *, config_hash: str) -> dict[str, Any]:
    """The game server's pod template, annotated with its own hash.

    Purely computational, no side effects. The `template-hash` annotation travels into the
    ReplicaSet, so `kubectl rollout undo` restores an older hash and the reconciler can tell a
    person's rollback from its own apply. `config-hash` rolls the pods when the ConfigMap changes.
    """
    spec = tvtt.spec
    grace = spec.drain.termination_grace_period_seconds
    env: list[dict[str, Any]] = [
        {"name": "PORT", "value": str(SERVER_PORT)},
        {"name": "PROBE_PORT", "value": str(PROBE_PORT)},
        {"name": "READY_STORE_TIMEOUT_S", "value": str(READY_STORE_TIMEOUT_S)},
        {"name": "HOST", "value": "0.0.0.0"},
        {"name": "SHUTDOWN_GRACE_S", "value": str(shutdown_grace_seconds(grace))},
    ]
    if spec.server.test_fail_commands:
        # In the template, not the ConfigMap: a rollback of the template takes it back.
        env.append({"name": TEST_FAIL_COMMANDS_ENV, "value": "true"})
    if spec.redis.enabled:
        env.append(_password_env(tvtt, REDIS_PASSWORD_ENV))
        env.append({"name": "REDIS_URL", "value": redis_url(tvtt)})
    if spec.backup is not None:
        env += [backup_secret_env(tvtt, BACKUP_TOKEN_ENV), backup_secret_env(tvtt, EXPORT_KEY_ENV)]
    container: dict[str, Any] = {
        "name": SERVER_CONTAINER,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"},
            {"name": "probes", "containerPort": PROBE_PORT, "protocol": "TCP"},
        ],
        "env": env,
        "envFrom": [{"configMapRef": {"name": config_name(tvtt)}}],
        "resources": _resources(spec.resources),
        "startupProbe": {
            "httpGet": {"path": "/health", "port": "probes"},
            "periodSeconds": 2,
            "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
            "failureThreshold": 30,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": "probes"},
            "periodSeconds": 10,
            "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": "probes"},
            "periodSeconds": 5,
            "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
            "failureThreshold": 2,
        },
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": SERVER_UID,
            "runAsGroup": SERVER_UID,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": grace,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": server_pod_security_context(),
        "containers": [container],
    } | pod_placement(spec)
    if spec.affinity:
        pod_spec["affinity"] = spec.affinity
    template: dict[str, Any] = {
        "metadata": {
            "labels": {**spec.pod_labels, **standard_labels(tvtt, COMPONENT_SERVER)},
            "annotations": {**spec.pod_annotations, ANNOTATION_CONFIG_HASH: config_hash},
        },
        "spec": pod_spec,
    }
    template["metadata"]["annotations"][ANNOTATION_TEMPLATE_HASH] = content_hash(template)
    return template


def build_deployment(tvtt: TravellerVTT, *, config_hash: str) -> dict[str, Any]:
    """The game server Deployment.

    Purely computational, no side effects. RollingUpdate with maxUnavailable 0 keeps every
    battle's pod serving until its replacement is Ready. With autoscaling on, `replicas` is left
    out so the HPA owns it (server-side apply: a field we do not send is not ours).
    What was applied (generation, template hash) is recorded in the TravellerVTT's status, not
    here: `kubectl rollout undo` restores the Deployment's annotations from the old ReplicaSet.
    """
    template = build_pod_template(tvtt, config_hash=config_hash)
    spec: dict[str, Any] = {
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "selector": {"matchLabels": selector_labels(tvtt, COMPONENT_SERVER)},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": template,
    }
    if tvtt.spec.autoscaling is None:
        spec["replicas"] = tvtt.spec.effective_replicas
    metadata = _metadata(tvtt, server_name(tvtt), COMPONENT_SERVER)
    return stamp(
        {
            "apiVersion": DEPLOYMENT.api_version,
            "kind": DEPLOYMENT.kind,
            "metadata": metadata,
            "spec": spec,
        }
    )


def template_hash(deployment: Mapping[str, Any]) -> str | None:
    """The `template-hash` annotation of a Deployment's pod template (rendered or live)."""
    template = (deployment.get("spec") or {}).get("template") or {}
    value = ((template.get("metadata") or {}).get("annotations") or {}).get(
        ANNOTATION_TEMPLATE_HASH
    )
    return None if value is None else str(value)


def build_service(tvtt: TravellerVTT) -> dict[str, Any]:
    """The Service players (or the Ingress) connect to; port `http` → container port 3000."""
    return {
        "apiVersion": SERVICE.api_version,
        "kind": SERVICE.kind,
        "metadata": _metadata(tvtt, server_name(tvtt), COMPONENT_SERVER),
        "spec": {
            "type": tvtt.spec.service.type.value,
            "selector": selector_labels(tvtt, COMPONENT_SERVER),
            "ports": [
                {
                    "name": "http",
                    "port": tvtt.spec.service.port,
                    "targetPort": "http",
                    "protocol": "TCP",
                }
            ],
        },
    }


def build_hpa(tvtt: TravellerVTT, min_replicas: int | None = None) -> dict[str, Any] | None:
    """An autoscaling/v2 HPA on CPU, or None when autoscaling is off.

    `min_replicas` is the operator's floor (connections, schedule, battles), clamped to the
    spec's bounds. CPU has two thresholds, as the strategy asks: pods are added above
    targetCpuUtilization (scale-up tolerance 0) and removed only below scaleDownCpuUtilization
    (the scale-down tolerance, GA in Kubernetes 1.35; older API servers drop the field and use
    their 10 % default). The scale-down stabilisation window is the spec's: removing a pod makes
    its players reconnect elsewhere.
    """
    autoscaling = tvtt.spec.autoscaling
    if autoscaling is None:
        return None
    floor = autoscaling.min_replicas if min_replicas is None else min_replicas
    floor = min(max(floor, autoscaling.min_replicas), autoscaling.max_replicas)
    return {
        "apiVersion": HPA.api_version,
        "kind": HPA.kind,
        "metadata": _metadata(tvtt, server_name(tvtt), COMPONENT_SERVER),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": DEPLOYMENT.api_version,
                "kind": DEPLOYMENT.kind,
                "name": server_name(tvtt),
            },
            "minReplicas": floor,
            "maxReplicas": autoscaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": autoscaling.target_cpu_utilization,
                        },
                    },
                }
            ],
            "behavior": {
                "scaleUp": {"tolerance": "0"},
                "scaleDown": {
                    "stabilizationWindowSeconds": autoscaling.stabilization_window_seconds,
                    "tolerance": autoscaling.scale_down_tolerance,
                },
            },
        },
    }


def build_pdb(tvtt: TravellerVTT) -> dict[str, Any]:
    """A PodDisruptionBudget (default maxUnavailable 1): drains evict one battle host at a time."""
    disruption = tvtt.spec.disruption
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(tvtt, COMPONENT_SERVER)},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
    if disruption.min_available is not None:
        spec["minAvailable"] = disruption.min_available
    else:
        spec["maxUnavailable"] = (
            1 if disruption.max_unavailable is None else disruption.max_unavailable
        )
    return {
        "apiVersion": PDB.api_version,
        "kind": PDB.kind,
        "metadata": _metadata(tvtt, server_name(tvtt), COMPONENT_SERVER),
        "spec": spec,
    }


def build_ingress(tvtt: TravellerVTT) -> dict[str, Any] | None:
    """An Ingress for the host, or None. Long proxy timeouts keep idle WebSockets open."""
    ingress = tvtt.spec.ingress
    if ingress is None:
        return None
    metadata = _metadata(tvtt, server_name(tvtt), COMPONENT_SERVER)
    metadata["annotations"] = {
        "nginx.ingress.kubernetes.io/proxy-read-timeout": WEBSOCKET_TIMEOUT_SECONDS,
        "nginx.ingress.kubernetes.io/proxy-send-timeout": WEBSOCKET_TIMEOUT_SECONDS,
        "nginx.ingress.kubernetes.io/proxy-http-version": "1.1",
        **ingress.annotations,
    }
    spec: dict[str, Any] = {
        "rules": [
            {
                "host": ingress.host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": server_name(tvtt), "port": {"name": "http"}}
                            },
                        }
                    ]
                },
            }
        ]
    }
    if ingress.class_name is not None:
        spec["ingressClassName"] = ingress.class_name
    if ingress.tls_secret_name is not None:
        spec["tls"] = [{"hosts": [ingress.host], "secretName": ingress.tls_secret_name}]
    return {
        "apiVersion": INGRESS.api_version,
        "kind": INGRESS.kind,
        "metadata": metadata,
        "spec": spec,
    }
