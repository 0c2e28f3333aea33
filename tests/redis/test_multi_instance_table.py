"""Chat and the turn timer across two game server processes on one real Redis.

Both live beside the rules log (chat in the store, the timer as a table rule), so neither rides
the event stream the other multi-instance tests check: a line said on one instance must still
reach its readers on the other (and only them), and a timer the GM switches on through one
instance must count down on the other's pages and pass the stations nobody plays.
"""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules
from tests.redis.servers import WsClient
from tests.redis.test_multi_instance import (
    CREW,
    Cluster,
    cluster,  # noqa: F401  (the fixture, used by name)
    join,
)

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]


def texts(client: WsClient) -> list[str]:
    return [line["text"] for line in client.chat_lines]


async def said(client: WsClient, text: str) -> None:
    await client.wait_for(lambda: text in texts(client))


async def chat(client: WsClient, to: str, text: str) -> dict[str, Any]:
    return await client.request({"type": "chat", "to": to, "text": text})


async def test_chat_lines_and_whispers_reach_their_readers_on_the_other_instance(
    cluster: Cluster,  # noqa: F811
) -> None:
    battle = await cluster.create_battle(cluster.a, round_limit=3)
    battle_id = battle["battle_id"]
    gm = await join(
        cluster, cluster.a, battle_id=battle_id, role="gm", gm_token=battle["gm_token"], name="Gail"
    )
    ana = await join(
        cluster,
        cluster.b,
        battle_id=battle_id,
        role="player",
        ship_id="alpha",
        stations=CREW["alpha"],
        name="Ana",
    )
    wren = await join(cluster, cluster.b, battle_id=battle_id, role="spectator", name="Wren")

    assert (await chat(gm, "table", "welcome aboard"))["type"] == "ack"
    for reader in (gm, ana, wren):
        await said(reader, "welcome aboard")
    # The GM (on a) whispers to Ana (on b) by the peer id the presence frames give.
    assert (await chat(gm, ana.joined["peer_id"], "psst, the hold"))["type"] == "ack"
    await said(ana, "psst, the hold")
    # Ana (on b) whispers to the GM (on a).
    assert (await chat(ana, "gm", "they are bluffing"))["type"] == "ack"
    await said(gm, "they are bluffing")
    # A later table line reaches everyone: by then the whispers would have reached Wren too.
    assert (await chat(wren, "table", "popcorn"))["type"] == "ack"
    for reader in (gm, ana, wren):
        await said(reader, "popcorn")

    assert texts(wren) == ["welcome aboard", "popcorn"]
    assert texts(ana) == ["welcome aboard", "psst, the hold", "they are bluffing", "popcorn"]
    assert texts(gm) == texts(ana)  # each line once, in the order it was said
    whisper = next(line for line in gm.chat_lines if line["text"] == "they are bluffing")
    assert (whisper["sender"], whisper["to"]) == ("Ana", "gm")
    # Someone who left is no whisper target, whichever instance is asked.
    await wren.close()
    await gm.wait_for(
        lambda: all(
            wren.joined["peer_id"] not in {p["peer_id"] for p in f["peers"]}
            for f in gm.presence[-1:]
        )
    )
    refused = await chat(gm, wren.joined["peer_id"], "still there?")
    assert (refused["type"], refused.get("code")) == ("error", "not_at_table"), refused
    assert "still there?" not in texts(ana)


async def test_a_turn_timer_set_through_one_instance_counts_down_and_passes_on_both(
    cluster: Cluster,  # noqa: F811
) -> None:
    battle = await cluster.create_battle(cluster.a, round_limit=3)
    battle_id = battle["battle_id"]
    gm = await join(cluster, cluster.a, battle_id=battle_id, role="gm", gm_token=battle["gm_token"])
    watcher = await join(cluster, cluster.b, battle_id=battle_id, role="spectator", name="Wren")
    start = watcher.last_seq

    answer = await gm.request({"type": "table", "turn_timer_s": 1})
    assert answer["type"] == "ack", answer
    # The page on the other instance is told, and counts down from the seconds left.
    await watcher.wait_for(
        lambda: any(t["seconds"] == 1 and t["seconds_left"] is not None for t in watcher.timers)
    )
    # Nobody plays: the stations awaited pass when their second runs out, again and again.
    await watcher.wait_seq(start + 6, wait_s=60)
    await gm.request({"type": "table", "turn_timer_s": 0})

    log = await cluster.log(cluster.a, battle_id)
    assert log == await cluster.log(cluster.b, battle_id)
    assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
    rules.replay([rules.Event.from_dict(e) for e in log])  # the passes are ordinary events
    passes = [e["cmd"] for e in log[start:] if e.get("cmd")]
    assert passes, "the timer passed nothing"
    assert all(c["type"] in ("end_step", "no_reaction") for c in passes), passes
    assert all(c["actor"]["role"] == "bot" for c in passes), passes
    # Both instances run the room: the watcher on b saw every pass once, in order, no gap.
    assert watcher.seen_seqs == list(range(start + 1, watcher.last_seq + 1))
