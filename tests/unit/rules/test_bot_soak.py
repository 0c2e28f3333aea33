"""Bot-vs-bot soak: seeded battles across both rulesets' presets and every tactic level end
within their round cap, replay exactly from their events, and the engine never refuses a bot
command (pure engine, no server).

The full 200 battles are `test_two_hundred_bot_battles` (marked ``soak``; it runs in
`make test`); the default grid plays a tenth of them, from the same generator.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.reexecution import reexecute
from gameserver.rules.tactics import TACTICS

ROUND_CAP = 12
MAX_COMMANDS = 6_000
BANDS = ("close", "short", "medium", "long", "very_long", "distant")
RULESETS = ("MGT2E_2016", "MGT2E_2022", "CE")


def _presets(ruleset: str) -> list[str]:
    family = "CE" if ruleset == "CE" else "MGT2E"
    return sorted(k for k, v in rules.PRESET_RULESET.items() if v == family)


def soak_case(n: int) -> dict[str, Any]:
    """Battle `n` of the soak: its ruleset, ships (2-4, on two sides), tactics, range, jump limit.

    Every ruleset, preset and tactic appears within the first 30 cases (the rulesets take
    turns; presets and tactics walk the catalogue), the rest is drawn from `n` as a seed.
    """
    rng = random.Random(n)
    ruleset = RULESETS[n % len(RULESETS)]
    presets = _presets(ruleset)
    count = 2 + (n // 3) % 3
    ships = []
    for i in range(count):
        preset = presets[(n // 3 + i) % len(presets)] if i < 2 else rng.choice(presets)
        ships.append(
            {
                "id": f"s{i}",
                "name": f"Ship {i}",
                "side": "red" if i % 2 == 0 else "blue",
                "preset": preset,
                "crew_quality": rng.choice(["green", "regular", "veteran"]),
            }
        )
    tactics = [TACTICS[(n + i) % len(TACTICS)] for i in range(count)]
    return {
        "seed": 10_000 + n,
        "tactics": tactics,
        "scenario": {
            "name": f"soak {n}",
            "ruleset": ruleset,
            "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
            "ships": ships,
            "starting_range": rng.choice(BANDS),
            "round_limit": ROUND_CAP,
            "jump_limit": rng.choice(["outside", "inside"]),
        }
        # §3.B sensors before combat in a quarter of the MgT2e battles (no draw from `rng`,
        # so the other choices of every case stay as they were)
        | ({"detection": "sensors"} if n % 4 == 1 and ruleset != "CE" else {}),
    }


def play_soak_battle(n: int) -> tuple[rules.BattleState, list[rules.Event], int]:
    """Play battle `n`: the GM hands every ship to the bot (`gm_bot`), then the bot plays
    until the end. Returns the final state, every event and the bot commands played."""
    case = soak_case(n)
    scenario = rules.Scenario.model_validate(case["scenario"])
    state, events = rules.open_battle(scenario, case["seed"], f"soak-{n}", None)
    for ship, tactic in zip(scenario.ships, case["tactics"], strict=True):
        hand = {"type": "gm_bot", "ship_id": ship.id, "tactic": tactic}
        state, new = rules.decide(state, rules.parse_command(hand, rules.GM))
        events += new
    played = 0
    while not state.is_over:
        assert played < MAX_COMMANDS, f"battle {n} did not end within {MAX_COMMANDS} commands"
        bot = rules.next_bot_command(state)
        assert bot is not None, f"battle {n}: the bot has nothing for {rules.awaiting(state)}"
        try:
            state, new = rules.decide(state, bot)
        except rules.RuleViolation as exc:  # pragma: no cover - the failure itself
            pytest.fail(f"battle {n}: the engine refused the bot's {bot!r}: {exc}")
        events += new
        played += 1
    return state, events, played


def _check(n: int) -> tuple[rules.BattleState, list[rules.Event]]:
    state, events, played = play_soak_battle(n)
    assert played > 0
    assert state.is_over
    assert state.round <= ROUND_CAP
    case = soak_case(n)
    secret = rules.DiceSecret(case["seed"], bytes(rules.SALT_BYTES))
    replayed = rules.replay(events, secret)
    assert replayed == state
    assert rules.state_to_dict(replayed) == rules.state_to_dict(state)
    return state, events


@pytest.mark.parametrize("n", range(0, 200, 10))
def test_a_bot_battle_ends_replays_and_no_bot_command_is_refused(n: int) -> None:
    """A tenth of the soak: every ruleset and tactic level, each battle checked in full; its
    log, as exported, also re-executes command by command (an import would accept it)."""
    state, events = _check(n)
    log = json.loads(json.dumps([e.to_dict() for e in events]))
    decoded, dicts = rules.decode_events(log)
    secret = rules.DiceSecret(soak_case(n)["seed"], bytes(rules.SALT_BYTES))
    again, produced = reexecute(decoded, dicts, secret)
    assert json.loads(json.dumps(produced)) == log
    assert again == state


@pytest.mark.soak
def test_two_hundred_bot_battles() -> None:
    """The whole soak: 200 battles, every one ends, replays exactly and no command of the bot
    was refused; together they reach the ends the tactics aim at."""
    outcomes: set[str] = set()
    statuses: set[str] = set()
    for n in range(200):
        state, _ = _check(n)
        assert state.outcome is not None
        outcomes.add(str(state.outcome["reason"]))
        statuses.update(s.status for s in state.ships.values())
    assert "round_limit" in outcomes
    assert {"surrendered", "wrecked"} <= statuses
    assert statuses & {"escaped", "jumped"}


def test_the_soak_covers_both_rulesets_every_preset_and_every_tactic() -> None:
    """The generator reaches every preset of both rulesets and every tactic level."""
    presets: set[str] = set()
    tactics: set[str] = set()
    for n in range(200):
        case = soak_case(n)
        presets.update(s["preset"] for s in case["scenario"]["ships"])
        tactics.update(case["tactics"])
    assert presets == set(rules.PRESET_RULESET)
    assert tactics == set(TACTICS)
