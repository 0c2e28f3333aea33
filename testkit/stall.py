"""Measuring event-loop stalls: the longest time the loop's thread worked without yielding.

Stdlib only. Shared by the bounds test (tests/server/test_bounds.py) and the stall benchmark
(bench/bench_stall.py), so both report the same figure.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def loop_stall_meter(worst: dict[str, float], phase: list[str]) -> Iterator[None]:
    """Measure the event loop's longest stall per phase: a 1 ms ticker records the CPU time the
    loop's thread spent between two of its wake-ups, under the name of the request under way
    (`phase[0]`). CPU time of this thread, not wall time: the machine is shared, and time the
    process waits for a core (or that an executor thread works) is not work done on the loop.
    Garbage collections on the loop's thread (the whole process's heap) are reported on their
    own line; one in an executor thread is that thread's work."""

    collecting = [0.0, 0.0]  # the start of the running collection, the time collected so far
    loop_thread = threading.get_ident()

    def on_gc(stage: str, info: dict[str, Any]) -> None:
        if threading.get_ident() != loop_thread:
            return
        if stage == "start":
            collecting[0] = time.thread_time()
        else:
            collecting[1] += time.thread_time() - collecting[0]

    async def tick() -> None:
        while True:
            start, gc_before = time.thread_time(), collecting[1]
            await asyncio.sleep(0.001)
            gc_time = collecting[1] - gc_before
            busy = time.thread_time() - start - gc_time
            name = phase[0]
            worst[name] = max(worst.get(name, 0.0), busy)
            worst["garbage collection"] = max(worst.get("garbage collection", 0.0), gc_time)

    gc.callbacks.append(on_gc)
    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        gc.callbacks.remove(on_gc)


def _run_queue_wait() -> Callable[[], float]:
    """A reader of the seconds the calling thread has waited for a core (Linux schedstat:
    runnable, not running); a reader of zero where the kernel does not say."""
    path = f"/proc/self/task/{threading.get_native_id()}/schedstat"
    try:
        with open(path) as f:
            f.read()
    except OSError:
        return lambda: 0.0

    def read() -> float:
        with open(path) as f:
            return int(f.read().split()[1]) / 1e9

    return read


@contextmanager
def wall_lag_meter(
    lag: dict[str, float], held: dict[str, float], phase: list[str]
) -> Iterator[None]:
    """Measure the event loop's longest wall-clock lag per phase: how much later than asked a
    1 ms ticker wakes up. Unlike `loop_stall_meter` this counts everything that keeps the loop
    from running: its own work, garbage collections, and waiting for the GIL while another
    thread of the process holds it. `lag` also counts waiting for a core (a busy machine);
    `held` leaves that out (the loop thread's run-queue wait, from the kernel), so it measures
    what the server itself does to its loop whatever the machine's load."""

    async def tick() -> None:
        waited = _run_queue_wait()
        while True:
            start, wait_before = time.perf_counter(), waited()
            await asyncio.sleep(0.001)
            late = time.perf_counter() - start - 0.001
            name = phase[0]  # once: another thread may change the phase (the benchmark)
            lag[name] = max(lag.get(name, 0.0), late)
            held[name] = max(held.get(name, 0.0), late - (waited() - wait_before))

    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield
    finally:
        task.cancel()
