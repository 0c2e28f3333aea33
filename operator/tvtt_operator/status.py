"""Pure status builders: the live children in, the TravellerVTT's status and conditions out.

Every function here is purely computational, no side effects (`now` is passed in). Conditions
follow the Kubernetes API conventions; an unchanged world yields an identical status, so the
reconciler skips the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tvtt_operator.builders import SERVER_CONTAINER, label_selector, redis_name, server_name
from tvtt_operator.kinds import DEPLOYMENT, HPA, SERVICE, STATEFUL_SET
from tvtt_operator.models import (
    Condition,
    ConditionStatus,
    ConditionType,
    State,
    TravellerVTT,
    TravellerVTTStatus,
)


@dataclass(frozen=True, slots=True)
class Observation:
    """Facts about the children that decide the conditions (read from the live objects)."""

    deployment_exists: bool = False
    deployment_current: bool = False
    desired_replicas: int = 0
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    progress_deadline_exceeded: bool = False
    redis_enabled: bool = False
    redis_ready: bool = False
    template_overridden: bool = False
    paused: bool = False
    autoscaling_inactive: str | None = None
    error: str | None = None


def observe(
    tvtt: TravellerVTT,
    live: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    template_overridden: bool,
    error: str | None,
    paused: bool = False,
) -> Observation:
    """Summarise the live Deployment and Redis StatefulSet. Purely computational, no side effects.

    A Deployment is "current" when its controller has seen its latest spec
    (status.observedGeneration == metadata.generation); before that its replica counts describe
    the previous template.
    """
    deployment = live.get((DEPLOYMENT.kind, server_name(tvtt)))
    statefulset = live.get((STATEFUL_SET.kind, redis_name(tvtt)))
    fields: dict[str, Any] = {
        "redis_enabled": tvtt.spec.redis.enabled,
        "template_overridden": template_overridden,
        "paused": paused,
        "error": error,
    }
    if deployment is not None:
        status = deployment.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        progressing = conditions.get("Progressing") or {}
        fields.update(
            deployment_exists=True,
            deployment_current=status.get("observedGeneration", 0)
            >= deployment["metadata"].get("generation", 1),
            desired_replicas=int((deployment.get("spec") or {}).get("replicas", 1)),
            replicas=int(status.get("replicas", 0)),
            updated_replicas=int(status.get("updatedReplicas", 0)),
            ready_replicas=int(status.get("readyReplicas", 0)),
            progress_deadline_exceeded=progressing.get("reason") == "ProgressDeadlineExceeded",
        )
    if statefulset is not None:
        fields["redis_ready"] = int((statefulset.get("status") or {}).get("readyReplicas", 0)) >= 1
    hpa = live.get((HPA.kind, server_name(tvtt)))
    if hpa is not None:
        for cond in (hpa.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "ScalingActive" and cond.get("status") == "False":
                fields["autoscaling_inactive"] = str(cond.get("reason") or "ScalingInactive")
    return Observation(**fields)


def _condition(
    kind: ConditionType, ok: bool, reason: str, message: str
) -> tuple[ConditionType, ConditionStatus, str, str]:
    return kind, ConditionStatus.TRUE if ok else ConditionStatus.FALSE, reason, message


def _desired_conditions(o: Observation) -> list[tuple[ConditionType, ConditionStatus, str, str]]:
    counts = f"{o.ready_replicas}/{o.desired_replicas} ready, {o.updated_replicas} updated"
    rolled_out = (
        o.deployment_exists
        and o.deployment_current
        and o.updated_replicas >= o.desired_replicas
        and o.ready_replicas >= o.desired_replicas
        and o.replicas <= o.desired_replicas
    )
    redis_ok = o.redis_ready or not o.redis_enabled
    if not o.redis_enabled:
        redis = _condition(ConditionType.REDIS_READY, True, "Disabled", "Redis is not enabled")
    elif o.redis_ready:
        redis = _condition(ConditionType.REDIS_READY, True, "StatefulSetReady", "Redis is ready")
    else:
        redis = _condition(
            ConditionType.REDIS_READY, False, "StatefulSetNotReady", "Redis pod is not ready"
        )
    if o.error is not None:
        degraded = _condition(ConditionType.DEGRADED, True, "ReconcileError", o.error)
    elif o.progress_deadline_exceeded:
        degraded = _condition(
            ConditionType.DEGRADED, True, "ProgressDeadlineExceeded", f"rollout stalled: {counts}"
        )
    else:
        degraded = _condition(ConditionType.DEGRADED, False, "AsExpected", "")
    if not o.deployment_exists:
        progressing = _condition(
            ConditionType.PROGRESSING, True, "Creating", "creating the Deployment"
        )
    elif rolled_out:
        progressing = _condition(ConditionType.PROGRESSING, False, "RolloutComplete", counts)
    else:
        progressing = _condition(ConditionType.PROGRESSING, True, "RollingOut", counts)
    if o.error is not None:
        ready = _condition(ConditionType.READY, False, "ReconcileError", o.error)
    elif o.deployment_exists and o.desired_replicas == 0:
        ready = _condition(
            ConditionType.READY, False, "NoReplicas", "scaled to 0 replicas: nothing can serve"
        )
    elif not rolled_out:
        ready = _condition(ConditionType.READY, False, "ReplicasNotReady", counts)
    elif not redis_ok:
        ready = _condition(ConditionType.READY, False, "RedisNotReady", "Redis pod is not ready")
    else:
        note = ""
        if o.autoscaling_inactive is not None:
            note = f"; the HPA cannot scale ({o.autoscaling_inactive}: no metrics?)"
        ready = _condition(ConditionType.READY, True, "AllReplicasReady", counts + note)
    if o.template_overridden:
        overridden = _condition(
            ConditionType.TEMPLATE_OVERRIDDEN,
            True,
            "ManualRollback",
            "the Deployment's pod template was changed outside the operator (e.g. kubectl "
            "rollout undo); it is left alone until the TravellerVTT changes",
        )
    else:
        overridden = _condition(
            ConditionType.TEMPLATE_OVERRIDDEN, False, "TemplateApplied", "template as rendered"
        )
    if o.paused:
        paused = _condition(
            ConditionType.PAUSED, True, "SpecPaused", "spec.paused: children are left as they are"
        )
    else:
        paused = _condition(ConditionType.PAUSED, False, "Reconciling", "")
    return [ready, progressing, degraded, redis, overridden, paused]


def build_conditions(
    previous: list[Condition], observation: Observation, *, generation: int, now: str
) -> list[Condition]:
    """The six conditions, following the Kubernetes API conventions.

    Purely computational, no side effects (`now` is passed in). `lastTransitionTime` changes only
    when a condition's status flips, so an unchanged world yields an identical list and the
    reconciler skips the status write.
    """
    before = {c.type: c for c in previous}
    out = []
    for kind, status, reason, message in _desired_conditions(observation):
        old = before.get(kind)
        since = old.last_transition_time if old is not None and old.status == status else now
        out.append(
            Condition(
                type=kind,
                status=status,
                reason=reason,
                message=message[:32768],
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    return out


def summarise(conditions: list[Condition]) -> State:
    """The one word `kubectl get tvtt` shows: the most pressing true condition."""
    true = {c.type for c in conditions if c.status == ConditionStatus.TRUE}
    for kind, state in (
        (ConditionType.PAUSED, State.PAUSED),
        (ConditionType.DEGRADED, State.DEGRADED),
        (ConditionType.TEMPLATE_OVERRIDDEN, State.OVERRIDDEN),
        (ConditionType.READY, State.READY),
        (ConditionType.PROGRESSING, State.PROGRESSING),
    ):
        if kind in true:
            return state
    return State.NOT_READY


def transitions(
    before: TravellerVTTStatus, after: TravellerVTTStatus
) -> list[tuple[str, str, str]]:
    """Events (type, reason, message) for what changed between two statuses.

    Purely computational, no side effects. Only changes produce Events, so they cost nothing at
    idle: created, scaled, rolling out, rolled out, stalled, recovered, ready. Degraded by a
    refused write, a manual rollback and pausing have their own Events in the reconciler.
    """
    old = {c.type: c for c in before.conditions}
    new = {c.type: c for c in after.conditions}

    def flipped(kind: ConditionType, to: ConditionStatus) -> Condition | None:
        now, then = new.get(kind), old.get(kind)
        if now is None or now.status != to:
            return None
        return now if then is None or then.status != to else None

    out: list[tuple[str, str, str]] = []
    if before.observed_generation is None:
        out.append(("Normal", "Created", "children created"))
    elif (
        before.desired_replicas is not None
        and after.desired_replicas is not None
        and before.desired_replicas != after.desired_replicas
    ):
        out.append(
            ("Normal", "Scaled", f"{before.desired_replicas} → {after.desired_replicas} replicas")
        )
    rolling = flipped(ConditionType.PROGRESSING, ConditionStatus.TRUE)
    if rolling is not None and rolling.reason == "RollingOut":
        out.append(("Normal", "RollingOut", rolling.message))
    done = flipped(ConditionType.PROGRESSING, ConditionStatus.FALSE)
    if done is not None and ConditionType.PROGRESSING in old:
        out.append(("Normal", "RolledOut", done.message))
    stalled = flipped(ConditionType.DEGRADED, ConditionStatus.TRUE)
    if stalled is not None and stalled.reason == "ProgressDeadlineExceeded":
        out.append(("Warning", "RolloutStalled", stalled.message))
    recovered = flipped(ConditionType.DEGRADED, ConditionStatus.FALSE)
    if recovered is not None and ConditionType.DEGRADED in old:
        out.append(("Normal", "Recovered", "no longer degraded"))
    ready = flipped(ConditionType.READY, ConditionStatus.TRUE)
    if ready is not None:
        out.append(("Normal", "Ready", ready.message))
    return out


def endpoint(tvtt: TravellerVTT, live: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    """Where players connect: the Ingress URL, a LoadBalancer address or the in-cluster name."""
    if tvtt.spec.ingress is not None:
        scheme = "https" if tvtt.spec.ingress.tls_secret_name else "http"
        return f"{scheme}://{tvtt.spec.ingress.host}"
    service = live.get((SERVICE.kind, server_name(tvtt))) or {}
    port = tvtt.spec.service.port
    for lb in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        address = lb.get("hostname") or lb.get("ip")
        if address:
            return f"http://{address}:{port}"
    return f"http://{server_name(tvtt)}.{tvtt.namespace}.svc:{port}"


def running_image(live: Mapping[tuple[str, str], Mapping[str, Any]], name: str) -> str | None:
    """The game server image in the live Deployment's template (a rollback shows here)."""
    deployment = live.get((DEPLOYMENT.kind, name))
    if deployment is None:
        return None
    for container in deployment["spec"]["template"]["spec"].get("containers", []):
        if container.get("name") == SERVER_CONTAINER:
            return str(container.get("image"))
    return None


def build_status(
    tvtt: TravellerVTT,
    live: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    template_overridden: bool,
    error: str | None,
    now: str,
    applied_generation: int | None = None,
    applied_template_hash: str | None = None,
) -> TravellerVTTStatus:
    """The whole status the operator reports. Purely computational, no side effects."""
    observation = observe(
        tvtt, live, template_overridden=template_overridden, error=error, paused=tvtt.spec.paused
    )
    conditions = build_conditions(
        tvtt.status.conditions, observation, generation=tvtt.generation, now=now
    )
    return TravellerVTTStatus(
        observed_generation=tvtt.generation,
        conditions=conditions,
        state=summarise(conditions),
        desired_replicas=observation.desired_replicas if observation.deployment_exists else None,
        replicas=observation.replicas,
        ready_replicas=observation.ready_replicas,
        image=running_image(live, server_name(tvtt)),
        endpoint=endpoint(tvtt, live),
        selector=label_selector(tvtt),
        applied_generation=applied_generation,
        applied_template_hash=applied_template_hash,
    )
