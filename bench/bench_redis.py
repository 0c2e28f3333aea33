"""Redis store benchmark: the same WebSocket load on the in-memory store and on Redis, one run.

For each size (default 500 clients, 4 per battle; `BENCH_REDIS_SIZES=100,500`) it runs
`bench.loadgen` against: the game server on its in-memory store (the baseline), one instance on
Redis, and two instances on the same Redis with every battle's clients split across both (so
every event also crosses instances through the Redis stream reader). Prints p50/p95/p99
command→event latency, throughput, server CPU/RSS and Redis's own CPU, then the Redis/in-memory p99
ratio. Goal: Redis p99 < 2x the in-memory p99 at 500 clients.

Redis runs as in the durability tests: `appendonly yes`, `appendfsync always` (set
`BENCH_REDIS_FSYNC=everysec` to measure the trade-off). This machine has 2 cores: one instance is
pinned to core 0, and Redis and the load generator share core 1; with two instances the second one
is pinned to core 1 as well, so "two instances" measures correctness under load and the cost of
cross-instance fan-out, not scaling.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, cast

import psutil
import redis

from bench.bench_load import HEADER, format_row, pin, run_loadgen, run_size, server
from testkit.redis_server import Fsync, RedisProcess


@contextmanager
def redis_server(appendfsync: Fsync) -> Iterator[RedisProcess]:
    """A throw-away redis-server (temp dir, free port), always stopped."""
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        proc = RedisProcess(Path(tmp), appendfsync=appendfsync)
        try:
            proc.start()
            assert proc.proc is not None
            pin(proc.proc.pid, 1)
            yield proc
        finally:
            proc.stop()


def _cpu_s(pid: int) -> float:
    return float(sum(psutil.Process(pid).cpu_times()[:2]))


def _commands(url: str) -> int:
    """Commands Redis has processed so far (INFO stats): the round trips, pipelines counted
    per command, that the game servers made."""
    client = redis.Redis.from_url(url)
    try:
        return int(cast(dict[str, Any], client.info("stats"))["total_commands_processed"])
    finally:
        client.close()


def _flush(url: str) -> None:
    """Each run starts from an empty Redis, like the in-memory run starts from an empty store."""
    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()


def run_two_instances(clients: int, duration: float, env: dict[str, str]) -> dict[str, Any]:
    """Two game servers on one Redis; loadgen spreads each battle's clients over both."""
    with ExitStack() as stack:
        (url_a, pid_a) = stack.enter_context(server("game", env))
        (url_b, pid_b) = stack.enter_context(server("game", env))
        pin(pid_b, 1)
        result = run_loadgen(f"{url_a},{url_b}", clients, duration, f"{pid_a},{pid_b}")
    result["server"] = "redis2"
    return result


def run() -> None:
    """In-memory, one Redis instance, two Redis instances, per size; then the p99 ratio."""
    sizes = [int(s) for s in os.environ.get("BENCH_REDIS_SIZES", "500").split(",")]
    duration = float(os.environ.get("BENCH_REDIS_DURATION", "15"))
    fsync = cast(Fsync, os.environ.get("BENCH_REDIS_FSYNC", "always"))
    print(
        f"{duration:.0f} s per run; redis-server appendonly yes, appendfsync {fsync}; "
        f"{os.cpu_count()} cores (instance 1 on core 0; Redis, loadgen and instance 2 on core 1)"
    )
    print("mem = in-memory store (baseline), redis = 1 instance, redis2 = 2 instances sharing")
    print(f"{HEADER}  redis_cpu%  redis_cmds/cmd", flush=True)
    ratios: list[str] = []
    with redis_server(fsync) as rds:
        assert rds.proc is not None
        env = {"REDIS_URL": rds.url}
        for clients in sizes:
            memory = run_size("game", clients, duration)
            memory["server"] = "mem"
            print(format_row(memory), flush=True)
            p99: dict[str, float] = {}
            for label in ("redis", "redis2"):
                _flush(rds.url)
                cpu0 = _cpu_s(rds.proc.pid)
                calls0 = _commands(rds.url)
                if label == "redis":
                    result = run_size("game", clients, duration, env)
                    result["server"] = "redis"
                else:
                    result = run_two_instances(clients, duration, env)
                # Redis CPU over the whole run (setup included): an upper bound.
                redis_cpu = 100 * (_cpu_s(rds.proc.pid) - cpu0) / (duration + 5)
                # Per command acked, over the whole run (joins and presence included): an upper
                # bound of the Redis commands one player command costs.
                calls = (_commands(rds.url) - calls0) / max(1, result["commands_acked"])
                print(f"{format_row(result)}  {redis_cpu:.1f}  {calls:.1f}", flush=True)
                p99[label] = result["latency_ms"]["p99"]
            base = memory["latency_ms"]["p99"] or float("nan")
            ratios.append(
                f"{clients} clients: p99 redis/mem = {p99['redis'] / base:.2f}x, "
                f"redis2/mem = {p99['redis2'] / base:.2f}x (goal < 2x for redis at 500)"
            )
    print("latency = command sent -> first event of that command received (same socket)")
    for line in ratios:
        print(line)


if __name__ == "__main__":
    run()
