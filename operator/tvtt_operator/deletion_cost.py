"""Pod deletion cost from connected players: a scale-down removes the emptiest game server first.

The ReplicaSet controller deletes the pods with the lowest
`controller.kubernetes.io/pod-deletion-cost` first, so each game server pod carries its number of
connected players there. Purely computational, no side effects: the caller polls the pods' player
counts and sends the patches this returns; a pod whose annotation already says the right number
gets none (no write at steady state), and a pod whose count is unknown keeps what it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
# The annotation is an int32; more players than this cannot happen, but a bad count must not
# produce a value the API server refuses.
MAX_COST = 2**31 - 1


def deletion_cost(players: int) -> str:
    """The annotation value for a pod with `players` connected players."""
    if isinstance(players, bool) or not isinstance(players, int):
        raise TypeError(f"players must be an int, not {type(players).__name__}")
    if players < 0:
        raise ValueError(f"players cannot be negative: {players}")
    return str(min(players, MAX_COST))


def deletion_cost_patches(
    annotations: Mapping[str, Mapping[str, str]], players: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """Pod name → merge patch setting its deletion cost, only where the value changes.

    `annotations` holds each live game server pod's current annotations; `players` the counts
    polled from the pods that answered. A count for a pod that is not live is ignored (it was
    deleted meanwhile); a bad count raises before any patch is returned, so nothing is half done.
    """
    wanted = {pod: deletion_cost(count) for pod, count in players.items()}
    return {
        pod: {"metadata": {"annotations": {DELETION_COST: value}}}
        for pod, value in sorted(wanted.items())
        if pod in annotations and annotations[pod].get(DELETION_COST) != value
    }


def due_patches(
    patches: Mapping[str, dict[str, Any]],
    last_written: Mapping[str, float],
    now: float,
    min_interval: float,
) -> dict[str, dict[str, Any]]:
    """The patches whose pod was not written within `min_interval` seconds (a modest rate).

    Players come and go all evening; a pod's cost only has to be roughly right when a scale-down
    happens, so each pod gets at most one write per interval however often its count changes.
    `now` and `last_written` are the caller's monotonic clock readings.
    """
    if min_interval < 0:
        raise ValueError(f"min_interval cannot be negative: {min_interval}")
    return {
        pod: patch
        for pod, patch in patches.items()
        if pod not in last_written or now - last_written[pod] >= min_interval
    }
