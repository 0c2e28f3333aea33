"""Seed-shape load benchmark: `bench.seedgen` against the game server, then the echo baseline.

For each size (players; default 200, 1000, 2000 in N/2 two-ship battles, plus one spectator per
ten players) it starts the server pinned to one core and the generator on the other, and prints
commands/s, p50/p95/p99 and steady p99 (command -> its first event), the server's CPU per command
and peak RSS, and the spectators' public-view refetches; then the same load against the bare
aiohttp echo server (`bench.echo_server`: same frames, no rules) as the same-run baseline.
Goal (issue "Performance v2"): ≤ 0.25 ms of CPU per command; 2,000 clients steady p99 < 25 ms
and within 3x of the echo's.

Environment: `BENCH_SEED_SIZES` ("200,1000"), `BENCH_SEED_DURATION` (seconds, default 15),
`BENCH_SEED_SPECTATORS` (per 10 players, default 1), `BENCH_SEED_REFETCH=1` (spectators and
players also fetch the public view over HTTP after each batch, as the page did before the frames
carried it; the page no longer does, so the default is off), `BENCH_LOAD_BASELINE=0` (no echo
run).
"""

from __future__ import annotations

import os
from typing import Any

from bench.bench_load import run_generator, server
from testkit.ports import free_port


def run_seedgen(
    url: str, pid: int, clients: int, spectators: int, duration: float, extra: list[str]
) -> dict[str, Any]:
    """Run `bench.seedgen` in its own process (on the other core); parse its JSON line."""
    args = ["--url", url, "--server-pid", str(pid), "--clients", str(clients)]
    args += ["--spectators", str(spectators), "--duration", str(duration), *extra]
    return run_generator("seedgen", args, duration)


def run_size(
    kind: str,
    clients: int,
    spectators: int,
    duration: float,
    extra: list[str] | None = None,
    env_extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One measured run against a fresh server of `kind` (`game` or `echo`).

    The probes are asked on the main port and, for the game server, on its probe port."""
    env = dict(env_extra or {})
    probe_port = free_port()
    if kind == "game":
        env.setdefault("PROBE_PORT", str(probe_port))
    with server(kind, env) as (url, pid):
        probes = [url] + ([f"http://127.0.0.1:{env['PROBE_PORT']}"] if kind == "game" else [])
        # The joins of every battle settle before the window opens (a second per 200 players).
        warmup = ["--warmup", str(3 + clients // 200)]
        args = [*warmup, *(extra or []), "--probe-urls", ",".join(probes)]
        result = run_seedgen(url, pid, clients, spectators, duration, args)
    result["server"] = kind
    return result


HEADER = (
    f"{'server':<6} {'clients':>7} {'specs':>5} {'cmd/s':>7} {'p50ms':>7} {'p95ms':>7}"
    f" {'p99ms':>7} {'st_p99':>7} {'cpu%':>6} {'ms/cmd':>7} {'rss_mb':>7} {'fetch/s':>7}"
    f" {'ended':>5} {'probe99':>13} {'lg_lag':>6}  errors"
)


def format_row(r: dict[str, Any]) -> str:
    """One line of the results table."""
    lat = r["latency_ms"]
    errors = ",".join(f"{k}:{v}" for k, v in sorted(r["errors"].items())) or "-"
    per_cmd = r["cpu_ms_per_command"]
    return (
        f"{r['server']:<6} {r['clients']:>7} {r['spectators']:>5} {r['commands_per_s']:>7.1f}"
        f" {lat['p50']:>7.2f} {lat['p95']:>7.2f} {lat['p99']:>7.2f} {r['steady_p99_ms']:>7.2f}"
        f" {r['server_cpu_pct']:>6.1f} {per_cmd if per_cmd is not None else 0:>7.3f}"
        f" {r['server_rss_mb']:>7.1f} {r['refetches_per_s']:>7.1f} {r['battles_ended']:>5}"
        f" {'/'.join(f'{p:.1f}' for p in r['probe_p99_ms']):>13}"
        f" {r['loadgen_lag_p99_ms']:>6.1f}  {errors}"
    )


def run() -> None:
    """Every size against the game server, then the echo baseline; print the table."""
    sizes = [int(s) for s in os.environ.get("BENCH_SEED_SIZES", "200,1000,2000").split(",")]
    duration = float(os.environ.get("BENCH_SEED_DURATION", "15"))
    per_ten = int(os.environ.get("BENCH_SEED_SPECTATORS", "1"))
    extra = [] if os.environ.get("BENCH_SEED_REFETCH", "0") == "1" else ["--no-refetch"]
    baseline = os.environ.get("BENCH_LOAD_BASELINE", "1") != "0"
    print(
        f"seed shape: 2 players per battle holding every station, <= 2 commands/s, new battle at"
        f" the end; {per_ten} spectator(s) per 10 players; refetch after each batch:"
        f" {'no' if extra else 'yes'}; {duration:.0f} s per run; server pinned to one core"
    )
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(HEADER, flush=True)
    for clients in sizes:
        for kind in ["game", "echo"] if baseline else ["game"]:
            row = run_size(kind, clients, clients * per_ten // 10, duration, extra)
            print(format_row(row), flush=True)
    print(
        "latency = command sent -> its first event received; st_p99 = commands sent in the second"
        " half of the window; ms/cmd = server CPU time / commands acked; fetch/s = public-view"
        " GETs; probe99 = p99 ms of /health and /ready on the main port / on PROBE_PORT (thread)"
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    run()
