"""Checking an import (parse, then re-execute every command through `decide`), and the worker
process that runs the check away from the server's event loop.

Why a process: the largest legal import (4 MiB, ~12,000 events) takes seconds of CPU to parse and
re-execute, and builds ~300,000 objects. In a thread of the server the loop shared the GIL with
it, and the thread's garbage collections walked all of them: the loop stood still for
0.65-1.4 s at a time. A worker process has its own GIL and heap.

Purely computational but for `serve` (the worker's pipe loop): this module imports the rules,
the wire models and the JSON stream parser, never the app, the hub, the store or a logger (an
import-linter contract says so), so the worker starts only pure code
(``python -m gameserver.importcheck``, started by `gameserver.hub.imports`).

Wire (the worker's stdin and stdout, one request at a time): a request is ``>III`` (key
length, body length, tail length), the export key, the body; a reply is ``>I`` (length) and a
pickle of builtins only: ``("ok", name, bot_sides, secret text, state pickle, [JSON arrays of
events], [(seq, event JSON) of the newest events], [chat line dicts])`` or ``("refused", code,
message, status, details)``. The events travel as JSON texts of a few events each, so the server
decodes them in small steps (one pickle of 12,000 dicts is one call that took over a second to
load), and the room's catch-up tail comes encoded as the room keeps it.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from pydantic import ValidationError

from gameserver import jsonstream, rules
from gameserver.protocol import ImportBattleRequest, event_json
from gameserver.rules.errors import readable_errors
from gameserver.rules.reexecution import LogDivergence, reexecute
from gameserver.sealing import SealError, unseal

REQUEST_HEAD = struct.Struct(">III")
REPLY_HEAD = struct.Struct(">I")
EVENTS_PER_TEXT = 32
"""The events travel as JSON arrays of this many (~10 KB, decoded in well under a millisecond)."""


class ImportRefused(Exception):
    """An import refused, with the stable code, message, HTTP status and details the hub
    answers (nothing was stored)."""

    def __init__(
        self, code: str, message: str, status: int = 400, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class CheckedImport:
    """An import that re-executed exactly: the state reached, the events as this server
    writes them, and the battle's secret."""

    state: rules.BattleState
    dicts: list[dict[str, Any]]
    secret: rules.DiceSecret
    name: str = ""
    bot_sides: tuple[str, ...] = ()
    tail: tuple[tuple[int, str], ...] = ()
    """The newest events as (seq, `event_json`), the room's catch-up tail, when asked for."""
    chat: tuple[dict[str, Any], ...] = ()
    """The export's chat lines, checked (`ImportedChatLine`), oldest first, as plain dicts."""


_BOUND_ERRORS = frozenset(
    {
        "too_long",
        "too_short",
        "string_too_long",
        "string_too_short",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
    }
)


def refusal_status(exc: ValidationError) -> int:
    """422 when every error is a value out of its bounds (the body is well formed, a number
    or a length is past its limit, which the message names); 400 for a malformed body."""
    return 422 if all(e["type"] in _BOUND_ERRORS for e in exc.errors()) else 400


def parse_json(raw: bytes) -> Any:
    """A body's JSON; `ImportRefused` (400) when it is not JSON or nested too deeply. A large
    body is parsed in small steps (`jsonstream`)."""
    try:
        return jsonstream.loads(raw)
    except RecursionError:
        raise ImportRefused("bad_request", "the body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused("bad_request", f"the body is not JSON: {exc}") from None


def parse_import(raw: bytes) -> ImportBattleRequest:
    """The import body (an export, or its bare list of events) as a request; `ImportRefused`
    when it is not JSON (400), malformed (400) or past a bound such as the event count (422)."""
    body = parse_json(raw)
    if isinstance(body, list):
        body = {"events": body}
    try:
        return ImportBattleRequest.model_validate(body)
    except ValidationError as exc:
        raise ImportRefused("bad_log", readable_errors(exc), status=refusal_status(exc)) from None


def parse_and_check_import(raw: bytes, key: bytes) -> CheckedImport:
    """`parse_import` then `check_import`, with the request's name and bot sides."""
    request = parse_import(raw)
    checked = check_import(request.events, request.sealed_seed, key)
    return replace(
        checked,
        name=request.name,
        bot_sides=tuple(request.bot_sides),
        chat=tuple(line.model_dump() for line in request.chat),
    )


def check_import(raw: list[dict[str, Any]], sealed_seed: str | None, key: bytes) -> CheckedImport:
    """Check an exported log: readable, numbered from 1, with its battle's secret (sealed in
    the GM export of a running battle, revealed in a finished one), and every recorded command
    re-executing through `decide` to exactly the recorded events (`rules.reexecution`).

    Raises `ImportRefused` (422 for a well-formed log that is refused, naming the first
    divergent event).
    """
    try:
        events, dicts = rules.decode_events(raw)
    except rules.UnsupportedSchemaVersion as exc:
        raise ImportRefused("unsupported_schema_version", str(exc)) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ImportRefused("bad_log", f"an event could not be read: {exc}") from None
    for expected, event in enumerate(events, start=1):
        if event.seq != expected:
            raise ImportRefused("bad_log", f"event #{expected} has seq {event.seq}")
    first = events[0]
    if first.type != "battle_started":
        raise ImportRefused("bad_log", "a battle log starts with a battle_started event")
    if first.cmd is None:
        raise ImportRefused(
            "no_command_record",
            "this log records no commands (it was written before event schema version 4):"
            " an import re-executes the commands, so it cannot be imported; its dice can"
            " still be verified with python -m gameserver.verify",
            status=422,
        )
    commitment = first.data.get("commitment") or {}
    digest = str(commitment.get("digest", "")) if isinstance(commitment, dict) else ""
    if sealed_seed is not None:
        try:
            secret = rules.DiceSecret.from_text(unseal(key, sealed_seed, digest))
        except (SealError, ValueError) as exc:
            raise ImportRefused(
                "bad_seed", f"the sealed seed cannot be opened: {exc}", status=422
            ) from None
    else:
        revealed = revealed_secret(events)
        if revealed is None:
            raise ImportRefused(
                "seed_sealed",
                "this log is of a running battle and has no seed (it is secret until the end):"
                " resume it from the GM's sealed export",
                status=422,
            )
        secret = revealed
    if not rules.matches(commitment, secret.seed, secret.salt.hex()):
        raise ImportRefused(
            "bad_seed", "the seed does not match the battle's commitment", status=422
        )
    try:
        state, produced = reexecute(events, dicts, secret)
    except LogDivergence as exc:
        raise ImportRefused(
            "log_diverges", exc.message, status=422, details=exc.to_dict()
        ) from None
    except Exception as exc:
        raise ImportRefused(
            "bad_log", f"the log cannot be re-executed: {exc!r}"[:500], status=422
        ) from None
    return CheckedImport(state, produced, secret)


def revealed_secret(events: Sequence[rules.Event]) -> rules.DiceSecret | None:
    """The seed and salt a finished battle's ``dice_revealed`` event publishes, if any."""
    for event in reversed(events):
        if event.type == "dice_revealed":
            try:
                return rules.DiceSecret(
                    int(str(event.data["seed"])), bytes.fromhex(str(event.data["salt"]))
                )
            except (KeyError, ValueError) as exc:
                raise ImportRefused(
                    "bad_seed",
                    f"event {event.seq} (dice_revealed) has no readable seed and salt: {exc}",
                    status=422,
                ) from None
    return None


def encode_request(raw: bytes, key: bytes, tail: int = 0) -> bytes:
    """One request frame for the worker: check `raw`, and encode its newest `tail` events for
    the room's catch-up tail (so the server does not)."""
    return REQUEST_HEAD.pack(len(key), len(raw), tail) + key + raw


def answer(raw: bytes, key: bytes, tail: int = 0) -> bytes:
    """The reply (without its length) to one request: the checked import or the refusal."""
    try:
        checked = parse_and_check_import(raw, key)
    except ImportRefused as exc:
        reply: tuple[Any, ...] = ("refused", exc.code, exc.message, exc.status, exc.details)
    else:
        reply = (
            "ok",
            checked.name,
            checked.bot_sides,
            checked.secret.to_text(),
            pickle.dumps(checked.state, pickle.HIGHEST_PROTOCOL),
            [
                json.dumps(checked.dicts[i : i + EVENTS_PER_TEXT], separators=(",", ":"))
                for i in range(0, len(checked.dicts), EVENTS_PER_TEXT)
            ],
            [(d["seq"], event_json(d)) for d in checked.dicts[-tail:]] if tail else [],
            list(checked.chat),
        )
    return pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)


def decode_reply(
    reply: bytes,
) -> tuple[
    str,
    tuple[str, ...],
    rules.DiceSecret,
    rules.BattleState,
    list[str],
    tuple[tuple[int, str], ...],
    tuple[dict[str, Any], ...],
]:
    """The worker's reply as (name, bot sides, secret, state, JSON arrays of the events, the
    tail, the chat lines); raises the refusal. The texts are left for the caller to decode in
    steps."""
    fields = pickle.loads(reply)
    if fields[0] == "refused":
        _, code, message, status, details = fields
        raise ImportRefused(code, message, status, details)
    _, name, bot_sides, secret, state, texts, tail, chat = fields
    secret = rules.DiceSecret.from_text(secret)
    tail = tuple(map(tuple, tail))
    return name, tuple(bot_sides), secret, pickle.loads(state), texts, tail, tuple(chat)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests from `inp` on `out` until `inp` ends (the server closed the pipe)."""
    while (head := _read_exactly(inp, REQUEST_HEAD.size)) is not None:
        key_size, raw_size, tail = REQUEST_HEAD.unpack(head)
        body = _read_exactly(inp, key_size + raw_size)
        if body is None:
            return
        reply = answer(body[key_size:], body[:key_size], tail)
        out.write(REPLY_HEAD.pack(len(reply)) + reply)
        out.flush()


def main() -> None:
    """The worker process: requests on stdin, replies on a private copy of stdout (anything
    else that prints goes to stderr, so it cannot corrupt a reply). It runs at a lower CPU
    priority: on a busy machine the server's event loop gets a core before the check."""
    os.nice(5)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
