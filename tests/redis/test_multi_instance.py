"""Two real game server processes on one real Redis: the server-level half of the Redis store.

Each test starts its own redis-server (`appendonly yes`, `appendfsync always`) and two
`python -m gameserver` processes on it (tests/redis/servers.py), and talks to them only the way
clients do: HTTP and the WebSocket protocol of docs/protocol.md. The test keeps its own copy of the
battle (a `Referee`, folded from the events the clients receive) and lets the engine's bot pick
each move, so the battles are real ones and every move is legal when it is sent.

Beyond "it was acked", every test checks that:
- each client saw every event once, in seq order, without gaps (its `seen_seqs` is a range);
- the events a client saw are exactly the ones in the log;
- the log read through either instance is the same, numbered 1..N, and replays in the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from gameserver import rules
from gameserver.rules.bot import choose
from testkit.redis_server import RedisProcess
from testkit.servers import ServerProcess
from tests.redis.servers import WsClient, game_server_process

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

EventDict = dict[str, Any]

SERVER_ENV = {
    "RATE_LIMIT_PER_S": "10000",
    "RATE_LIMIT_BURST": "10000",
    "BOT_DELAY_MS": "0",
    "EXPIRY_INTERVAL_S": "3600",
    # Every client here comes from 127.0.0.1: functional tests, limits have their own.
    "ADDRESS_BURST": "100000",
    "JOIN_BURST": "100000",
}
CREW = {
    "alpha": ["pilot", "gunner:0", "engineer", "sensors"],
    "bravo": ["pilot", "gunner:0", "gunner:1", "captain", "engineer", "sensors"],
}
# Codes that mean the server (not the rules) failed a command while everything was up.
SERVER_FAILURES = {"internal_error", "store_unavailable", "bad_message", "rate_limited"}


def skirmish(round_limit: int) -> dict[str, Any]:
    """Scout (red) against Free Trader (blue), both armed, at Short range."""
    return {
        "name": "Two-instance skirmish",
        "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
        "ships": [
            {"id": "alpha", "name": "Alpha", "side": "red", "preset": "scout"},
            {"id": "bravo", "name": "Bravo", "side": "blue", "preset": "free_trader"},
        ],
        "starting_range": "short",
        "round_limit": round_limit,
    }


@dataclass
class Cluster:
    """Two game servers on one Redis, an HTTP session, and every WebSocket client opened."""

    redis: RedisProcess
    a: ServerProcess
    b: ServerProcess
    http: aiohttp.ClientSession
    clients: list[WsClient] = field(default_factory=list)

    async def connect(self, server: ServerProcess) -> WsClient:
        client = await WsClient.connect(self.http, server)
        self.clients.append(client)
        return client

    async def get(self, server: ServerProcess, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{server.url}{path}") as resp:
            return resp.status, await resp.json()

    async def create_battle(self, server: ServerProcess, round_limit: int) -> dict[str, Any]:
        """A battle in which Alpha moves first, as the tests expect. The seed is the server's
        (a creator cannot choose it), so battles are created until one is (about 6 in 10)."""
        body = {"scenario": skirmish(round_limit)}
        for _ in range(40):
            async with self.http.post(f"{server.url}/api/battles", json=body) as resp:
                created: dict[str, Any] = await resp.json()
                assert resp.status == 201, created
            if Referee(await self.log(server, created["battle_id"])).awaiting()[0][0] == "alpha":
                return created
        raise AssertionError("Alpha did not move first in 40 battles")

    async def log(self, server: ServerProcess, battle_id: str) -> list[EventDict]:
        status, body = await self.get(server, f"/api/battles/{battle_id}/log")
        assert status == 200, body
        return list(body["events"])

    async def wait_ready(self, status: int, *servers: ServerProcess) -> None:
        """Poll `/ready` until every server answers `status` (a condition with a deadline)."""
        async with asyncio.timeout(30):
            for server in servers:
                while True:
                    with contextlib.suppress(aiohttp.ClientError):
                        async with self.http.get(f"{server.url}/ready") as resp:
                            if resp.status == status:
                                break
                    await asyncio.sleep(0.05)


@pytest.fixture
async def cluster(redis_server: RedisProcess, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Instances `a` and `b` on the test's Redis; their log tails are printed for failures."""
    env = {"REDIS_URL": redis_server.url, **SERVER_ENV}
    a = game_server_process(tmp_path, env, name="a")
    b = game_server_process(tmp_path, env, name="b")
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(asyncio.to_thread(a.start))
            group.create_task(asyncio.to_thread(b.start))
        async with aiohttp.ClientSession() as http:
            running = Cluster(redis_server, a, b, http)
            try:
                yield running
            finally:
                for client in running.clients:
                    await client.close()
    finally:
        await asyncio.gather(asyncio.to_thread(a.stop), asyncio.to_thread(b.stop))
        for server in (a, b):
            print(f"--- instance {server.name} ({server.url}) ---\n{server.log_tail()}")


class Referee:
    """The test's own fold of the battle: a log to start from, then the events clients receive."""

    def __init__(self, log: Sequence[EventDict]) -> None:
        self.state = rules.replay([rules.Event.from_dict(e) for e in log])

    @property
    def seq(self) -> int:
        return int(self.state.seq)

    def fold(self, *clients: WsClient) -> None:
        """Fold every next event that any of the clients holds."""
        while True:
            held = [c.events[self.seq + 1] for c in clients if self.seq + 1 in c.events]
            if not held:
                return
            self.state = rules.evolve(self.state, rules.Event.from_dict(held[0]))

    def awaiting(self) -> list[tuple[str, str]]:
        return [(ship, station) for ship, station in rules.awaiting(self.state)]

    def move(self, ship_id: str, station: str) -> dict[str, Any]:
        """The engine's bot's choice for one awaited station, as the wire command."""
        command = choose(self.state, ship_id, station)
        if command is None:
            return {"type": "end_step", "ship_id": ship_id, "station": station}
        return rules.command_to_dict(command)


async def join(cluster: Cluster, server: ServerProcess, **fields: Any) -> WsClient:
    """Open a socket, join, and wait for the snapshot or the catch-up that follows `joined`."""
    client = await cluster.connect(server)
    joined = await client.join(**fields)
    assert joined["type"] == "joined", joined
    if fields.get("last_seq") != joined["seq"]:
        await client.wait_seq(joined["seq"])
    return client


async def everyone_sees(clients: Sequence[WsClient], seq: int) -> None:
    await asyncio.gather(*(c.wait_seq(seq) for c in clients))


async def play(
    referee: Referee,
    holders: dict[str, WsClient],
    watchers: Sequence[WsClient],
    moves: int,
) -> list[tuple[str, dict[str, Any]]]:
    """Up to `moves` moves, one at a time: the holder of the first awaited station sends the bot's
    choice, and every watcher must see its events before the next move. Returns (ship, ack)."""
    made: list[tuple[str, dict[str, Any]]] = []
    for _ in range(moves):
        awaited = referee.awaiting()
        if not awaited:
            break
        ship_id, station = awaited[0]
        answer = await holders[ship_id].command(referee.move(ship_id, station))
        assert answer["type"] == "ack", answer
        assert answer["seqs"][0] == referee.seq + 1, (answer, referee.seq)
        await everyone_sees(watchers, answer["seq"])
        referee.fold(*watchers)
        assert referee.seq == answer["seq"]
        made.append((ship_id, answer))
    return made


def jsonable(value: Any) -> Any:
    """What `value` looks like after a trip through JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


async def one_log(cluster: Cluster, battle_id: str, *servers: ServerProcess) -> list[EventDict]:
    """The log through each server: identical, numbered 1..N, and the engine replays it."""
    logs = [await cluster.log(server, battle_id) for server in servers]
    for other in logs[1:]:
        assert other == logs[0], "two instances serve different logs"
    log = logs[0]
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    assert rules.replay([rules.Event.from_dict(e) for e in log]).seq == len(log)
    return log


def assert_saw_everything(client: WsClient, first: int, log: Sequence[EventDict]) -> None:
    """The client got seqs `first`..N once each, in order, and each is the log's event."""
    assert client.seen_seqs == list(range(first, len(log) + 1)), (
        f"gaps, duplicates or disorder: saw {client.seen_seqs}, log ends at {len(log)}"
    )
    for seq, event in client.events.items():
        assert event == log[seq - 1], f"seq {seq} differs from the log"


def first_live(client: WsClient) -> int:
    """The first seq a client that joined without `last_seq` gets as an event."""
    return int(client.snapshots[0]["seq"]) + 1


def interleave(one: Sequence[int], other: Sequence[int]) -> bool:
    """Both wrote, and each wrote something before the other's last write."""
    return bool(one and other) and min(one) < max(other) and min(other) < max(one)


def acked_seqs(answers: Sequence[dict[str, Any]]) -> list[int]:
    return [seq for a in answers if a["type"] == "ack" for seq in a["seqs"]]


async def test_a_player_on_each_instance_plays_a_battle_to_its_end(cluster: Cluster) -> None:
    battle = await cluster.create_battle(cluster.a, round_limit=2)
    battle_id = battle["battle_id"]
    code = battle["join_code"]
    alpha = await join(
        cluster, cluster.a, join_code=code, role="player", ship_id="alpha", stations=CREW["alpha"]
    )
    bravo = await join(
        cluster,
        cluster.b,
        join_code=code.lower(),
        role="player",
        ship_id="bravo",
        stations=CREW["bravo"],
    )
    gm = await join(cluster, cluster.b, battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    watchers = [alpha, bravo, gm]
    referee = Referee(await cluster.log(cluster.b, battle_id))

    moves = await play(referee, {"alpha": alpha, "bravo": bravo}, watchers, moves=500)

    assert referee.state.is_over, "the battle was played to its end"
    by_ship = {ship: acked_seqs([a for s, a in moves if s == ship]) for ship in CREW}
    assert by_ship["alpha"], "A's player moved"
    assert by_ship["bravo"], "B's player moved"
    assert set(by_ship["bravo"]) <= set(alpha.events), "A's player saw B's player's moves"
    assert set(by_ship["alpha"]) <= set(bravo.events), "B's player saw A's player's moves"
    log = await one_log(cluster, battle_id, cluster.a, cluster.b)
    for client in watchers:
        assert_saw_everything(client, first_live(client), log)
    final = jsonable(rules.public_view(rules.replay([rules.Event.from_dict(e) for e in log])))
    for server in (cluster.a, cluster.b):
        status, info = await cluster.get(server, f"/api/battles/{battle_id}")
        assert status == 200, info
        assert (info["seq"], info["is_over"]) == (len(log), True)
        assert info["state"] == final, f"instance {server.name} holds another state"


async def test_commands_racing_from_both_instances_keep_one_linear_log(cluster: Cluster) -> None:
    battle = await cluster.create_battle(cluster.a, round_limit=60)
    battle_id = battle["battle_id"]
    # Each ship's crew is split across the instances, so stations awaited together are held by
    # players on different servers, who answer at once.
    split = {
        "alpha": (["pilot", "sensors"], ["gunner:0", "engineer"]),
        "bravo": (["pilot", "gunner:0", "captain"], ["gunner:1", "engineer", "sensors"]),
    }
    seats: dict[tuple[str, str], WsClient] = {}
    instance: dict[int, str] = {}
    for ship_id, halves in split.items():
        for server, stations in zip((cluster.a, cluster.b), halves, strict=True):
            player = await join(
                cluster, server, battle_id=battle_id, role="player", ship_id=ship_id,
                stations=stations,
            )  # fmt: skip
            instance[id(player)] = server.name
            seats.update({(ship_id, station): player for station in stations})
    gms = []
    for server in (cluster.a, cluster.b):
        gm = await join(
            cluster, server, battle_id=battle_id, role="gm", gm_token=battle["gm_token"]
        )
        instance[id(gm)] = server.name
        gms.append(gm)
    watchers = [*dict.fromkeys(seats.values()), *gms]
    answers: list[dict[str, Any]] = []

    # 1. Both GMs fire a burst of advances at the same moment. Each instance runs its own
    #    burst in order, so the writes race only across instances; a burst whose acked seqs
    #    interleave proves they did (a busy machine may run one burst before the other starts,
    #    so up to five bursts are fired).
    interleaved: dict[str, list[int]] = {}
    for _ in range(5):
        burst = [gm for _ in range(10) for gm in gms]
        replies = await asyncio.gather(*(gm.command({"type": "gm_advance"}) for gm in burst))
        for reply in replies:
            assert reply["type"] == "ack" or reply["code"] == "conflict", reply
        answers += replies
        await everyone_sees(watchers, max(acked_seqs(replies)))
        won: dict[str, list[int]] = {"a": [], "b": []}
        for gm, reply in zip(burst, replies, strict=True):
            won[instance[id(gm)]] += acked_seqs([reply])
        if interleave(won["a"], won["b"]):
            interleaved = won
            break
    assert interleaved, "the instances' writes never interleaved: the race was not exercised"

    # 2. Players on both instances answer their awaited stations at once, turn after turn.
    referee = Referee(await cluster.log(cluster.b, battle_id))
    both_acked = 0
    for _ in range(60):
        if referee.state.is_over or both_acked >= 6:
            break
        first_station: dict[int, tuple[WsClient, tuple[str, str]]] = {}
        for ship_id, station in referee.awaiting():
            holder = seats[(ship_id, station)]
            first_station.setdefault(id(holder), (holder, (ship_id, station)))
        volley = list(first_station.values())
        replies = await asyncio.gather(*(h.command(referee.move(*seat)) for h, seat in volley))
        for reply in replies:
            assert reply["type"] == "ack" or reply["code"] not in SERVER_FAILURES, reply
        acked = [
            instance[id(holder)]
            for (holder, _), reply in zip(volley, replies, strict=True)
            if reply["type"] == "ack"
        ]
        assert acked, f"a volley decided on the current state was refused entirely: {replies}"
        both_acked += set(acked) == {"a", "b"}
        answers += replies
        await everyone_sees(watchers, max(acked_seqs(replies)))
        referee.fold(*watchers)
    assert both_acked >= 1, "no turn had moves acked on both instances: the race was not exercised"

    log = await one_log(cluster, battle_id, cluster.a, cluster.b)
    written = acked_seqs(answers)
    assert sorted(written) == list(range(battle["seq"] + 1, len(log) + 1)), (
        "every event belongs to exactly one acked command; refused ones wrote nothing"
    )
    await everyone_sees(watchers, len(log))
    for client in watchers:
        assert_saw_everything(client, first_live(client), log)


async def test_a_killed_instances_client_resumes_on_the_other_and_loses_nothing(
    cluster: Cluster,
) -> None:
    battle = await cluster.create_battle(cluster.a, round_limit=30)
    battle_id = battle["battle_id"]
    alpha = await join(
        cluster, cluster.a, battle_id=battle_id, role="player", ship_id="alpha",
        stations=CREW["alpha"],
    )  # fmt: skip
    bravo = await join(
        cluster, cluster.b, battle_id=battle_id, role="player", ship_id="bravo",
        stations=CREW["bravo"],
    )  # fmt: skip
    gm = await join(cluster, cluster.a, battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    referee = Referee(await cluster.log(cluster.a, battle_id))
    holders = {"alpha": alpha, "bravo": bravo}
    await play(referee, holders, [alpha, bravo, gm], moves=4)
    while referee.awaiting()[0][0] != "bravo":
        await play(referee, holders, [alpha, bravo, gm], moves=1)

    # Bravo's move is acked by B, and B dies at once (before A's clients need to have seen it).
    ship_id, station = referee.awaiting()[0]
    last_on_b = await bravo.command(referee.move(ship_id, station))
    assert last_on_b["type"] == "ack", last_on_b
    cluster.b.kill()
    await bravo.wait_closed()
    await everyone_sees([alpha, gm], last_on_b["seq"])
    referee.fold(alpha)

    # The battle goes on without bravo: alpha plays its turns, the GM advances bravo's.
    missed = []
    for _ in range(3):
        if referee.awaiting()[0][0] == "alpha":
            missed += [a for _, a in await play(referee, holders, [alpha, gm], moves=1)]
        else:
            answer = await gm.command({"type": "gm_advance"})
            assert answer["type"] == "ack", answer
            missed.append(answer)
            await everyone_sees([alpha, gm], answer["seq"])
            referee.fold(alpha)

    back = await join(
        cluster, cluster.a, battle_id=battle_id, role="player", ship_id="bravo",
        stations=CREW["bravo"], resume_token=bravo.joined["resume_token"], last_seq=bravo.last_seq,
    )  # fmt: skip
    assert back.joined["stations"] == CREW["bravo"], "the resume token keeps the stations"
    assert back.joined["resume_token"] == bravo.joined["resume_token"]
    assert back.snapshots == [], "a resume by seq gets events, not a snapshot"
    assert back.seen_seqs == list(range(last_on_b["seq"] + 1, referee.seq + 1))
    assert set(acked_seqs(missed)) <= set(back.events), "exactly the missed events"

    # Bravo plays on through instance A.
    holders["bravo"] = back
    moved = []
    for _ in range(40):
        moved += [s for s, _ in await play(referee, holders, [alpha, back, gm], moves=1)]
        if "bravo" in moved and "alpha" in moved:
            break
    assert {"alpha", "bravo"} <= set(moved)

    log = await one_log(cluster, battle_id, cluster.a)
    assert sorted([*bravo.seen_seqs, *back.seen_seqs]) == list(
        range(first_live(bravo), len(log) + 1)
    )
    assert_saw_everything(back, last_on_b["seq"] + 1, log)
    for client in (alpha, gm):
        assert_saw_everything(client, first_live(client), log)
    for seq, event in bravo.events.items():
        assert event == log[seq - 1]


async def test_redis_sigkill_and_restart_loses_no_acked_event(cluster: Cluster) -> None:
    assert cluster.redis.appendfsync == "always"
    battle = await cluster.create_battle(cluster.a, round_limit=30)
    battle_id = battle["battle_id"]
    alpha = await join(
        cluster, cluster.a, battle_id=battle_id, role="player", ship_id="alpha",
        stations=CREW["alpha"],
    )  # fmt: skip
    bravo = await join(
        cluster, cluster.b, battle_id=battle_id, role="player", ship_id="bravo",
        stations=CREW["bravo"],
    )  # fmt: skip
    gm = await join(cluster, cluster.b, battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    watchers = [alpha, bravo, gm]
    holders = {"alpha": alpha, "bravo": bravo}
    referee = Referee(await cluster.log(cluster.a, battle_id))
    played = [a for _, a in await play(referee, holders, watchers, moves=4)]

    # The GM advances in a loop; Redis is SIGKILLed right after an ack, with the next command
    # on its way. The loop ends at the first refusal.
    acked: list[dict[str, Any]] = []
    enough = asyncio.Event()

    async def advance_until_refused() -> dict[str, Any]:
        while True:
            answer = await gm.command({"type": "gm_advance"})
            if answer["type"] != "ack":
                return answer
            acked.append(answer)
            if len(acked) >= 3:
                enough.set()

    advancing = asyncio.create_task(advance_until_refused())
    await asyncio.wait_for(enough.wait(), 20)
    cluster.redis.kill()
    refused = await asyncio.wait_for(advancing, 20)
    assert refused["code"] == "store_unavailable", refused
    assert all(seq in gm.events for seq in acked_seqs(acked)), "events come before their ack"

    await asyncio.to_thread(cluster.redis.start)
    await cluster.wait_ready(200, cluster.a, cluster.b)

    log = await one_log(cluster, battle_id, cluster.a, cluster.b)
    for seq in acked_seqs([*played, *acked]):
        assert seq <= len(log), f"acked seq {seq} was lost"
        assert log[seq - 1] == gm.events[seq], f"acked seq {seq} changed"
    # An append whose reply the kill cut off may or may not have landed (the client got
    # store_unavailable, as for any request whose answer is lost); either way every client
    # receives the log as Redis holds it, and the battle goes on from there on both instances.
    await everyone_sees(watchers, len(log))
    referee = Referee(log)
    moved: list[str] = []
    for _ in range(40):
        moved += [s for s, _ in await play(referee, holders, watchers, moves=1)]
        if {"alpha", "bravo"} <= set(moved):
            break
    assert {"alpha", "bravo"} <= set(moved)

    log = await one_log(cluster, battle_id, cluster.a, cluster.b)
    for client in watchers:
        assert_saw_everything(client, first_live(client), log)


async def test_redis_down_gives_clear_errors_then_clients_resume_and_play_on(
    cluster: Cluster,
) -> None:
    battle = await cluster.create_battle(cluster.b, round_limit=30)
    battle_id = battle["battle_id"]
    alpha = await join(
        cluster, cluster.a, battle_id=battle_id, role="player", ship_id="alpha",
        stations=CREW["alpha"],
    )  # fmt: skip
    bravo = await join(
        cluster, cluster.b, battle_id=battle_id, role="player", ship_id="bravo",
        stations=CREW["bravo"],
    )  # fmt: skip
    gm = await join(cluster, cluster.a, battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    holders = {"alpha": alpha, "bravo": bravo}
    referee = Referee(await cluster.log(cluster.a, battle_id))
    await play(referee, holders, [alpha, bravo, gm], moves=4)
    before = referee.seq
    seen_before = [len(c.seen_seqs) for c in (alpha, bravo, gm)]

    cluster.redis.kill()
    await cluster.wait_ready(503, cluster.a, cluster.b)

    ship_id, station = referee.awaiting()[0]
    refusals = [
        await holders[ship_id].command(referee.move(ship_id, station)),
        await gm.command({"type": "gm_advance"}),
    ]
    for refusal in refusals:
        assert (refusal["type"], refusal["code"]) == ("error", "store_unavailable"), refusal
        assert refusal["message"]
    for server in (cluster.a, cluster.b):
        status, body = await cluster.get(server, f"/api/battles/{battle_id}/log")
        assert (status, body["error"]) == (503, "store_unavailable"), body
    await bravo.close()  # bravo's connection drops during the outage...
    retry = await cluster.connect(cluster.b)
    refused_join = await retry.join(
        battle_id=battle_id, role="player", ship_id="bravo", stations=CREW["bravo"],
        resume_token=bravo.joined["resume_token"], last_seq=bravo.last_seq,
    )  # fmt: skip
    assert (refused_join["type"], refused_join["code"]) == ("error", "store_unavailable")
    assert [len(c.seen_seqs) for c in (alpha, bravo, gm)] == seen_before, "no event while down"

    await asyncio.to_thread(cluster.redis.start)
    await cluster.wait_ready(200, cluster.a, cluster.b)

    for server in (cluster.a, cluster.b):
        status, info = await cluster.get(server, f"/api/battles/{battle_id}")
        assert (status, info["seq"]) == (200, before), "the refused commands changed nothing"
    assert len(await one_log(cluster, battle_id, cluster.a, cluster.b)) == before
    advanced = await gm.command({"type": "gm_advance"})
    assert advanced["type"] == "ack", advanced
    assert advanced["seqs"][0] == before + 1
    await everyone_sees([alpha, gm], advanced["seq"])
    referee.fold(alpha)

    # ...and resumes by seq on its own instance: exactly what it missed, stations kept.
    back = await join(
        cluster, cluster.b, battle_id=battle_id, role="player", ship_id="bravo",
        stations=CREW["bravo"], resume_token=bravo.joined["resume_token"], last_seq=bravo.last_seq,
    )  # fmt: skip
    assert back.joined["stations"] == CREW["bravo"]
    # B's own reader may still be reconnecting to Redis: the missed events arrive by its fan-out.
    await back.wait_seq(advanced["seq"])
    assert back.snapshots == []
    assert back.seen_seqs == advanced["seqs"]

    holders["bravo"] = back
    moved: list[str] = []
    for _ in range(40):
        moved += [s for s, _ in await play(referee, holders, [alpha, back, gm], moves=1)]
        if {"alpha", "bravo"} <= set(moved):
            break
    assert {"alpha", "bravo"} <= set(moved), "both instances serve moves again"

    log = await one_log(cluster, battle_id, cluster.a, cluster.b)
    for client in (alpha, gm):
        assert_saw_everything(client, first_live(client), log)
    assert_saw_everything(back, before + 1, log)


async def test_resuming_on_an_instance_that_lags_behind_repeats_nothing(cluster: Cluster) -> None:
    """A client holding seq N from B may rejoin on A before A's reader has delivered N to A's
    room. A must catch up from Redis first, not answer with its older state as a snapshot and
    then send again events the client already has."""
    battle = await cluster.create_battle(cluster.a, round_limit=100)
    battle_id = battle["battle_id"]
    gm = await join(cluster, cluster.b, battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    await join(cluster, cluster.a, battle_id=battle_id, role="spectator")  # A has the battle loaded
    for _ in range(30):
        again = await cluster.connect(cluster.a)
        held = await gm.command({"type": "gm_advance"})
        assert held["type"] == "ack", held
        joined = await again.join(battle_id=battle_id, role="spectator", last_seq=held["seq"])
        assert joined["type"] == "joined", joined
        assert joined["seq"] == held["seq"], "the joined seq is the log's, not a stale cache's"
        after = await gm.command({"type": "gm_advance"})
        assert after["type"] == "ack", after
        await again.wait_seq(after["seq"])
        assert again.snapshots == [], "the client was not behind: no snapshot"
        assert again.seen_seqs == after["seqs"], "exactly the events after its last seq"
        await again.close()


def released(client: WsClient, station: str) -> bool:
    """The client was told the GM released `station` (the `station_released` error)."""
    return any(
        e["code"] == "station_released" and f" {station} on " in e["message"] for e in client.errors
    )


def presence_peers(client: WsClient) -> dict[str, dict[str, Any]]:
    """The peers of the last `presence` the client received, by peer id."""
    if not client.presence:
        return {}
    return {p["peer_id"]: p for p in client.presence[-1]["peers"]}


async def test_a_release_on_one_instance_reaches_the_holder_on_the_other(
    cluster: Cluster,
) -> None:
    """The GM on A releases the pilot station of a player connected to B: B tells the player at
    once, the player can no longer command it, and a new player on A takes it and flies."""
    battle = await cluster.create_battle(cluster.a, round_limit=30)
    battle_id = battle["battle_id"]
    holder = await join(
        cluster, cluster.b, battle_id=battle_id, role="player", ship_id="alpha",
        stations=CREW["alpha"], name="Holder",
    )  # fmt: skip
    gm = await join(cluster, cluster.a, battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    referee = Referee(await cluster.log(cluster.a, battle_id))
    assert referee.awaiting()[0] == ("alpha", "pilot")

    answer = await gm.request({"type": "release", "ship_id": "alpha", "station": "pilot"})
    assert (answer["type"], answer["seqs"]) == ("ack", []), answer
    await holder.wait_for(lambda: released(holder, "pilot"))
    assert [e["code"] for e in holder.errors] == ["station_released"]

    refused = await holder.command(referee.move("alpha", "pilot"))
    assert (refused["type"], refused["code"]) == ("error", "not_your_station"), refused
    await gm.wait_for(
        lambda: (
            presence_peers(gm).get(holder.joined["peer_id"], {}).get("stations")
            == [s for s in CREW["alpha"] if s != "pilot"]
        )
    )

    pilot = await join(
        cluster, cluster.a, battle_id=battle_id, role="player", ship_id="alpha",
        stations=["pilot"], name="New pilot",
    )  # fmt: skip
    assert pilot.joined["stations"] == ["pilot"]
    flown = await pilot.command(referee.move("alpha", "pilot"))
    assert flown["type"] == "ack", flown
    assert flown["seqs"][0] == referee.seq + 1, "the refused command wrote nothing"
    await everyone_sees([holder, gm, pilot], flown["seq"])
    still = await holder.command({"type": "end_step", "ship_id": "alpha", "station": "pilot"})
    assert (still["type"], still["code"]) == ("error", "not_your_station"), still
    log = await one_log(cluster, battle_id, cluster.a, cluster.b)
    assert len(log) == flown["seq"]
    for client in (holder, gm):
        assert_saw_everything(client, first_live(client), log)


async def test_a_claim_freed_without_a_notice_still_stops_the_holder(
    cluster: Cluster, redis_server: RedisProcess
) -> None:
    """The store's claim is the authority, not the instance's memory: a claim freed in Redis whose
    notice never went out (the releasing instance died between the two) is checked by the append
    itself. The holder loses the station at its next command, is told, and the command is decided
    again as what the player still holds."""
    battle = await cluster.create_battle(cluster.a, round_limit=30)
    battle_id = battle["battle_id"]
    holder = await join(
        cluster, cluster.b, battle_id=battle_id, role="player", ship_id="alpha",
        stations=CREW["alpha"],
    )  # fmt: skip
    referee = Referee(await cluster.log(cluster.a, battle_id))
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        claims_key = f"tvtt:b:{{{battle_id}}}:claims"
        assert await raw.hdel(claims_key, "alpha\x1fsensors") == 1

        # A move for a station it still holds goes through; the lost one is dropped on the way.
        moved = await holder.command(referee.move("alpha", "pilot"))
        assert moved["type"] == "ack", moved
        assert released(holder, "sensors")
        await holder.wait_seq(moved["seq"])
        referee.fold(holder)

        assert await raw.hdel(claims_key, "alpha\x1fpilot") == 1
        refused = await holder.command({"type": "end_step", "ship_id": "alpha", "station": "pilot"})
        assert (refused["type"], refused["code"]) == ("error", "not_your_station"), refused
        assert released(holder, "pilot")
    finally:
        await raw.aclose()
    log = await one_log(cluster, battle_id, cluster.a, cluster.b)
    assert len(log) == moved["seq"], "the refused command wrote nothing"
    taker = await join(
        cluster, cluster.a, battle_id=battle_id, role="player", ship_id="alpha",
        stations=["pilot", "sensors"],
    )  # fmt: skip
    assert taker.joined["stations"] == ["pilot", "sensors"]


async def test_a_kick_on_one_instance_removes_a_peer_of_the_other(cluster: Cluster) -> None:
    """Presence on A lists the peers connected to B; the GM on A kicks a player and a spectator
    of B: B tells them and closes them with 4000, the player's stations are free on A."""
    battle = await cluster.create_battle(cluster.a, round_limit=30)
    battle_id = battle["battle_id"]
    player = await join(
        cluster, cluster.b, battle_id=battle_id, role="player", ship_id="bravo",
        stations=CREW["bravo"], name="Bea",
    )  # fmt: skip
    spectator = await join(cluster, cluster.b, battle_id=battle_id, role="spectator", name="Sam")
    gm = await join(cluster, cluster.a, battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    player_id = player.joined["peer_id"]
    spectator_id = spectator.joined["peer_id"]

    await gm.wait_for(lambda: {player_id, spectator_id} <= set(presence_peers(gm)))
    listed = presence_peers(gm)[player_id]
    assert (listed["role"], listed["name"], listed["ship_id"]) == ("player", "Bea", "bravo")
    assert listed["stations"] == CREW["bravo"]
    assert all(c["connected"] for c in gm.presence[-1]["claims"]), gm.presence[-1]
    await player.wait_for(lambda: gm.joined["peer_id"] in presence_peers(player))

    kicked = await gm.request({"type": "kick", "peer_id": player_id})
    assert (kicked["type"], kicked["seqs"]) == ("ack", []), kicked
    await player.wait_closed()
    assert [e["code"] for e in player.errors] == ["kicked"]
    assert player.ws.close_code == 4000

    again = await join(
        cluster, cluster.a, battle_id=battle_id, role="player", ship_id="bravo",
        stations=CREW["bravo"],
    )  # fmt: skip
    assert again.joined["stations"] == CREW["bravo"], "the kicked player's stations are free"

    kicked = await gm.request({"type": "kick", "peer_id": spectator_id})
    assert kicked["type"] == "ack", kicked
    await spectator.wait_closed()
    assert [e["code"] for e in spectator.errors] == ["kicked"]
    assert spectator.ws.close_code == 4000
    await gm.wait_for(
        lambda: (
            not {player_id, spectator_id} & set(presence_peers(gm))
            and again.joined["peer_id"] in presence_peers(gm)
        )
    )
    missing = await gm.request({"type": "kick", "peer_id": "nobody"})
    assert (missing["type"], missing["code"]) == ("error", "not_found"), missing
