"""An in-memory copy of the watched objects (the informer pattern), fed by kopf's watch events.

Reconciles read the resource and its children from here, so a reconcile of an unchanged object
makes no API request at all — not even a GET.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tvtt_operator.builders import (
    APP_NAME,
    FIELD_MANAGER,
    LABEL_INSTANCE,
    LABEL_MANAGED_BY,
    LABEL_NAME,
)
from tvtt_operator.kinds import OBSERVED_KINDS
from tvtt_operator.models import KIND

_OBSERVED = {k.kind for k in OBSERVED_KINDS}

Key = tuple[str, str]  # (namespace, name)


def _resource_version(obj: Mapping[str, Any]) -> int | None:
    try:
        return int(obj.get("metadata", {}).get("resourceVersion", ""))
    except ValueError:
        return None


def _newer_or_unknown(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    # resourceVersion is opaque by contract; etcd-backed servers use integers, and a delayed watch
    # event must not overwrite an apply response we stored already. Unknown formats always win.
    if old is None:
        return True
    a, b = _resource_version(old), _resource_version(new)
    return a is None or b is None or b >= a


class Cache:
    """TravellerVTTs by (namespace, name); their children by owner, then by (kind, name)."""

    def __init__(self) -> None:
        self._owners: dict[Key, dict[str, Any]] = {}
        self._children: dict[Key, dict[tuple[str, str], dict[str, Any]]] = {}
        self._observed: dict[Key, dict[tuple[str, str], dict[str, Any]]] = {}

    def _bucket(self, obj: Mapping[str, Any]) -> dict[Key, dict[tuple[str, str], dict[str, Any]]]:
        return self._observed if obj.get("kind") in _OBSERVED else self._children

    def put(self, obj: Mapping[str, Any]) -> Key | None:
        """Store a watched or freshly applied object; return its owner's key (None: not ours)."""
        meta = obj.get("metadata", {})
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        if obj.get("kind") == KIND:
            if _newer_or_unknown(self._owners.get((namespace, name)), obj):
                self._owners[(namespace, name)] = dict(obj)
            return namespace, name
        owner = self.owner_of(obj)
        if owner is None:
            return None
        children = self._bucket(obj).setdefault(owner, {})
        key = (str(obj.get("kind")), name)
        if _newer_or_unknown(children.get(key), obj):
            children[key] = dict(obj)
        return owner

    def remove(self, obj: Mapping[str, Any]) -> Key | None:
        """Forget a deleted object; return its owner's key."""
        meta = obj.get("metadata", {})
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        if obj.get("kind") == KIND:
            self._owners.pop((namespace, name), None)
            return namespace, name
        owner = self.owner_of(obj)
        if owner is not None:
            self._bucket(obj).get(owner, {}).pop((str(obj.get("kind")), name), None)
        return owner

    @staticmethod
    def owner_of(obj: Mapping[str, Any]) -> Key | None:
        """The TravellerVTT a child belongs to, from its labels (set by the builders).

        Children and pods carry `managed-by`; the Redis claim carries only the StatefulSet's
        selector labels (its template predates that label and is immutable), so for claims the
        app name and instance labels suffice.
        """
        meta = obj.get("metadata", {})
        labels = meta.get("labels") or {}
        if LABEL_INSTANCE not in labels:
            return None
        ours = labels.get(LABEL_MANAGED_BY) == FIELD_MANAGER
        if not ours and not (obj.get("kind") in _OBSERVED and labels.get(LABEL_NAME) == APP_NAME):
            return None
        return str(meta.get("namespace", "")), str(labels[LABEL_INSTANCE])

    def owner(self, key: Key) -> dict[str, Any] | None:
        """The cached TravellerVTT body."""
        return self._owners.get(key)

    def children(
        self, key: Key, owner_uid: str | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The cached children of one resource (only those controlled by `owner_uid` if given)."""
        found = dict(self._children.get(key, {}))
        if owner_uid:
            found = {
                k: v
                for k, v in found.items()
                if any(
                    ref.get("uid") == owner_uid
                    for ref in v.get("metadata", {}).get("ownerReferences") or []
                )
            }
        return found

    def observed(self, key: Key, kind: str) -> dict[str, dict[str, Any]]:
        """Watched objects of one kind (Pod, PersistentVolumeClaim) labelled for a resource."""
        return {n: o for (k, n), o in self._observed.get(key, {}).items() if k == kind}

    def owners(self) -> Iterator[Key]:
        """Every cached resource key (for the periodic resync)."""
        return iter(list(self._owners))

    def __len__(self) -> int:
        return len(self._owners)
