"""The one table of Kubernetes kinds the operator touches: group, version, kind and plural.

Purely computational, no side effects. The builders take apiVersion/kind from here, the kube client
its REST paths, planning what it may delete, the handlers what they watch, the RBAC rules what they
grant; the e2e tests and the benchmark read the same table, so adding a child kind is one line.
"""

from __future__ import annotations

from typing import NamedTuple

from tvtt_operator.models import GROUP, KIND, PLURAL, VERSION


class ChildKind(NamedTuple):
    """One Kubernetes resource type, spelled every way a client needs it."""

    group: str
    version: str
    kind: str
    plural: str

    @property
    def api_version(self) -> str:
        """`v1` for the core group, `<group>/<version>` otherwise (a manifest's apiVersion)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """The name kubectl accepts unambiguously: `deployments.apps`, `configmaps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str, name: str | None = None) -> str:
        """REST path of a namespaced object, or of its collection when `name` is None."""
        prefix = f"/apis/{self.api_version}" if self.group else f"/api/{self.version}"
        collection = f"{prefix}/namespaces/{namespace}/{self.plural}"
        return collection if name is None else f"{collection}/{name}"


CONFIG_MAP = ChildKind("", "v1", "ConfigMap", "configmaps")
SERVICE = ChildKind("", "v1", "Service", "services")
DEPLOYMENT = ChildKind("apps", "v1", "Deployment", "deployments")
STATEFUL_SET = ChildKind("apps", "v1", "StatefulSet", "statefulsets")
HPA = ChildKind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
PDB = ChildKind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets")
INGRESS = ChildKind("networking.k8s.io", "v1", "Ingress", "ingresses")
SECRET = ChildKind("", "v1", "Secret", "secrets")
NETWORK_POLICY = ChildKind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies")
CRON_JOB = ChildKind("batch", "v1", "CronJob", "cronjobs")

# Every kind the operator creates, watches and deletes, in a stable order.
CHILD_KINDS: tuple[ChildKind, ...] = (
    CONFIG_MAP,
    SERVICE,
    DEPLOYMENT,
    STATEFUL_SET,
    HPA,
    PDB,
    INGRESS,
    SECRET,
    NETWORK_POLICY,
    CRON_JOB,
)
CHILDREN_BY_KIND: dict[str, ChildKind] = {k.kind: k for k in CHILD_KINDS}

# Not children, but written or watched too.
EVENT = ChildKind("", "v1", "Event", "events")
TRAVELLER_VTT = ChildKind(GROUP, VERSION, KIND, PLURAL)
# Watched, never created: the game server pods (polled for battles and players) and the Redis
# data claim (created by the StatefulSet, reported in status and expanded when the spec grows).
# The backup claim is a PVC too: created once when missing, never deleted (`backup`).
POD = ChildKind("", "v1", "Pod", "pods")
PVC = ChildKind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
OBSERVED_KINDS: tuple[ChildKind, ...] = (POD, PVC)
# Listed, only when the rollout analysis rolls a template back: the previous ReplicaSet's template.
REPLICA_SET = ChildKind("apps", "v1", "ReplicaSet", "replicasets")
# The leader election Lease (in the operator's own namespace).
LEASE = ChildKind("coordination.k8s.io", "v1", "Lease", "leases")
BY_KIND: dict[str, ChildKind] = {
    k.kind: k for k in (*CHILD_KINDS, *OBSERVED_KINDS, EVENT, TRAVELLER_VTT, LEASE, REPLICA_SET)
}
