"""`spec.backup` against the real API server: the CRD's refusals, and what the operator creates.

The API server refuses a bad schedule or retention naming the field (the CRD's CEL rule and
bounds); the operator (chart RBAC) creates the backup Secret, the CronJob and the backup volume,
wires the Secret into the server pods, keeps the Secret's values across reconciles, and leaves
the volume and the Secret in place when backups are turned off. Running the CronJob's pods needs
the real node (tests/e2e/node/test_backup.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cluster.kube import Kubectl
from tests.cluster.operator_process import OperatorProcess
from tests.e2e.operator_helpers import tvtt, wait

INVALID = 'The TravellerVTT "bad" is invalid'


@pytest.mark.parametrize(
    ("backup", "expected"),
    [
        pytest.param(
            {"schedule": "every day"},
            [INVALID, "spec.backup.schedule: Invalid value", "backup.schedule must be a cron"],
            id="schedule-not-cron",
        ),
        pytest.param(
            {"schedule": "0 3 * *"},
            [INVALID, "spec.backup.schedule: Invalid value", "five fields"],
            id="schedule-four-fields",
        ),
        pytest.param(
            {"schedule": "0 3 * * *", "retention": 0},
            [INVALID, "spec.backup.retention", "greater than or equal to 1"],
            id="retention-zero",
        ),
        pytest.param(
            {"retention": 3},
            [INVALID, "spec.backup.schedule: Required value"],
            id="schedule-missing",
        ),
    ],
)
def test_bad_backup_specs_are_refused_naming_the_field(
    crd: None, kubectl: Kubectl, backup: dict[str, Any], expected: list[str]
) -> None:
    proc = kubectl.run("apply", "-f", "-", input=json.dumps(tvtt("bad", {"backup": backup})),
                       check=False)  # fmt: skip
    assert proc.returncode != 0, proc.stdout
    for text in expected:
        assert text in proc.stderr, proc.stderr
    assert not kubectl.exists("travellervtt", "bad")


def test_the_operator_creates_the_backup_children_and_keeps_what_must_stay(
    operator: OperatorProcess, kubectl: Kubectl
) -> None:
    spec = {"backup": {"schedule": "*/5 * * * *", "retention": 3}}
    kubectl.apply(tvtt("vault", spec))
    wait(operator, lambda: kubectl.exists("cronjob", "vault-backup"), "the CronJob")
    cronjob = kubectl.get("cronjob", "vault-backup")
    assert cronjob["spec"]["schedule"] == "*/5 * * * *"
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][container["command"].index("--keep") + 1] == "3"
    claim = wait(operator, lambda: kubectl.get("pvc", "vault-backups"), "the backup volume's claim")
    assert not claim["metadata"].get("ownerReferences"), "backups outlive the resource"
    secret = kubectl.get("secret", "vault-backup")
    assert len(secret["data"]["token"]) > 20
    deployment = wait(operator, lambda: kubectl.get("deployment", "vault"), "the Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name in ("BACKUP_TOKEN", "EXPORT_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "vault-backup"

    # A new schedule changes the CronJob, not the generated values.
    kubectl.apply(tvtt("vault", {"backup": {"schedule": "@daily"}}))
    wait(
        operator,
        lambda: kubectl.get("cronjob", "vault-backup")["spec"]["schedule"] == "@daily",
        "the new schedule",
    )
    assert kubectl.get("secret", "vault-backup")["data"] == secret["data"]

    # Backups off: the CronJob goes; the Secret (its key opens the backups) and volume stay.
    kubectl.apply(tvtt("vault", {}))
    wait(operator, lambda: not kubectl.exists("cronjob", "vault-backup"), "the CronJob deleted")
    assert kubectl.get("secret", "vault-backup")["data"] == secret["data"]
    assert kubectl.exists("pvc", "vault-backups")
