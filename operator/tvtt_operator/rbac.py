"""The exact permissions the operator needs; the Helm chart renders these rules unchanged.

Purely computational, no side effects. The e2e suite runs the operator under a ServiceAccount bound
to exactly these rules, so a missing verb fails a test instead of a production rollout.
"""

from __future__ import annotations

from typing import Any

from tvtt_operator.kinds import (
    CHILD_KINDS,
    EVENT,
    LEASE,
    POD,
    PVC,
    REPLICA_SET,
    SECRET,
    TRAVELLER_VTT,
)

# Children: watched (list/watch) for the cache, applied with server-side apply (patch, plus
# create — an apply that creates is authorised as a create), deleted when the spec no longer
# wants them (Ingress, HPA, Redis turned off). `get` is never used: reads come from the watch cache.
_CHILD_VERBS = ("list", "watch", "create", "patch", "delete")


def operator_rules() -> list[dict[str, Any]]:
    """PolicyRules for a Role (one namespace) or a ClusterRole (all namespaces).

    - travellervtts: list/watch (kopf's watch); status: patch (conditions, observedGeneration);
      finalizers: update — only so `blockOwnerDeletion` on owner references is allowed where the
      OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift); no finalizer is set.
    - events: create (the ManualRollback Event).
    - pods: list/watch (the game server pods whose /api/summary is polled) and patch (their
      `controller.kubernetes.io/pod-deletion-cost` annotation: the emptiest pod goes first).
    - persistentvolumeclaims: list/watch/patch (the Redis claim: reported, and expanded), create
      (the backup volume, once; never deleted by the operator).
    - replicasets: list, when the rollout analysis rolls a template back (the previous
      ReplicaSet holds the template to go back to).
    - secrets: also get, for a metadata-only check that the Ingress's TLS Secret exists (the
      watch sees only the operator's own Redis Secrets, by label).
    Not needed, deliberately: CRDs and namespaces (kopf's scanning is disabled), kopf peering
    objects (standalone; the Lease is in `leader_election_rules`).
    """
    by_group: dict[str, list[str]] = {}
    for kind in CHILD_KINDS:
        by_group.setdefault(kind.group, []).append(kind.plural)
    group, plural = TRAVELLER_VTT.group, TRAVELLER_VTT.plural
    return [
        {"apiGroups": [group], "resources": [plural], "verbs": ["list", "watch"]},
        {"apiGroups": [group], "resources": [f"{plural}/status"], "verbs": ["patch"]},
        {"apiGroups": [group], "resources": [f"{plural}/finalizers"], "verbs": ["update"]},
        *(
            {"apiGroups": [child_group], "resources": plurals, "verbs": list(_CHILD_VERBS)}
            for child_group, plurals in by_group.items()
        ),
        {"apiGroups": [EVENT.group], "resources": [EVENT.plural], "verbs": ["create"]},
        {"apiGroups": [POD.group], "resources": [POD.plural], "verbs": ["list", "watch", "patch"]},
        {
            "apiGroups": [PVC.group],
            "resources": [PVC.plural],
            "verbs": ["list", "watch", "create", "patch"],
        },
        {"apiGroups": [SECRET.group], "resources": [SECRET.plural], "verbs": ["get"]},
        {"apiGroups": [REPLICA_SET.group], "resources": [REPLICA_SET.plural], "verbs": ["list"]},
    ]


def leader_election_rules() -> list[dict[str, Any]]:
    """A Role in the operator's own namespace: read, create and renew its Lease."""
    return [
        {
            "apiGroups": [LEASE.group],
            "resources": [LEASE.plural],
            "verbs": ["get", "create", "update"],
        }
    ]
