"""WebSocket load generator: N clients in M battles (4 per battle), run as its own process.

Each battle has two ships; each ship is crewed by two clients (pilot + gunners / captain, engineer,
sensors). A client sends one command per second when one of its stations is awaited (others wait),
choosing from the `legal` commands the server sent it. Latency is command → first event of that
command (the ack names the seqs; their arrival times were recorded on the same socket).

Prints one JSON line with the figures. With `--server-pid` it also measures the server's CPU and
RSS with psutil over the measurement window.

Usage: `python -m bench.loadgen --url http://127.0.0.1:3000 --clients 100 --duration 15`.
The Redis benchmark reuses it (point `--url` at a server started with `REDIS_URL`). Several
instances sharing one store: `--url URL1,URL2 --server-pid PID1,PID2` — client i connects to
URL[i % n], so every battle's clients are spread over the instances; CPU and RSS are summed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import resource
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil

SHIPS = (("alpha", "scout"), ("bravo", "free_trader"))


def seats_for(preset_stations: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """The four seats of a battle: per ship, (pilot + gunners) and (the other stations)."""
    seats: list[tuple[str, list[str]]] = []
    for ship_id, preset in SHIPS:
        stations = preset_stations[preset]
        flying = [s for s in stations if s == "pilot" or s.startswith("gunner")]
        rest = [s for s in stations if s not in flying]
        seats.append((ship_id, flying))
        seats.append((ship_id, rest or flying))
    return seats


def load_scenario() -> dict[str, Any]:
    """Two armed ships at Short range: attacks happen from the first round."""
    return {
        "name": "Load test",
        "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
        "ships": [
            {"id": ship_id, "name": ship_id.title(), "side": side, "preset": preset}
            for (ship_id, preset), side in zip(SHIPS, ("red", "blue"), strict=True)
        ],
        "starting_range": "short",
        "round_limit": 500,
    }


def pick_command(commands: list[dict[str, Any]], rng: random.Random) -> dict[str, Any] | None:
    """Prefer doing something (attack, move) over ending the step, like a keen player."""
    if not commands:
        return None
    wire = [c.get("command", c) for c in commands]
    active = [c for c in wire if c.get("type") not in ("end_step", "surrender", "break_off")]
    pool = active if active and rng.random() < 0.7 else wire
    choice = dict(rng.choice(pool))
    for key in ("preview", "label", "dm_breakdown", "description"):
        choice.pop(key, None)
    return choice


@dataclass
class Stats:
    """Counters shared by every client of the run (reset when the window opens)."""

    measuring: bool = False
    latencies: list[float] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    events_delivered: int = 0
    max_seq: dict[str, int] = field(default_factory=dict)
    closed: int = 0
    lags: list[float] = field(default_factory=list)


@dataclass
class Client:
    """One player connection."""

    battle_id: str
    ship_id: str
    stations: list[str]
    stats: Stats
    rng: random.Random
    awaiting: set[tuple[str, str]] = field(default_factory=set)
    legal: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    legal_seq: dict[str, int] = field(default_factory=dict)
    seq: int = 0
    arrivals: dict[int, float] = field(default_factory=dict)
    in_flight: dict[str, float] = field(default_factory=dict)
    over: bool = False
    counter: int = 0

    def my_turn(self) -> str | None:
        """A held station that is awaited and has fresh legal commands."""
        for station in self.stations:
            if (self.ship_id, station) in self.awaiting and self.legal_seq.get(station) == self.seq:
                return station
        return None

    def on_frame(self, data: dict[str, Any], now: float) -> None:
        kind = data.get("type")
        stats = self.stats
        if kind == "event":
            seq = int(data["seq"])
            self.seq = max(self.seq, seq)
            self.arrivals[seq] = now
            if data.get("awaiting") is not None:
                self.awaiting = {tuple(a) for a in data["awaiting"]}
            if data["event"].get("type") in ("battle_ended", "battle_over"):
                self.over = True
            if stats.measuring:
                stats.events_delivered += 1
                if seq > stats.max_seq.get(self.battle_id, 0):
                    stats.max_seq[self.battle_id] = seq
        elif kind == "snapshot":
            self.seq = int(data["seq"])
            self.awaiting = {tuple(a) for a in data["awaiting"]}
            self.over = bool(data.get("is_over"))
        elif kind == "legal":
            self.legal[data["station"]] = data["commands"]
            self.legal_seq[data["station"]] = int(data["seq"])
        elif kind == "ack":
            sent_at = self.in_flight.pop(data["client_id"], None)
            seqs = data.get("seqs") or []
            if sent_at is not None and stats.measuring:
                stats.acked += 1
                first = self.arrivals.get(seqs[0]) if seqs else None
                stats.latencies.append((first if first is not None else now) - sent_at)
            if len(self.arrivals) > 256:
                self.arrivals = {k: v for k, v in self.arrivals.items() if k > self.seq - 64}
        elif kind == "error":
            if data.get("client_id"):
                self.in_flight.pop(data["client_id"], None)
            if stats.measuring:
                stats.errors[str(data.get("code"))] += 1

    def next_command(self) -> str | None:
        if self.over or self.in_flight:
            return None
        station = self.my_turn()
        if station is None:
            return None
        command = pick_command(self.legal.get(station, []), self.rng)
        if command is None:
            return None
        self.counter += 1
        client_id = f"{self.ship_id}-{station}-{self.counter}"
        self.in_flight[client_id] = time.perf_counter()
        if self.stats.measuring:
            self.stats.sent += 1
        return json.dumps({"type": "command", "client_id": client_id, "command": command})


async def run_client(
    session: aiohttp.ClientSession, url: str, client: Client, stop: asyncio.Event
) -> None:
    """Join, then read frames and, once a second, act if it is this client's turn."""
    async with session.ws_connect(f"{url}/ws", max_msg_size=0, heartbeat=None) as ws:
        await ws.send_str(
            json.dumps(
                {
                    "type": "join",
                    "battle_id": client.battle_id,
                    "role": "player",
                    "ship_id": client.ship_id,
                    "stations": client.stations,
                    "name": f"load-{client.ship_id}",
                }
            )
        )

        async def ticker() -> None:
            # Ticks on a fixed schedule at this client's random phase (start + k seconds), not
            # "sleep 1 s after acting": with relative sleeps one stall of the generator lines
            # every client up, and they then fire in lockstep for the rest of the run, a burst
            # no group of real players produces.
            loop = asyncio.get_running_loop()
            next_tick = loop.time() + client.rng.random()
            while not stop.is_set():
                await asyncio.sleep(max(0.0, next_tick - loop.time()))
                next_tick += 1.0
                while next_tick <= loop.time():  # ticks missed in a stall are skipped, not bunched
                    next_tick += 1.0
                frame = client.next_command()
                if frame is not None:
                    # Stale legal lists are possible (the turn moved on): the server refuses them
                    # with a rule code, which the stats count.
                    client.legal_seq.clear()
                    await ws.send_str(frame)

        tick = asyncio.create_task(ticker())
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    client.on_frame(json.loads(msg.data), time.perf_counter())
                elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
                if stop.is_set():
                    break
        finally:
            tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick
            if not stop.is_set():
                client.stats.closed += 1


async def _loop_lag(stop: asyncio.Event, stats: Stats, tick: float = 0.01) -> None:
    """The load generator's own event-loop lag (how late a 10 ms sleep wakes) while measuring:
    a busy generator stamps arrivals late, which would inflate the latencies it reports."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(tick)
        if stats.measuring:
            stats.lags.append(max(0.0, time.perf_counter() - before - tick))


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by the nearest-rank method; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


async def run_load(
    url: str,
    clients: int,
    duration: float,
    warmup: float,
    server_pid: int | list[int] | None,
    seed: int,
) -> dict[str, Any]:
    """Create the battles, connect every client, measure for `duration` seconds.

    `url` may list several instances (comma-separated): client i uses the (i mod n)-th.
    """
    from gameserver.rules.ships import PRESETS

    urls = [u.strip().rstrip("/") for u in url.split(",") if u.strip()]
    url = urls[0]
    rng = random.Random(seed)
    battles = max(1, clients // 4)
    preset_stations = {k: list(d.station_ids()) for k, d in PRESETS.items()}
    seats = seats_for(preset_stations)
    stats = Stats()
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        battle_ids = []
        for _ in range(battles):
            async with session.post(
                f"{url}/api/battles", json={"scenario": load_scenario(), "name": "load"}
            ) as resp:
                body = await resp.json()
                if resp.status != 201:
                    raise RuntimeError(f"create battle failed: {resp.status} {body}")
                battle_ids.append(body["battle_id"])
        roster = [
            Client(
                battle_id=battle_ids[i // 4 % battles],
                ship_id=seats[i % 4][0],
                stations=seats[i % 4][1],
                stats=stats,
                rng=random.Random(rng.random()),
            )
            for i in range(clients)
        ]
        tasks = []
        for start in range(0, clients, 100):
            for i, client in enumerate(roster[start : start + 100], start=start):
                client_url = urls[i % len(urls)]
                tasks.append(asyncio.create_task(run_client(session, client_url, client, stop)))
            await asyncio.sleep(0.05)
        await asyncio.sleep(warmup)
        pids = server_pid if isinstance(server_pid, list) else [server_pid] if server_pid else []
        procs = [psutil.Process(pid) for pid in pids]
        proc = procs[0] if procs else None
        cpu0 = sum(sum(p.cpu_times()[:2]) for p in procs)
        # The clients' state is built: keep this process's full collections (a stop of the loop
        # that would delay every arrival stamp) off the measurement, as the server does.
        gc.collect()
        gc.freeze()
        own0 = time.process_time()
        lag = asyncio.create_task(_loop_lag(stop, stats))
        stats.measuring = True
        started = time.perf_counter()
        seq0 = {c.battle_id: c.seq for c in roster}
        rss_peak = 0
        while (elapsed := time.perf_counter() - started) < duration:
            await asyncio.sleep(min(1.0, duration - elapsed))
            if proc:
                rss_peak = max(rss_peak, sum(p.memory_info().rss for p in procs))
        stats.measuring = False
        wall = time.perf_counter() - started
        cpu1 = sum(sum(p.cpu_times()[:2]) for p in procs)
        own1 = time.process_time()
        stop.set()
        await lag
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    appended = sum(max(0, stats.max_seq.get(b, seq0.get(b, 0)) - seq0.get(b, 0)) for b in seq0)
    lat_ms = [v * 1000 for v in stats.latencies]
    return {
        "clients": clients,
        "battles": battles,
        "duration_s": round(wall, 2),
        "commands_sent": stats.sent,
        "commands_acked": stats.acked,
        "errors": dict(stats.errors),
        "dropped_connections": stats.closed,
        "latency_ms": {
            "p50": round(percentile(lat_ms, 0.50), 2),
            "p95": round(percentile(lat_ms, 0.95), 2),
            "p99": round(percentile(lat_ms, 0.99), 2),
            "max": round(max(lat_ms, default=0.0), 2),
            "mean": round(statistics.fmean(lat_ms), 2) if lat_ms else 0.0,
        },
        "commands_per_s": round(stats.acked / wall, 1),
        "events_per_s": round(appended / wall, 1),
        "deliveries_per_s": round(stats.events_delivered / wall, 1),
        "server_cpu_pct": round(100 * (cpu1 - cpu0) / wall, 1) if proc else None,
        "server_rss_mb": round(rss_peak / 2**20, 1) if proc else None,
        "loadgen_cpu_pct": round(100 * (own1 - own0) / wall, 1),
        "loadgen_lag_ms": {
            "p99": round(percentile(stats.lags, 0.99) * 1000, 2),
            "max": round(max(stats.lags, default=0.0) * 1000, 2),
        },
    }


def raise_fd_limit() -> None:
    """Each client is a socket: lift RLIMIT_NOFILE to the hard limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--server-pid", default=None, help="pid, or pids comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    raise_fd_limit()
    result = asyncio.run(
        run_load(
            args.url,
            args.clients,
            args.duration,
            args.warmup,
            [int(p) for p in args.server_pid.split(",")] if args.server_pid else None,
            args.seed,
        )
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
