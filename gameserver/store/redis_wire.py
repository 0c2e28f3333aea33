"""The Redis store's wire level: its Lua scripts, entry encoding and error mapping.

Kept apart from `RedisBattleStore` (gameserver/store/redis.py) so the store reads as what it
does with battles; everything here is about bytes on the wire and what Redis replies mean.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Final

from redis.exceptions import (
    ConnectionError as RedisConnectionError,
    ResponseError,
    TimeoutError as RedisTimeoutError,
)

from gameserver.store.base import EventDict, StoreUnavailable

# Replies that mean "Redis is there but cannot serve now" (restarting, disk full, failing over):
# the caller must see StoreUnavailable, never a half-done write.
UNAVAILABLE_PREFIXES: Final = ("LOADING", "MISCONF", "READONLY", "MASTERDOWN", "TRYAGAIN", "BUSY")

NOTIFY_MAXLEN: Final = 10_000
"""About how many entries the notify stream keeps (a reader further behind falls back on its
periodic check; it never loses events, the streams themselves are not trimmed)."""
NOTIFY_READ_COUNT: Final = 1_000


SCRIPT_NAMES: Final = (
    "append",
    "create",
    "snapshot",
    "claim",
    "delete",
    "notify",
    "set_peers",
    "revoke",
    "lift_ban",
    "set_table",
    "chat",
)
"""The Lua scripts in `gameserver/store/lua/` (shipped as package data), one per atomic step."""


def load_scripts() -> dict[str, str]:
    """Read every Lua script once, at import, with the notify stream's cap filled in."""
    folder = resources.files("gameserver.store").joinpath("lua")
    return {
        name: folder.joinpath(f"{name}.lua")
        .read_text(encoding="utf-8")
        .replace("NOTIFY_MAXLEN", str(NOTIFY_MAXLEN))
        for name in SCRIPT_NAMES
    }


SCRIPTS: Final = load_scripts()


def is_unavailable(exc: BaseException) -> bool:
    """True when the error means "cannot reach/serve", as opposed to a bug in our command."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        return True
    return isinstance(exc, ResponseError) and str(exc).startswith(UNAVAILABLE_PREFIXES)


@contextlib.contextmanager
def unavailable_as_store_error() -> Iterator[None]:
    """Translate connection-level Redis failures into `StoreUnavailable` (the protocol's error)."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError, ResponseError) as exc:
        if is_unavailable(exc):
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc
        raise


def encode_event(event: EventDict) -> str:
    """JSON with a clear error: a non-serialisable event is a caller bug, refused before writing."""
    try:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event seq {event.get('seq')!r} is not JSON-serialisable: {exc}") from exc


class UnreadableEntry(ValueError):
    """A stream entry that is not an event of this battle's log: refused, never misread."""


def decode_entries(entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> list[EventDict]:
    """Stream entries -> event dicts, as they were stored.

    The store never looks inside an event: the rules' codec (`rules.decode_events`, used where
    the server turns dicts into events) upgrades older schema versions and refuses unknown
    ones. The stream id is the seq: an entry that disagrees is refused as a corrupt log.
    """
    out: list[EventDict] = []
    for entry_id, fields in entries:
        try:
            event = json.loads(fields[b"e"])
            seq = event.get("seq")
        except (KeyError, ValueError, AttributeError) as exc:
            raise UnreadableEntry(f"stream entry {entry_id!r} is not an event") from exc
        if seq != entry_seq(entry_id):
            raise UnreadableEntry(
                f"stream entry {entry_id!r} holds seq {seq!r}: not a log we can read"
            )
        out.append(event)
    return out


def entry_seq(entry_id: bytes) -> int:
    """The seq a stream entry id `<seq>-0` stands for."""
    return int(entry_id.partition(b"-")[0])


def stream_id(entry_id: bytes | str) -> tuple[int, int]:
    """A stream entry id `<ms>-<n>` as a comparable pair."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, n = text.partition("-")
    return int(ms), int(n or 0)
