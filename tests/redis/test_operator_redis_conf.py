"""The redis.conf and readiness command the operator renders, run by a real redis-server.

The e2e control plane never runs containers (kwok), so this is where the Redis the operator
configures is started for real: the same file (only port and data dir moved to the test's), the
same readiness command the kubelet would exec.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from tvtt_operator.builders import REDIS_READY_COMMAND, render_redis_conf
from tvtt_operator.models import REDIS_PORT, TravellerVTT

from testkit.ports import free_port

pytestmark = pytest.mark.redis


def ipv6_loopback() -> bool:
    """Whether this host has ::1 (without it, `-::*` lets Redis start on IPv4 alone)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def ready_command(port: int) -> list[str]:
    return [*REDIS_READY_COMMAND[:-1], str(port)]


def test_rendered_config_starts_redis_with_aof_and_the_probe_passes(tmp_path: Path) -> None:
    tvtt = TravellerVTT.model_validate(
        {"metadata": {"name": "fleet", "namespace": "games"}, "spec": {"redis": {"enabled": True}}}
    )
    port = free_port()
    lines = render_redis_conf(tvtt).splitlines()
    assert f"port {REDIS_PORT}" in lines
    assert "dir /data" in lines
    conf = tmp_path / "redis.conf"
    moved = [f"port {port}" if line.startswith("port ") else line for line in lines]
    conf.write_text(
        "\n".join(f"dir {tmp_path}" if line.startswith("dir ") else line for line in moved)
    )
    assert ready_command(port)[-1] == str(port)
    server = subprocess.Popen(
        ["redis-server", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(ready_command(port), check=False).returncode != 0:
            assert server.poll() is None, server.stdout.read() if server.stdout else b""
            assert time.monotonic() < deadline, "readiness command never passed"
            time.sleep(0.05)
        # `bind * -::*`: reachable on IPv4, and on IPv6 when the host has it.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        if ipv6_loopback():
            with socket.create_connection(("::1", port), timeout=2):
                pass
        config = subprocess.run(
            ["redis-cli", "-p", str(port), "config", "get", "appendonly"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert config == ["appendonly", "yes"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    # Not ready when nothing answers: the probe fails instead of passing on a closed port.
    assert subprocess.run(ready_command(port), check=False, capture_output=True).returncode != 0
