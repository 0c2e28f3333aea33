"""The engine's memos (`ShipState.power_plan`, `stations_needed`) are shared by every thread:
the server opens battles in executor threads while its loop plays others. Evicting the oldest
entry from two threads at once raised `KeyError` inside a bot's move, and the bot driver, which
did not expect it, stopped for good (a bot battle of the memory benchmark stalled)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from gameserver.rules import ship_state, turns

from .conftest import Battle, make_scenario

THREADS = 4
ROUNDS = 3_000


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Let the interpreter switch threads as often as it can, so a race shows within a second."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_the_memos_take_threads_evicting_at_once(
    switch_often: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny memos: every miss evicts, as a busy server's full memo does.
    monkeypatch.setattr(ship_state, "_PLANS_MAX", 2)
    monkeypatch.setattr(turns, "_NEEDED_MAX", 2)
    b = Battle(make_scenario("scout", "free_trader", "short"))
    state, ship = b.state, b.ship("a")
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work() -> None:
        start.wait()
        try:
            for k in range(ROUNDS):
                other = replace(ship, offline=frozenset({"turret:0"}) if k % 2 else frozenset())
                assert other.power_plan == other._power_plan()
                assert turns.stations_needed(state, other) == turns._stations_needed(state, other)
        except BaseException as exc:  # any failure in a thread is the finding
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, f"{len(failures)} threads failed, first: {failures[0]!r}"
