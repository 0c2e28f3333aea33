"""A real `redis-server` on a free loopback port, in a temp dir, that tests can SIGKILL and restart.

Hand-written rather than pytest-redis because the durability and outage tests must kill Redis with
SIGKILL and start it again on the *same* port and data dir (so the AOF is replayed), and every
process started here must be stoppable from a `finally`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Literal

from testkit.ports import free_port
from testkit.processes import log_tail, stop_process

Fsync = Literal["always", "everysec", "no"]


class RedisServerMissing(RuntimeError):
    """`redis-server` is not installed: the Redis tests must fail loudly, never skip."""


def _ping(port: int) -> bool:
    """Raw RESP PING so readiness checks need no client library state."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisProcess:
    """One redis-server child process with append-only persistence in `data_dir`.

    Args:
        data_dir: where the AOF lives; kept across `kill()`/`start()` so a restart replays it.
        port: fixed for the object's life so clients can reconnect to the same URL.
        appendfsync: `always` for the durability guarantee (fsync before each reply); `everysec`
            trades up to one second of acknowledged writes for throughput.
    """

    def __init__(self, data_dir: Path, port: int | None = None, appendfsync: Fsync = "always"):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerMissing(
                "redis-server not found on PATH: install the Debian package `redis-server` "
                "(`make install` does it)"
            )
        self.binary = binary
        self.data_dir = data_dir
        self.port = port if port is not None else free_port()
        self.appendfsync = appendfsync
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "redis.log"

    @property
    def url(self) -> str:
        """The `REDIS_URL` clients use."""
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        """Command line: loopback only, no RDB snapshots, AOF with the chosen fsync policy."""
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--logfile", str(self.log_path),
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip

    def start(self, timeout: float = 20.0) -> None:
        """Start (or restart) on the same port and dir; wait until PING answers (AOF loaded)."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("redis-server already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.data_dir
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start:\n{self.log_tail()}")
            if _ping(self.port):  # PING answers -LOADING until the AOF is replayed
                return
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"redis-server did not answer PING in {timeout}s:\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill without a chance to flush (SIGKILL by default) and reap the process."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """Stop politely, escalating to SIGKILL; safe to call twice and from `finally`."""
        if self.proc is None:
            return
        stop_process(self.proc, grace=5)
        self.proc = None

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The end of Redis's own log, for failure messages."""
        return log_tail(self.log_path, lines)
