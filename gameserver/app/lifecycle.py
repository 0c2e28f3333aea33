"""The app's background work, as `cleanup_ctx` contexts: the hub and its idle expiry, the
probe port, the garbage-collection freezer; and the GOING_AWAY close at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import time
from collections.abc import AsyncIterator

from aiohttp import web

from gameserver.app.keys import HUB_KEY, METRICS_KEY, SETTINGS_KEY, STORE_KEY
from gameserver.hub import Hub
from gameserver.logs import get_logger
from gameserver.probes import ProbeState, serve_probes
from gameserver.store import StoreUnavailable

log = get_logger("app")


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    """Create the hub and run the idle-expiry loop; on exit close rooms and the store."""
    settings = app[SETTINGS_KEY]
    hub = Hub(settings, app[STORE_KEY], app[METRICS_KEY])
    app[HUB_KEY] = hub
    if settings.import_prestart:
        await hub.battles.imports.start()

    async def expiry_loop() -> None:
        while True:
            await asyncio.sleep(settings.expiry_interval_s)
            try:
                await hub.expire_once()
            except StoreUnavailable:
                log.warning("expiry_skipped", reason="store_unavailable")
            except Exception:
                log.exception("expiry_failed")

    loop_task = asyncio.create_task(expiry_loop(), name="idle-expiry")
    yield
    loop_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop_task
    await hub.close()
    await app[STORE_KEY].close()


async def probes_ctx(app: web.Application) -> AsyncIterator[None]:
    """With `PROBE_PORT`: `/health` and `/ready` on their own port, from a thread."""
    settings = app[SETTINGS_KEY]
    if not settings.probe_port:
        yield
        return
    hub = app[HUB_KEY]
    async with serve_probes(
        settings.host,
        settings.probe_port,
        ProbeState(settings.probe_stall_s),
        hub.store.ping,
        lambda: hub.draining,
        settings.ready_store_timeout_s,
    ):
        yield


GC_FREEZE_EVERY_S = 1.0
"""How often the survivors of the young collections are moved out of the collector's sight."""
GC_FULL_EVERY_S = 600.0
"""How often a full collection looks at everything (frees cycles that formed among old objects)."""
GC_AFTER_CLOSED = 100
"""Sockets closed since the last full collection that call for one now, when at least as many
as are open (see `gc_ctx`)."""
GC_CLOSED_MIN_GAP_S = 5.0
"""The least time between two of those early full collections."""

_gc_users = 0


def _return_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc `malloc_trim`; elsewhere nothing):
    after many sockets closed, their freed buffers would otherwise stay in the process's RSS."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


async def gc_ctx(app: web.Application) -> AsyncIterator[None]:
    """Keep full garbage collections off the command path.

    Why: CPython's full (generation 2) collection walks every tracked object, and it runs each
    time the survivors grow by a quarter of the old heap. With 2,000 connections and 500 battles
    (their states and undo chains) that is ~400k objects and a 200-400 ms stop of the event loop
    every few seconds, while it finds nothing to free (the game server makes no cyclic garbage in
    steady state): those stops were the p99. So once a second the survivors are frozen
    (`gc.freeze`: kept, still freed by reference counting, no longer walked), the automatic
    collections only see objects younger than a second, and a full collection over everything
    runs every `GC_FULL_EVERY_S` so a cycle among older objects is not kept for longer.

    A closed socket leaves cycles (aiohttp's protocol, reader, tasks, exceptions) among objects
    frozen while it was open. After a mass disconnect — at least `GC_AFTER_CLOSED` closes since
    the last full collection, and at least as many as sockets still open, so a big server's
    everyday churn does not call for one — the full collection runs at the next quiet second (no
    close in it) rather than minutes later, and the freed heap pages are returned to the system
    (measured: 500 cut zombie sockets left RSS +31 % without this).
    """
    global _gc_users
    _gc_users += 1

    def closed_so_far() -> int:
        hub = app.get(HUB_KEY)
        return hub.closed_total if hub is not None else 0

    def still_open() -> int:
        hub = app.get(HUB_KEY)
        return len(hub.connections) if hub is not None else 0

    async def freezer() -> None:
        last_full = time.monotonic()
        closed_at_full = seen = closed_so_far()
        while True:
            await asyncio.sleep(GC_FREEZE_EVERY_S)
            now = time.monotonic()
            closed = closed_so_far()
            gone = closed - closed_at_full
            burst_over = gone >= max(GC_AFTER_CLOSED, still_open()) and closed == seen
            seen = closed
            if now - last_full >= GC_FULL_EVERY_S or (
                burst_over and now - last_full >= GC_CLOSED_MIN_GAP_S
            ):
                gc.unfreeze()
                freed = gc.collect()
                collected = time.monotonic()
                _return_free_memory()
                log.info(
                    "full_collection",
                    freed=freed,
                    closed=closed - closed_at_full,
                    gc_ms=round((collected - now) * 1000, 1),
                    trim_ms=round((time.monotonic() - collected) * 1000, 1),
                )
                last_full, closed_at_full = time.monotonic(), closed
            gc.freeze()

    gc.freeze()
    task = asyncio.create_task(freezer(), name="gc-freezer")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    _gc_users -= 1
    if _gc_users == 0:
        gc.unfreeze()


async def close_websockets(app: web.Application) -> None:
    """aiohttp shutdown: close every WebSocket with GOING_AWAY so clients reconnect elsewhere."""
    hub = app.get(HUB_KEY)
    if hub is not None:
        await hub.close_connections()
