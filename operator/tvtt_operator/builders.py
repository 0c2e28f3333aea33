"""Pure builders: a parsed TravellerVTT in, Kubernetes manifest dicts out.

Every function here is purely computational, no side effects: no clock, no API, no globals read
(the crate-operator `get_*()` / dask `build_*_spec()` habit). The reconciler applies what these
return with server-side apply, so each manifest lists exactly the fields the operator owns.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tvtt_operator.kinds import (
    CONFIG_MAP,
    DEPLOYMENT,
    HPA,
    INGRESS,
    NETWORK_POLICY,
    PDB,
    SECRET,
    SERVICE,
    STATEFUL_SET,
    TRAVELLER_VTT,
)
from tvtt_operator.models import (
    DRAIN_MARGIN_SECONDS,
    PRESTOP_SLEEP_SECONDS,
    PROBE_PORT,
    REDIS_PORT,
    SERVER_PORT,
    Resources,
    TravellerVTT,
    quantity,
)

FIELD_MANAGER = "traveller-vtt-operator"
HANDOVER_FIELD_MANAGER = "traveller-vtt-operator-handover"
# The rollout analysis's rollback writes the previous template (defaults included) as this one.
ROLLBACK_FIELD_MANAGER = "traveller-vtt-operator-rollback"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"

APP_NAME = "traveller-vtt"
COMPONENT_SERVER = "gameserver"
COMPONENT_REDIS = "redis"
COMPONENT_BACKUP = "backup"

ANNOTATION_PREFIX = "traveller-vtt.io/"
ANNOTATION_APPLIED_HASH = ANNOTATION_PREFIX + "applied-hash"
ANNOTATION_TEMPLATE_HASH = ANNOTATION_PREFIX + "template-hash"
ANNOTATION_CONFIG_HASH = ANNOTATION_PREFIX + "config-hash"
TEST_FAIL_COMMANDS_ENV = "TEST_FAIL_COMMANDS"
"""The game server's test-only switch (`Settings.test_fail_commands`): commands fail."""

SERVER_CONTAINER = "gameserver"
REDIS_CONTAINER = "redis"
SERVER_UID = 10001
REDIS_UID = 999
WEBSOCKET_TIMEOUT_SECONDS = "3600"
# Every probe says how long it waits (the kubelet's implicit 1 s is easy to miss; a timeout is a
# failed probe). The game server's probes go to its probe port, answered from a thread, so a
# busy event loop does not delay them; the timeout covers the server's store ping
# (`READY_STORE_TIMEOUT_S`, rendered) with a second to spare.
PROBE_TIMEOUT_SECONDS = 3
READY_STORE_TIMEOUT_S = 2
# redis-cli reads the password from REDISCLI_AUTH (never on its command line).
REDIS_READY_COMMAND = ("sh", "-c", "redis-cli -p $0 ping | grep -qx PONG", str(REDIS_PORT))
REDIS_PASSWORD_KEY = "password"
# The variable the kubelet expands into REDIS_URL ($(REDIS_PASSWORD)); the server reads REDIS_URL.
REDIS_PASSWORD_ENV = "REDIS_PASSWORD"
REDIS_CLI_AUTH_ENV = "REDISCLI_AUTH"
# maxmemory is this share of the container's memory limit: the rest is for the AOF rewrite's
# copy-on-write pages, client buffers and the allocator's overhead.
REDIS_MAXMEMORY_SHARE = Decimal(3) / Decimal(4)
REDIS_DATA_CLAIM = "data"
# The backup Secret (`tvtt_operator.backup`): the backup API's token and the key that seals a
# running battle's seed in its backup, shared by the server pods and the backup CronJob. The
# variable names are the server's settings (`BACKUP_TOKEN`, `EXPORT_KEY`).
BACKUP_TOKEN_ENV = "BACKUP_TOKEN"
EXPORT_KEY_ENV = "EXPORT_KEY"
BACKUP_TOKEN_KEY = "token"
EXPORT_KEY_KEY = "export-key"


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a render needs beyond the spec, read from the live objects by `planning`.

    `redis_password`: the one in the live Secret, or a freshly generated one for a new Secret.
    `redis_claim_size`: the StatefulSet's volumeClaimTemplates size once it exists (that field is
    immutable; a bigger `storageSize` is applied to the claim itself).
    `hpa_min_replicas`: the autoscaling floor (`autoscaling.plan_floor`: connections, schedule,
    battles) the reconciler computed; the spec's minReplicas when None.
    """

    redis_password: str = ""
    redis_claim_size: int | str | None = None
    hpa_min_replicas: int | None = None
    backup_token: str = ""
    export_key: str = ""
    keep_backup_secret: bool = False
    """The backup Secret exists: it stays (with its key) after backups are turned off, so the
    backups it sealed can still be restored once they are on again."""


def content_hash(value: Any) -> str:
    """A short, stable digest of JSON-able data (key order does not matter).

    Purely computational, no side effects. Used to skip applies in steady state: a child whose
    recorded hash equals the rendered one needs no write.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def server_name(tvtt: TravellerVTT) -> str:
    """Deployment, Service, HPA, PDB and Ingress share the resource's name."""
    return tvtt.name


def config_name(tvtt: TravellerVTT) -> str:
    """The game server's ConfigMap."""
    return f"{tvtt.name}-config"


def redis_name(tvtt: TravellerVTT) -> str:
    """Redis StatefulSet and its headless Service (so `REDIS_URL` is `redis://<name>-redis`)."""
    return f"{tvtt.name}-redis"


def redis_config_name(tvtt: TravellerVTT) -> str:
    """Redis's ConfigMap holding redis.conf."""
    return f"{tvtt.name}-redis-config"


def redis_secret_name(tvtt: TravellerVTT) -> str:
    """The Secret holding Redis's generated password (key `password`)."""
    return f"{tvtt.name}-redis-auth"


def backup_secret_name(tvtt: TravellerVTT) -> str:
    """The Secret with the backup token and the export key (keys `token`, `export-key`)."""
    return f"{tvtt.name}-backup"


def redis_claim_name(tvtt: TravellerVTT) -> str:
    """The PersistentVolumeClaim the StatefulSet creates for its one pod."""
    return f"{REDIS_DATA_CLAIM}-{redis_name(tvtt)}-0"


def selector_labels(tvtt: TravellerVTT, component: str) -> dict[str, str]:
    """Labels that select one component's pods; immutable once a Deployment exists."""
    return {
        LABEL_NAME: APP_NAME,
        LABEL_INSTANCE: tvtt.name,
        LABEL_COMPONENT: component,
    }


def standard_labels(tvtt: TravellerVTT, component: str) -> dict[str, str]:
    """The `app.kubernetes.io/*` labels every child carries (the cache finds children by them)."""
    return {
        **selector_labels(tvtt, component),
        LABEL_PART_OF: APP_NAME,
        LABEL_MANAGED_BY: FIELD_MANAGER,
    }


def label_selector(tvtt: TravellerVTT) -> str:
    """The server pods' selector as a string, for the scale subresource's `status.selector`."""
    return ",".join(f"{k}={v}" for k, v in selector_labels(tvtt, COMPONENT_SERVER).items())


def build_owner_reference(tvtt: TravellerVTT) -> dict[str, Any]:
    """The controller owner reference: garbage collection deletes children with the resource."""
    return {
        "apiVersion": TRAVELLER_VTT.api_version,
        "kind": TRAVELLER_VTT.kind,
        "name": tvtt.name,
        "uid": tvtt.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(tvtt: TravellerVTT, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": tvtt.namespace,
        "labels": standard_labels(tvtt, component),
        "ownerReferences": [build_owner_reference(tvtt)],
    }


def stamp(manifest: dict[str, Any]) -> dict[str, Any]:
    """Record the manifest's own hash in `traveller-vtt.io/applied-hash`.

    Purely computational, no side effects (returns a new dict). The reconciler compares this
    annotation on the live object with a fresh render to decide whether an apply is needed, so
    an idle operator writes nothing.
    """
    annotations = dict(manifest["metadata"].get("annotations", {}))
    annotations.pop(ANNOTATION_APPLIED_HASH, None)
    unstamped = {**manifest, "metadata": {**manifest["metadata"], "annotations": annotations}}
    annotations[ANNOTATION_APPLIED_HASH] = content_hash(unstamped)
    return {**manifest, "metadata": {**manifest["metadata"], "annotations": annotations}}


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


def _password_env(tvtt: TravellerVTT, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "valueFrom": {"secretKeyRef": {"name": redis_secret_name(tvtt), "key": REDIS_PASSWORD_KEY}},
    }


def backup_secret_env(tvtt: TravellerVTT, name: str) -> dict[str, Any]:
    """`BACKUP_TOKEN` or `EXPORT_KEY` from the backup Secret."""
    key = BACKUP_TOKEN_KEY if name == BACKUP_TOKEN_ENV else EXPORT_KEY_KEY
    return {
        "name": name,
        "valueFrom": {"secretKeyRef": {"name": backup_secret_name(tvtt), "key": key}},
    }


def shutdown_grace_seconds(grace_period: int) -> int:
    """The server's own drain budget: the pod's grace period minus preStop and a margin.

    The kubelet's clock starts before preStop; the server must finish draining battles and
    exit before SIGKILL, so it gets what is left after the preStop sleep and a safety margin.
    """
    return max(1, grace_period - PRESTOP_SLEEP_SECONDS - DRAIN_MARGIN_SECONDS)


def _resources(resources: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, values in (("requests", resources.requests), ("limits", resources.limits)):
        quantities = {k: v for k, v in values.model_dump(exclude_none=True).items()}
        if quantities:
            out[section] = quantities
    return out


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
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": SERVER_UID,
            "runAsGroup": SERVER_UID,
            "fsGroup": SERVER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod_spec["tolerations"] = [
            t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations
        ]
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


def redis_maxmemory(tvtt: TravellerVTT) -> int | None:
    """Bytes Redis may use: a share of the container's memory limit (None without a limit)."""
    limit = quantity(tvtt.spec.redis.resources.limits.memory)
    if limit is None:
        return None
    return int(limit * REDIS_MAXMEMORY_SHARE)


def render_redis_conf(tvtt: TravellerVTT) -> str:
    """redis.conf with AOF on: every battle event survives a Redis restart (`appendfsync` policy
    from the spec). `noeviction`: at maxmemory Redis refuses writes instead of dropping battle
    logs. The password is not here (a ConfigMap is readable by more people than a Secret): the
    container passes `--requirepass` from the Secret; a NetworkPolicy lets only game servers in.
    """
    maxmemory = redis_maxmemory(tvtt)
    return "\n".join(
        [
            f"port {REDIS_PORT}",
            "bind * -::*",  # every IPv4 address, and IPv6 where the pod has it
            "protected-mode no",
            "dir /data",
            "appendonly yes",
            f"appendfsync {tvtt.spec.redis.appendfsync.value}",
            'save ""',
            *([f"maxmemory {maxmemory}"] if maxmemory is not None else []),
            "maxmemory-policy noeviction",
            "",
        ]
    )


def build_redis_secret(tvtt: TravellerVTT, password: str) -> dict[str, Any] | None:
    """The Secret with Redis's password, or None when Redis is off.

    Purely computational, no side effects: the password comes in (`Inputs.redis_password`), read
    back from the live Secret on every render so it never changes once generated.
    """
    if not tvtt.spec.redis.enabled:
        return None
    return {
        "apiVersion": SECRET.api_version,
        "kind": SECRET.kind,
        "metadata": _metadata(tvtt, redis_secret_name(tvtt), COMPONENT_REDIS),
        "type": "Opaque",
        "data": {REDIS_PASSWORD_KEY: base64.b64encode(password.encode()).decode()},
    }


def secret_password(secret: Mapping[str, Any] | None) -> str | None:
    """The password in a live Redis Secret, or None when there is none to reuse."""
    if secret is None:
        return None
    encoded = (secret.get("data") or {}).get(REDIS_PASSWORD_KEY)
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except ValueError:
        return None


def build_network_policies(tvtt: TravellerVTT) -> list[dict[str, Any]]:
    """NetworkPolicies: game servers take traffic on their port only; Redis only from them.

    Purely computational, no side effects. The game server port stays open to every source
    (the Ingress controller, a LoadBalancer's node traffic and the operator's summary poll come
    from anywhere in the cluster); every other port of the pods is closed. Redis accepts only
    this resource's game server pods, on the Redis port.
    """
    server_policy = {
        "apiVersion": NETWORK_POLICY.api_version,
        "kind": NETWORK_POLICY.kind,
        "metadata": _metadata(tvtt, server_name(tvtt), COMPONENT_SERVER),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(tvtt, COMPONENT_SERVER)},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": SERVER_PORT}]}],
        },
    }
    if not tvtt.spec.redis.enabled:
        return [server_policy]
    redis_policy = {
        "apiVersion": NETWORK_POLICY.api_version,
        "kind": NETWORK_POLICY.kind,
        "metadata": _metadata(tvtt, redis_name(tvtt), COMPONENT_REDIS),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(tvtt, COMPONENT_REDIS)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": selector_labels(tvtt, component)}}
                        for component in (
                            (COMPONENT_SERVER, COMPONENT_BACKUP)
                            if tvtt.spec.backup is not None and tvtt.spec.backup.bgsave
                            else (COMPONENT_SERVER,)
                        )
                    ],
                    "ports": [{"protocol": "TCP", "port": REDIS_PORT}],
                }
            ],
        },
    }
    return [server_policy, redis_policy]


def build_redis_configmap(tvtt: TravellerVTT) -> dict[str, Any] | None:
    """The ConfigMap holding redis.conf, or None when Redis is off."""
    if not tvtt.spec.redis.enabled:
        return None
    return {
        "apiVersion": CONFIG_MAP.api_version,
        "kind": CONFIG_MAP.kind,
        "metadata": _metadata(tvtt, redis_config_name(tvtt), COMPONENT_REDIS),
        "data": {"redis.conf": render_redis_conf(tvtt)},
    }


def build_redis_service(tvtt: TravellerVTT) -> dict[str, Any] | None:
    """The headless Service that gives the StatefulSet's pod its stable DNS name."""
    if not tvtt.spec.redis.enabled:
        return None
    return {
        "apiVersion": SERVICE.api_version,
        "kind": SERVICE.kind,
        "metadata": _metadata(tvtt, redis_name(tvtt), COMPONENT_REDIS),
        "spec": {
            "clusterIP": "None",
            "selector": selector_labels(tvtt, COMPONENT_REDIS),
            "ports": [
                {"name": "redis", "port": REDIS_PORT, "targetPort": "redis", "protocol": "TCP"}
            ],
        },
    }


def build_redis_statefulset(
    tvtt: TravellerVTT, *, config_hash: str, claim_size: int | str | None = None
) -> dict[str, Any] | None:
    """One Redis pod with a PersistentVolumeClaim template for its AOF, or None when Redis is off.

    PVCs outlive the resource by default (`pvcRetention: Retain`): deleting a TravellerVTT must not
    silently delete battle history. `claim_size` keeps the live claim template's size (immutable
    in a StatefulSet); growth is applied to the claim itself.
    """
    redis = tvtt.spec.redis
    if not redis.enabled:
        return None
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {
            "requests": {"storage": redis.storage_size if claim_size is None else claim_size}
        },
    }
    if redis.storage_class_name is not None:
        claim_spec["storageClassName"] = redis.storage_class_name
    labels = selector_labels(tvtt, COMPONENT_REDIS)
    return {
        "apiVersion": STATEFUL_SET.api_version,
        "kind": STATEFUL_SET.kind,
        "metadata": _metadata(tvtt, redis_name(tvtt), COMPONENT_REDIS),
        "spec": {
            "serviceName": redis_name(tvtt),
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": redis.pvc_retention.value,
                "whenScaled": "Retain",
            },
            "template": {
                "metadata": {
                    "labels": standard_labels(tvtt, COMPONENT_REDIS),
                    "annotations": {ANNOTATION_CONFIG_HASH: config_hash},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": REDIS_UID,
                        "runAsGroup": REDIS_UID,
                        "fsGroup": REDIS_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": REDIS_CONTAINER,
                            "image": redis.image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": [
                                "/etc/redis/redis.conf",
                                "--requirepass",
                                f"$({REDIS_PASSWORD_ENV})",
                            ],
                            "env": [
                                _password_env(tvtt, REDIS_PASSWORD_ENV),
                                _password_env(tvtt, REDIS_CLI_AUTH_ENV),
                            ],
                            "ports": [
                                {"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}
                            ],
                            "readinessProbe": {
                                # PONG only once the AOF is loaded (LOADING before): an open
                                # port alone would let the server connect too early.
                                "exec": {"command": list(REDIS_READY_COMMAND)},
                                "periodSeconds": 5,
                                "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
                            },
                            "livenessProbe": {
                                "tcpSocket": {"port": "redis"},
                                "periodSeconds": 10,
                                "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
                                "failureThreshold": 6,
                            },
                            "resources": _resources(redis.resources),
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/data"},
                                {"name": "config", "mountPath": "/etc/redis", "readOnly": True},
                            ],
                        }
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": redis_config_name(tvtt)}}],
                },
            },
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": REDIS_DATA_CLAIM, "labels": labels},
                    "spec": claim_spec,
                }
            ],
        },
    }


def build_children(tvtt: TravellerVTT, inputs: Inputs | None = None) -> list[dict[str, Any]]:
    """Every child the resource should have right now, stamped with its applied-hash.

    Purely computational, no side effects. Order is the apply order: config and Secret before
    the workloads that read them, Redis before the server that connects to it, Service before
    Ingress.
    """
    inputs = inputs or Inputs()
    configmap = build_configmap(tvtt)
    redis_configmap = build_redis_configmap(tvtt)
    server_config_hash = content_hash(configmap["data"])
    # A new password (the Secret was deleted and regenerated) restarts Redis with it.
    redis_config_hash = (
        content_hash({**redis_configmap["data"], "auth": content_hash(inputs.redis_password)})
        if redis_configmap
        else ""
    )
    ordered: list[dict[str, Any] | None] = [
        configmap,
        redis_configmap,
        build_redis_secret(tvtt, inputs.redis_password),
        *build_network_policies(tvtt),
        build_redis_service(tvtt),
        build_redis_statefulset(
            tvtt, config_hash=redis_config_hash, claim_size=inputs.redis_claim_size
        ),
        build_service(tvtt),
        build_deployment(tvtt, config_hash=server_config_hash),
        build_pdb(tvtt),
        build_hpa(tvtt, inputs.hpa_min_replicas),
        build_ingress(tvtt),
    ]
    return [m if m["kind"] == DEPLOYMENT.kind else stamp(m) for m in ordered if m is not None]


def child_key(manifest: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, name): how a child is identified within one resource's namespace."""
    return str(manifest["kind"]), str(manifest["metadata"]["name"])
