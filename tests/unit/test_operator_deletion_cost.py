"""Pod deletion cost: players in, the fewest patches that make each pod's annotation true out."""

from __future__ import annotations

import pytest
from tvtt_operator.deletion_cost import (
    DELETION_COST,
    MAX_COST,
    deletion_cost,
    deletion_cost_patches,
    due_patches,
)


def patch(value: str) -> dict[str, object]:
    return {"metadata": {"annotations": {DELETION_COST: value}}}


def test_each_pod_gets_its_player_count_so_the_emptiest_is_deleted_first() -> None:
    live = {"a": {}, "b": {"other": "kept"}, "c": {}}
    assert deletion_cost_patches(live, {"a": 7, "b": 0, "c": 31}) == {
        "a": patch("7"),
        "b": patch("0"),
        "c": patch("31"),
    }


def test_no_write_when_the_annotation_already_says_so() -> None:
    live = {"a": {DELETION_COST: "7"}, "b": {DELETION_COST: "3"}}
    assert deletion_cost_patches(live, {"a": 7, "b": 3}) == {}
    assert deletion_cost_patches(live, {"a": 7, "b": 4}) == {"b": patch("4")}


def test_pods_without_a_count_keep_their_annotation_and_gone_pods_are_ignored() -> None:
    live = {"a": {DELETION_COST: "5"}, "b": {}}
    # a did not answer the poll; c was deleted between the poll and the patch.
    assert deletion_cost_patches(live, {"b": 2, "c": 9}) == {"b": patch("2")}


def test_a_hand_written_or_garbage_value_is_corrected() -> None:
    live = {"a": {DELETION_COST: "-100"}, "b": {DELETION_COST: "lots"}}
    assert deletion_cost_patches(live, {"a": 1, "b": 1}) == {"a": patch("1"), "b": patch("1")}


def test_the_value_stays_an_int32() -> None:
    assert deletion_cost(2**40) == str(MAX_COST)
    assert deletion_cost(0) == "0"


@pytest.mark.parametrize(
    ("players", "error"),
    [(-1, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)],
)
def test_a_bad_count_is_refused_and_no_patch_is_returned(players: object, error: type) -> None:
    with pytest.raises(error):
        deletion_cost(players)  # type: ignore[arg-type]
    with pytest.raises(error):
        deletion_cost_patches({"a": {}, "b": {}}, {"a": 3, "b": players})  # type: ignore[dict-item]


def test_each_pod_is_written_at_most_once_per_interval() -> None:
    patches = deletion_cost_patches({"a": {}, "b": {}, "c": {}}, {"a": 1, "b": 2, "c": 3})
    last = {"a": 100.0, "b": 95.0}
    # a was written 10 s ago (too recent), b 15 s ago (due), c never.
    assert set(due_patches(patches, last, now=110.0, min_interval=15.0)) == {"b", "c"}
    assert due_patches(patches, last, now=110.0, min_interval=0.0) == patches
    with pytest.raises(ValueError, match="min_interval"):
        due_patches(patches, last, now=110.0, min_interval=-1.0)
