"""Stopping and watching child processes, the same way in every test tier and benchmark."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


def stop_process(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str],
    grace: float = 10.0,
    *,
    sig: int = signal.SIGTERM,
    group: bool = False,
) -> int:
    """Send `sig` (to the whole process group when `group`), wait up to `grace`, then SIGKILL;
    reap it and return the exit code. Safe to call twice and from `finally`."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def wait_until(
    ok: Callable[[], bool],
    what: str,
    *,
    timeout: float = 30.0,
    proc: subprocess.Popen[bytes] | None = None,
    details: Callable[[], str] = lambda: "",
    interval: float = 0.1,
) -> None:
    """Poll `ok` until it holds (a condition, never a fixed sleep); fail early, with `details()`,
    when `proc` exits first, and raise `TimeoutError` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ok():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before {what}:\n{details()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f}s:\n{details()}")
        time.sleep(interval)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """HTTP status of a GET, or None when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def log_tail(path: Path, lines: int = 40) -> str:
    """The end of a log file, for failure messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"
