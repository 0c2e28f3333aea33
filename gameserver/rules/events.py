"""Events: what happened, with the dice used and one human line for the battle log.

Every event dict carries its schema version ``v``; `upgrade_event_dict` converts the versions it
knows and refuses unknown or newer ones (RULES Part A: a server reads older event versions it
knows and refuses unknown ones with a clear error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gameserver.rules.errors import UnsupportedSchemaVersion

EVENT_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded outcome. `data` is JSON-able; `dice` are the d6 results it drew, in order."""

    seq: int
    type: str
    data: dict[str, Any]
    dice: tuple[int, ...] = ()
    summary: str = ""
    at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (schema version `EVENT_SCHEMA_VERSION`)."""
        return {
            "v": EVENT_SCHEMA_VERSION,
            "seq": self.seq,
            "type": self.type,
            "data": self.data,
            "dice": list(self.dice),
            "summary": self.summary,
            "at": self.at,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Event:
        """Inverse of `to_dict`; older known versions are upgraded first."""
        d = upgrade_event_dict(d)
        try:
            return Event(
                seq=int(d["seq"]),
                type=str(d["type"]),
                data=dict(d["data"]),
                dice=tuple(int(x) for x in d.get("dice", ())),
                summary=str(d.get("summary", "")),
                at=d.get("at"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed event: {exc}") from None


def _upgrade_v0(d: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (pre-release logs): ``sequence``/``kind``/``payload``/``rolls``/``text``."""
    return {
        "v": 1,
        "seq": d["sequence"],
        "type": d["kind"],
        "data": d.get("payload", {}),
        "dice": d.get("rolls", []),
        "summary": d.get("text", ""),
        "at": d.get("at"),
    }


_UPGRADES = {0: _upgrade_v0}


def upgrade_event_dict(d: dict[str, Any]) -> dict[str, Any]:
    """Bring an event dict to the current schema version, or raise `UnsupportedSchemaVersion`.

    A dict without ``v`` is version 0 when it has the version-0 keys, else current.
    """
    if not isinstance(d, dict):
        raise UnsupportedSchemaVersion("an event must be a JSON object")
    version = d.get("v")
    if version is None:
        version = 0 if "sequence" in d and "kind" in d else EVENT_SCHEMA_VERSION
    if not isinstance(version, int) or isinstance(version, bool):
        raise UnsupportedSchemaVersion(f"event schema version {version!r} is not an integer")
    if version > EVENT_SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(
            f"event schema version {version} is newer than this server understands"
            f" (up to {EVENT_SCHEMA_VERSION}); upgrade the server"
        )
    while version < EVENT_SCHEMA_VERSION:
        step = _UPGRADES.get(version)
        if step is None:
            raise UnsupportedSchemaVersion(
                f"event schema version {version} is unknown; this server reads versions"
                f" {sorted(_UPGRADES)} and {EVENT_SCHEMA_VERSION}"
            )
        d = step(d)
        version = d["v"]
    return d
