"""Rules-engine benchmark: attack resolutions/s (pure and through `decide`), bot battles/s,
replay time of a 10,000-event log; baseline: a bare loop drawing the same dice from the stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gameserver import rules as R
from gameserver.rules.dice import SeededDice
from gameserver.rules.resolution import HullWork, resolve_attack, resolve_damage


def _rate(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def _scenario(preset_a: str, preset_b: str, band: str, limit: int, per_side: int = 1) -> R.Scenario:
    ships = []
    for k in range(per_side):
        ships.append({"id": f"r{k}", "name": f"Red {k}", "side": "red", "preset": preset_a})
        ships.append({"id": f"b{k}", "name": f"Blue {k}", "side": "blue", "preset": preset_b})
    return R.Scenario.model_validate(
        {
            "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
            "ships": ships,
            "starting_range": band,
            "round_limit": limit,
        }
    )


def _bot_battle(scenario: R.Scenario, seed: int) -> list[R.Event]:
    events = R.start_battle(scenario, seed, f"bench-{seed}", None)
    state = R.replay(events)
    while not state.is_over:
        aw = R.awaiting(state)
        cmd = R.bot_command(state, state.ships[aw[0][0]].side)
        assert cmd is not None
        new = R.decide(state, cmd)
        for e in new:
            state = R.evolve(state, e)
        events.extend(new)
    return events


def run() -> None:
    """Print absolute figures with the same-run baseline."""
    n = 50_000
    dice = SeededDice(12345)
    # one attack at Effect ~+3 draws 2 (attack) + 1-3 (damage) dice; the baseline draws 4.
    base = _rate(lambda: (dice.d6(), dice.d6(), dice.d6(), dice.d6()), n)
    print(f"baseline: bare loop drawing 4 dice from the seeded stream: {base:,.0f} loops/s")

    dice2 = SeededDice(777)

    def pure() -> None:
        res = resolve_attack(
            dice2,
            weapon="pulse_laser",
            band="short",
            gunner_skill=2,
            dex=9,
            mount="triple",
            linked=3,
            armour=4,
        )
        if res.hit:
            resolve_damage(dice2, HullWork(10_000, 10_000, [0] * 11), res.damage, res.severity)

    pure_rate = _rate(pure, n)
    print(
        f"pure attack resolution (resolve_attack + resolve_damage): {pure_rate:,.0f}/s"
        f" ({pure_rate / base:.2f}x baseline); goal >= 100,000/s"
    )

    state = R.replay(R.start_battle(_scenario("corsair", "corsair", "short", 30), 3, "x", None))
    # walk to the attack step with the bot, then time the acting gunner's attack via decide
    while state.step != R.Step.ATTACK or state.pending:
        aw = R.awaiting(state)
        cmd = R.bot_command(state, state.ships[aw[0][0]].side)
        assert cmd is not None
        for e in R.decide(state, cmd):
            state = R.evolve(state, e)
    ship, station = R.awaiting(state)[0]
    target = next(s for s in state.ships if state.ships[s].side != state.ships[ship].side)
    attack = R.parse_command(
        {"type": "attack", "ship_id": ship, "turret": int(station.split(":")[1]), "target": target},
        R.BOT,
    )
    decide_rate = _rate(lambda: R.decide(state, attack), 5_000)
    print(f"attack through decide (validate, roll, events, fold): {decide_rate:,.0f}/s")

    scen = _scenario("corsair", "patrol_corvette", "long", 30)
    t0 = time.perf_counter()
    battles = 0
    total_events = 0
    while time.perf_counter() - t0 < 5.0:
        total_events += len(_bot_battle(scen, battles))
        battles += 1
    elapsed = time.perf_counter() - t0
    print(
        f"bot-vs-bot battles (corsair vs patrol corvette): {battles / elapsed:,.1f} battles/s,"
        f" {total_events / battles:,.0f} events per battle"
    )

    big = _scenario("system_defence_boat", "patrol_corvette", "distant", 400, per_side=2)
    log = _bot_battle(big, 1)
    seed = 2
    while len(log) < 10_000:
        log = _bot_battle(big, seed)
        seed += 1
    log = log[:10_000]
    t0 = time.perf_counter()
    final = R.replay(log)
    replay_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    for e in log:
        _ = e.seq
    loop_ms = (time.perf_counter() - t0) * 1000
    print(
        f"replay of a 10,000-event log: {replay_ms:.1f} ms (goal < 100 ms; bare loop"
        f" over the events {loop_ms:.2f} ms); final round {final.round}"
    )


if __name__ == "__main__":
    run()
