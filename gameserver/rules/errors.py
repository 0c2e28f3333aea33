"""Rules-engine errors: a refused command carries a stable code and a readable message."""

from __future__ import annotations

from collections.abc import Collection

from pydantic import ValidationError


class RuleViolation(Exception):
    """A command the rules refuse; nothing changes (RULES Part A: "refused with a reason").

    Attributes:
        code: stable machine-readable reason (e.g. ``out_of_range``, ``not_your_station``).
        message: one sentence a player can read.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """JSON shape the server sends back as an ``error`` message."""
        return {"code": self.code, "message": self.message}


class DiceExhausted(Exception):
    """A scripted `Dice` was asked for more dice than it holds (a vector case then fails)."""


class UnsupportedSchemaVersion(ValueError):
    """An event dict of an unknown or newer schema version: refuse it rather than guess."""


class UnknownPatchField(ValueError):
    """An event patch names a state field (or ship) this version does not have.

    Events change state through patches keyed by field names, so a log written for another
    state layout would otherwise replay to a wrong state without a word: it needs a new schema
    version and an upgrade step instead.
    """


def readable_errors(
    exc: ValidationError, *, limit: int = 8, hide: Collection[str] = (), whole: str = ""
) -> str:
    """pydantic's error list as one line a person can act on (`where: what; ...`).

    The one formatter of the server (rules, protocol, hub and HTTP API all refuse input with it).

    Args:
        exc: the validation error.
        limit: at most this many errors are named.
        hide: location parts left out (a tagged union's tag says nothing to the sender).
        whole: the location to name when an error is about the whole object ("" = none).
    """
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"] if p not in hide) or whole
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)
