"""Health and readiness on their own port, answered from a thread: a saturated server still answers.

Why: on the main port `/health` and `/ready` are requests like any other, queued on the one event
loop behind the commands; at 100 % CPU they answer late, the kubelet counts a timeout as a failed
probe and restarts a pod that was only busy. Here a small stdlib HTTP server in a daemon thread
answers from values the event loop keeps fresh (a heartbeat every `BEAT_S`, the store's last ping,
the drain flag): the thread needs only the GIL, which a busy loop hands over every few
milliseconds. A loop that stops beating (stuck, not busy) fails the probes, so liveness still
catches a hung process.

`/health`: 200 while the loop's last beat is younger than `stall_s`, else 503 `stalled`.
`/ready`: 503 `draining`, `store_unavailable` (the last ping failed or is older than `stall_s`)
or `stalled`; else 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATHS = ("/health", "/ready")
"""What the probe port answers (anything else is 404)."""

BEAT_S = 0.5
"""How often the event loop records that it runs and pings the store."""


class ProbeState:
    """What the probe thread reads: plain attributes written by the event loop (atomic in
    CPython), never a call into the loop."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self.beat = time.monotonic()
        self.store_ok_at: float | None = None
        self.draining = False

    def health(self) -> tuple[int, str]:
        """Liveness: the loop has beaten recently."""
        if time.monotonic() - self.beat > self.stall_s:
            return 503, "stalled"
        return 200, "ok"

    def ready(self) -> tuple[int, str]:
        """Readiness: not draining, the loop beats and the store answered recently."""
        now = time.monotonic()
        if self.draining:
            return 503, "draining"
        if now - self.beat > self.stall_s:
            return 503, "stalled"
        if self.store_ok_at is None or now - self.store_ok_at > self.stall_s:
            return 503, "store_unavailable"
        return 200, "ready"


class _Handler(BaseHTTPRequestHandler):
    server: _ProbeHTTPServer

    def do_GET(self) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        if path == "/health":
            status, word = state.health()
        elif path == "/ready":
            status, word = state.ready()
        else:
            status, word = 404, "not_found"
        body = json.dumps({"status": word}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are not worth a log line."""


class _ProbeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: ProbeState) -> None:
        super().__init__(address, _Handler)
        self.state = state


@contextlib.asynccontextmanager
async def serve_probes(
    host: str,
    port: int,
    state: ProbeState,
    ping: Callable[[], Awaitable[Any]],
    draining: Callable[[], bool],
    ping_timeout_s: float,
) -> AsyncIterator[ProbeState]:
    """Serve the probes on (host, port) from a thread while the loop beats and pings the store."""
    server = _ProbeHTTPServer((host, port), state)
    thread = threading.Thread(target=server.serve_forever, name="probes", daemon=True)
    thread.start()

    async def beat() -> None:
        while True:
            state.beat = time.monotonic()
            state.draining = draining()
            await asyncio.sleep(BEAT_S / 5)

    async def pinger() -> None:
        # Its own task: a store that hangs for the ping's timeout must not stop the beat.
        while True:
            try:
                await asyncio.wait_for(ping(), timeout=ping_timeout_s)
                state.store_ok_at = time.monotonic()
            except Exception:
                state.store_ok_at = None
            await asyncio.sleep(BEAT_S)

    tasks = [
        asyncio.create_task(beat(), name="probe-beat"),
        asyncio.create_task(pinger(), name="probe-ping"),
    ]
    try:
        yield state
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(server.shutdown)
        server.server_close()
