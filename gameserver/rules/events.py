"""Events: what happened, with the dice used and one human line for the battle log.

Every event dict carries its schema version ``v``. Reading stored or imported events goes
through one codec, `decode_events`: it upgrades the older versions it knows, once, and refuses
unknown or newer ones (RULES Part A: a server reads older event versions it knows and refuses
unknown ones with a clear error). The stores never look inside an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gameserver.rules.commitment import LEGACY_SALT, commitment_data
from gameserver.rules.errors import UnsupportedSchemaVersion

# The version of the event JSON and of the state layout its patches name (they are one
# contract: see `evolve`). Bump it, with an upgrade step below, when either changes, or when
# the same events would replay to another state (version 2: the Scout and Fighter presets;
# version 3: the seed is committed to, not published; version 4: the first event of each
# batch records the command that caused it, ``cmd``).
EVENT_SCHEMA_VERSION = 4


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, tuples of scalars); faster than deepcopy."""
    kind = type(value)
    if kind is dict:
        return {k: _copy_json(v) for k, v in value.items()}
    if kind is list:
        return [_copy_json(v) for v in value]
    if kind is tuple:
        return tuple(_copy_json(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded outcome. `data` is JSON-able; `dice` are the d6 results it drew, in order.

    `cmd` is set on the first event of each batch only: the command that caused the batch, as
    `rules.commands.command_record` writes it (an import re-executes it through `decide`).
    """

    seq: int
    type: str
    data: dict[str, Any]
    dice: tuple[int, ...] = ()
    summary: str = ""
    at: str | None = None
    cmd: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (schema version `EVENT_SCHEMA_VERSION`).

        The data is copied: the event is frozen and folded states may share its values, so a
        caller that edits the dict it gets must not reach into either.
        """
        out = {
            "v": EVENT_SCHEMA_VERSION,
            "seq": self.seq,
            "type": self.type,
            "data": _copy_json(self.data),
            "dice": list(self.dice),
            "summary": self.summary,
            "at": self.at,
        }
        if self.cmd is not None:
            out["cmd"] = _copy_json(self.cmd)
        return out

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Event:
        """Inverse of `to_dict`, current schema version only (`decode_events` upgrades)."""
        version = _version_of(d)
        if version != EVENT_SCHEMA_VERSION:
            raise UnsupportedSchemaVersion(
                f"event schema version {version} must be upgraded first (decode_events)"
            )
        cmd = d.get("cmd")
        if cmd is not None and not isinstance(cmd, dict):
            raise ValueError(f"malformed event {d.get('seq')!r}: its cmd is not an object")
        try:
            return Event(
                seq=int(d["seq"]),
                type=str(d["type"]),
                data=dict(d["data"]),
                dice=tuple(int(x) for x in d.get("dice", ())),
                summary=str(d.get("summary", "")),
                at=d.get("at"),
                cmd=cmd,
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


# The presets version 2 changed (§14: the Scout's printed crew, the Fighter's one crew), as
# version-1 battles were played with them. Since version 2 `start_battle` records every
# preset's figures in the battle itself, so a preset change needs no upgrade step again.
_V1_PRESETS: dict[str, dict[str, Any]] = {
    "scout": {
        "name": "Scout/Courier",
        "tons": 100,
        "tl": 12,
        "hull": 40,
        "armour": 4,
        "thrust": 2,
        "jump": 2,
        "power": 60,
        "computer": 5,
        "fire_control": 0,
        "sensors": "military",
        "turrets": [{"mount": "double", "weapons": ["pulse_laser", "sandcaster"]}],
        "missile_reserve": 0,
        "sand_reserve": 20,
        "stations": ["captain", "pilot", "engineer", "sensors"],
        "cargo": 12,
        "fuel": 23,
    },
    "fighter": {
        "name": "Fighter",
        "tons": 10,
        "tl": 12,
        "hull": 4,
        "armour": 0,
        "thrust": 6,
        "jump": 0,
        "power": 5,
        "computer": 5,
        "fire_control": 0,
        "sensors": "basic",
        "turrets": [{"mount": "fixed", "weapons": ["pulse_laser"]}],
        "missile_reserve": 0,
        "sand_reserve": 0,
        "stations": ["pilot"],
        "cargo": 0,
        "fuel": 1,
    },
}


def _upgrade_v1(d: dict[str, Any]) -> dict[str, Any]:
    """Version 1 -> 2: a battle started with the Scout or Fighter preset keeps the figures it
    was played with (pinned beside the preset name); every other event is unchanged."""
    out = dict(d, v=2)
    if d.get("type") != "battle_started" or not isinstance(d.get("data"), dict):
        return out
    scenario = d["data"].get("scenario")
    if not isinstance(scenario, dict) or not isinstance(scenario.get("ships"), list):
        return out
    ships = [
        dict(ship, design=_V1_PRESETS[ship["preset"]])
        if isinstance(ship, dict) and ship.get("preset") in _V1_PRESETS and not ship.get("design")
        else ship
        for ship in scenario["ships"]
    ]
    out["data"] = dict(d["data"], scenario=dict(scenario, ships=ships))
    return out


def _upgrade_v2(d: dict[str, Any]) -> dict[str, Any]:
    """Versions up to 2 published the seed in ``battle_started``; version 3 commits to it instead
    (`rules.commitment`). An older log's seed is public already: it keeps it, and gains the
    commitment under the all-zero legacy salt so verification reads all versions alike."""
    out = dict(d, v=3)
    data = d.get("data")
    if d.get("type") == "battle_started" and isinstance(data, dict) and "seed" in data:
        seed = data["seed"]
        if isinstance(seed, int) and not isinstance(seed, bool) and "commitment" not in data:
            out["data"] = dict(data, commitment=commitment_data(seed, LEGACY_SALT))
    return out


def _upgrade_v3(d: dict[str, Any]) -> dict[str, Any]:
    """Version 4 records each batch's command (``cmd`` on its first event); a version-3 event
    has none and gains none: such a log still replays and verifies its dice, but an import,
    which re-executes the commands, refuses it (`rules.reexecution`)."""
    return dict(d, v=4)


_UPGRADES = {0: _upgrade_v0, 1: _upgrade_v1, 2: _upgrade_v2, 3: _upgrade_v3}


def _version_of(d: Any) -> int:
    """The schema version of an event dict; a dict without ``v`` is version 0 when it has the
    version-0 keys, else current. Raises `UnsupportedSchemaVersion` for a newer or bad one."""
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
    return version


def _upgrade(d: dict[str, Any]) -> dict[str, Any]:
    """Bring an event dict to the current schema version (the same dict when it is current)."""
    version = _version_of(d)
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


def decode_events(dicts: Iterable[dict[str, Any]]) -> tuple[list[Event], list[dict[str, Any]]]:
    """Stored or imported event dicts -> Events, and the dicts at the current schema version.

    The one place old events are upgraded (once, when they are read): a dict already current
    is passed through unchanged, so the caller can send it on as is. Raises
    `UnsupportedSchemaVersion` (unknown or newer version) or `ValueError` (malformed event).
    """
    current = [_upgrade(d) for d in dicts]
    return [Event.from_dict(d) for d in current], current
