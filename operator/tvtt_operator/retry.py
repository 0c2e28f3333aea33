"""Retries of failed reconciles: at most one pending retry per resource, exponential backoff with
jitter and a cap.

The delays are tenacity's wait strategies ("equal jitter": half of the exponential delay is fixed,
the other half random), so a broken resource is retried after about 1, 2, 4 … seconds up to the
cap, and many resources failing together (an API server restart) do not retry in lockstep. The
timers live on the event loop; a key never has two, whatever asks for a retry (a failure, a watch
event, the periodic resync), so the API calls one broken resource costs stay bounded over time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from tenacity import RetryCallState, Retrying
from tenacity.wait import wait_base, wait_exponential, wait_random_exponential

K = TypeVar("K", bound=Hashable)


def backoff_wait(base_seconds: float, cap_seconds: float) -> wait_base:
    """The wait strategy: `base · 2^(n-1)` capped at `cap`, half of it randomised."""
    half_base, half_cap = base_seconds / 2, cap_seconds / 2
    fixed = wait_exponential(multiplier=half_base, max=half_cap)
    jitter = wait_random_exponential(multiplier=half_base, max=half_cap)
    return fixed + jitter


def backoff_delay(wait: wait_base, failures: int) -> float:
    """Seconds before retry number `failures` (1 = after the first failure)."""
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = max(1, failures)
    return float(wait(state))


class RetryTimers(Generic[K]):
    """Consecutive failures per key and the one timer that will retry it."""

    def __init__(self, base_seconds: float, cap_seconds: float) -> None:
        self._wait = backoff_wait(base_seconds, cap_seconds)
        self._failures: dict[K, int] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}

    def failed(self, key: K, retry: Callable[[K], None]) -> float:
        """Record a failure and (re)arm the key's single timer; return the delay chosen."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        delay = backoff_delay(self._wait, failures)
        self.cancel(key)
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._fire, key, retry)
        return delay

    def _fire(self, key: K, retry: Callable[[K], None]) -> None:
        self._timers.pop(key, None)
        retry(key)

    def succeeded(self, key: K) -> None:
        """Reset the backoff: the next failure starts from the base delay again."""
        self._failures.pop(key, None)
        self.cancel(key)

    def cancel(self, key: K) -> None:
        """Drop a pending retry (a reconcile is about to run anyway)."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def waiting(self, key: K) -> bool:
        """Whether a retry is pending: the periodic resync leaves such keys to their timer."""
        return key in self._timers

    def failures(self, key: K) -> int:
        """Consecutive failures of `key` so far."""
        return self._failures.get(key, 0)

    def clear(self) -> None:
        """Cancel every timer (operator shutdown)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
