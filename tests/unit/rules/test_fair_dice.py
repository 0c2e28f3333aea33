"""The dice commitment, the reveal and verification (rules side, no server)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gameserver import rules
from gameserver.rules.verification import verify_log
from gameserver.sealing import SealError, seal, unseal

from .conftest import make_scenario, play_bots

SALT = bytes(range(32))


@pytest.fixture(scope="module")
def finished() -> list[dict[str, Any]]:
    """A whole bot battle with a 64-bit seed and a random-looking salt, as exported."""
    seed = 2**62 + 12345
    state, events = rules.open_battle(
        make_scenario("patrol_corvette", "corsair", "long", 8), seed, "fd", "t", salt=SALT
    )
    state, more = play_bots(state)
    assert state.is_over
    return [e.to_dict() for e in events + more]


def test_the_seed_is_in_no_event_before_the_end(finished: list[dict[str, Any]]) -> None:
    seed = str(2**62 + 12345)
    revealed = next(i for i, e in enumerate(finished) if e["type"] == "dice_revealed")
    assert revealed == len(finished) - 1, "the reveal is the last event"
    assert finished[revealed - 1]["type"] == "battle_ended"
    assert all(seed not in str(e) and SALT.hex() not in str(e) for e in finished[:revealed])
    assert finished[revealed]["data"] == {
        "seed": seed,
        "salt": SALT.hex(),
        "scheme": "sha256-tvtt-dice-v1",
    }
    assert finished[0]["data"]["commitment"]["digest"] == rules.commit(2**62 + 12345, SALT)


def test_a_finished_battle_verifies(finished: list[dict[str, Any]]) -> None:
    verdict = verify_log(finished)
    assert verdict.ok, verdict.reason
    assert verdict.dice == sum(len(e["dice"]) for e in finished) > 50


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        pytest.param(lambda log: _flip_die(log), "die #", id="a-die"),
        pytest.param(
            lambda log: log[-1]["data"].update(seed=str(int(log[-1]["data"]["seed"]) + 1)),
            "does not match the commitment",
            id="another-seed",
        ),
        pytest.param(
            lambda log: log[-1]["data"].update(salt="00" * 32),
            "does not match the commitment",
            id="another-salt",
        ),
        pytest.param(lambda log: log.pop(), "not revealed", id="no-reveal"),
    ],
)
def test_a_tampered_log_does_not_verify(
    finished: list[dict[str, Any]], tamper: Any, reason: str
) -> None:
    log = copy.deepcopy(finished)
    tamper(log)
    verdict = verify_log(log)
    assert not verdict.ok
    assert reason in verdict.reason


def _flip_die(log: list[dict[str, Any]]) -> None:
    event = [e for e in log if e["dice"]][-1]
    event["dice"][-1] = event["dice"][-1] % 6 + 1


def test_a_version_1_log_keeps_its_public_seed_and_verifies(
    finished: list[dict[str, Any]],
) -> None:
    """Version 1 published the seed; the upgrade adds its commitment (legacy all-zero salt)."""
    seed = 77
    _, events = rules.open_battle(make_scenario(), seed, "old", "t")
    old = [e.to_dict() for e in events]
    for e in old:
        e["v"] = 1
    del old[0]["data"]["commitment"]
    old[0]["data"]["seed"] = seed
    decoded, _ = rules.decode_events(old)
    assert decoded[0].data["commitment"]["digest"] == rules.commit(seed, bytes(32))
    assert rules.replay(decoded).seed == seed, "a legacy battle can resume"
    assert verify_log(old).ok


def test_nobody_can_swap_the_seed_of_a_running_battle() -> None:
    _, events = rules.open_battle(make_scenario(), 5, "s", "t", salt=SALT)
    with pytest.raises(rules.SecretMismatch):
        rules.replay(events, rules.DiceSecret(6, SALT))
    assert rules.replay(events, rules.DiceSecret(5, SALT)).seed == 5


def test_a_state_without_its_seed_rolls_nothing() -> None:
    """A fold of the public events cannot roll (never a guessed or default seed)."""
    _, events = rules.open_battle(make_scenario(band="short"), 5, "s", "t", salt=SALT)
    state = rules.replay(events)
    assert state.seed is None
    assert "seed" not in rules.state_to_dict(state)
    refused: str | None = None
    while refused is None and not state.is_over:
        aw = rules.awaiting(state)
        cmd = rules.bot_command(state, state.ships[aw[0][0]].side)
        assert cmd is not None
        try:
            state, _ = rules.decide(state, cmd)
        except rules.RuleViolation as exc:
            refused = exc.code
    assert refused == "dice_sealed"


def test_a_sealed_seed_opens_only_with_its_key_and_battle() -> None:
    key = bytes(32)
    token = seal(key, "5:" + SALT.hex(), "digest-a")
    assert "5:" not in token
    assert SALT.hex() not in token
    assert unseal(key, token, "digest-a") == "5:" + SALT.hex()
    with pytest.raises(SealError, match="another"):
        unseal(bytes([1]) * 32, token, "digest-a")
    with pytest.raises(SealError, match="another"):
        unseal(key, token, "digest-b")
    raw = bytearray(token.encode())
    raw[10] = ord("A") if raw[10] != ord("A") else ord("B")
    with pytest.raises(SealError):
        unseal(key, raw.decode(), "digest-a")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    a=st.sampled_from(["scout", "free_trader", "patrol_corvette", "corsair"]),
    b=st.sampled_from(["scout", "far_trader", "fighter", "corsair"]),
    band=st.sampled_from(["close", "short", "medium", "long"]),
    seed=st.integers(-(2**127), 2**127 - 1),
    salt=st.binary(min_size=32, max_size=32),
    pick=st.integers(0, 10**9),
)
def test_random_bot_battles_verify_and_any_flipped_die_is_named(
    a: str, b: str, band: str, seed: int, salt: bytes, pick: int
) -> None:
    """For random bot battles the exported log verifies (and replays with its revealed seed to
    the live state); flipping any one die fails verification naming that event and die."""
    state, events = rules.open_battle(make_scenario(a, b, band, 4), seed, "p", "t", salt=salt)
    state, more = play_bots(state)
    log = [e.to_dict() for e in events + more]
    assert verify_log(log).ok
    decoded, _ = rules.decode_events(log)
    secret = rules.DiceSecret(seed, salt)
    assert rules.state_to_dict(rules.replay(decoded, secret)) == rules.state_to_dict(state)
    rolled = [(i, k) for i, e in enumerate(log) for k in range(len(e["dice"]))]
    i, k = rolled[pick % len(rolled)]
    log[i]["dice"][k] = log[i]["dice"][k] % 6 + 1
    verdict = verify_log(log)
    assert not verdict.ok
    assert f"event {log[i]['seq']} ({log[i]['type']}) die #{k + 1}" in verdict.reason
