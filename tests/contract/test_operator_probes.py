"""The operator's probes of the game server ask what the server answers, where and in time.

The probes go to the port the server serves them on from a thread (`PROBE_PORT`, so a saturated
event loop does not delay them), at paths it answers there; each probe waits longer than the
server may take to answer (`READY_STORE_TIMEOUT_S`, the store ping behind `/ready`); and a pod is
only restarted after its loop has been stalled longer than the server's own stall limit.
"""

from __future__ import annotations

import pytest
from tvtt_operator.models import TravellerVTT

from gameserver.probes import PATHS
from tests.contract.test_operator_server_env import (
    SPECS,
    rendered_environment,
    server_container,
    settings_from,
)

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


@pytest.mark.parametrize("tvtt", SPECS)
def test_probes_reach_the_servers_probe_port_in_time(tvtt: TravellerVTT) -> None:
    container = server_container(tvtt)
    env, _ = rendered_environment(tvtt)
    settings = settings_from(env)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert settings.probe_port != 0
    for name in PROBES:
        probe = container[name]
        get = probe["httpGet"]
        assert ports[get["port"]] == settings.probe_port, name
        assert get["path"] in PATHS, name
        assert probe["timeoutSeconds"] > settings.ready_store_timeout_s, name
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > settings.probe_stall_s
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
