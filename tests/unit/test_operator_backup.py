"""`spec.backup`: the model's checks, the CRD rule, the pure builders and what planning writes.

The server side of the same names (the CronJob's command line, the variables, the Secret's use
by the Deployment) is in tests/contract/test_operator_server_backup.py; the real run in
tests/redis/test_backup_restore.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError
from tvtt_operator.backup import (
    backup_claim_name,
    backup_name,
    build_backup_children,
    build_backup_cronjob,
    build_backup_secret,
)
from tvtt_operator.builders import (
    BACKUP_TOKEN_ENV,
    EXPORT_KEY_ENV,
    SERVER_UID,
    Inputs,
    backup_secret_name,
    build_children,
    build_network_policies,
)
from tvtt_operator.crdgen import build_crd
from tvtt_operator.models import BACKUP_CRON_PATTERN, TravellerVTT
from tvtt_operator.planning import Plan, plan_reconcile

from tests.unit.test_operator_planning import as_live

REDIS = {"redis": {"enabled": True}}
DAILY = {"backup": {"schedule": "0 3 * * *", "retention": 5}}
SECRETS = Inputs(backup_token="t0ken", export_key="k3y")


def make(spec: dict[str, Any]) -> TravellerVTT:
    return TravellerVTT.model_validate(
        {
            "metadata": {"name": "skirmish", "namespace": "games", "uid": "u1", "generation": 1},
            "spec": spec,
        }
    )


@pytest.mark.parametrize(
    "schedule",
    ["0 3 * * *", "*/15 * * * *", "0 0 1,15 * *", "30 2 * jan-mar mon-fri", "0 4 ? * 0", "@daily"],
)
def test_cron_schedules_pass_both_checks(schedule: str) -> None:
    assert make({"backup": {"schedule": schedule}}).spec.backup is not None
    assert re.match(BACKUP_CRON_PATTERN, schedule)


@pytest.mark.parametrize(
    ("backup", "message"),
    [
        ({"schedule": "daily"}, "backup.schedule must be a cron schedule: five fields"),
        ({"schedule": "0 3 * *"}, "backup.schedule must be a cron schedule"),
        ({"schedule": "0 3 * * * *"}, "backup.schedule must be a cron schedule"),
        ({"schedule": "0 3 * * *; rm -rf /"}, "backup.schedule must be a cron schedule"),
        ({"schedule": "61 3 * * *"}, "the minute field '61' is outside 0-59"),
        ({"schedule": "0 24 * * *"}, "the hour field '24' is outside 0-23"),
        ({"schedule": "0 3 0 * *"}, "the day-of-month field '0' is outside 1-31"),
        ({"schedule": "0 3 * 13 *"}, "the month field '13' is outside 1-12"),
        ({"schedule": "0 3 * * funday"}, "the day-of-week field 'funday' is outside 0-7"),
        ({"schedule": "*/0 * * * *"}, "the minute step '0' is not a number >= 1"),
        ({"schedule": "0 3 * * *", "retention": 0}, "retention"),
        ({"retention": 3}, "schedule"),
        ({"schedule": "0 3 * * *", "storageSize": "lots"}, "quantity"),
    ],
)
def test_invalid_backup_specs_are_refused_naming_the_field(
    backup: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        make({"backup": backup})


def test_the_crd_refuses_a_bad_schedule_and_retention_with_the_field_named() -> None:
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    backup = schema["properties"]["spec"]["properties"]["backup"]
    assert backup["required"] == ["schedule"]
    (rule,) = backup["properties"]["schedule"]["x-kubernetes-validations"]
    assert rule["rule"] == f"self.matches('{BACKUP_CRON_PATTERN}')"
    assert rule["message"].startswith("backup.schedule must be a cron schedule")
    retention = backup["properties"]["retention"]
    assert (retention["minimum"], retention["maximum"]) == (1, 1000)


def test_the_cronjob_runs_the_backup_command_on_the_schedule_as_non_root() -> None:
    tvtt = make({**REDIS, **DAILY, "image": "registry.example/tvtt:7"})
    cronjob = build_backup_cronjob(tvtt)
    assert cronjob is not None
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("0 3 * * *", "Forbid")
    assert spec["suspend"] is False
    suspended = build_backup_cronjob(make({"backup": {**DAILY["backup"], "suspend": True}}))
    assert suspended is not None
    assert suspended["spec"]["suspend"] is True
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example/tvtt:7"
    assert container["command"] == [
        "python", "-m", "gameserver.backup", "backup", "--url", "http://skirmish:80",
        "--dir", "/backups", "--keep", "5", "--bgsave",
    ]  # fmt: skip
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == SERVER_UID
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False
    assert pod["volumes"] == [
        {"name": "backups", "persistentVolumeClaim": {"claimName": "skirmish-backups"}}
    ]
    token = next(e for e in container["env"] if e["name"] == BACKUP_TOKEN_ENV)
    assert token["valueFrom"]["secretKeyRef"]["name"] == backup_secret_name(tvtt)
    assert "value" not in token


def test_no_bgsave_without_redis_or_when_turned_off() -> None:
    for spec in (
        {"redis": {"enabled": False}, **DAILY},
        {**REDIS, "backup": {**DAILY["backup"], "bgsave": False}},
    ):
        cronjob = build_backup_cronjob(make(spec))
        assert cronjob is not None
        (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert "--bgsave" not in container["command"]
        assert {e["name"] for e in container["env"]} == {BACKUP_TOKEN_ENV}


def test_redis_lets_the_backup_pods_in_only_for_bgsave() -> None:
    def redis_sources(spec: dict[str, Any]) -> list[str]:
        policies = build_network_policies(make(spec))
        policy = next(p for p in policies if "redis" in p["metadata"]["name"])
        sources = policy["spec"]["ingress"][0]["from"]
        return [f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for f in sources]

    no_bgsave = {**REDIS, "backup": {**DAILY["backup"], "bgsave": False}}
    assert redis_sources(REDIS) == ["gameserver"]
    assert redis_sources({**REDIS, **DAILY}) == ["gameserver", "backup"]
    assert redis_sources(no_bgsave) == ["gameserver"]


def test_the_server_pods_read_the_token_and_export_key_from_the_backup_secret() -> None:
    def server_env(spec: dict[str, Any]) -> dict[str, Any]:
        deployment = next(m for m in build_children(make(spec)) if m["kind"] == "Deployment")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e for e in container["env"]}

    env = server_env({**REDIS, **DAILY})
    for name, key in ((BACKUP_TOKEN_ENV, "token"), (EXPORT_KEY_ENV, "export-key")):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "skirmish-backup", "key": key}
    assert BACKUP_TOKEN_ENV not in server_env(REDIS)


def test_the_secret_keeps_its_values_and_outlives_the_backups() -> None:
    on, off = make({**REDIS, **DAILY}), make(REDIS)
    secret = build_backup_secret(on, SECRETS)
    assert secret is not None
    assert secret["data"] == {"token": "dDBrZW4=", "export-key": "azN5"}
    assert build_backup_secret(off, SECRETS) is None
    kept = Inputs(backup_token="t0ken", export_key="k3y", keep_backup_secret=True)
    assert build_backup_secret(off, kept) == secret


def live_world(tvtt: TravellerVTT) -> dict[tuple[str, str], dict[str, Any]]:
    first, last = build_backup_children(tvtt, SECRETS, claim_exists=True)
    return {
        (m["kind"], m["metadata"]["name"]): as_live(m)
        for m in [*first, *build_children(tvtt, SECRETS), *last]
    }


def applied(plan: Plan) -> list[tuple[str, str]]:
    return [(m["kind"], m["metadata"]["name"]) for m in plan.applies]


def test_first_reconcile_creates_secret_before_the_server_and_the_claim_once() -> None:
    tvtt = make({**REDIS, **DAILY})
    plan = plan_reconcile(tvtt, {}, fresh_backup=("fresh-token", "fresh-key"))
    order = applied(plan)
    assert order.index(("Secret", "skirmish-backup")) < order.index(("Deployment", "skirmish"))
    assert order.index(("Service", "skirmish")) < order.index(("CronJob", backup_name(tvtt)))
    assert ("PersistentVolumeClaim", backup_claim_name(tvtt)) in order
    secret = next(m for m in plan.applies if m["metadata"]["name"] == "skirmish-backup")
    assert secret["data"]["token"] == "ZnJlc2gtdG9rZW4="
    claim = next(m for m in plan.applies if m["kind"] == "PersistentVolumeClaim")
    assert "ownerReferences" not in claim["metadata"]


def test_steady_state_keeps_the_live_secret_and_writes_nothing() -> None:
    tvtt = make({**REDIS, **DAILY})
    live = live_world(tvtt)
    claim = {"metadata": {"name": backup_claim_name(tvtt)}}
    plan = plan_reconcile(tvtt, live, fresh_backup=("other", "other"), backup_claim=claim)
    assert [a for a in applied(plan) if a[0] != "Deployment"] == []
    assert plan.deletes == []


def test_backups_off_deletes_the_cronjob_and_keeps_secret_and_volume() -> None:
    live = live_world(make({**REDIS, **DAILY}))
    plan = plan_reconcile(make(REDIS), live, backup_claim={"metadata": {}})
    assert [(k.kind, n) for k, n in plan.deletes] == [("CronJob", "skirmish-backup")]
    assert ("Secret", "skirmish-backup") not in applied(plan)
