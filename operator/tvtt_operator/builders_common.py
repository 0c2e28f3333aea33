"""What every builder shares: field managers, labels and annotations, child names, the owner
reference, the applied-hash stamp and the Secret-backed env vars (see `builders`)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from tvtt_operator.kinds import (
    TRAVELLER_VTT,
)
from tvtt_operator.models import (
    REDIS_PORT,
    Resources,
    TravellerVTT,
    TravellerVTTSpec,
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


def content_hash(value: Any) -> str:
    """A short, stable digest of JSON-able data (key order does not matter).

    Purely computational, no side effects. Used to skip applies in steady state: a child whose
    recorded hash equals the rendered one needs no write.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def server_pod_security_context() -> dict[str, Any]:
    """The pod securityContext of every pod running the server's image (the server, the backup
    job): non-root as the image's user, volumes group-owned by it, the runtime's seccomp profile.
    One place, so the two pods cannot drift apart."""
    return {
        "runAsNonRoot": True,
        "runAsUser": SERVER_UID,
        "runAsGroup": SERVER_UID,
        "fsGroup": SERVER_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_placement(spec: TravellerVTTSpec) -> dict[str, Any]:
    """The resource's `nodeSelector` and `tolerations` for a pod spec, only those set: every
    pod the resource runs is placed alike."""
    placement: dict[str, Any] = {}
    if spec.node_selector:
        placement["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        placement["tolerations"] = [
            t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations
        ]
    return placement


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


def _resources(resources: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, values in (("requests", resources.requests), ("limits", resources.limits)):
        quantities = {k: v for k, v in values.model_dump(exclude_none=True).items()}
        if quantities:
            out[section] = quantities
    return out
