"""The operator's backup CronJob and Secret ↔ the game server's settings and backup command.

Both sides are imported: the operator renders the CronJob and the Deployment for a spec with
backups; the server's `Settings` must read the token and the export key under the names the
Deployment sets, and `gameserver.backup`'s own parser must accept the CronJob's command line
and read the variables the job is given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from tvtt_operator import backup as operator_backup
from tvtt_operator.builders import BACKUP_TOKEN_ENV, EXPORT_KEY_ENV, build_children
from tvtt_operator.models import TravellerVTT

from gameserver import backup as server_backup
from gameserver.settings import Settings


def resource(spec: dict[str, Any]) -> TravellerVTT:
    return TravellerVTT.model_validate(
        {
            "metadata": {"name": "contract", "namespace": "games", "uid": "u-1", "generation": 1},
            "spec": spec,
        }
    )


def test_the_server_reads_the_token_and_key_under_the_deployments_names() -> None:
    tvtt = resource({"backup": {"schedule": "@hourly"}})
    deployment = next(m for m in build_children(tvtt) if m["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for e in container["env"]}
    assert {BACKUP_TOKEN_ENV, EXPORT_KEY_ENV} <= names
    values = {BACKUP_TOKEN_ENV: "the-token", EXPORT_KEY_ENV: "the-key"}
    with mock.patch.dict(os.environ, values, clear=True):
        settings = Settings()
    assert (settings.backup_token, settings.export_key) == ("the-token", "the-key")


@pytest.mark.parametrize(
    ("spec", "bgsave"),
    [
        pytest.param({"redis": {"enabled": True}}, True, id="redis-bgsave"),
        pytest.param({"redis": {"enabled": False}}, False, id="in-memory"),
    ],
)
def test_the_backup_command_accepts_the_cronjobs_command_line(
    spec: dict[str, Any], bgsave: bool
) -> None:
    tvtt = resource({**spec, "service": {"port": 8080}, "backup": {"schedule": "0 3 * * *"}})
    cronjob = operator_backup.build_backup_cronjob(tvtt)
    assert cronjob is not None
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["command"]
    assert command[:3] == ["python", "-m", server_backup.__name__]
    args = server_backup.build_parser().parse_args(command[3:])
    assert (args.command, args.keep, args.bgsave) == ("backup", 7, bgsave)
    assert args.url == "http://contract:8080"
    assert args.dir == Path(container["volumeMounts"][0]["mountPath"])
    env = {e["name"] for e in container["env"]}
    assert server_backup.BACKUP_TOKEN_ENV == BACKUP_TOKEN_ENV
    assert server_backup.BACKUP_TOKEN_ENV in env
    assert (server_backup.REDIS_URL_ENV in env) is bgsave
