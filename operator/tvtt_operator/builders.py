"""Pure builders: a parsed TravellerVTT in, Kubernetes manifest dicts out.

Every function here is purely computational, no side effects: no clock, no API, no globals read
(the crate-operator `get_*()` / dask `build_*_spec()` habit). The reconciler applies what these
return with server-side apply, so each manifest lists exactly the fields the operator owns.

The builders live in sibling modules by concern (`builders_common`, `builders_server`,
`builders_redis`); this module assembles them (`build_children`) with the network policies, and
re-exports every name, so `from tvtt_operator.builders import ...` keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tvtt_operator.builders_common import (
    ANNOTATION_APPLIED_HASH,
    ANNOTATION_CONFIG_HASH,
    ANNOTATION_PREFIX,
    ANNOTATION_TEMPLATE_HASH,
    APP_NAME,
    BACKUP_TOKEN_ENV,
    BACKUP_TOKEN_KEY,
    COMPONENT_BACKUP,
    COMPONENT_REDIS,
    COMPONENT_SERVER,
    EXPORT_KEY_ENV,
    EXPORT_KEY_KEY,
    FIELD_MANAGER,
    HANDOVER_FIELD_MANAGER,
    LABEL_COMPONENT,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
    LABEL_PART_OF,
    PROBE_TIMEOUT_SECONDS,
    READY_STORE_TIMEOUT_S,
    REDIS_CLI_AUTH_ENV,
    REDIS_CONTAINER,
    REDIS_DATA_CLAIM,
    REDIS_MAXMEMORY_SHARE,
    REDIS_PASSWORD_ENV,
    REDIS_PASSWORD_KEY,
    REDIS_READY_COMMAND,
    REDIS_UID,
    ROLLBACK_FIELD_MANAGER,
    SERVER_CONTAINER,
    SERVER_UID,
    TEST_FAIL_COMMANDS_ENV,
    WEBSOCKET_TIMEOUT_SECONDS,
    _metadata as _metadata,
    _password_env as _password_env,
    backup_secret_env,
    backup_secret_name,
    build_owner_reference,
    config_name,
    content_hash,
    label_selector,
    redis_claim_name,
    redis_config_name,
    redis_name,
    redis_secret_name,
    selector_labels,
    server_name,
    stamp,
    standard_labels,
)
from tvtt_operator.builders_redis import (
    build_redis_configmap,
    build_redis_secret,
    build_redis_service,
    build_redis_statefulset,
    redis_maxmemory,
    render_redis_conf,
    secret_password,
)
from tvtt_operator.builders_server import (
    build_configmap,
    build_deployment,
    build_hpa,
    build_ingress,
    build_pdb,
    build_pod_template,
    build_service,
    redis_url,
    shutdown_grace_seconds,
    template_hash,
)
from tvtt_operator.kinds import (
    DEPLOYMENT,
    NETWORK_POLICY,
)
from tvtt_operator.models import (
    REDIS_PORT,
    SERVER_PORT,
    TravellerVTT,
)

__all__ = [
    "ANNOTATION_APPLIED_HASH",
    "ANNOTATION_CONFIG_HASH",
    "ANNOTATION_PREFIX",
    "ANNOTATION_TEMPLATE_HASH",
    "APP_NAME",
    "BACKUP_TOKEN_ENV",
    "BACKUP_TOKEN_KEY",
    "COMPONENT_BACKUP",
    "COMPONENT_REDIS",
    "COMPONENT_SERVER",
    "EXPORT_KEY_ENV",
    "EXPORT_KEY_KEY",
    "FIELD_MANAGER",
    "HANDOVER_FIELD_MANAGER",
    "LABEL_COMPONENT",
    "LABEL_INSTANCE",
    "LABEL_MANAGED_BY",
    "LABEL_NAME",
    "LABEL_PART_OF",
    "PROBE_TIMEOUT_SECONDS",
    "READY_STORE_TIMEOUT_S",
    "REDIS_CLI_AUTH_ENV",
    "REDIS_CONTAINER",
    "REDIS_DATA_CLAIM",
    "REDIS_MAXMEMORY_SHARE",
    "REDIS_PASSWORD_ENV",
    "REDIS_PASSWORD_KEY",
    "REDIS_READY_COMMAND",
    "REDIS_UID",
    "ROLLBACK_FIELD_MANAGER",
    "SERVER_CONTAINER",
    "SERVER_UID",
    "TEST_FAIL_COMMANDS_ENV",
    "WEBSOCKET_TIMEOUT_SECONDS",
    "Inputs",
    "backup_secret_env",
    "backup_secret_name",
    "build_children",
    "build_configmap",
    "build_deployment",
    "build_hpa",
    "build_ingress",
    "build_network_policies",
    "build_owner_reference",
    "build_pdb",
    "build_pod_template",
    "build_redis_configmap",
    "build_redis_secret",
    "build_redis_service",
    "build_redis_statefulset",
    "build_service",
    "child_key",
    "config_name",
    "content_hash",
    "label_selector",
    "redis_claim_name",
    "redis_config_name",
    "redis_maxmemory",
    "redis_name",
    "redis_secret_name",
    "redis_url",
    "render_redis_conf",
    "secret_password",
    "selector_labels",
    "server_name",
    "shutdown_grace_seconds",
    "stamp",
    "standard_labels",
    "template_hash",
]


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
