"""`jsonstream.loads` equals `json.loads` on any document, large or small, and refuses the
same malformed ones."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from gameserver import jsonstream

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=50,
)


@settings(max_examples=60, deadline=None)
@given(value=JSON, pad=st.sampled_from(["", " ", "\n\t "]))
def test_it_parses_what_json_parses(value: Any, pad: str) -> None:
    text = json.dumps(value, indent=1 if pad else None)
    big = pad + json.dumps([value] * 3 + ["x" * jsonstream.SMALL]) + pad
    assert jsonstream.loads(text) == json.loads(text)
    assert jsonstream.loads(big.encode()) == json.loads(big)


@pytest.mark.parametrize(
    "tail",
    ['{"a" 1}', '{"a": 1,}', "[1 2]", "[1,]", "{1: 2}", "nope", "[1] 2", '{"a": [}'],
)
def test_it_refuses_what_json_refuses(tail: str) -> None:
    text = '[{"pad": "' + "x" * jsonstream.SMALL + '"}, ' + tail + "]"
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        jsonstream.loads(text)


def test_deep_nesting_is_refused() -> None:
    text = "[" * 5000 + "]" * 5000 + " " * jsonstream.SMALL
    with pytest.raises(RecursionError):
        jsonstream.loads(text)


def test_a_snapshot_state_is_written_level_by_level_as_json_dumps_writes_it() -> None:
    """The Redis store writes a state's undo chain one level at a time (no long GIL hold):
    the text is exactly `json.dumps`'s, and reads back through `jsonstream`."""
    from gameserver.store.redis import encode_snapshot_state

    state: dict[str, Any] = {
        "v": 4,
        "seq": 1,
        "ships": {"a": {"name": '"prev":null'}},
        "prev": None,
    }
    for seq in range(2, 30):
        state = {"v": 4, "seq": seq, "ships": {"a": {"hull": seq}}, "prev": state}
    text = encode_snapshot_state(state)
    assert text == json.dumps(state, separators=(",", ":"), ensure_ascii=False)
    assert jsonstream.loads(text + " " * jsonstream.SMALL) == state
