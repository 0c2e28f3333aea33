"""The real node's own promise: a run killed outright is cleaned up by the next start.

A child process starts a control plane and a real node, then gets SIGKILL: no `stop()` runs.
Its record must still be there with the host changed (the kubelet's sysctls, the bridge); the
next start (here `clean_leftovers()` under the node lock, as `RealNode.start()` does) must undo
all of it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.kube import wait_for
from tests.cluster.node import (
    BRIDGE,
    Record,
    clean_leftovers,
    forwarding,
    leaks,
    read_sysctls,
    registry,
    take_node_lock,
)

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[3]
CHILD = """
import sys, time
from pathlib import Path
from tests.cluster.controlplane import ControlPlane
from tests.cluster.node import RealNode
cp = ControlPlane(Path(sys.argv[1]))  # in the test's tmp_path: a SIGKILL leaves it behind
cp.start()
node = RealNode(cp)
node.start()
print("READY", node.run_id, flush=True)
time.sleep(600)
"""


def test_a_killed_run_is_cleaned_up_by_the_next_start(tmp_path: Path) -> None:
    # The host as it is with no run: an earlier killed run (a CI job stopped mid-suite) may have
    # left its record and the kubelet's sysctls, and the child's start would undo them first.
    lock = take_node_lock(timeout=60)
    try:
        clean_leftovers()
    finally:
        lock.close()
    before = read_sysctls()
    ip_forward = forwarding()
    log = tmp_path / "child.log"
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path / "cp")],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "READY" in log.read_text(), timeout=240, message="the child's node")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    run_id = log.read_text().split("READY", 1)[1].split()[0]
    record = Record.load(registry() / f"{run_id}.json")
    assert record.sysctls == before
    left = leaks(record, ip_forward)
    assert f"bridge {BRIDGE} still there" in left, left
    assert any(item.startswith("run dir") for item in left), left

    lock = take_node_lock(timeout=60)
    try:
        assert clean_leftovers() >= 1
    finally:
        lock.close()
    assert leaks(record, ip_forward) == []
    assert read_sysctls() == before
    assert not (registry() / f"{run_id}.json").exists()
