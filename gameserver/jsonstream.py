"""Parsing a large JSON body in small steps, so a worker thread never holds the GIL long.

Why: `json.loads` of the largest legal import (4 MiB) is one C call of 100+ ms that holds the
GIL; run in an executor thread it still stops the event loop for all of it. Here containers
are walked in Python and only scalars (and small containers) go to the C scanner, so the
interpreter can switch to the loop's thread every few milliseconds (`sys.getswitchinterval`).
The result equals `json.loads` for any document (duplicate keys: the last one wins).
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Callable
from typing import Any

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_SCAN: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    _DECODER  # type: ignore[arg-type]
)
SMALL = 64 * 1024
"""Documents up to this many characters are parsed in one C call (well under a millisecond)."""


def loads(raw: bytes | str) -> Any:
    """`json.loads`, in steps for a large document; ValueError (json.JSONDecodeError) or
    RecursionError as `json.loads` would raise."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    if len(text) <= SMALL:
        return json.loads(text)
    value, end = _value(text, _WS.match(text, 0).end())  # type: ignore[union-attr]
    end = _WS.match(text, end).end()  # type: ignore[union-attr]
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _value(text: str, pos: int, depth: int = 0) -> tuple[Any, int]:
    if depth > 200:
        raise RecursionError("the document is nested too deeply")
    char = text[pos : pos + 1]
    if char == "{":
        return _object(text, pos + 1, depth)
    if char == "[":
        return _array(text, pos + 1, depth)
    try:
        return _SCAN(text, pos)  # a scalar: a string, number, true, false or null
    except StopIteration as exc:
        raise json.JSONDecodeError("Expecting value", text, exc.value) from None


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def _array(text: str, pos: int, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    pos = _skip(text, pos)
    if text[pos : pos + 1] == "]":
        return out, pos + 1
    while True:
        value, pos = _value(text, pos, depth + 1)
        out.append(value)
        pos = _skip(text, pos)
        char = text[pos : pos + 1]
        if char == "]":
            return out, pos + 1
        if char != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)


def _object(text: str, pos: int, depth: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    pos = _skip(text, pos)
    if text[pos : pos + 1] == "}":
        return out, pos + 1
    while True:
        if text[pos : pos + 1] != '"':
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, pos
            )
        key, pos = _SCAN(text, pos)
        pos = _skip(text, pos)
        if text[pos : pos + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        value, pos = _value(text, _skip(text, pos + 1), depth + 1)
        out[key] = value
        pos = _skip(text, pos)
        char = text[pos : pos + 1]
        if char == "}":
            return out, pos + 1
        if char != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)
