"""WebSocket load benchmark: the game server beside a bare aiohttp echo server, same load and run.

For each size (default 100, 500, 2000 clients; 4 per battle) it starts the server as a subprocess
pinned to one core, runs `bench.loadgen` in another process on the other core, and prints p50/p95/
p99 command→event latency, commands/s, events/s, and the server's CPU and RSS; then the same against
`bench.echo_server` as the baseline. Goal: 2,000 clients in 500 battles with p99 < 25 ms.

Environment: `BENCH_LOAD_SIZES` (e.g. "100,500"), `BENCH_LOAD_DURATION` (seconds, default 15),
`BENCH_LOAD_BASELINE=0` to skip the echo runs, `REDIS_URL` (the game server then uses Redis; the
Redis benchmark reuses `run_size`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from testkit.ports import free_port
from testkit.servers import GAME_SERVER_ARGV, ROOT, ServerProcess


def pin(pid: int, cpu: int) -> None:
    """Pin a process to one core when the machine has more than one."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) > 1:
        psutil.Process(pid).cpu_affinity([sorted(cpus)[cpu % len(cpus)]])


@contextmanager
def server(kind: str, env_extra: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """Start the game server (`game`) or the echo baseline (`echo`); yield (url, pid); stop it."""
    env = {"LOG_LEVEL": "warning", **(env_extra or {})}
    env.setdefault("RATE_LIMIT_PER_S", "50")
    env.setdefault("MAX_CONNECTIONS", "20000")
    # Every load client comes from 127.0.0.1: the per-address limits must not throttle them.
    env.setdefault("ADDRESS_RATE_PER_S", "100000")
    env.setdefault("ADDRESS_BURST", "100000")
    env.setdefault("JOIN_BURST", "100000")
    port = free_port()
    argv = list(GAME_SERVER_ARGV)
    if kind != "game":
        argv = [sys.executable, "-m", "bench.echo_server", "--port", str(port)]
    with ServerProcess(argv, port=port, env=env, name=kind) as proc:
        pin(proc.pid, 0)
        yield proc.url, proc.pid


def run_generator(module: str, args: list[str], duration: float) -> dict[str, Any]:
    """Run a load generator (`bench.<module>`: loadgen, seedgen) in its own process, pinned to
    the other core, and parse the JSON line it prints last."""
    cmd = [sys.executable, "-m", f"bench.{module}", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    pin(proc.pid, 1)
    out, _ = proc.communicate(timeout=duration + 300)
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def run_loadgen(url: str, clients: int, duration: float, server_pid: int | str) -> dict[str, Any]:
    """Run `bench.loadgen` in its own process (on the other core) and parse its JSON line.

    Several instances: `url` and `server_pid` are comma-separated lists (loadgen spreads each
    battle's clients over them)."""
    args = ["--url", url, "--clients", str(clients), "--duration", str(duration)]
    return run_generator("loadgen", [*args, "--server-pid", str(server_pid)], duration)


def run_size(
    kind: str, clients: int, duration: float, env_extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """One measured run of `clients` clients against a fresh server of `kind`."""
    with server(kind, env_extra) as (url, pid):
        result = run_loadgen(url, clients, duration, pid)
    result["server"] = kind
    return result


def format_row(r: dict[str, Any]) -> str:
    """One line of the results table."""
    lat = r["latency_ms"]
    errors = ",".join(f"{k}:{v}" for k, v in sorted(r["errors"].items())) or "-"
    return (
        f"{r['server']:<6} {r['clients']:>6} {r['battles']:>7}"
        f" {lat['p50']:>7.2f} {lat['p95']:>7.2f}"
        f" {lat['p99']:>7.2f} {r['commands_per_s']:>8.1f} {r['events_per_s']:>8.1f}"
        f" {r['deliveries_per_s']:>9.1f} {r['server_cpu_pct']:>6.1f} {r['server_rss_mb']:>7.1f}"
        f" {r['loadgen_cpu_pct']:>6.1f} {r['loadgen_lag_ms']['p99']:>6.1f}  {errors}"
    )


HEADER = (
    f"{'server':<6} {'clients':>6} {'battles':>7} {'p50ms':>7} {'p95ms':>7} {'p99ms':>7}"
    f" {'cmd/s':>8} {'events/s':>8} {'deliver/s':>9} {'cpu%':>6} {'rss_mb':>7}"
    f" {'lg_cpu':>6} {'lg_lag':>6}  errors"
)


def run() -> None:
    """Every size against the game server, then the echo baseline; print the table."""
    sizes = [int(s) for s in os.environ.get("BENCH_LOAD_SIZES", "100,500,2000").split(",")]
    duration = float(os.environ.get("BENCH_LOAD_DURATION", "15"))
    baseline = os.environ.get("BENCH_LOAD_BASELINE", "1") != "0"
    store = "redis" if os.environ.get("REDIS_URL") else "memory"
    print(f"game server store: {store}; {duration:.0f} s per run; server pinned to one core")
    print(HEADER, flush=True)
    for clients in sizes:
        kinds = ["game", "echo"] if baseline else ["game"]
        for kind in kinds:
            print(format_row(run_size(kind, clients, duration)), flush=True)
    print("latency = command sent -> first event of that command received (same socket)")
    print(
        "lg_cpu = the load generator's CPU %, lg_lag = its event-loop lag p99 (ms): a late loop"
        " stamps arrivals late, so a high lag means the figures include the generator's delay"
    )
    print(f"load average (1/5/15 min) at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    run()
