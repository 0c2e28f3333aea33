"""The hot-path frame builders write the same JSON as the protocol models."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from gameserver import rules
from gameserver.protocol import (
    AckMessage,
    EventMessage,
    LegalMessage,
    PublicView,
    ack_frame,
    event_frame,
    event_json,
    legal_frame,
    parse_server_message,
    view_json,
)

GOLDEN = Path(__file__).parents[1] / "unit" / "rules" / "golden"


def _golden_views() -> list[dict[str, Any]]:
    """The public view at a few points of each golden log (start, middle, end)."""
    views = []
    for path in sorted(GOLDEN.glob("*.json")):
        events, _ = rules.decode_events(json.loads(path.read_text())["events"])
        for cut in (2, len(events) // 2, len(events)):
            views.append(rules.public_view(rules.replay(events[:cut])))
    return views


EVENT: dict[str, Any] = {
    "seq": 7,
    "type": "attack_resolved",
    "data": {"set": {"ships": {"alpha": {"hull": 12}}}, "note": "Überlicht ✓", "x": 1.5},
    "dice": [3, 6],
    "summary": 'hit "Bravo"',
    "at": "2024-01-01T00:00:00.000+00:00",
}


def test_event_frame_is_the_models_json() -> None:
    for awaiting in (None, [], [("alpha", "pilot"), ("bravo", "gunner_1")]):
        fast = event_frame("b1", 7, event_json(EVENT), awaiting)
        model = EventMessage(battle_id="b1", seq=7, event=EVENT, awaiting=awaiting)
        assert fast == model.model_dump_json()
        assert parse_server_message(fast) == model


@pytest.mark.parametrize("view", _golden_views()[::4])
def test_event_frame_with_a_view_is_the_models_json(view: dict[str, Any]) -> None:
    fast = event_frame("b1", 7, event_json(EVENT), [("alpha", "pilot")], view_json(view))
    model = EventMessage(
        battle_id="b1", seq=7, event=EVENT, awaiting=[("alpha", "pilot")], view=view
    )
    assert fast == model.model_dump_json()
    assert parse_server_message(fast) == model


def test_public_view_model_describes_the_engine_view_exactly() -> None:
    """Every field of `rules.public_view` is in the model with its type (extra fields are refused,
    nothing is coerced): a change to the view without the model fails here."""
    for view in _golden_views():
        assert PublicView.model_validate(view, strict=True).model_dump() == view


def test_legal_frame_is_the_models_json() -> None:
    commands = [{"type": "move", "command": {"type": "move", "thrust": 1}, "choices": {"t": [1]}}]
    for client_id in (None, "c-1"):
        fast = legal_frame("b1", 3, "alpha", "pilot", commands, client_id)
        model = LegalMessage(
            battle_id="b1",
            seq=3,
            ship_id="alpha",
            station="pilot",
            commands=commands,
            client_id=client_id,
        )
        assert fast == model.model_dump_json()


def test_ack_frame_is_the_models_json() -> None:
    for seqs in ([], [4], [4, 5, 6]):
        model = AckMessage(client_id="c-9", seq=6, seqs=seqs)
        assert ack_frame("c-9", 6, seqs) == model.model_dump_json()
        assert parse_server_message(ack_frame("c-9", 6, seqs)) == model


def test_values_the_stdlib_refuses_are_written_as_pydantic_does() -> None:
    odd: dict[str, Any] = {"seq": 1, "tags": {"x"}, "ratio": math.inf}
    assert json.loads(event_json(odd)) == {"seq": 1, "tags": ["x"], "ratio": None}
    model = EventMessage(battle_id="b", seq=1, event=odd, awaiting=None)
    assert event_frame("b", 1, event_json(odd), None) == model.model_dump_json()
