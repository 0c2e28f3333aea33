"""The rollout analysis's two steps with I/O: look at the new pods, and roll back.

`look` runs on the analysis timer (`TVTT_OPERATOR_ANALYSIS_SECONDS`) for each resource whose
status says `Analysing`: it reads the new pods through `RolloutWatcher` and asks
`analysis.judge`. A verdict other than "keep watching" makes the reconciler run `advance`, which
records the end of the analysis in status and, for a rollback, first puts the previous
ReplicaSet's pod template back on the Deployment (a JSON patch guarded by the bad template's
hash, as field manager `traveller-vtt-operator-rollback`). The reconciler posts the Events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from tvtt_operator.analysis import (
    Decision,
    Verdict,
    active_analysis,
    judge,
    next_analysis,
    previous_template,
    rollback_patch,
)
from tvtt_operator.builders import (
    ROLLBACK_FIELD_MANAGER,
    label_selector,
    server_name,
    template_hash,
)
from tvtt_operator.cache import Cache
from tvtt_operator.kinds import DEPLOYMENT, REPLICA_SET
from tvtt_operator.kube import KubeClient, KubeError
from tvtt_operator.models import AnalysisPhase, RolloutAnalysisStatus, TravellerVTT
from tvtt_operator.rollout import RolloutWatcher

log = structlog.get_logger("tvtt_operator.rollback")

Live = Mapping[tuple[str, str], Mapping[str, Any]]


def seconds_since(timestamp: str, now: datetime) -> float:
    """Seconds from an RFC 3339 UTC timestamp (`...Z`) to `now`."""
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (now - then).total_seconds()


def rolled_out(deployment: Mapping[str, Any] | None, analysed_hash: str) -> bool:
    """Whether the Deployment runs only the analysed template, every pod of it ready."""
    if deployment is None or template_hash(deployment) != analysed_hash:
        return False
    status = deployment.get("status") or {}
    wanted = int((deployment.get("spec") or {}).get("replicas", 1))
    return (
        int(status.get("observedGeneration", 0)) >= int(deployment["metadata"].get("generation", 1))
        and int(status.get("updatedReplicas", 0)) >= wanted
        and int(status.get("readyReplicas", 0)) >= wanted
        and int(status.get("replicas", 0)) <= wanted
    )


async def look(
    watcher: RolloutWatcher,
    tvtt: TravellerVTT,
    live: Live,
    pods: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> Verdict | None:
    """One round of the analysis of `tvtt`'s current template; None when none is under way or
    the live template is not the analysed one any more (the reconcile sorts that out)."""
    status = tvtt.status.rollout_analysis
    analysis = active_analysis(tvtt)
    if analysis is None or status is None or status.phase != AnalysisPhase.ANALYSING:
        return None
    deployment = live.get((DEPLOYMENT.kind, server_name(tvtt)))
    if deployment is None or template_hash(deployment) != status.template_hash:
        return None
    reading = await watcher.look(status.template_hash, pods)
    return judge(
        analysis,
        reading,
        elapsed=seconds_since(status.started_at, now),
        rolled_out=rolled_out(deployment, status.template_hash),
    )


@dataclass
class Advance:
    """What one reconcile did about the analysis: its new status, whether it rolled the
    Deployment back just now, and the Events to post (type, reason, message)."""

    status: RolloutAnalysisStatus | None
    rolled_back: bool = False
    events: list[tuple[str, str, str]] = field(default_factory=list)


async def advance(
    client: KubeClient,
    cache: Cache,
    tvtt: TravellerVTT,
    live: dict[tuple[str, str], Any],
    *,
    live_hash_before: str | None,
    applied_hash: str | None,
    template_applied: bool,
    verdict: Verdict | None,
    now: str,
) -> Advance:
    """Move the analysis on (`analysis.next_analysis`) and carry out a rollback it calls for.

    A rollback that cannot be made (the API server refuses, e.g. the template changed since:
    the guard's `test` fails) leaves the analysis under way, so the next round decides again;
    with no older ReplicaSet to go back to the analysis ends, cancelled, saying so.
    """
    before = tvtt.status.rollout_analysis
    key = (DEPLOYMENT.kind, server_name(tvtt))
    deployment = live.get(key)
    live_hash_now = None if deployment is None else template_hash(deployment)
    after = next_analysis(
        tvtt,
        live_hash_before=live_hash_before,
        applied_hash=applied_hash,
        template_applied=template_applied,
        live_hash_now=live_hash_now,
        verdict=verdict,
        now=now,
    )
    out = Advance(after)
    if after is None or after == before:
        return out
    what = f"template {after.template_hash} (generation {after.generation})"
    if after.phase == AnalysisPhase.ANALYSING:
        out.events.append(("Normal", "AnalysisStarted", f"{what}: watching the new pods"))
    elif after.phase == AnalysisPhase.PROMOTED:
        out.events.append(("Normal", "Promoted", f"{what} promoted: {after.message}"))
    elif after.phase == AnalysisPhase.CANCELLED:
        out.events.append(("Normal", "AnalysisCancelled", f"{what}: {after.message}"))
    elif after.phase == AnalysisPhase.ROLLED_BACK and deployment is not None:
        if live_hash_now == after.template_hash:
            done = await _roll_back(client, cache, tvtt, live, deployment, after)
            if done is None:
                return Advance(before)
            if not done:
                out.status = after.model_copy(
                    update={
                        "phase": AnalysisPhase.CANCELLED,
                        "message": f"a trigger fired but there is no older ReplicaSet to go "
                        f"back to: {after.message}"[:4096],
                    }
                )
                out.events.append(("Warning", "AnalysisCancelled", out.status.message))
                return out
            out.rolled_back = True
        out.events.append(("Warning", "RolledBack", f"{what} rolled back: {after.message}"))
    return out


async def _roll_back(
    client: KubeClient,
    cache: Cache,
    tvtt: TravellerVTT,
    live: dict[tuple[str, str], Any],
    deployment: Mapping[str, Any],
    after: RolloutAnalysisStatus,
) -> bool | None:
    """Put the previous template back. True: done; False: nothing to go back to; None: the API
    server refused (retried on the next round)."""
    logger = log.bind(namespace=tvtt.namespace, name=tvtt.name, template=after.template_hash)
    try:
        replica_sets = await client.list_objects(REPLICA_SET, tvtt.namespace, label_selector(tvtt))
    except KubeError as exc:
        logger.warning("cannot list the ReplicaSets to roll back", error=exc.message)
        return None
    uid = str(deployment["metadata"].get("uid", ""))
    template = previous_template(replica_sets, uid, after.template_hash)
    if template is None:
        logger.warning("no previous template to roll back to", trigger=after.trigger)
        return False
    name = server_name(tvtt)
    try:
        patched = await client.json_patch(
            DEPLOYMENT,
            tvtt.namespace,
            name,
            rollback_patch(after.template_hash, template),
            manager=ROLLBACK_FIELD_MANAGER,
        )
    except KubeError as exc:
        logger.warning("rollback refused", error=exc.message, status=exc.status)
        return None
    cache.put(patched)
    live[(DEPLOYMENT.kind, name)] = patched
    logger.warning(
        "rolled back", trigger=after.trigger, to=template_hash(patched), message=after.message
    )
    return True


def analysing(tvtt: TravellerVTT) -> bool:
    """Whether the timer should look at this resource's pods."""
    status = tvtt.status.rollout_analysis
    return (
        active_analysis(tvtt) is not None
        and status is not None
        and status.phase == AnalysisPhase.ANALYSING
    )


def verdict_for(
    verdicts: Mapping[tuple[str, str], tuple[str, Verdict]],
    key: tuple[str, str],
    tvtt: TravellerVTT,
) -> Verdict | None:
    """The last decisive verdict on the template this resource analyses, if any."""
    status = tvtt.status.rollout_analysis
    found = verdicts.get(key)
    if found is None or status is None or found[0] != status.template_hash:
        return None
    return found[1] if found[1].decision != Decision.WATCH else None
