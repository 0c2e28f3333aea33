"""The test-only `TEST_FAIL_COMMANDS` switch: probes green, every command `internal_error`.

It makes the bad release of the operator's rollout analysis tests (tests/e2e/node/
test_rollback.py). This checks what the analysis relies on: the operator's names (its env var,
its metric names and failure codes) against the server's own, and the figures the analysis reads
from this server's real `/metrics`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tvtt_operator.analysis import (
    COMMANDS,
    HEALTH_PATH,
    METRICS_PATH,
    SERVER_FAILURES,
    UPGRADES,
    Trigger,
    judge,
    parse_figures,
    quantile,
)
from tvtt_operator.builders import (
    ANNOTATION_TEMPLATE_HASH,
    SERVER_CONTAINER,
    TEST_FAIL_COMMANDS_ENV,
)
from tvtt_operator.models import RolloutAnalysis
from tvtt_operator.rollout import RolloutWatcher

from gameserver import rules
from gameserver.hub import Hub
from gameserver.protocol import ErrorCode
from gameserver.settings import Settings
from tests.server.conftest import ConnectFn, WsPeer, create_battle, fast_settings
from tests.server.test_play import SEATS as PLAY_SEATS, side_of

SEATS: dict[str, list[str]] = {}
for _ship, _stations in PLAY_SEATS:
    SEATS.setdefault(_ship, []).extend(_stations)


def test_the_operator_sets_the_variable_the_server_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Settings().test_fail_commands, "off unless asked for"
    monkeypatch.setenv(TEST_FAIL_COMMANDS_ENV, "true")
    assert Settings().test_fail_commands


def test_the_failure_codes_the_analysis_counts_are_server_error_codes() -> None:
    assert {ErrorCode.INTERNAL_ERROR, ErrorCode.STORE_UNAVAILABLE} == SERVER_FAILURES


@pytest.fixture
def settings() -> Settings:
    """The conftest's functional settings, with the switch on."""
    return fast_settings(import_prestart=False, test_fail_commands=True)


async def test_probes_pass_commands_fail_and_the_analysis_reads_it_from_metrics(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    for path in (HEALTH_PATH, "/ready"):
        assert (await client.get(path)).status == 200, path
    battle = await create_battle(client)
    battle_id = battle["battle_id"]
    players: dict[str, WsPeer] = {}
    for ship_id, stations in SEATS.items():
        peer = await connect()
        await peer.join(battle_id=battle_id, role="player", ship_id=ship_id, stations=stations)
        players[ship_id] = peer
    room = hub.rooms[battle_id]
    seq = room.state.seq
    ship_id, _ = rules.awaiting(room.state)[0]
    legal = [
        c
        for c in rules.bot_commands(room.state, side_of(room.state, ship_id))
        if (c.ship_id or ship_id) == ship_id
    ]
    assert legal, "a legal command to send"
    for _ in range(3):
        answer = await players[ship_id].command(rules.command_to_dict(legal[0]))
        assert answer["type"] == "error", answer
        assert answer["code"] == ErrorCode.INTERNAL_ERROR
    assert room.state.seq == seq, "nothing applied"
    assert (await client.get("/ready")).status == 200, "still ready: only commands fail"

    resp = await client.get(METRICS_PATH)
    text = await resp.text()
    assert COMMANDS in text
    assert UPGRADES in text
    figures = parse_figures(text)
    assert figures.commands == 3
    assert figures.failed_commands == 3
    assert figures.upgrades == 2
    assert figures.failed_upgrades == 0
    assert figures.latency_buckets[-1][1] == 3, "every failed command's latency is observed"
    p95 = quantile(0.95, figures.latency_buckets)
    assert p95 is not None
    assert 0 < p95 < 1


async def test_without_the_switch_the_same_command_is_acked(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub, settings: Settings
) -> None:
    hub.settings = settings.model_copy(update={"test_fail_commands": False})
    battle = await create_battle(client)
    players: dict[str, WsPeer] = {}
    for ship_id, stations in SEATS.items():
        players[ship_id] = await connect()
        await players[ship_id].join(
            battle_id=battle["battle_id"], role="player", ship_id=ship_id, stations=stations
        )
    room = hub.rooms[battle["battle_id"]]
    ship_id, _ = rules.awaiting(room.state)[0]
    holder = players[ship_id]
    command = next(
        c
        for c in rules.bot_commands(room.state, side_of(room.state, ship_id))
        if (c.ship_id or ship_id) == ship_id
    )
    answer = await holder.command(rules.command_to_dict(command))
    assert answer["type"] == "ack", answer
    figures = parse_figures(await (await client.get(METRICS_PATH)).text())
    assert (figures.commands, figures.failed_commands) == (1, 0)


async def test_the_operators_watcher_reads_a_new_pod_of_this_server(
    client: TestClient[Any, Any], connect: ConnectFn, hub: Hub
) -> None:
    """RolloutWatcher against the real server: the pod's /health and /metrics, by its address."""
    battle = await create_battle(client)
    peer = await connect()
    await peer.join(
        battle_id=battle["battle_id"], role="player", ship_id="alpha", stations=SEATS["alpha"]
    )
    for _ in range(MIN_SAMPLES):
        answer = await peer.command({"type": "evasive_action"})
        assert answer["code"] == ErrorCode.INTERNAL_ERROR
    pod: dict[str, Any] = {
        "metadata": {"name": "new-0", "annotations": {ANNOTATION_TEMPLATE_HASH: "new"}},
        "status": {
            "podIP": "127.0.0.1",
            "containerStatuses": [{"name": SERVER_CONTAINER, "started": True, "restartCount": 0}],
        },
    }
    old = copy.deepcopy(pod)
    old["metadata"].update(name="old-0", annotations={ANNOTATION_TEMPLATE_HASH: "old"})
    port = client.server.port
    assert port is not None
    watcher = RolloutWatcher(timeout_seconds=5, port=port)
    try:
        reading = await watcher.look("new", {"new-0": pod, "old-0": old})
    finally:
        await watcher.close()
    assert reading.figures.commands == MIN_SAMPLES, "the old pod is not read"
    assert reading.figures.failed_commands == MIN_SAMPLES
    assert (reading.failed_checks, reading.restarts) == (0, 0), "its /health answers"
    verdict = judge(RolloutAnalysis(min_samples=MIN_SAMPLES), reading, elapsed=1, rolled_out=True)
    assert verdict.trigger == Trigger.ERROR_RATIO


MIN_SAMPLES = 5
