"""The control plane's CLI for people: `make cluster-up` / `make cluster-down`
(``python -m tests.cluster.controlplane up|down|status|bin-dir [--run-dir DIR]``); split out of
`controlplane`, which runs `main` when run as a module.

Stdlib only, like controlplane.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.cluster.controlplane import ControlPlane, ControlPlaneError
from tests.cluster.pins import bin_dir, cache_root
from tests.cluster.procs import _cmdline, _Proc, _terminate, pid_alive, rss_bytes


def default_run_dir() -> Path:
    return cache_root() / "run"


def _load_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state


def _state_procs(state: dict[str, Any]) -> Iterator[_Proc]:
    """Recorded processes that still exist and still run one of our binaries (pid reuse guard)."""
    for entry in state.get("processes", []):
        pid = int(entry["pid"])
        if pid_alive(pid) and state["bin_dir"] in _cmdline(pid):
            yield _Proc(entry["name"], pid, Path(entry["log"]))


def cli_up(run_dir: Path) -> int:
    state = _load_state(run_dir)
    if state and list(_state_procs(state)):
        print(f"# control plane already running (run dir {run_dir})", file=sys.stderr)
        print(f"export KUBECONFIG={state['kubeconfig']}")
        return 0
    if state:
        cli_down(run_dir, quiet=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    cp = ControlPlane(run_dir, die_with_parent=False)
    try:
        cp.start()
    except ControlPlaneError as e:
        print(f"cluster-up failed: {e}", file=sys.stderr)
        return 1
    cp.detach()
    rss = cp.rss_bytes() / 2**20
    print(
        f"# control plane Ready in {cp.startup_seconds:.1f}s at {cp.server} "
        f"(RSS {rss:.0f} MiB, logs in {run_dir / 'logs'}); stop with `make cluster-down`",
        file=sys.stderr,
    )
    print(f"# kubectl/helm of the pinned versions: export PATH={cp.bin}:$PATH", file=sys.stderr)
    print(f"export KUBECONFIG={cp.kubeconfig}")
    return 0


def cli_down(run_dir: Path, quiet: bool = False) -> int:
    state = _load_state(run_dir)
    if state is None:
        if not quiet:
            print(f"no control plane recorded in {run_dir}", file=sys.stderr)
        return 0
    procs = list(_state_procs(state))
    _terminate(procs)
    shutil.rmtree(run_dir, ignore_errors=True)
    if not quiet:
        print(f"stopped {len(procs)} process(es); removed {run_dir}", file=sys.stderr)
    return 0


def cli_status(run_dir: Path) -> int:
    state = _load_state(run_dir)
    if state is None:
        print(f"no control plane recorded in {run_dir}")
        return 1
    alive = {p.name: p.pid for p in _state_procs(state)}
    for entry in state["processes"]:
        pid = alive.get(entry["name"])
        print(f"{entry['name']:<26} {'running pid ' + str(pid) if pid else 'NOT RUNNING'}")
    print(f"server      {state['server']}")
    print(f"RSS         {rss_bytes(list(alive.values())) / 2**20:.0f} MiB")
    print(f"export KUBECONFIG={state['kubeconfig']}")
    return 0 if len(alive) == len(state["processes"]) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.controlplane")
    parser.add_argument("command", choices=["up", "down", "status", "bin-dir"])
    parser.add_argument("--run-dir", type=Path, default=default_run_dir())
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir.expanduser().resolve()
    if args.command == "up":
        return cli_up(run_dir)
    if args.command == "down":
        return cli_down(run_dir)
    if args.command == "bin-dir":
        print(bin_dir())
        return 0
    return cli_status(run_dir)
