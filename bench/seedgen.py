"""Seed-shape load generator: the load of the system this product replaces, run as its own process.

The shape (issue "Performance v2"): N player clients in N/2 two-ship battles. Each player holds
every station of its ship and acts as soon as one of them is awaited (with the legal list of the
current seq), but never more often than `--max-rate` commands per second (default 2). When a
battle ends the pair creates a new one and both players join it (so joins go on all the time, as
on a real server). Spectators follow the battles and behave like the page does today: they receive
every frame, and after each batch (the event that carries `awaiting`) they fetch the public view
over HTTP (`GET /api/battles/{id}`) unless the frame already carries a `state` (one request in
flight per page; a batch that arrives meanwhile is folded into the next fetch, as the page's
`refreshState` does). `--no-refetch` turns those fetches off.

Players pick like a keen player: an attack, a move or another action 70 % of the time, the step's
end otherwise; they never surrender or break off, so a battle ends by damage or by its round limit
(`--round-limit`, default 4 rounds: a battle lasts a few dozen commands and new ones start within
a short run).

Latency is command sent -> first event of that command received on the same socket (the ack names
the seqs); `steady` figures are the commands sent in the second half of the window, after the
initial joins have settled. CPU per command is the server's CPU time over the window divided by
the commands acked in it.

Prints one JSON line. Usage:
`python -m bench.seedgen --url http://127.0.0.1:3000 --clients 200 --spectators 20 --duration 15`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psutil

from bench.loadgen import percentile, raise_fd_limit

SHIPS = (("alpha", "scout", "red"), ("bravo", "free_trader", "blue"))
PASSIVE = frozenset({"end_step"})
NEVER = frozenset({"surrender", "break_off"})


def scenario(round_limit: int) -> dict[str, Any]:
    """Two armed ships at Short range: attacks from the first round, an end within the limit."""
    return {
        "name": "Seed-shape load",
        "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
        "ships": [
            {"id": ship_id, "name": ship_id.title(), "side": side, "preset": preset}
            for ship_id, preset, side in SHIPS
        ],
        "starting_range": "short",
        "round_limit": round_limit,
    }


def pick(commands: list[dict[str, Any]], rng: random.Random) -> dict[str, Any] | None:
    """A keen player's choice among the offered commands (never surrender or break off)."""
    wire = [c.get("command", c) for c in commands]
    wire = [c for c in wire if c.get("type") not in NEVER]
    if not wire:
        return None
    active = [c for c in wire if c.get("type") not in PASSIVE]
    pool = active if active and rng.random() < 0.7 else wire
    return dict(rng.choice(pool))


@dataclass
class Stats:
    """Counters of the whole run; only what happens while `measuring` counts."""

    measuring: bool = False
    window_start: float = 0.0
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, latency)
    sent: int = 0
    acked: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    frames: int = 0
    spectator_frames: int = 0
    refetches: int = 0
    refetch_latencies: list[float] = field(default_factory=list)
    joined: int = 0
    battles_started: int = 0
    battles_ended: int = 0
    dropped: int = 0
    lags: list[float] = field(default_factory=list)


@dataclass
class Page:
    """One open page (player or spectator) of one battle: what it knows from its frames."""

    battle_id: str
    stats: Stats
    ship_id: str | None = None
    stations: tuple[str, ...] = ()
    seq: int = 0
    awaiting: set[tuple[str, str]] = field(default_factory=set)
    legal: dict[str, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)
    arrivals: dict[int, float] = field(default_factory=dict)
    in_flight: dict[str, float] = field(default_factory=dict)
    over: bool = False
    batch_done: bool = False
    refused: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    batch: asyncio.Event = field(default_factory=asyncio.Event)

    def on_frame(self, data: dict[str, Any], now: float) -> None:
        """Fold one frame into what the page knows; wake its actor."""
        kind = data.get("type")
        stats = self.stats
        if kind == "event":
            seq = int(data["seq"])
            self.seq = max(self.seq, seq)
            self.arrivals[seq] = now
            if data.get("awaiting") is not None:
                self.awaiting = {(a[0], a[1]) for a in data["awaiting"]}
                self.batch_done = "state" not in data
                if self.batch_done:
                    self.batch.set()
            if data["event"].get("type") == "battle_ended" or data.get("is_over"):
                self.over = True
        elif kind == "snapshot":
            if self.ship_id is not None:
                stats.joined += 1
            self.seq = int(data["seq"])
            self.awaiting = {(a[0], a[1]) for a in data["awaiting"]}
            self.over = bool(data.get("is_over"))
        elif kind == "legal":
            self.legal[data["station"]] = (int(data["seq"]), data["commands"])
        elif kind == "ack":
            sent_at = self.in_flight.pop(data["client_id"], None)
            seqs = data.get("seqs") or []
            if sent_at is not None and stats.measuring:
                stats.acked += 1
                first = self.arrivals.get(seqs[0]) if seqs else None
                stats.latencies.append((sent_at, (first if first is not None else now) - sent_at))
            if len(self.arrivals) > 128:
                self.arrivals = {k: v for k, v in self.arrivals.items() if k > self.seq - 32}
        elif kind == "error":
            if data.get("client_id") and self.in_flight.pop(data["client_id"], None):
                self.refused = True  # its legal list was used up: ask for a fresh one
            if stats.measuring:
                stats.errors[str(data.get("code"))] += 1
        self.changed.set()

    def my_turn(self) -> tuple[str, list[dict[str, Any]]] | None:
        """An awaited station of this page with the legal list of the current seq."""
        for station in self.stations:
            if (self.ship_id, station) in self.awaiting:
                seq, commands = self.legal.get(station, (-1, []))
                if seq == self.seq:
                    return station, commands
        return None


async def _read(ws: aiohttp.ClientWebSocketResponse, page: Page, stop: asyncio.Event) -> None:
    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        page.on_frame(json.loads(msg.data), time.perf_counter())
        if page.stats.measuring:
            page.stats.frames += 1
            if page.ship_id is None:
                page.stats.spectator_frames += 1
        if page.over or stop.is_set():
            break
    page.over = True
    page.changed.set()
    page.batch.set()


async def _refetch(
    session: aiohttp.ClientSession, url: str, page: Page, stop: asyncio.Event
) -> None:
    """The page's `refreshState`: after a complete batch, GET the public view (one at a time)."""
    while not page.over and not stop.is_set():
        await page.batch.wait()
        page.batch.clear()
        if not page.batch_done:
            continue
        page.batch_done = False
        started = time.perf_counter()
        async with session.get(f"{url}/api/battles/{page.battle_id}") as resp:
            await resp.read()
        if page.stats.measuring:
            page.stats.refetches += 1
            page.stats.refetch_latencies.append(time.perf_counter() - started)


async def _act(
    ws: aiohttp.ClientWebSocketResponse,
    page: Page,
    rng: random.Random,
    min_gap: float,
    stop: asyncio.Event,
) -> None:
    """Act as soon as a held station is awaited, at most one command per `min_gap` seconds."""
    last = 0.0
    counter = 0
    while not page.over and not stop.is_set():
        await page.changed.wait()
        page.changed.clear()
        if page.in_flight:
            continue
        if page.refused:
            page.refused = False
            await ws.send_str(json.dumps({"type": "legal"}))
            continue
        turn = page.my_turn()
        if turn is None:
            continue
        wait = last + min_gap - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
            turn = page.my_turn()
            if turn is None or page.over:
                continue
        station, commands = turn
        command = pick(commands, rng)
        if command is None:
            continue
        counter += 1
        client_id = f"{page.ship_id}-{counter}"
        page.legal.pop(station, None)
        last = time.perf_counter()
        page.in_flight[client_id] = last
        if page.stats.measuring:
            page.stats.sent += 1
        frame = {"type": "command", "client_id": client_id, "command": command}
        await ws.send_str(json.dumps(frame))


async def _page(
    session: aiohttp.ClientSession,
    url: str,
    page: Page,
    stop: asyncio.Event,
    rng: random.Random,
    min_gap: float,
    refetch: bool,
) -> None:
    """One page from join to the battle's end (or the end of the run)."""
    join: dict[str, Any] = {"type": "join", "battle_id": page.battle_id, "name": "seed-load"}
    if page.ship_id is None:
        join["role"] = "spectator"
    else:
        join |= {"role": "player", "ship_id": page.ship_id, "stations": list(page.stations)}
    async with session.ws_connect(f"{url}/ws", max_msg_size=0, heartbeat=None) as ws:
        await ws.send_str(json.dumps(join))
        helpers = []
        if page.ship_id is not None:
            helpers.append(asyncio.create_task(_act(ws, page, rng, min_gap, stop)))
        if refetch:
            helpers.append(asyncio.create_task(_refetch(session, url, page, stop)))
        try:
            await _read(ws, page, stop)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)


async def run_pair(
    session: aiohttp.ClientSession,
    url: str,
    stations: dict[str, tuple[str, ...]],
    spectators: int,
    stats: Stats,
    stop: asyncio.Event,
    rng: random.Random,
    args: argparse.Namespace,
) -> None:
    """Two players (and this pair's spectators) play battle after battle until the run stops."""
    while not stop.is_set():
        async with session.post(
            f"{url}/api/battles", json={"scenario": scenario(args.round_limit), "name": "seed"}
        ) as resp:
            body = await resp.json()
            if resp.status != 201:
                raise RuntimeError(f"create battle failed: {resp.status} {body}")
        battle_id = body["battle_id"]
        if stats.measuring:
            stats.battles_started += 1
        pages = [Page(battle_id, stats, ship_id, stations[preset]) for ship_id, preset, _ in SHIPS]
        pages += [Page(battle_id, stats) for _ in range(spectators)]
        results = await asyncio.gather(
            *(
                _page(
                    session,
                    url,
                    p,
                    stop,
                    random.Random(rng.random()),
                    1 / args.max_rate,
                    args.refetch,
                )
                for p in pages
            ),
            return_exceptions=True,
        )
        if stop.is_set():
            return
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            stats.dropped += len(failed)
            await asyncio.sleep(1.0)
        elif stats.measuring:
            stats.battles_ended += 1


async def _probe(
    session: aiohttp.ClientSession, url: str, stop: asyncio.Event, stats: Stats, out: list[float]
) -> None:
    """What a kubelet does, 10 times a second: GET /health and /ready in turn (latency only)."""
    paths = ("/health", "/ready")
    k = 0
    while not stop.is_set():
        started = time.perf_counter()
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(f"{url}{paths[k % 2]}") as resp:
                await resp.read()
        if stats.measuring:
            out.append(time.perf_counter() - started)
        k += 1
        await asyncio.sleep(0.1)


async def _loop_lag(stop: asyncio.Event, stats: Stats, tick: float = 0.01) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(tick)
        if stats.measuring:
            stats.lags.append(max(0.0, time.perf_counter() - before - tick))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start every pair, let the joins settle, measure for `duration` seconds."""
    from gameserver.rules.ships import PRESETS

    url = args.url.rstrip("/")
    rng = random.Random(args.seed)
    stations = {k: tuple(d.station_ids()) for k, d in PRESETS.items()}
    pairs = max(1, args.clients // 2)
    per_pair = [
        args.spectators // pairs + (1 if i < args.spectators % pairs else 0) for i in range(pairs)
    ]
    stats = Stats()
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, connect=30)
    proc = psutil.Process(args.server_pid) if args.server_pid else None
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        for start in range(0, pairs, 50):
            for i in range(start, min(pairs, start + 50)):
                pair = run_pair(
                    session,
                    url,
                    stations,
                    per_pair[i],
                    stats,
                    stop,
                    random.Random(rng.random()),
                    args,
                )
                tasks.append(asyncio.create_task(pair))
            await asyncio.sleep(0.05)
        # The window opens once every player has joined its first battle (on a starved machine
        # that takes longer than any fixed warm-up), then after the warm-up.
        deadline = time.perf_counter() + 120
        while stats.joined < 2 * pairs and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await asyncio.sleep(args.warmup)
        gc.collect()
        gc.freeze()
        cpu0 = sum(proc.cpu_times()[:2]) if proc else 0.0
        own0 = time.process_time()
        lag = asyncio.create_task(_loop_lag(stop, stats))
        probe_urls = [u for u in (args.probe_urls or "").split(",") if u]
        probe_times: list[list[float]] = [[] for _ in probe_urls]
        probers = [
            asyncio.create_task(_probe(session, u.rstrip("/"), stop, stats, out))
            for u, out in zip(probe_urls, probe_times, strict=True)
        ]
        stats.measuring = True
        started = stats.window_start = time.perf_counter()
        rss_peak = 0
        while (elapsed := time.perf_counter() - started) < args.duration:
            await asyncio.sleep(min(1.0, args.duration - elapsed))
            if proc:
                rss_peak = max(rss_peak, proc.memory_info().rss)
        stats.measuring = False
        wall = time.perf_counter() - started
        cpu = (sum(proc.cpu_times()[:2]) - cpu0) if proc else 0.0
        own = time.process_time() - own0
        stop.set()
        await lag
        await asyncio.gather(*probers, return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    half = started + wall / 2
    lat_ms = [v * 1000 for _, v in stats.latencies]
    steady_ms = [v * 1000 for at, v in stats.latencies if at >= half]
    refetch_ms = [v * 1000 for v in stats.refetch_latencies]

    def q(values: list[float], p: float) -> float:
        return round(percentile(values, p), 2)

    return {
        "clients": args.clients,
        "spectators": args.spectators,
        "battles_live": pairs,
        "duration_s": round(wall, 2),
        "commands_sent": stats.sent,
        "commands_acked": stats.acked,
        "commands_per_s": round(stats.acked / wall, 1),
        "latency_ms": {"p50": q(lat_ms, 0.5), "p95": q(lat_ms, 0.95), "p99": q(lat_ms, 0.99)},
        "steady_p99_ms": q(steady_ms, 0.99),
        "frames_per_s": round(stats.frames / wall, 1),
        "spectator_frames_per_s": round(stats.spectator_frames / wall, 1),
        "refetches_per_s": round(stats.refetches / wall, 1),
        "refetch_p99_ms": q(refetch_ms, 0.99),
        "battles_started": stats.battles_started,
        "battles_ended": stats.battles_ended,
        "errors": dict(stats.errors),
        "dropped_pages": stats.dropped,
        "server_cpu_pct": round(100 * cpu / wall, 1) if proc else None,
        "cpu_ms_per_command": round(1000 * cpu / stats.acked, 3) if proc and stats.acked else None,
        "server_rss_mb": round(rss_peak / 2**20, 1) if proc else None,
        "probe_p99_ms": [q([v * 1000 for v in t], 0.99) for t in probe_times],
        "loadgen_cpu_pct": round(100 * own / wall, 1),
        "loadgen_lag_p99_ms": q([v * 1000 for v in stats.lags], 0.99),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--clients", type=int, default=200, help="players (2 per battle)")
    parser.add_argument("--spectators", type=int, default=0, help="spread over the battles")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--max-rate", type=float, default=2.0, help="commands/s per player")
    parser.add_argument("--round-limit", type=int, default=4)
    parser.add_argument("--refetch", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--server-pid", type=int, default=None)
    parser.add_argument("--probe-urls", default="", help="GET /health and /ready there (p99)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    raise_fd_limit()
    print(json.dumps(asyncio.run(run(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
