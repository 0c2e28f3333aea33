"""Measuring event-loop stalls: the longest time the loop's thread worked without yielding.

Stdlib only. Shared by the bounds test (tests/server/test_bounds.py) and the stall benchmark
(bench/bench_stall.py), so both report the same figure.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
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
            worst[phase[0]] = max(worst.get(phase[0], 0.0), busy)
            worst["garbage collection"] = max(worst.get("garbage collection", 0.0), gc_time)

    gc.callbacks.append(on_gc)
    task = asyncio.get_running_loop().create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        gc.callbacks.remove(on_gc)
