"""The hot-path frame builders write the same JSON as the protocol models."""

from __future__ import annotations

import json
import math
from typing import Any

from gameserver.protocol import (
    AckMessage,
    EventMessage,
    LegalMessage,
    ack_frame,
    event_frame,
    event_json,
    legal_frame,
    parse_server_message,
)

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
