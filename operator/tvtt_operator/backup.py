"""Pure builders of `spec.backup`: the backup Secret, the backup volume and the CronJob.

Every function here is purely computational, no side effects. The CronJob runs the game server's
own image (`python -m gameserver.backup backup`, non-root, read-only root) against the Service:
the server's backup API lists every battle and exports each in the GM download's format, plus
its identity, so `python -m gameserver.backup restore` puts it back under the same id. The API's
token and the key that seals a running battle's seed (`EXPORT_KEY`: without the same key a
restored battle could not resume its dice) are generated once into one Secret, read by the
server pods and the job.

The backup volume is not a child like the others: it has no owner reference and is never
deleted by the operator (turning backups off, or deleting the resource, must not delete the
backups); it is created when missing and otherwise left alone.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from tvtt_operator.builders import (
    BACKUP_TOKEN_ENV,
    BACKUP_TOKEN_KEY,
    COMPONENT_BACKUP,
    EXPORT_KEY_KEY,
    REDIS_PASSWORD_ENV,
    Inputs,
    _metadata,
    _password_env,
    backup_secret_env,
    backup_secret_name,
    redis_url,
    server_name,
    stamp,
    standard_labels,
)
from tvtt_operator.builders_common import pod_placement, server_pod_security_context
from tvtt_operator.kinds import CRON_JOB, PVC, SECRET
from tvtt_operator.models import TravellerVTT

BACKUP_CONTAINER = "backup"
BACKUP_MOUNT = "/backups"
BACKUP_COMMAND = ("python", "-m", "gameserver.backup", "backup")
# A run that has not started this long after its time is skipped (the next one comes).
STARTING_DEADLINE_SECONDS = 600
# A run (every battle exported: seconds for hundreds of battles) may take at most this.
ACTIVE_DEADLINE_SECONDS = 1800
BACKOFF_LIMIT = 2
JOBS_KEPT = 3


def backup_name(tvtt: TravellerVTT) -> str:
    """The CronJob (its Jobs and pods carry the name as a prefix)."""
    return f"{tvtt.name}-backup"


def backup_claim_name(tvtt: TravellerVTT) -> str:
    """The backup volume's PersistentVolumeClaim."""
    return f"{tvtt.name}-backups"


def backup_service_url(tvtt: TravellerVTT) -> str:
    """The server as the job reaches it: the resource's Service, in the same namespace."""
    return f"http://{server_name(tvtt)}:{tvtt.spec.service.port}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def build_backup_secret(tvtt: TravellerVTT, inputs: Inputs) -> dict[str, Any] | None:
    """The backup token and export key, or None (no backups and no Secret to keep).

    The values come in (`Inputs`), read back from the live Secret on every render, so they
    never change once generated: a new export key would make every earlier backup of a running
    battle unrestorable.
    """
    if tvtt.spec.backup is None and not inputs.keep_backup_secret:
        return None
    return {
        "apiVersion": SECRET.api_version,
        "kind": SECRET.kind,
        "metadata": _metadata(tvtt, backup_secret_name(tvtt), COMPONENT_BACKUP),
        "type": "Opaque",
        "data": {
            BACKUP_TOKEN_KEY: _b64(inputs.backup_token),
            EXPORT_KEY_KEY: _b64(inputs.export_key),
        },
    }


def secret_values(secret: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(token, export key) of a live backup Secret, or None when it has no usable values."""
    if secret is None:
        return None
    data = secret.get("data") or {}
    try:
        token = base64.b64decode(data.get(BACKUP_TOKEN_KEY) or "", validate=True).decode()
        key = base64.b64decode(data.get(EXPORT_KEY_KEY) or "", validate=True).decode()
    except ValueError:
        return None
    return (token, key) if token and key else None


def build_backup_claim(tvtt: TravellerVTT) -> dict[str, Any] | None:
    """The backup volume (ReadWriteOnce: one job at a time), or None without backups.

    No owner reference: garbage collection must not delete the backups with the resource.
    """
    backup = tvtt.spec.backup
    if backup is None:
        return None
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": backup.storage_size}},
    }
    if backup.storage_class_name is not None:
        spec["storageClassName"] = backup.storage_class_name
    return {
        "apiVersion": PVC.api_version,
        "kind": PVC.kind,
        "metadata": {
            "name": backup_claim_name(tvtt),
            "namespace": tvtt.namespace,
            "labels": standard_labels(tvtt, COMPONENT_BACKUP),
        },
        "spec": spec,
    }


def build_backup_cronjob(tvtt: TravellerVTT) -> dict[str, Any] | None:
    """The CronJob that backs up every battle on `spec.backup.schedule`, or None.

    `Forbid`: a run still going when the next is due makes the next wait (two runs would share
    the volume). With Redis and `bgsave`, the job also asks Redis for an RDB snapshot (the
    Redis NetworkPolicy lets the backup pods in for that).
    """
    backup = tvtt.spec.backup
    if backup is None:
        return None
    bgsave = backup.bgsave and tvtt.spec.redis.enabled
    env: list[dict[str, Any]] = [backup_secret_env(tvtt, BACKUP_TOKEN_ENV)]
    if bgsave:
        env.append(_password_env(tvtt, REDIS_PASSWORD_ENV))
        env.append({"name": "REDIS_URL", "value": redis_url(tvtt)})
    command = [
        *BACKUP_COMMAND,
        "--url",
        backup_service_url(tvtt),
        "--dir",
        BACKUP_MOUNT,
        "--keep",
        str(backup.retention),
        *(["--bgsave"] if bgsave else []),
    ]
    labels = standard_labels(tvtt, COMPONENT_BACKUP)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": server_pod_security_context(),
        "containers": [
            {
                "name": BACKUP_CONTAINER,
                "image": tvtt.spec.image,
                "imagePullPolicy": "IfNotPresent",
                "command": command,
                "env": env,
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"memory": "256Mi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "backups", "mountPath": BACKUP_MOUNT}],
            }
        ],
        "volumes": [
            {"name": "backups", "persistentVolumeClaim": {"claimName": backup_claim_name(tvtt)}}
        ],
    } | pod_placement(tvtt.spec)
    return {
        "apiVersion": CRON_JOB.api_version,
        "kind": CRON_JOB.kind,
        "metadata": _metadata(tvtt, backup_name(tvtt), COMPONENT_BACKUP),
        "spec": {
            "schedule": backup.schedule,
            "suspend": backup.suspend,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": JOBS_KEPT,
            "failedJobsHistoryLimit": JOBS_KEPT,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": BACKOFF_LIMIT,
                    "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
                    "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                },
            },
        },
    }


def build_backup_children(
    tvtt: TravellerVTT, inputs: Inputs, *, claim_exists: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(before, after) the other children, stamped: the Secret goes before the Deployment that
    reads it; the volume (only while missing) and the CronJob after the Service they use."""
    secret = build_backup_secret(tvtt, inputs)
    claim = None if claim_exists else build_backup_claim(tvtt)
    cronjob = build_backup_cronjob(tvtt)
    before = [stamp(secret)] if secret is not None else []
    after = [stamp(m) for m in (claim, cronjob) if m is not None]
    return before, after
