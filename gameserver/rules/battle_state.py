"""Battle state: frozen slotted dataclasses, cheap to fold (replay), with an exact dict round trip.

Purely computational. Events change state through field patches (``data["set"]``) that
`evolve` decodes with the per-field decoders here, so the rules live once, in `decide`.
Split from `rules.state` (which re-exports every name here); the ship itself is in
`rules.ship_state`, the clients' view of a battle in `rules.views`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from gameserver.rules.config import RulesConfig, Ruleset
from gameserver.rules.errors import UnsupportedSchemaVersion
from gameserver.rules.events import EVENT_SCHEMA_VERSION
from gameserver.rules.pending import (
    Pending,
    PendingAttack,
    PendingSalvo,
    Salvo,
    pending_from_dict,
    salvos_from_json,
)
from gameserver.rules.ship_state import CrewState, ShipState, Step
from gameserver.rules.ships import ShipDesign

_T = TypeVar("_T")


def fast_replacer(cls: type[_T]) -> Callable[[_T, Mapping[str, Any]], _T]:
    """A `dataclasses.replace` for one frozen slotted dataclass, generated once.

    Why: `evolve` copies the battle and a ship on every event, and `dataclasses.replace`
    re-reads the field list and goes through the keyword `__init__` each time; replay of a
    10,000-event log must stay under 100 ms. Like dataclasses' own generated `__init__`, the
    body is compiled from the field names; it sets each slot through its descriptor (what the
    frozen `__init__` does by name). Unknown keys are ignored: callers pass field names only.
    Purely computational.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for i, n in enumerate(names):
        namespace[f"_set{i}"] = cls.__dict__[n].__set__
    params = "".join(f", _set{i}=_set{i}" for i in range(len(names)))
    body = "".join(
        f"    _set{i}(new, changes[{n!r}] if {n!r} in changes else obj.{n})\n"
        for i, n in enumerate(names)
    )
    source = (
        f"def replace_fields(obj, changes, _new=_new, _cls=_cls{params}):\n"
        f"    new = _new(_cls)\n{body}    return new\n"
    )
    exec(source, namespace)
    fn: Callable[[_T, Mapping[str, Any]], _T] = namespace["replace_fields"]
    return fn


def _fs(v: Any) -> frozenset[Any]:
    return frozenset(v)


def _tup(v: Any) -> tuple[Any, ...]:
    return tuple(v)


def _crew(v: Any) -> tuple[CrewState, ...]:
    return tuple(CrewState.from_dict(c) for c in v)


def _design(v: Any) -> ShipDesign:
    return v if isinstance(v, ShipDesign) else ShipDesign.model_validate(v)


def _same(v: Any) -> Any:
    return v


# JSON -> internal value for the ship fields whose JSON form differs (the rest pass as is).
SHIP_PATCH_DECODERS: dict[str, Callable[[Any], Any]] = {
    "design": _design,
    "turret_start": _tup,
    "crits": _tup,
    "weapons": _tup,
    "ammo": _tup,
    "fired": _fs,
    "pd_used": _fs,
    "sand_used": _fs,
    "crew": _crew,
    "done": _fs,
    "repaired": _fs,
    "systems": dict,
    "targeting": dict,
    "incoming": _tup,
    "offline": _fs,
    "overload": _fs,
    "overload_next": _fs,
    "moved": _fs,
    "undetected": _fs,
    "tasks": _fs,
}
SHIP_DECODERS: dict[str, Callable[[Any], Any]] = {
    f.name: SHIP_PATCH_DECODERS.get(f.name, _same) for f in dataclasses.fields(ShipState)
}


replace_ship = fast_replacer(ShipState)


# CE design fields left out of the JSON while they hold their default, so a MgT2e design's
# JSON (in snapshots and recorded battles) is the same as before they existed.
_OPTIONAL_DESIGN_FIELDS: dict[str, Any] = {"missile": "smart", "screens": []}


def _design_dump(design: ShipDesign) -> dict[str, Any]:
    out = design.model_dump(mode="json")
    for key, default in _OPTIONAL_DESIGN_FIELDS.items():
        if out.get(key) == default:
            del out[key]
    return out


@functools.lru_cache(maxsize=256)
def _cached_design_json(design: ShipDesign) -> dict[str, Any]:
    return _design_dump(design)


def _design_json(design: ShipDesign) -> dict[str, Any]:
    """A design's JSON, dumped once: designs are frozen and every state of a battle (the undo
    chain of a snapshot included) repeats them. Callers treat the dict as read-only. A design
    that holds a mapping (`held_by`) cannot be hashed, so it is dumped each time."""
    try:
        return _cached_design_json(design)
    except TypeError:
        return _design_dump(design)


def encode_value(v: Any) -> Any:
    """Internal value -> JSON (frozensets sorted, tuples as lists, crew and designs as dicts)."""
    if isinstance(v, frozenset):
        return sorted(v)
    if isinstance(v, Salvo):
        return v.to_dict()
    if isinstance(v, tuple):
        return [encode_value(x) for x in v]
    if isinstance(v, CrewState):
        return v.to_dict()
    if isinstance(v, ShipDesign):
        return _design_json(v)
    if isinstance(v, StrEnum):
        return v.value
    if isinstance(v, PendingAttack | PendingSalvo):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {k: encode_value(x) for k, x in v.items()}
    return v


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


# The CE fields (those with a default) and their defaults: a ship's JSON leaves them out while
# they hold it, so a MgT2e snapshot is the same as before the CE profile (a server of the
# previous version, e.g. mid rolling update, still reads it) and `ship_from_dict` restores them.
_OPTIONAL_SHIP_FIELDS: dict[str, Any] = {
    f.name: _field_default(f)
    for f in dataclasses.fields(ShipState)
    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
}
_SHIP_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(ShipState))


def ship_to_dict(s: ShipState) -> dict[str, Any]:
    """Exact JSON form of a ship (CE fields only when they differ from their default)."""
    out: dict[str, Any] = {}
    optional = _OPTIONAL_SHIP_FIELDS
    for name in _SHIP_FIELD_NAMES:
        value = getattr(s, name)
        if name in optional and value == optional[name]:
            continue
        out[name] = encode_value(value)
    return out


def ship_from_dict(d: Mapping[str, Any]) -> ShipState:
    """Inverse of `ship_to_dict`."""
    return ShipState(**{k: SHIP_DECODERS[k](v) for k, v in d.items()})


def pair_key(a: str, b: str) -> str:
    """Range is stored per pair of ships (RULES §2): key ``"a|b"`` with the ids sorted."""
    return f"{a}|{b}" if a < b else f"{b}|{a}"


@dataclass(frozen=True, slots=True)
class BattleState:
    """The fold of a battle's events. `prev` links the state before the last event (for undo)."""

    seq: int
    battle_id: str
    # The secret (`rules.secret`): not compared, so a fold without it equals the live state.
    seed: int | None = field(compare=False)
    dice_drawn: int
    ruleset: Ruleset
    config: RulesConfig
    scenario_name: str
    round_limit: int
    jump_allowed: bool  # outside the 100-diameter limit (a scenario field)
    sides: tuple[tuple[str, str], ...]
    ships: Mapping[str, ShipState]
    ranges: Mapping[str, tuple[str, int]]
    moves: Mapping[str, int]
    round: int
    step: Step
    order: tuple[str, ...]
    turn: int
    pending: tuple[Pending, ...]
    # The salvos in flight as the events record them (JSON); `salvos` is their typed view.
    # Why: a patch lists every salvo in flight, and decoding them all on each such event was
    # the largest cost of a replay, while a replay reads almost none of its states' salvos.
    salvos_json: tuple[Mapping[str, Any], ...]
    next_id: int
    outcome: Mapping[str, Any] | None
    undo_depth: int = 0
    dice_salt: str | None = field(default=None, compare=False)
    prev: BattleState | None = field(default=None, compare=False, repr=False)
    _salvos: tuple[Salvo, ...] | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def salvos(self) -> tuple[Salvo, ...]:
        """The salvos in flight (§9.B), decoded once per state when first asked for."""
        cached = self._salvos
        if cached is None:
            cached = salvos_from_json(self.salvos_json)
            object.__setattr__(self, "_salvos", cached)
        return cached

    @property
    def is_over(self) -> bool:
        """The battle has ended (victory, all others out, or the round limit: a draw)."""
        return self.outcome is not None

    def band(self, a: str, b: str) -> str:
        """Current range band between two ships."""
        return self.ranges[pair_key(a, b)][0]

    @property
    def acting_ship(self) -> str | None:
        """The ship whose turn it is in the current step (None when no pending turn)."""
        return self.order[self.turn] if 0 <= self.turn < len(self.order) else None


replace_battle = fast_replacer(BattleState)


def _ranges(v: Any) -> dict[str, tuple[str, int]]:
    return {k: (x[0], x[1]) for k, x in v.items()}


def _ships(v: Any) -> dict[str, ShipState]:
    return {k: ship_from_dict(x) for k, x in v.items()}


def _pending(v: Any) -> tuple[Pending, ...]:
    return tuple(pending_from_dict(p) for p in v)


BATTLE_DECODERS: dict[str, Callable[[Any], Any]] = {
    "ruleset": Ruleset,
    "config": lambda v: RulesConfig.from_dict(v),
    "sides": lambda v: tuple((x[0], x[1]) for x in v),
    "ships": _ships,
    "ranges": _ranges,
    "moves": dict,
    "step": Step,
    "order": _tup,
    "pending": _pending,
    "salvos_json": tuple,
}

# The seed and salt are the battle's secret (`rules.commitment`): never in a state's JSON, which
# GM frames and snapshots carry; the server keeps them in the battle's metadata instead.
SECRET_FIELDS = frozenset({"seed", "dice_salt"})
_BATTLE_FIELDS = [
    f.name
    for f in dataclasses.fields(BattleState)
    if f.name not in ("prev", "_salvos") and f.name not in SECRET_FIELDS
]
# State fields whose JSON key differs (the name event patches use).
_JSON_KEY = {"salvos_json": "salvos"}


def pinned_undo_chain(state: BattleState) -> BattleState:
    """The state with its own copy of the undo chain (the `undo_depth` states an undo may
    reach), which no later `evolve` can cut.

    Why: `evolve` trims old links of the chain in place; a reader in another thread (the
    server encodes snapshots off the event loop) must not see the chain shortened meanwhile.
    Copies `undo_depth` + 1 state shells; ships and the rest are shared.
    """
    chain: list[BattleState] = []
    node: BattleState | None = state
    while node is not None and len(chain) <= state.undo_depth:
        chain.append(node)
        node = node.prev
    out: BattleState | None = None
    for s in reversed(chain):
        out = replace_battle(s, {"prev": out})
    assert out is not None
    return out


def state_to_dict(
    state: BattleState,
    _depth: int | None = None,
    _ships: dict[int, dict[str, Any]] | None = None,
    *,
    undo: bool = True,
) -> dict[str, Any]:
    """Exact JSON form of a state, including the prior states a GM undo may still reach.

    With ``undo=False`` the prior states are left out (``prev`` is null): what the GM's page
    is shown. Why: the undo chain is up to `undo_limit` whole states, 20 times the state
    itself, and encoding it for a snapshot frame of the largest battle stalled the loop.

    Stamped ``v`` with the event schema version: events are patches of these very fields, so a
    snapshot and the events folded after it must agree on the layout (`state_from_dict` refuses
    another version and the caller replays the events instead). A ship an event did not touch
    is the same object in the prior states, so it is encoded once per call (the dicts are
    shared within the result: read it, do not edit it).
    """
    memo: dict[int, dict[str, Any]] = {} if _ships is None else _ships
    out: dict[str, Any] = {"v": EVENT_SCHEMA_VERSION}
    for name in _BATTLE_FIELDS:
        v = getattr(state, name)
        if name == "config":
            out[name] = v.to_dict()
        elif name == "ships":
            ships: dict[str, Any] = {}
            for k, ship in v.items():
                encoded = memo.get(id(ship))
                if encoded is None:
                    encoded = memo[id(ship)] = ship_to_dict(ship)
                ships[k] = encoded
            out[name] = ships
        elif name == "ranges":
            out[name] = {k: [b, p] for k, (b, p) in v.items()}
        else:
            out[_JSON_KEY.get(name, name)] = encode_value(v)
    depth = (state.undo_depth if _depth is None else _depth) if undo else 0
    out["prev"] = (
        state_to_dict(state.prev, depth - 1, memo) if depth > 0 and state.prev is not None else None
    )
    return out


def state_from_dict(d: Mapping[str, Any]) -> BattleState:
    """Inverse of `state_to_dict` (snapshots); `UnsupportedSchemaVersion` for another layout.

    The state has no seed (`rules.with_secret` gives it back on the server).
    """
    version = d.get("v")
    if version != EVENT_SCHEMA_VERSION:
        raise UnsupportedSchemaVersion(
            f"a snapshot of schema version {version!r}; this server reads {EVENT_SCHEMA_VERSION}"
        )
    kwargs = {
        name: BATTLE_DECODERS.get(name, _same)(d[_JSON_KEY.get(name, name)])
        for name in _BATTLE_FIELDS
    }
    prev = d.get("prev")
    kwargs["prev"] = state_from_dict(prev) if prev is not None else None
    kwargs["seed"] = None
    return BattleState(**kwargs)
