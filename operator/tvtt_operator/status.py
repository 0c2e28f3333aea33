"""Pure status builders: the live children in, the TravellerVTT's status and conditions out.

Every function here is purely computational, no side effects (`now` is passed in). Conditions
follow the Kubernetes API conventions; an unchanged world yields an identical status, so the
reconciler skips the write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tvtt_operator.analysis import rolled_back_condition
from tvtt_operator.autoscaling import Floor, FloorReason
from tvtt_operator.builders import (
    SERVER_CONTAINER,
    label_selector,
    redis_claim_name,
    redis_name,
    server_name,
)
from tvtt_operator.kinds import DEPLOYMENT, HPA, SERVICE, STATEFUL_SET
from tvtt_operator.models import (
    AnalysisPhase,
    Condition,
    ConditionStatus,
    ConditionType,
    RedisVolumeStatus,
    RolloutAnalysisStatus,
    State,
    TravellerVTT,
    TravellerVTTStatus,
    quantity,
)

# HPA reasons (pkg/controller/podautoscaler) that mean "no metrics": scaling is stuck at the
# current replica count, so load cannot add pods. Any other ScalingActive=False (e.g.
# ScalingDisabled after `kubectl scale --replicas=0`) is not a metrics problem.
HPA_NO_METRICS_REASONS = frozenset(
    {
        "FailedGetResourceMetric",
        "FailedGetPodsMetric",
        "FailedGetObjectMetric",
        "FailedGetExternalMetric",
        "FailedGetContainerResourceMetric",
        "InvalidMetricSourceType",
    }
)


@dataclass(frozen=True, slots=True)
class Summary:
    """Battles and players polled from the game server pods (None: no pod answered)."""

    battles: int
    players: int


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
    hpa_no_metrics: str | None = None
    error: str | None = None
    ingress_enabled: bool = False
    tls_secret_missing: str | None = None
    claim: RedisVolumeStatus | None = None
    claim_too_small: bool = False
    expansion_error: str | None = None
    storage_size: str = ""
    floor: Floor | None = None
    rollout_analysis: RolloutAnalysisStatus | None = None
    generation: int = 0


def claim_status(tvtt: TravellerVTT, claim: Mapping[str, Any] | None) -> RedisVolumeStatus | None:
    """The Redis claim as status reports it (None without Redis or before the claim exists)."""
    if not tvtt.spec.redis.enabled or claim is None:
        return None
    spec = claim.get("spec") or {}
    status = claim.get("status") or {}
    requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    capacity = (status.get("capacity") or {}).get("storage")
    return RedisVolumeStatus(
        claim_name=redis_claim_name(tvtt),
        phase=status.get("phase"),
        requested=None if requested is None else str(requested),
        capacity=None if capacity is None else str(capacity),
    )


def _smaller(size: str | None, than: int | str) -> bool:
    have, want = quantity(size), quantity(than)
    return have is not None and want is not None and have < want


def observe(
    tvtt: TravellerVTT,
    live: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    template_overridden: bool,
    error: str | None,
    paused: bool = False,
    tls_secret_missing: str | None = None,
    claim: Mapping[str, Any] | None = None,
    expansion_error: str | None = None,
    floor: Floor | None = None,
    rollout_analysis: RolloutAnalysisStatus | None = None,
) -> Observation:
    """Summarise the live Deployment and Redis StatefulSet. Purely computational, no side effects.

    A Deployment is "current" when its controller has seen its latest spec
    (status.observedGeneration == metadata.generation); before that its replica counts describe
    the previous template. The claim is too small while its capacity (or, before the volume
    reports one, its request) is below `storageSize`.
    """
    deployment = live.get((DEPLOYMENT.kind, server_name(tvtt)))
    statefulset = live.get((STATEFUL_SET.kind, redis_name(tvtt)))
    volume = claim_status(tvtt, claim)
    size = tvtt.spec.redis.storage_size
    fields: dict[str, Any] = {
        "redis_enabled": tvtt.spec.redis.enabled,
        "template_overridden": template_overridden,
        "paused": paused,
        "error": error,
        "ingress_enabled": tvtt.spec.ingress is not None,
        "tls_secret_missing": tls_secret_missing,
        "claim": volume,
        "claim_too_small": volume is not None
        and _smaller(volume.capacity or volume.requested, size),
        "expansion_error": expansion_error,
        "storage_size": str(size),
        "floor": floor if tvtt.spec.autoscaling is not None else None,
        "rollout_analysis": rollout_analysis,
        "generation": tvtt.generation,
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
            reason = str(cond.get("reason") or "")
            if (
                cond.get("type") == "ScalingActive"
                and cond.get("status") == "False"
                and reason in HPA_NO_METRICS_REASONS
            ):
                fields["hpa_no_metrics"] = f"{reason}: {cond.get('message') or ''}".strip()
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
    elif o.hpa_no_metrics is not None:
        ready = _condition(
            ConditionType.READY,
            False,
            "AutoscalerMetricsUnavailable",
            f"{counts}; the HPA cannot get metrics, so it cannot add pods under load "
            f"({o.hpa_no_metrics}); is metrics-server installed?",
        )
    else:
        ready = _condition(ConditionType.READY, True, "AllReplicasReady", counts)
    analysis = o.rollout_analysis
    if (
        o.template_overridden
        and analysis is not None
        and analysis.phase == AnalysisPhase.ROLLED_BACK
        and analysis.generation == o.generation
    ):
        overridden = _condition(
            ConditionType.TEMPLATE_OVERRIDDEN,
            True,
            "AutomaticRollback",
            f"the rollout analysis rolled template {analysis.template_hash} back "
            f"({analysis.trigger}); it is not applied again until the TravellerVTT changes",
        )
    elif o.template_overridden:
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
    if not o.ingress_enabled:
        ingress = _condition(ConditionType.INGRESS_READY, True, "Disabled", "no Ingress")
    elif o.tls_secret_missing is not None:
        ingress = _condition(
            ConditionType.INGRESS_READY,
            False,
            "TLSSecretMissing",
            f"Secret {o.tls_secret_missing} (spec.ingress.tlsSecretName) does not exist: the "
            "Ingress controller serves no certificate for the host until it does",
        )
    else:
        ingress = _condition(ConditionType.INGRESS_READY, True, "IngressApplied", "")
    out = [ready, progressing, degraded, redis, overridden, paused, ingress, _storage(o)]
    if o.floor is not None:
        out.append(_floor(o.floor))
    if analysis is not None:
        out.append(rolled_back_condition(analysis))
    return out


def _floor(floor: Floor) -> tuple[ConditionType, ConditionStatus, str, str]:
    """True while the operator holds the HPA above spec.autoscaling.minReplicas (players,
    schedule, battles or a scale-down still stabilising); False at minReplicas."""
    raised = floor.reason != FloorReason.MIN_REPLICAS
    return _condition(
        ConditionType.AUTOSCALING_FLOOR,
        raised,
        floor.reason.value,
        f"HPA minReplicas {floor.replicas}: {floor.message}",
    )


def _storage(o: Observation) -> tuple[ConditionType, ConditionStatus, str, str]:
    kind = ConditionType.REDIS_STORAGE_READY
    if not o.redis_enabled:
        return _condition(kind, True, "Disabled", "Redis is not enabled")
    if o.claim is None:
        return _condition(kind, True, "ClaimPending", "the StatefulSet has not created it yet")
    have = f"{o.claim.claim_name}: capacity {o.claim.capacity or 'unknown'}, requested " + (
        f"{o.claim.requested or 'unknown'}, spec.redis.storageSize {o.storage_size}"
    )
    if o.expansion_error is not None and o.claim_too_small:
        return _condition(kind, False, "ExpansionRefused", o.expansion_error)
    if o.claim_too_small:
        return _condition(kind, False, "Expanding", have)
    return _condition(kind, True, "SizeAsSpecified", have)


def build_conditions(
    previous: list[Condition], observation: Observation, *, generation: int, now: str
) -> list[Condition]:
    """The eight conditions (nine with a rollout analysis), per the Kubernetes API conventions.

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
    # By reason, not by flip: Ready is often False already (pods starting) when the HPA first
    # reports that it has no metrics.
    unready, was = new.get(ConditionType.READY), old.get(ConditionType.READY)
    if (
        unready is not None
        and unready.reason == "AutoscalerMetricsUnavailable"
        and (was is None or was.reason != unready.reason)
    ):
        out.append(("Warning", "AutoscalerMetricsUnavailable", unready.message))
    if (
        before.autoscaling_floor is not None
        and after.autoscaling_floor is not None
        and before.autoscaling_floor != after.autoscaling_floor
    ):
        floor = new.get(ConditionType.AUTOSCALING_FLOOR)
        # The condition says "HPA minReplicas N: why"; the Event names both figures, then why.
        why = f" ({floor.reason}): {floor.message.partition(': ')[2]}" if floor is not None else ""
        out.append(
            (
                "Normal",
                "AutoscalingFloorChanged",
                f"HPA minReplicas {before.autoscaling_floor} → {after.autoscaling_floor}{why}",
            )
        )
    tls = flipped(ConditionType.INGRESS_READY, ConditionStatus.FALSE)
    if tls is not None:
        out.append(("Warning", tls.reason, tls.message))
    storage = new.get(ConditionType.REDIS_STORAGE_READY)
    then = old.get(ConditionType.REDIS_STORAGE_READY)
    if (
        storage is not None
        and storage.status == ConditionStatus.FALSE
        and (then is None or (then.status, then.reason) != (storage.status, storage.reason))
    ):
        kind = "Warning" if storage.reason == "ExpansionRefused" else "Normal"
        out.append((kind, "RedisVolume" + storage.reason, storage.message))
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
    summary: Summary | None = None,
    tls_secret_missing: str | None = None,
    claim: Mapping[str, Any] | None = None,
    expansion_error: str | None = None,
    floor: Floor | None = None,
    rollout_analysis: RolloutAnalysisStatus | None = None,
) -> TravellerVTTStatus:
    """The whole status the operator reports. Purely computational, no side effects.

    `summary` is the last poll of the game servers; without one the previous figures stay (a
    missed poll is no reason to write). `floor` is the autoscaling floor the HPA now has (None:
    autoscaling off, or the HPA apply failed and the previous figure stays).
    `rollout_analysis` defaults to the one in status.
    """
    analysis = rollout_analysis or tvtt.status.rollout_analysis
    observation = observe(
        tvtt,
        live,
        template_overridden=template_overridden,
        error=error,
        paused=tvtt.spec.paused,
        tls_secret_missing=tls_secret_missing,
        claim=claim,
        expansion_error=expansion_error,
        floor=floor,
        rollout_analysis=analysis,
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
        battles=tvtt.status.battles if summary is None else summary.battles,
        players=tvtt.status.players if summary is None else summary.players,
        redis_volume=observation.claim,
        applied_generation=applied_generation,
        applied_template_hash=applied_template_hash,
        autoscaling_floor=_floor_replicas(tvtt, floor),
        rollout_analysis=analysis,
    )


def _floor_replicas(tvtt: TravellerVTT, floor: Floor | None) -> int | None:
    if tvtt.spec.autoscaling is None:
        return None
    return tvtt.status.autoscaling_floor if floor is None else floor.replicas


def combine_summaries(replies: Sequence[Mapping[str, Any]]) -> Summary:
    """Add up the pods' `/api/summary` replies. Purely computational, no side effects.

    Players are summed (a connection lives on one pod); battles are counted by their digests, so
    a battle followed on two pods (Redis mode) counts once.
    """
    digests: set[str] = set()
    players = 0
    for reply in replies:
        found = reply.get("battleDigests")
        if isinstance(found, list):
            digests.update(str(d) for d in found)
        count = reply.get("players")
        # A pod answering garbage counts as nobody: it must not stop the poll of the others.
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            players += count
    return Summary(battles=len(digests), players=players)


def ready_pod_addresses(pods: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Pod IPs of the game server pods that pass their readiness probe (others are skipped: a
    starting or draining pod's figures would flicker). Purely computational, no side effects."""
    return sorted(ready_pods(pods).values())


def ready_pods(pods: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Pod name → pod IP of the ready game server pods (`ready_pod_addresses`, keyed by name so
    each reply can be told apart: the deletion cost and the floor need it). Purely
    computational, no side effects."""
    out: dict[str, str] = {}
    for name, pod in pods.items():
        status = pod.get("status") or {}
        if pod.get("metadata", {}).get("deletionTimestamp") or not status.get("podIP"):
            continue
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        ):
            out[name] = str(status["podIP"])
    return out
