"""Decide what to write: rendered children vs. the live ones → a `Plan`.

Purely computational, no side effects: the reconciler feeds in the parsed resource and the cached
children and executes the plan. Keeping the decisions here lets unit tests cover the subtle rules
(rollback respect, HPA handover, steady state writes nothing) without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tvtt_operator.backup import build_backup_children, secret_values
from tvtt_operator.builders import (
    ANNOTATION_APPLIED_HASH,
    FIELD_MANAGER,
    HANDOVER_FIELD_MANAGER,
    ROLLBACK_FIELD_MANAGER,
    Inputs,
    backup_secret_name,
    build_children,
    child_key,
    redis_name,
    redis_secret_name,
    secret_password,
    template_hash,
)
from tvtt_operator.drift import Drift, find_drift, removal_patch
from tvtt_operator.kinds import CHILDREN_BY_KIND, DEPLOYMENT, SECRET, STATEFUL_SET, ChildKind
from tvtt_operator.models import ConditionStatus, ConditionType, TravellerVTT, quantity

Live = Mapping[tuple[str, str], Mapping[str, Any]]
# The rollback's fields are not drift: it restored a template the operator once rendered, with
# the API server's defaults, which the next apply of a new generation simply overrides.
OURS = (FIELD_MANAGER, HANDOVER_FIELD_MANAGER, ROLLBACK_FIELD_MANAGER)


@dataclass(frozen=True, slots=True)
class Correction:
    """Drift found on one child: what changed, and the JSON patch that removes what was added."""

    kind: ChildKind
    name: str
    desired: dict[str, Any]
    drifts: tuple[Drift, ...]
    removal: tuple[dict[str, Any], ...]

    def describe(self) -> str:
        """`Deployment/x: spec.… (changed by kubectl-set)`."""
        return f"{self.kind.kind}/{self.name}: " + ", ".join(d.describe() for d in self.drifts)


@dataclass(frozen=True, slots=True)
class Plan:
    """The writes one reconcile needs; empty in steady state."""

    handovers: list[dict[str, Any]] = field(default_factory=list)
    applies: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[tuple[ChildKind, str]] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    template_overridden: bool = False
    applied_generation: int | None = None
    applied_template_hash: str | None = None
    expand_claim_to: int | str | None = None

    @property
    def writes(self) -> int:
        """Number of API writes the plan makes (the idle benchmark expects 0)."""
        removals = sum(1 for c in self.corrections if c.removal)
        expansions = 0 if self.expand_claim_to is None else 1
        return len(self.handovers) + len(self.applies) + len(self.deletes) + removals + expansions


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def _images(template: Mapping[str, Any]) -> dict[str, str]:
    containers = (template.get("spec") or {}).get("containers") or []
    return {str(c.get("name")): str(c.get("image")) for c in containers}


def template_overridden(
    live: Mapping[str, Any], desired: Mapping[str, Any], applied_template_hash: str | None
) -> bool:
    """Whether someone else changed the Deployment's pod template since the operator applied it.

    Purely computational, no side effects. Two signals, both immune to API-server defaulting:
    the live template's `template-hash` annotation differs from the hash the operator recorded
    in status when it applied (what `kubectl rollout undo` does: it restores an older
    ReplicaSet's template, annotation included), or a container image differs from the rendered
    one (`kubectl set image`). The record lives in the TravellerVTT's status because rollout undo
    also restores the Deployment's own annotations.
    """
    if applied_template_hash is not None and template_hash(live) != applied_template_hash:
        return True
    live_template = live.get("spec", {}).get("template", {})
    return _images(live_template) != _images(desired["spec"]["template"])


def owns_replicas(live: Mapping[str, Any], manager: str = FIELD_MANAGER) -> bool:
    """Whether `manager`'s server-side apply still owns `spec.replicas` (managedFields)."""
    for entry in live.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply":
            continue
        spec_fields = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        if "f:replicas" in spec_fields:
            return True
    return False


def build_handover(live: Mapping[str, Any]) -> dict[str, Any]:
    """A partial apply that keeps the live replica count under another field manager.

    Purely computational, no side effects. Kubernetes docs, "Transferring ownership": if the
    operator simply stopped sending `spec.replicas`, server-side apply would remove the field it
    owns and the Deployment would drop to 1 replica before the HPA acts. Applying the current
    value under `traveller-vtt-operator-handover` first leaves a co-owner, so the field survives
    and the HPA (via the scale subresource) takes it from there.
    """
    metadata = live["metadata"]
    return {
        "apiVersion": live.get("apiVersion", DEPLOYMENT.api_version),
        "kind": live.get("kind", DEPLOYMENT.kind),
        "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]},
        "spec": {"replicas": live.get("spec", {}).get("replicas", 1)},
    }


def _plan_deployment(
    tvtt: TravellerVTT, desired: dict[str, Any], live: Mapping[str, Any] | None, plan: Plan
) -> tuple[bool, bool]:
    """Append the Deployment's writes; return (manual rollback in force, template applied)."""
    if live is None:
        plan.applies.append(desired)
        return False, True
    autoscaled = tvtt.spec.autoscaling is not None
    status = tvtt.status
    if status.applied_generation != tvtt.generation:
        _correct_drift(desired, live, plan)  # the apply takes values back; additions need this
        if autoscaled and owns_replicas(live):
            plan.handovers.append(build_handover(live))
        plan.applies.append(desired)
        return False, True
    if template_overridden(live, desired, status.applied_template_hash):
        return True, False
    drifted = _correct_drift(desired, live, plan)
    hash_changed = _annotations(live).get(ANNOTATION_APPLIED_HASH) != _annotations(desired).get(
        ANNOTATION_APPLIED_HASH
    )
    replicas_drifted = (
        not autoscaled and live.get("spec", {}).get("replicas") != desired["spec"]["replicas"]
    )
    if hash_changed or replicas_drifted or drifted:
        if autoscaled and owns_replicas(live):
            plan.handovers.append(build_handover(live))
        plan.applies.append(desired)
        return False, True
    return False, False


def _correct_drift(desired: dict[str, Any], live: Mapping[str, Any], plan: Plan) -> bool:
    """Record the drift of one child; return whether an apply is needed to take values back."""
    drifts = find_drift(desired, live, OURS)
    if not drifts:
        return False
    kind = CHILDREN_BY_KIND[desired["kind"]]
    removal = tuple(removal_patch(drifts, live))
    name = desired["metadata"]["name"]
    plan.corrections.append(Correction(kind, name, desired, tuple(drifts), removal))
    return any(not d.added for d in drifts)


def render_inputs(
    tvtt: TravellerVTT,
    live: Live,
    fresh_password: str,
    hpa_min_replicas: int | None = None,
    fresh_backup: tuple[str, str] = ("", ""),
) -> Inputs:
    """What the render needs from the live objects. Purely computational, no side effects.

    The password of the live Secret is kept (a fresh one only when there is none); the claim
    template size of a live StatefulSet is kept (immutable there); `hpa_min_replicas` is the
    reconciler's autoscaling floor, passed through.
    """
    password = secret_password(live.get((SECRET.kind, redis_secret_name(tvtt))))
    statefulset = live.get((STATEFUL_SET.kind, redis_name(tvtt))) or {}
    claim_size: int | str | None = None
    for template in (statefulset.get("spec") or {}).get("volumeClaimTemplates") or []:
        storage = (((template.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
            "storage"
        )
        if storage is not None:
            claim_size = storage
    kept = secret_values(live.get((SECRET.kind, backup_secret_name(tvtt))))
    token, key = kept or fresh_backup
    return Inputs(
        redis_password=password or fresh_password,
        redis_claim_size=claim_size,
        hpa_min_replicas=hpa_min_replicas,
        backup_token=token,
        export_key=key,
        keep_backup_secret=kept is not None,
    )


def claim_requested(claim: Mapping[str, Any] | None) -> int | str | None:
    """spec.resources.requests.storage of a PersistentVolumeClaim."""
    if claim is None:
        return None
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    value = requests.get("storage")
    return None if value is None else value


def expansion_refused(tvtt: TravellerVTT) -> bool:
    """Whether this generation's expansion was already refused (not retried until the spec
    changes again: the StorageClass will not change its mind on a timer)."""
    for c in tvtt.status.conditions:
        if c.type == ConditionType.REDIS_STORAGE_READY and c.status == ConditionStatus.FALSE:
            return c.reason == "ExpansionRefused" and c.observed_generation == tvtt.generation
    return False


def plan_expansion(tvtt: TravellerVTT, claim: Mapping[str, Any] | None) -> int | str | None:
    """The size to patch the Redis claim to, or None. Purely computational, no side effects.

    A claim smaller than `storageSize` (the spec grew, or a recreated resource found a retained
    smaller claim) is expanded, once per generation if the API server refuses.
    """
    if not tvtt.spec.redis.enabled or claim is None or expansion_refused(tvtt):
        return None
    requested = quantity(claim_requested(claim))
    wanted = quantity(tvtt.spec.redis.storage_size)
    if requested is None or wanted is None or requested >= wanted:
        return None
    return tvtt.spec.redis.storage_size


def plan_reconcile(
    tvtt: TravellerVTT,
    live: Live,
    *,
    fresh_password: str = "",
    claim: Mapping[str, Any] | None = None,
    hpa_min_replicas: int | None = None,
    fresh_backup: tuple[str, str] = ("", ""),
    backup_claim: Mapping[str, Any] | None = None,
) -> Plan:
    """Compare rendered children with the live ones and list the writes.

    Purely computational, no side effects. Rules:
    - a missing child is applied (a deleted child comes back);
    - a child whose recorded `applied-hash` differs from the render is applied (spec change or
      operator upgrade); equal hashes mean no write at all, so steady state writes nothing;
    - the Deployment's pod template is applied when the resource's generation differs from
      `status.appliedGeneration`; at the same generation a template changed by someone else
      (rollback) is never reverted;
    - live children the resource no longer wants (Ingress, HPA, Redis turned off) are deleted;
    - drift (fields another field manager changed or added, `drift.find_drift`) is corrected: the
      child is applied again, added fields are removed by a guarded JSON patch. Except in the
      Deployment's pod template after a manual rollback, which is reported instead;
    - the Redis claim (`claim`, watched, not a child) is expanded when smaller than the spec.
    `fresh_password` is used only when no Redis Secret exists yet (the reconciler generates it),
    `fresh_backup` (token, export key) only when no backup Secret exists; the backup volume
    (`backup_claim`, watched) is created when missing, never updated or deleted;
    `hpa_min_replicas` is the autoscaling floor (an HPA whose minReplicas differs is applied).
    """
    plan = Plan()
    desired_keys: set[tuple[str, str]] = set()
    overridden = applied_template = False
    rendered_template_hash: str | None = None
    inputs = render_inputs(tvtt, live, fresh_password, hpa_min_replicas, fresh_backup)
    first, last = build_backup_children(tvtt, inputs, claim_exists=backup_claim is not None)
    for manifest in [*first, *build_children(tvtt, inputs), *last]:
        key = child_key(manifest)
        desired_keys.add(key)
        current = live.get(key)
        if manifest["kind"] == DEPLOYMENT.kind:
            overridden, applied_template = _plan_deployment(tvtt, manifest, current, plan)
            rendered_template_hash = template_hash(manifest)
        elif current is None:
            plan.applies.append(manifest)
        else:
            drifted = _correct_drift(manifest, current, plan)
            live_hash = _annotations(current).get(ANNOTATION_APPLIED_HASH)
            if drifted or live_hash != _annotations(manifest).get(ANNOTATION_APPLIED_HASH):
                plan.applies.append(manifest)
    for kind, name in sorted(set(live) - desired_keys):
        if kind in CHILDREN_BY_KIND:
            plan.deletes.append((CHILDREN_BY_KIND[kind], name))
    applied_generation: int | None = tvtt.generation
    applied_hash = rendered_template_hash
    if not applied_template:
        applied_generation = tvtt.status.applied_generation
        applied_hash = tvtt.status.applied_template_hash
    return Plan(
        handovers=plan.handovers,
        applies=plan.applies,
        deletes=plan.deletes,
        corrections=plan.corrections,
        template_overridden=overridden,
        applied_generation=applied_generation,
        applied_template_hash=applied_hash,
        expand_claim_to=plan_expansion(tvtt, claim),
    )
