"""Rollout analysis: judge a new pod template by its pods' metrics, and pick the template to go
back to. Purely computational, no side effects.

After the operator applies a new pod template (`spec.rollout.analysis`), `tvtt_operator.rollout`
scrapes the new pods' `/health` and `/metrics` and this module decides, against the deployment
strategy's triggers, whether to keep watching, roll back or promote the release. The figures are
the new pods' own counters: they start at zero with each pod, so whatever they count happened to
the new template. The metric names are the game server's (`gameserver/metrics.py`); a unit test
imports both sides so they cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tvtt_operator.builders import ANNOTATION_TEMPLATE_HASH
from tvtt_operator.models import (
    AnalysisPhase,
    ConditionStatus,
    ConditionType,
    RolloutAnalysis,
    RolloutAnalysisStatus,
    TravellerVTT,
)

COMMANDS = "tvtt_commands_total"
"""Counter of commands by `command` and `result` (`ok`, or the error code answered)."""
COMMAND_LATENCY = "tvtt_command_latency_seconds"
"""Histogram of a command's arrival-to-ack time, by `command`."""
UPGRADES = "tvtt_websocket_upgrades_total"
"""Counter of WebSocket upgrade requests by `result` (`ok`, or why refused or failed)."""
SERVER_FAILURES = frozenset({"internal_error", "store_unavailable"})
"""Command results that are the server's failure, not the player's: a rule violation is an
answer (the monitoring bundle's error ratio alert counts the same two codes)."""
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"


class Trigger(StrEnum):
    """The strategy's rollback triggers; the value is the RolledBack condition's reason."""

    HEALTH = "HealthCheckFailed"
    ERROR_RATIO = "ErrorRatio"
    LATENCY = "CommandLatencyP95"
    WEBSOCKET = "WebSocketFailures"


class Decision(StrEnum):
    """What to do with the release after one look at its pods."""

    WATCH = "Watch"
    ROLL_BACK = "RollBack"
    PROMOTE = "Promote"


@dataclass(frozen=True, slots=True)
class Figures:
    """What one or more pods' `/metrics` say, reduced to what the triggers need.

    `latency_buckets` are (upper bound, cumulative count) pairs, `+Inf` last, summed over every
    command type.
    """

    commands: float = 0.0
    failed_commands: float = 0.0
    latency_buckets: tuple[tuple[float, float], ...] = ()
    upgrades: float = 0.0
    failed_upgrades: float = 0.0


def parse_figures(text: str) -> Figures:
    """Read a game server's Prometheus text exposition. Raises ValueError on text that is not
    one (the caller treats it like an unanswered scrape)."""
    commands = failed = upgrades = failed_upgrades = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == COMMANDS:
                commands += sample.value
                if sample.labels.get("result") in SERVER_FAILURES:
                    failed += sample.value
            elif sample.name == UPGRADES:
                upgrades += sample.value
                if sample.labels.get("result") != "ok":
                    failed_upgrades += sample.value
            elif sample.name == f"{COMMAND_LATENCY}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return Figures(commands, failed, tuple(sorted(buckets.items())), upgrades, failed_upgrades)


def combine(figures: Iterable[Figures]) -> Figures:
    """Add several pods' figures (histograms bucket by bucket, like `sum by (le)`)."""
    commands = failed = upgrades = failed_upgrades = 0.0
    buckets: dict[float, float] = {}
    for f in figures:
        commands += f.commands
        failed += f.failed_commands
        upgrades += f.upgrades
        failed_upgrades += f.failed_upgrades
        for bound, count in f.latency_buckets:
            buckets[bound] = buckets.get(bound, 0.0) + count
    return Figures(commands, failed, tuple(sorted(buckets.items())), upgrades, failed_upgrades)


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' `histogram_quantile`: linear interpolation inside the bucket holding rank
    q * count; in the `+Inf` bucket, the highest finite bound. None without observations."""
    if not 0 <= q <= 1:
        raise ValueError(f"a quantile is between 0 and 1, not {q}")
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            inside = count - lower_count
            if inside <= 0:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / inside
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass(frozen=True, slots=True)
class PodCheck:
    """One look at one new pod: did `/health` answer 200 (None: not checked, no address yet),
    how often its game server container restarted, what its `/metrics` said (None: no answer)."""

    pod: str
    healthy: bool | None
    restarts: int = 0
    figures: Figures | None = None


def consecutive_failures(previous: Mapping[str, int], checks: Iterable[PodCheck]) -> dict[str, int]:
    """Each pod's run of failed health checks after this round (a success ends the run; a pod
    not checked keeps its count; pods gone are forgotten)."""
    out: dict[str, int] = {}
    for check in checks:
        before = previous.get(check.pod, 0)
        if check.healthy is None:
            out[check.pod] = before
        else:
            out[check.pod] = 0 if check.healthy else before + 1
    return out


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything the triggers look at for one template, summed over its pods."""

    figures: Figures
    failed_checks: int = 0
    """The longest run of failed health checks of any new pod."""
    restarts: int = 0
    """Container restarts of the new pods (a liveness failure or a crash)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Keep watching, roll back (naming the trigger), or promote; the message has the figures."""

    decision: Decision
    message: str
    trigger: Trigger | None = None


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def describe(reading: Reading) -> str:
    """The figures in one line, for the condition and the Event."""
    f = reading.figures
    p95 = quantile(0.95, f.latency_buckets)
    latency = "no command yet" if p95 is None else f"{p95 * 1000:.0f} ms"
    return (
        f"error ratio {_percent(f.failed_commands, f.commands):.1f} % of {f.commands:.0f} "
        f"commands, p95 command latency {latency}, WebSocket failures "
        f"{_percent(f.failed_upgrades, f.upgrades):.1f} % of {f.upgrades:.0f} upgrades, "
        f"{reading.failed_checks} failed health checks in a row, {reading.restarts} restarts"
    )


def judge(
    analysis: RolloutAnalysis, reading: Reading, *, elapsed: float, rolled_out: bool
) -> Verdict:
    """Decide on a release `elapsed` seconds after its template was applied.

    The strategy's triggers, in this order: a health check failing (`healthCheckFailures` in a
    row on one pod, or any restart), the server-failure ratio of commands, the p95 command
    latency, the WebSocket failure ratio. A ratio or the p95 counts only once the new pods have
    seen `minSamples` commands (upgrades): one failed command of two is not 50 % of a release.
    Triggers fire at any time; a release is promoted once the window has passed and the rollout
    is complete (all its pods ready) with none fired.
    """
    f = reading.figures
    figures = describe(reading)
    if reading.restarts > 0 or reading.failed_checks >= analysis.health_check_failures:
        return Verdict(
            Decision.ROLL_BACK,
            f"health check failed: {reading.failed_checks} failed in a row (limit "
            f"{analysis.health_check_failures}), {reading.restarts} restarts; {figures}",
            Trigger.HEALTH,
        )
    if f.commands >= analysis.min_samples:
        ratio = _percent(f.failed_commands, f.commands)
        if ratio > analysis.max_error_ratio_percent:
            return Verdict(
                Decision.ROLL_BACK,
                f"error ratio {ratio:.1f} % > {analysis.max_error_ratio_percent:g} % "
                f"({f.failed_commands:.0f} of {f.commands:.0f} commands failed); {figures}",
                Trigger.ERROR_RATIO,
            )
        p95 = quantile(0.95, f.latency_buckets)
        if p95 is not None and p95 * 1000 > analysis.max_command_latency_p95_ms:
            return Verdict(
                Decision.ROLL_BACK,
                f"p95 command latency {p95 * 1000:.0f} ms > "
                f"{analysis.max_command_latency_p95_ms} ms; {figures}",
                Trigger.LATENCY,
            )
    if f.upgrades >= analysis.min_samples:
        ratio = _percent(f.failed_upgrades, f.upgrades)
        if ratio > analysis.max_websocket_failure_percent:
            return Verdict(
                Decision.ROLL_BACK,
                f"WebSocket failures {ratio:.1f} % > {analysis.max_websocket_failure_percent:g} "
                f"% ({f.failed_upgrades:.0f} of {f.upgrades:.0f} upgrades); {figures}",
                Trigger.WEBSOCKET,
            )
    if elapsed >= analysis.window_seconds and rolled_out:
        return Verdict(
            Decision.PROMOTE, f"no trigger fired in {analysis.window_seconds} s: {figures}"
        )
    return Verdict(Decision.WATCH, f"{elapsed:.0f} of {analysis.window_seconds} s: {figures}")


def active_analysis(tvtt: TravellerVTT) -> RolloutAnalysis | None:
    """spec.rollout.analysis when it is set and enabled."""
    rollout = tvtt.spec.rollout
    if rollout is None or rollout.analysis is None or not rollout.analysis.enabled:
        return None
    return rollout.analysis


def next_analysis(
    tvtt: TravellerVTT,
    *,
    live_hash_before: str | None,
    applied_hash: str | None,
    template_applied: bool,
    live_hash_now: str | None,
    verdict: Verdict | None,
    now: str,
) -> RolloutAnalysisStatus | None:
    """The analysis status after one reconcile.

    - The operator just changed the live pod template (`template_applied` and the live hash was
      another one, or none yet was ours): a new analysis of `applied_hash` starts now. The first
      template of a new Deployment has nothing to go back to and is not analysed.
    - An analysis under way ends when a verdict for its template says so (the reconciler has
      rolled back first), or is cancelled when the analysis was turned off or the live template
      is no longer the one analysed (a person's `kubectl rollout undo` wins: it is not reverted).
    - A finished analysis stays as it is: a rolled-back template is not applied again at the
      same generation (`planning` sees the template overridden), so it is retried only when the
      TravellerVTT changes.
    """
    current = tvtt.status.rollout_analysis
    analysis = active_analysis(tvtt)
    if (
        analysis is not None
        and template_applied
        and applied_hash is not None
        and live_hash_before is not None
        and live_hash_before != applied_hash
    ):
        return RolloutAnalysisStatus(
            template_hash=applied_hash,
            generation=tvtt.generation,
            started_at=now,
            phase=AnalysisPhase.ANALYSING,
            message="watching the new pods",
        )
    if current is None or current.phase != AnalysisPhase.ANALYSING:
        return current
    if analysis is None:
        return _ended(current, AnalysisPhase.CANCELLED, "spec.rollout.analysis was turned off")
    if verdict is not None and verdict.decision == Decision.ROLL_BACK:
        # Also when the live template already changed: the rollback was made, its status
        # write failed (the verdict is still remembered).
        return current.model_copy(
            update={
                "phase": AnalysisPhase.ROLLED_BACK,
                "trigger": None if verdict.trigger is None else verdict.trigger.value,
                "message": verdict.message[:4096],
            }
        )
    if live_hash_now != current.template_hash:
        return _ended(
            current,
            AnalysisPhase.CANCELLED,
            f"the Deployment's pod template is now {live_hash_now}, changed outside the "
            "operator (e.g. kubectl rollout undo); left alone",
        )
    if verdict is not None and verdict.decision == Decision.PROMOTE:
        return _ended(current, AnalysisPhase.PROMOTED, verdict.message)
    return current


def _ended(
    current: RolloutAnalysisStatus, phase: AnalysisPhase, message: str
) -> RolloutAnalysisStatus:
    return current.model_copy(update={"phase": phase, "message": message[:4096]})


def rolled_back_condition(
    status: RolloutAnalysisStatus,
) -> tuple[ConditionType, ConditionStatus, str, str]:
    """The RolledBack condition: True with the trigger as reason after an automatic rollback;
    False with Analysing, Promoted or AnalysisCancelled otherwise."""
    kind = ConditionType.ROLLED_BACK
    template = f"template {status.template_hash} (generation {status.generation})"
    if status.phase == AnalysisPhase.ROLLED_BACK:
        reason = status.trigger or "RolledBack"
        return kind, ConditionStatus.TRUE, reason, f"{template} rolled back: {status.message}"
    reasons = {
        AnalysisPhase.ANALYSING: "Analysing",
        AnalysisPhase.PROMOTED: "Promoted",
        AnalysisPhase.CANCELLED: "AnalysisCancelled",
    }
    return kind, ConditionStatus.FALSE, reasons[status.phase], f"{template}: {status.message}"


def auto_rolled_back(tvtt: TravellerVTT) -> bool:
    """Whether the analysis rolled this generation's template back (so the overridden template
    is the operator's own doing, not a person's)."""
    status = tvtt.status.rollout_analysis
    return (
        status is not None
        and status.phase == AnalysisPhase.ROLLED_BACK
        and status.generation == tvtt.generation
    )


def is_new_pod(pod: Mapping[str, Any], template_hash: str) -> bool:
    """Whether a pod runs the analysed template (its annotation came from that template) and
    is not going away."""
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return annotations.get(ANNOTATION_TEMPLATE_HASH) == template_hash and not meta.get(
        "deletionTimestamp"
    )


def restarts(pod: Mapping[str, Any], container: str) -> int:
    """Restarts of one container of a pod (its status)."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return int(status.get("restartCount") or 0)
    return 0


def started(pod: Mapping[str, Any], container: str) -> bool:
    """Whether a pod's container passed its startup probe (status `started`)."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return bool(status.get("started"))
    return False


def previous_template(
    replica_sets: Iterable[Mapping[str, Any]], deployment_uid: str, bad_hash: str
) -> dict[str, Any] | None:
    """The pod template to go back to: that of the Deployment's newest older ReplicaSet (by
    revision) whose template is not the bad one, as `kubectl rollout undo` picks it, without the
    `pod-template-hash` label the Deployment controller adds. None when there is none."""
    candidates: list[tuple[int, Mapping[str, Any]]] = []
    for rs in replica_sets:
        meta = rs.get("metadata") or {}
        owners = meta.get("ownerReferences") or []
        if not any(o.get("uid") == deployment_uid and o.get("controller") for o in owners):
            continue
        template = (rs.get("spec") or {}).get("template") or {}
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        if annotations.get(ANNOTATION_TEMPLATE_HASH) == bad_hash:
            continue
        try:
            revision = int((meta.get("annotations") or {}).get(REVISION, ""))
        except ValueError:
            continue
        candidates.append((revision, template))
    if not candidates:
        return None
    template = dict(max(candidates, key=lambda c: c[0])[1])
    metadata = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != POD_TEMPLATE_HASH}
    metadata["labels"] = labels
    template["metadata"] = metadata
    return template


def rollback_patch(bad_hash: str, template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A JSON patch putting `template` back, guarded by a `test` that the live template is still
    the bad one: if a person changed it meanwhile, the API server refuses and nothing changes."""
    pointer = "/spec/template/metadata/annotations/" + ANNOTATION_TEMPLATE_HASH.replace(
        "~", "~0"
    ).replace("/", "~1")
    return [
        {"op": "test", "path": pointer, "value": bad_hash},
        {"op": "replace", "path": "/spec/template", "value": dict(template)},
    ]
