"""The one place the server reads the wall clock for the engine."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    """The server clock as the engine wants it: commands carry time, the engine never reads it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
