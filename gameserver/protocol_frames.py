"""Hot-path frames: the server frames sent per event, written as JSON without building a model.

Purely computational. Split from `gameserver.protocol` (which re-exports every name here); each
frame is the same JSON as its `*Message` model's `model_dump_json()` (the tests compare them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic_core import to_json


def _encode(value: Any) -> str:
    """Compact JSON of plain data with orjson (8x the stdlib encoder on the events' dicts, the
    fan-out's largest cost); a value it refuses (a set, a non-str key, an int past 64 bits)
    raises `TypeError`."""
    return orjson.dumps(value).decode()


def _json(value: Any) -> str:
    """Compact JSON as pydantic writes it (orjson for plain data; a value it refuses is written
    by pydantic as the models would; both write a non-finite float as null)."""
    try:
        return _encode(value)
    except TypeError:
        return to_json(value, inf_nan_mode="null").decode()


def event_json(event: dict[str, Any]) -> str:
    """An event as compact JSON, once per event: frames embed it."""
    return _json(event)


def view_json(view: dict[str, Any]) -> str:
    """The public view (`rules.public_view`) as compact JSON, once per state: frames embed it."""
    return _json(view)


def event_frame(
    battle_id: str,
    seq: int,
    event: str,
    awaiting: Sequence[tuple[str, str]] | None,
    view: str | None = None,
) -> str:
    """The `EventMessage` frame around an event (and a view) already in JSON.

    Same JSON as `EventMessage(...).model_dump_json()` (the tests compare them), without building
    and validating a model per event: the fan-out sends one per event to every peer.
    """
    tail = "null" if awaiting is None else _encode([list(a) for a in awaiting])
    return (
        f'{{"type":"event","battle_id":{_encode(battle_id)},"seq":{int(seq)},'
        f'"event":{event},"awaiting":{tail},"view":{view or "null"}}}'
    )


def ack_frame(client_id: str, seq: int, seqs: Sequence[int]) -> str:
    """The `AckMessage` frame (same JSON as `AckMessage(...).model_dump_json()`)."""
    return _json({"type": "ack", "client_id": client_id, "seq": int(seq), "seqs": list(seqs)})


def legal_frame(
    battle_id: str,
    seq: int,
    ship_id: str,
    station: str,
    commands: list[dict[str, Any]],
    client_id: str | None,
) -> str:
    """The `LegalMessage` frame (same JSON as `LegalMessage(...).model_dump_json()`)."""
    return _json(
        {
            "type": "legal",
            "battle_id": battle_id,
            "seq": int(seq),
            "ship_id": ship_id,
            "station": station,
            "commands": commands,
            "client_id": client_id,
        }
    )
