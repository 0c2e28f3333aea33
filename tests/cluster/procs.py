"""The control plane's processes: dying with the parent, log excerpts for errors, liveness and
memory from /proc, and stopping process groups tier by tier; split out of `controlplane`.

Stdlib only, like controlplane.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


@dataclass
class _Proc:
    name: str
    pid: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None


def _die_with_parent() -> None:
    """preexec hook: the kernel SIGKILLs the child if the starting thread dies.

    SIGKILL, not SIGTERM: an orphaned kube-apiserver's graceful shutdown can outlive etcd and
    hang on a loaded machine; nobody is left to wait for it anyway.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


# cobra "Error: ...", klog E/F lines, etcd/kwok JSON logs at error level.
_ERROR_LINE = re.compile(r'^(Error|error|[EF]\d{4} )|"level":"(error|fatal|ERROR)"')


def _excerpt(path: Path, lines: int = 30) -> str:
    """First error-looking lines (e.g. an unknown flag above a long usage text) plus the tail."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    errors = [ln for ln in text if _ERROR_LINE.search(ln)]
    head = ["first error lines:", *errors[:5], "last lines:"] if errors else []
    return "\n".join([*head, *text[-lines:]])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_bytes(pids: list[int]) -> int:
    """Sum of resident memory of the given processes (Linux /proc)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


# Stop order: clients first, then the API server while etcd is still there to finish its
# graceful shutdown quickly, then etcd. Stopping all at once makes kube-apiserver hang on etcd.
_STOP_TIERS = (("kube-apiserver",), ("etcd",))


def _terminate(procs: list[_Proc], grace: float = 10.0) -> None:
    """Stop process groups tier by tier: SIGTERM, wait up to ``grace``, then SIGKILL; reap."""
    late = {name for tier in _STOP_TIERS for name in tier}
    tiers = [[p for p in procs if p.name not in late]]
    tiers += [[p for p in procs if p.name in tier] for tier in _STOP_TIERS]
    for tier in tiers:
        _terminate_tier(tier, grace)


def _terminate_tier(procs: list[_Proc], grace: float) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        while time.monotonic() < deadline:
            if p.popen is not None:
                if p.popen.poll() is not None:
                    break
            elif not pid_alive(p.pid):
                break
            time.sleep(0.05)
        # Whatever is left in the group (the component or anything it spawned) goes now.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
        if p.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.popen.wait(timeout=5)
