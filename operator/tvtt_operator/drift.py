"""Drift: fields of a child someone else changed or added, read from the live managedFields.

Purely computational, no side effects. Server-side apply records, per field manager, the fields it
set. When a person or a tool (`kubectl set resources`, `kubectl patch`, `kubectl edit`, `kubectl
set env`) writes a field, its manager (`kubectl-set`, `kubectl-patch` …) owns that field afterwards.
So each path another manager owns is either

- a field the operator renders, with a different live value: **changed** (the operator's forced
  apply takes it back), or
- a field the operator does not render inside an object it does (an extra env var, a new spec
  field): **added** (an apply cannot remove a field another manager owns, so a JSON patch does).

Status and scale subresource writes (controllers, the HPA) are not drift, nor are additions to
`metadata` anywhere (other tools' annotations and labels, `kubectl rollout restart`), nor the
Deployment's `spec.replicas` (the HPA handover and `kubectl scale` have their own rules). Nothing
here needs an API call: the watch cache holds managedFields, so an idle operator still writes
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tvtt_operator.models import quantity

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Drift:
    """One path of a child another field manager changed or added."""

    path: Path
    manager: str
    added: bool

    def describe(self) -> str:
        """`spec.template.spec.containers[gameserver].resources (kubectl-set)`."""
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return f"{text} ({'added' if self.added else 'changed'} by {self.manager})"


def same(desired: Any, live: Any) -> bool:
    """Whether a live value is what was rendered, ignoring what the API server adds or rewrites
    (defaulted keys inside rendered maps, quantity spelling)."""
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(same(v, live.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(same(d, v) for d, v in zip(desired, live, strict=True))
        )
    if desired == live:
        return True
    a, b = quantity(desired), quantity(live)
    return a is not None and a == b


def _match(item: Any, key: Mapping[str, Any]) -> bool:
    return isinstance(item, Mapping) and all(
        str(item.get(k)) == str(v) or item.get(k) == v for k, v in key.items()
    )


def _find(items: Any, key: Mapping[str, Any]) -> int | None:
    if not isinstance(items, list):
        return None
    return next((i for i, item in enumerate(items) if _match(item, key)), None)


def _is_leaf(fields: Mapping[str, Any]) -> bool:
    return not [k for k in fields if k != "."]


def _walk(
    fields: Mapping[str, Any], desired: Any, live: Any, path: Path, manager: str
) -> Iterator[Drift]:
    """Compare one manager's field set with the rendered and the live object, side by side."""
    for token, sub in fields.items():
        if token == ".":
            continue
        prefix, _, raw = token.partition(":")
        if prefix == "f":
            name: str | int = raw
            want = desired.get(raw) if isinstance(desired, Mapping) else None
            have = live.get(raw) if isinstance(live, Mapping) else None
            rendered = isinstance(desired, Mapping) and raw in desired
        elif prefix == "k":
            key = json.loads(raw)
            index, live_index = _find(desired, key), _find(live, key)
            if live_index is None:
                continue  # owned but gone already: nothing live to compare
            name = live_index
            rendered = index is not None
            want = desired[index] if index is not None else None
            have = live[live_index]
        elif prefix == "v":
            value = json.loads(raw)
            if isinstance(desired, list) and value in desired:
                continue
            live_index = live.index(value) if isinstance(live, list) and value in live else None
            if live_index is not None:
                yield Drift((*path, live_index), manager, added=True)
            continue
        elif prefix == "i":
            name = int(raw)
            rendered = isinstance(desired, list) and name < len(desired)
            want = desired[name] if rendered else None
            have = live[name] if isinstance(live, list) and name < len(live) else None
        else:
            continue
        here = (*path, name)
        if not rendered:
            if have is not None:
                yield Drift(here, manager, added=True)
        elif _is_leaf(sub) or not isinstance(want, Mapping | list):
            if not same(want, have):
                yield Drift(here, manager, added=False)
        else:
            yield from _walk(sub, want, have, here, manager)


def _ignored(kind: str, drift: Drift) -> bool:
    if drift.path[:1] == ("status",):
        return True  # controllers' reports, whichever way they were written
    if drift.added and "metadata" in drift.path:
        return True  # others' annotations and labels (also in the pod template) are theirs
    return kind == "Deployment" and drift.path[:2] == ("spec", "replicas")


def find_drift(
    desired: Mapping[str, Any], live: Mapping[str, Any], ours: Sequence[str]
) -> list[Drift]:
    """Every path of `live` that a manager other than `ours` changed or added (see the module)."""
    found: list[Drift] = []
    for entry in live.get("metadata", {}).get("managedFields") or []:
        manager = str(entry.get("manager", ""))
        if manager in ours or entry.get("subresource") or entry.get("fieldsType") != "FieldsV1":
            continue
        fields = entry.get("fieldsV1") or {}
        for drift in _walk(fields, desired, live, (), manager):
            if not _ignored(str(desired.get("kind")), drift) and drift not in found:
                found.append(drift)
    return found


def removal_patch(drifts: Sequence[Drift], live: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A JSON patch (RFC 6902) that removes the added paths, each guarded by a `test` of its
    current value, deepest and highest list index first so earlier removals move nothing later."""
    ops: list[dict[str, Any]] = []
    added = sorted(
        (d.path for d in drifts if d.added),
        key=lambda p: [(1, x) if isinstance(x, int) else (0, x) for x in p],
        reverse=True,
    )
    for path in added:
        value: Any = live
        for part in path:
            value = value[part]
        pointer = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)
        ops.append({"op": "test", "path": pointer, "value": value})
        ops.append({"op": "remove", "path": pointer})
    return ops
