"""HTTP servers as child processes on free loopback ports: the game server, the echo baseline."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from testkit.ports import LOOPBACK, free_port
from testkit.processes import http_status, log_tail, stop_process, wait_until

ROOT = Path(__file__).resolve().parents[1]
GAME_SERVER_ARGV = (sys.executable, "-m", "gameserver")


class ServerProcess:
    """One server child on a loopback port, its output in a log file (or discarded).

    `start()` spawns it and waits until `ready_path` answers 200; `stop()` (SIGTERM, then
    SIGKILL) and `kill()` are safe to call twice and from `finally`; as a context manager it is
    started on entry and stopped on exit.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        ready_path: str = "/ready",
        name: str = "server",
        cwd: Path = ROOT,
        host: str = LOOPBACK,
    ) -> None:
        self.argv = list(argv)
        self.host = host
        self.port = port if port is not None else free_port()
        self.name = name
        self.log_path = log_path
        self.ready_path = ready_path
        self.cwd = cwd
        self.env = {**os.environ, "HOST": host, "PORT": str(self.port), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port> (or the loopback address given as `host`)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The game server's WebSocket endpoint."""
        return f"ws://{self.host}:{self.port}/ws"

    @property
    def pid(self) -> int:
        """The child's pid (it must have been spawned)."""
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    @property
    def running(self) -> bool:
        """True while the child is alive."""
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting (output appended to the log file)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        if self.log_path is None:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL
            )
            return self.proc
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self.proc

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until `ready_path` answers 200; fail early (with the log) if the child exits."""
        wait_until(
            lambda: http_status(f"{self.url}{self.ready_path}", timeout=1) == 200,
            f"200 from {self.name} {self.ready_path}",
            timeout=timeout,
            proc=self.proc,
            details=self.log_tail,
        )

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Spawn and wait until ready; a child that never gets ready is stopped again."""
        self.spawn()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM (the drain path), SIGKILL after `grace`; returns the exit code."""
        if self.proc is None:
            return None
        return stop_process(self.proc, grace)

    def kill(self) -> None:
        """SIGKILL: the server dies without draining, like a crashed pod."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output, for failure messages."""
        return "(output discarded)" if self.log_path is None else log_tail(self.log_path, lines)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def game_server(
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    name: str = "server",
    log_level: str = "warning",
) -> ServerProcess:
    """`python -m gameserver` on a free loopback port (not started yet)."""
    return ServerProcess(
        GAME_SERVER_ARGV,
        env={"LOG_LEVEL": log_level, **(env or {})},
        log_path=log_path,
        name=name,
    )
