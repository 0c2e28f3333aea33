"""Redis's children: redis.conf and its ConfigMap, the password Secret, the headless Service and
the one-pod StatefulSet. Pure, like every builder (see `builders`)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from tvtt_operator.builders_common import (
    ANNOTATION_CONFIG_HASH,
    COMPONENT_REDIS,
    PROBE_TIMEOUT_SECONDS,
    REDIS_CLI_AUTH_ENV,
    REDIS_CONTAINER,
    REDIS_DATA_CLAIM,
    REDIS_MAXMEMORY_SHARE,
    REDIS_PASSWORD_ENV,
    REDIS_PASSWORD_KEY,
    REDIS_READY_COMMAND,
    REDIS_UID,
    _metadata,
    _password_env,
    _resources,
    redis_config_name,
    redis_name,
    redis_secret_name,
    selector_labels,
    standard_labels,
)
from tvtt_operator.kinds import (
    CONFIG_MAP,
    SECRET,
    SERVICE,
    STATEFUL_SET,
)
from tvtt_operator.models import (
    REDIS_PORT,
    TravellerVTT,
    quantity,
)


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
