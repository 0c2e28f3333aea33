"""What waits in the battle: attacks and salvos awaiting reactions, salvos in flight.

Frozen slotted classes, so a rule reads `attack.evasive_dm`, never a string key. Their JSON
form (`to_dict`, the shape event patches and views carry) is fixed by the event schema: a
change to it needs a new schema version and an upgrade step in `events.py`. Purely
computational.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class PendingAttack:
    """A direct-fire attack declared and waiting for the target's reactions (§7.B, §11.B)."""

    id: int
    attacker: str
    turret: int
    weapons: tuple[int, ...]  # flat weapon indices fired together (linked)
    weapon: str  # their kind
    target: str
    eligible: tuple[str, ...]  # target stations that may still react
    evasive_dm: int = 0
    sand_armour: int = 0
    called_shot: str | None = None
    kind: Literal["attack"] = "attack"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (keys in the order the event log has always used)."""
        return {
            "id": self.id,
            "kind": "attack",
            "attacker": self.attacker,
            "turret": self.turret,
            "weapons": list(self.weapons),
            "weapon": self.weapon,
            "target": self.target,
            "eligible": list(self.eligible),
            "evasive_dm": self.evasive_dm,
            "sand_armour": self.sand_armour,
            "called_shot": self.called_shot,
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> PendingAttack:
        """Inverse of `to_dict`."""
        return PendingAttack(
            id=d["id"],
            attacker=d["attacker"],
            turret=d["turret"],
            weapons=tuple(d["weapons"]),
            weapon=d["weapon"],
            target=d["target"],
            eligible=tuple(d["eligible"]),
            evasive_dm=d["evasive_dm"],
            sand_armour=d["sand_armour"],
            called_shot=d.get("called_shot"),
        )


@dataclass(frozen=True, slots=True)
class PendingSalvo:
    """A salvo that has arrived and waits for the target's reactions (§9.B.3, §11.B)."""

    id: int
    attacker: str  # the launcher
    target: str
    missiles: int
    tl: int  # the launcher's TL (Smart DM)
    eligible: tuple[str, ...]
    evasive_dm: int = 0
    kind: Literal["salvo"] = "salvo"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (keys in the order the event log has always used)."""
        return {
            "id": self.id,
            "kind": "salvo",
            "attacker": self.attacker,
            "target": self.target,
            "missiles": self.missiles,
            "tl": self.tl,
            "eligible": list(self.eligible),
            "evasive_dm": self.evasive_dm,
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> PendingSalvo:
        """Inverse of `to_dict`."""
        return PendingSalvo(
            id=d["id"],
            attacker=d["attacker"],
            target=d["target"],
            missiles=d["missiles"],
            tl=d["tl"],
            eligible=tuple(d["eligible"]),
            evasive_dm=d["evasive_dm"],
        )


Pending = PendingAttack | PendingSalvo


def pending_from_dict(d: Mapping[str, Any]) -> Pending:
    """A pending attack or salvo from its JSON form (tagged by ``kind``)."""
    if d["kind"] == "attack":
        return PendingAttack.from_dict(d)
    return PendingSalvo.from_dict(d)


@dataclass(frozen=True, slots=True)
class Salvo:
    """Missiles in flight (§9.B.1: one ship, one target, one round make one salvo)."""

    id: int
    launcher: str
    target: str
    missiles: int
    launched_round: int
    arrives_round: int
    tl: int
    band: str  # band at launch

    def to_dict(self) -> dict[str, Any]:
        """JSON form (keys in the order the event log has always used)."""
        return {
            "id": self.id,
            "launcher": self.launcher,
            "target": self.target,
            "missiles": self.missiles,
            "launched_round": self.launched_round,
            "arrives_round": self.arrives_round,
            "tl": self.tl,
            "band": self.band,
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Salvo:
        """Inverse of `to_dict`."""
        return Salvo(
            id=d["id"],
            launcher=d["launcher"],
            target=d["target"],
            missiles=d["missiles"],
            launched_round=d["launched_round"],
            arrives_round=d["arrives_round"],
            tl=d["tl"],
            band=d["band"],
        )
