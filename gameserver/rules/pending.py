"""What waits in the battle: attacks and salvos awaiting reactions, salvos in flight.

Frozen slotted classes, so a rule reads `attack.evasive_dm`, never a string key. Their JSON
form (`to_dict`, the shape event patches and views carry) is fixed by the event schema: a
change to it needs a new schema version and an upgrade step in `events.py`. Purely
computational.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar

_T = TypeVar("_T")


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
    # CE (§9.A, §11.A): the missile type, its to-hit number, and the Screens skill of each
    # nuclear damper triggered against it (by index in the design's screens).
    missile: str = "smart"
    to_hit: int = 8
    screens: tuple[int, ...] = ()
    screen_skills: tuple[int, ...] = ()
    kind: Literal["salvo"] = "salvo"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (keys in the order the event log has always used; the CE keys only when
        they differ from their default, so MgT2e logs are unchanged)."""
        out = {
            "id": self.id,
            "kind": "salvo",
            "attacker": self.attacker,
            "target": self.target,
            "missiles": self.missiles,
            "tl": self.tl,
            "eligible": list(self.eligible),
            "evasive_dm": self.evasive_dm,
        }
        if self.missile != "smart" or self.to_hit != 8:
            out |= {"missile": self.missile, "to_hit": self.to_hit}
        if self.screens:
            out |= {"screens": list(self.screens), "screen_skills": list(self.screen_skills)}
        return out


Pending = PendingAttack | PendingSalvo


def replace_pending(pending: tuple[Pending, ...], updated: Pending) -> tuple[Pending, ...]:
    """The queue with `updated` in place of the entry of the same id; the order stays (the
    head is the one awaiting reactions)."""
    return tuple(updated if p.id == updated.id else p for p in pending)


class Salvo(NamedTuple):
    """Missiles in flight (§9.B.1: one ship, one target, one round make one salvo).

    A named tuple rather than a dataclass: a state decodes all its salvos in flight at once
    (`BattleState.salvos`), and a tuple is built several times faster.
    """

    id: int
    launcher: str
    target: str
    missiles: int
    launched_round: int
    arrives_round: int
    tl: int
    band: str  # band at launch
    missile: str = "smart"  # CE (§8.A)
    to_hit: int = 8  # CE: set by the launch check (§9.A.2)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (keys in the order the event log has always used; the CE keys only when
        they differ from their default)."""
        out = {
            "id": self.id,
            "launcher": self.launcher,
            "target": self.target,
            "missiles": self.missiles,
            "launched_round": self.launched_round,
            "arrives_round": self.arrives_round,
            "tl": self.tl,
            "band": self.band,
        }
        if self.missile != "smart" or self.to_hit != 8:
            out |= {"missile": self.missile, "to_hit": self.to_hit}
        return out


def _json_reader(cls: type[_T]) -> Callable[[Mapping[str, Any]], _T]:
    """The inverse of `cls.to_dict`, generated once: builds the object slot by slot.

    Why: `evolve` decodes every salvo in flight on each event that changes one, and a frozen
    dataclass's keyword `__init__` made that the largest cost of replaying a 10,000-event log.
    Like `state.fast_replacer`, the body is compiled from the field names; tuple fields are
    made tuples again, fields with a default may be absent, ``kind`` is the class's own tag.
    Purely computational.
    """
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_tuple": tuple}
    lines = []
    for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        namespace[f"_set{i}"] = cls.__dict__[f.name].__set__
        if f.name == "kind":
            value = repr(f.default)
        elif f.default is not dataclasses.MISSING:
            value = f"d.get({f.name!r}, {f.default!r})"
        else:
            value = f"d[{f.name!r}]"
        if str(f.type).startswith("tuple"):
            value = f"_tuple({value})"
        lines.append(f"    _set{i}(new, {value})\n")
    params = "".join(f", _set{i}=_set{i}" for i in range(len(lines)))
    source = (
        f"def from_dict(d, _new=_new, _cls=_cls, _tuple=_tuple{params}):\n"
        f"    new = _new(_cls)\n{''.join(lines)}    return new\n"
    )
    exec(source, namespace)
    reader: Callable[[Mapping[str, Any]], _T] = namespace["from_dict"]
    return reader


attack_from_dict = _json_reader(PendingAttack)
pending_salvo_from_dict = _json_reader(PendingSalvo)
_new_tuple = tuple.__new__


def salvo_from_dict(d: Mapping[str, Any]) -> Salvo:
    """Inverse of `Salvo.to_dict`."""
    return _new_tuple(
        Salvo,
        (
            d["id"],
            d["launcher"],
            d["target"],
            d["missiles"],
            d["launched_round"],
            d["arrives_round"],
            d["tl"],
            d["band"],
            d.get("missile", "smart"),
            d.get("to_hit", 8),
        ),
    )


def salvos_from_json(value: Iterable[Mapping[str, Any]]) -> tuple[Salvo, ...]:
    """The salvos in flight from their JSON form (`salvo_from_dict` inlined: replay speed)."""
    new, cls = _new_tuple, Salvo
    return tuple(
        [
            new(
                cls,
                (
                    d["id"],
                    d["launcher"],
                    d["target"],
                    d["missiles"],
                    d["launched_round"],
                    d["arrives_round"],
                    d["tl"],
                    d["band"],
                    d.get("missile", "smart"),
                    d.get("to_hit", 8),
                ),
            )
            for d in value
        ]
    )


def pending_from_dict(d: Mapping[str, Any]) -> Pending:
    """A pending attack or salvo from its JSON form (tagged by ``kind``)."""
    if d["kind"] == "attack":
        return attack_from_dict(d)
    return pending_salvo_from_dict(d)
