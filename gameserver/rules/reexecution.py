"""Re-executing a battle log: every recorded command goes through `decide` again with the
battle's secret, and the log is genuine only if each event it produces is the event recorded.

Purely computational. An import trusts nothing in the file but the commands: a die, a patch
value, a summary, an event type or a whole invented event that the commands do not produce is
found at its seq (docs/protocol.md, "Import re-executes the log"). The algorithm:

1. The events are split into batches: a batch starts at an event that has ``cmd`` (the command
   that caused it) and runs to the next one. The first batch's command is ``open_battle``.
2. The opening batch is `open_battle` of the ``battle_started`` event's scenario and battle id,
   at its time, with the seed and salt; each later batch is `decide` of the state so far and its
   command (`command_from_record`, stamped with the batch's first ``at``).
3. Event by event, the produced JSON must equal the recorded JSON (key order aside; a list
   and a tuple are the same JSON; ``true`` is not ``1``). The first difference raises
   `LogDivergence` with its seq and what differs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from gameserver.rules.battle import OPEN_BATTLE, open_battle
from gameserver.rules.commands import command_from_record
from gameserver.rules.config import LATER_SWITCHES
from gameserver.rules.decision import Decision
from gameserver.rules.engine import decide
from gameserver.rules.errors import RuleViolation
from gameserver.rules.events import Event
from gameserver.rules.scenario import Scenario
from gameserver.rules.secret import DiceSecret
from gameserver.rules.state import BattleState

_canonical = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


class LogDivergence(ValueError):
    """The log is not what its commands produce: `seq` is the first event that differs,
    `path` the field (``dice[0]``, ``data.set.ships.b.hull``, ``type``, ...), `message` says
    what the file has and what re-execution gives."""

    def __init__(self, seq: int, path: str, message: str) -> None:
        super().__init__(message)
        self.seq = seq
        self.path = path
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """JSON details of the refusal."""
        return {"seq": self.seq, "path": self.path}


def reexecute(
    events: Sequence[Event], dicts: Sequence[dict[str, Any]], secret: DiceSecret
) -> tuple[BattleState, list[dict[str, Any]]]:
    """Re-execute the commands of a decoded log (`events` and their current-version `dicts`).

    Returns the state reached (with the secret) and the produced event dicts (the same JSON
    as the file's, written by this server). Raises `LogDivergence` at the first event that
    differs, a command the rules refuse, or a batch without a recorded command.
    """
    starts = [i for i, e in enumerate(events) if e.cmd is not None]
    if not starts or starts[0] != 0 or events[0].cmd != OPEN_BATTLE:
        raise LogDivergence(
            events[0].seq if events else 1,
            "cmd",
            "the log records no command for its opening (written before event schema version 4,"
            " or edited): it cannot be re-executed, so it cannot be imported; its dice can still"
            " be verified (python -m gameserver.verify)",
        )
    state: BattleState | None = None
    out: list[dict[str, Any]] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(events)
        decision = _run_batch(state, events[start], secret)
        _compare(decision.events, events, dicts, start, end)
        out.extend(e.to_dict() for e in decision.events)
        state = decision.state
    assert state is not None
    return state, out


def _run_batch(state: BattleState | None, first: Event, secret: DiceSecret) -> Decision:
    record = first.cmd or {}
    try:
        if state is None:
            scenario = Scenario.model_validate(first.data.get("scenario"))
            recorded = first.data.get("config")
            later = {
                key: False
                for key in LATER_SWITCHES
                if isinstance(recorded, dict) and key not in recorded
            }
            played = (
                scenario.model_copy(update={"config": {**scenario.config, **later}})
                if later
                else scenario
            )
            decision = open_battle(
                played,
                secret.seed,
                str(first.data.get("battle_id")),
                first.at,
                salt=secret.salt,
            )
            return _as_recorded_opening(decision, scenario, recorded)
        if record.get("type") == OPEN_BATTLE["type"]:
            raise RuleViolation("bad_command", "a battle opens once, in its first event")
        return decide(state, command_from_record(record, first.at))
    except RuleViolation as exc:
        raise LogDivergence(
            first.seq,
            "cmd",
            f"event {first.seq} ({first.type}) records the command {record.get('type')!r},"
            f" which the rules refuse on re-execution: {exc.message}",
        ) from None
    except ValueError as exc:  # a scenario that does not validate
        raise LogDivergence(
            first.seq, "data.scenario", f"event {first.seq}: the scenario is not valid: {exc}"
        ) from None


def _as_recorded_opening(decision: Decision, scenario: Scenario, recorded: Any) -> Decision:
    """The opening as a server of the log's own version wrote it: a rules option its recorded
    config lacks was added later, so the re-executed ``battle_started`` leaves it out too.

    Why: every option is recorded in the opening, so a battle exported before an option existed
    would otherwise never import again. Only options the scenario does not override are left
    out: their value is the default (or off, for a `LATER_SWITCHES` rule, played off above),
    which is what folding the recorded config gives (`config.recorded_config`), so the state
    re-execution reaches is the one the stored log replays to.
    """
    first = decision.events[0]
    produced = first.data.get("config")
    if not isinstance(recorded, dict) or not isinstance(produced, dict):
        return decision
    dropped = [k for k in produced if k not in recorded and k not in scenario.config]
    if not dropped:
        return decision
    data = dict(first.data)
    data["config"] = {k: v for k, v in produced.items() if k not in dropped}
    data["scenario"] = dict(data["scenario"], config=dict(scenario.config))
    events = [dataclasses.replace(first, data=data), *decision.events[1:]]
    return Decision(decision.state, events)


def _compare(
    produced: list[Event],
    events: Sequence[Event],
    dicts: Sequence[dict[str, Any]],
    start: int,
    end: int,
) -> None:
    """Raise `LogDivergence` at the first recorded event of [start, end) that differs."""
    first = events[start]
    for j in range(max(len(produced), end - start)):
        if start + j >= end:
            extra = produced[j]
            seq = events[end].seq if end < len(events) else extra.seq
            kind = (first.cmd or {}).get("type")
            raise LogDivergence(
                seq,
                "type",
                f"event {seq}: the command of event {first.seq} ({kind}) produces"
                f" {extra.type!r} here on re-execution, which the file does not have",
            )
        recorded = dicts[start + j]
        if j >= len(produced):
            raise LogDivergence(
                events[start + j].seq,
                "type",
                f"event {events[start + j].seq} ({events[start + j].type}) is not produced by"
                f" the command of event {first.seq} on re-execution",
            )
        mine = produced[j].to_dict()
        if _canonical(mine) != _canonical(recorded):
            path, theirs, ours = _difference(recorded, mine, "")
            seq = events[start + j].seq
            raise LogDivergence(
                seq,
                path,
                f"event {seq} ({events[start + j].type}) differs from its re-execution at"
                f" {path}: the file has {_show(theirs)}, re-execution gives {_show(ours)}",
            )


_MISSING = object()


def _show(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = _canonical(value) if not isinstance(value, tuple) else _canonical(list(value))
    return text if len(text) <= 80 else text[:77] + "..."


def _difference(a: Any, b: Any, path: str) -> tuple[str, Any, Any]:
    """The first place two JSON values differ (dict keys in `a`'s order, then `b`'s)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            sub = f"{path}.{key}" if path else str(key)
            x, y = a.get(key, _MISSING), b.get(key, _MISSING)
            if x is _MISSING or y is _MISSING:
                return sub, x, y
            if _canonical(x) != _canonical(y):
                return _difference(x, y, sub)
        return path, a, b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(a) or i >= len(b):
                return sub, a[i] if i < len(a) else _MISSING, b[i] if i < len(b) else _MISSING
            if _canonical(a[i]) != _canonical(b[i]):
                return _difference(a[i], b[i], sub)
        return path, a, b
    return path, a, b
