"""The reconcile loop: a deduplicating work queue of resource keys and a few workers.

kopf's handlers only feed the cache and enqueue keys; the workers parse the spec, ask `planning`
what to write, apply it, and patch the status — level-triggered, so a restart, a lost event or a
failed write all end in the same place: the next reconcile of that key.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError

from tvtt_operator.analysis import Decision, Verdict, auto_rolled_back
from tvtt_operator.autoscaling import Floor, PodLoad, plan_floor, pod_load
from tvtt_operator.backup import backup_claim_name
from tvtt_operator.builders import (
    FIELD_MANAGER,
    HANDOVER_FIELD_MANAGER,
    redis_claim_name,
    server_name,
    template_hash,
)
from tvtt_operator.cache import Cache, Key
from tvtt_operator.config import OperatorConfig
from tvtt_operator.deletion_cost import deletion_cost_patches, due_patches
from tvtt_operator.drift import find_drift, removal_patch
from tvtt_operator.kinds import DEPLOYMENT, EVENT, HPA, POD, PVC, SECRET, TRAVELLER_VTT
from tvtt_operator.kube import KubeClient, KubeError
from tvtt_operator.metrics import (
    MANAGED,
    QUEUE_DEPTH,
    RECONCILE_ERRORS,
    RECONCILE_SECONDS,
    RECONCILES,
)
from tvtt_operator.models import AnalysisPhase, ConditionStatus, ConditionType, TravellerVTT
from tvtt_operator.planning import OURS, Correction, Plan, expansion_refused, plan_reconcile
from tvtt_operator.retry import RetryTimers
from tvtt_operator.rollback import advance, analysing, look, verdict_for
from tvtt_operator.rollout import RolloutWatcher
from tvtt_operator.status import (
    Summary,
    build_status,
    combine_summaries,
    ready_pods,
    transitions,
)
from tvtt_operator.summary import SummaryPoller

log = structlog.get_logger("tvtt_operator.reconciler")


def utc_now() -> str:
    """RFC 3339 UTC timestamp with second precision (metav1.Time)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wall_now() -> datetime:
    """The time the autoscaling schedule is evaluated at (timezone-aware)."""
    return datetime.now(UTC)


def build_event(
    tvtt_body: dict[str, Any], *, reason: str, message: str, now: str, type_: str = "Warning"
) -> dict[str, Any]:
    """A core/v1 Event about the resource. Purely computational, no side effects."""
    meta = tvtt_body["metadata"]
    return {
        "apiVersion": EVENT.api_version,
        "kind": EVENT.kind,
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": TRAVELLER_VTT.api_version,
            "kind": TRAVELLER_VTT.kind,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": type_,
        "reason": reason,
        "message": message,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "source": {"component": FIELD_MANAGER},
        "reportingComponent": FIELD_MANAGER,
    }


class Reconciler:
    """Owns the queue and the workers; `enqueue` is the only thing kopf handlers call."""

    def __init__(
        self,
        client: KubeClient,
        cache: Cache,
        settings: OperatorConfig,
        clock: Callable[[], str] = utc_now,
        wall_clock: Callable[[], datetime] = wall_now,
    ) -> None:
        self.client = client
        self.cache = cache
        self.settings = settings
        self.clock = clock
        self.wall_clock = wall_clock
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._active: set[Key] = set()
        self._dirty: set[Key] = set()
        self.retries: RetryTimers[Key] = RetryTimers(
            settings.min_backoff_seconds, settings.max_backoff_seconds
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._forbidden_since: float | None = None
        self.summaries: dict[Key, Summary] = {}
        self.poller = SummaryPoller(settings.poll_timeout_seconds)
        # Per resource: each pod's last /api/summary reply, the autoscaling floors wanted within
        # the stabilisation window, and when each pod's deletion cost was last written.
        self.pod_replies: dict[Key, dict[str, Mapping[str, Any]]] = {}
        self.floor_history: dict[Key, tuple[tuple[float, int], ...]] = {}
        self.cost_written: dict[Key, dict[str, float]] = {}
        self.watcher = RolloutWatcher(settings.poll_timeout_seconds)
        self.verdicts: dict[Key, tuple[str, Verdict]] = {}

    # --- queue --------------------------------------------------------------------------------

    def enqueue(self, key: Key) -> None:
        """Ask for a reconcile of `key`; repeated requests collapse into one."""
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)
        QUEUE_DEPTH.set(len(self._queued))

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            self.retries.cancel(key)  # this run is the retry
            QUEUE_DEPTH.set(len(self._queued))
            try:
                ok = await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                RECONCILE_ERRORS.labels(cause="internal").inc()
                RECONCILES.labels(result="error").inc()
                log.exception("reconcile crashed", namespace=key[0], name=key[1])
                ok = False
            finally:
                self._active.discard(key)
                self._queue.task_done()
            if ok:
                self.retries.succeeded(key)
            else:
                self.retries.failed(key, self.enqueue)
            if key in self._dirty:
                self._dirty.discard(key)
                self.enqueue(key)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            MANAGED.set(len(self.cache))
            for key in self.cache.owners():
                if not self.retries.waiting(key):  # a failing key keeps its own backoff
                    self.enqueue(key)

    async def _poll(self) -> None:
        """Poll the game servers' summaries; a changed sum enqueues the resource (the reconcile
        writes it to status). Unchanged figures write nothing."""
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            keys = list(self.cache.owners())
            for table in (self.summaries, self.pod_replies, self.floor_history, self.cost_written):
                for gone in set(table) - set(keys):
                    del table[gone]
            await asyncio.gather(*(self._poll_one(key) for key in keys))

    async def _poll_one(self, key: Key) -> None:
        """Poll one resource's pods; enqueue it when its figures or its autoscaling floor
        changed (the schedule is checked even when no pod answers), and write the pods'
        deletion costs where they changed."""
        pods = self.cache.observed(key, POD.kind)
        replies = await self.poller.poll_pods(ready_pods(pods))
        changed = False
        if replies:  # nobody answered: keep the last figures
            self.pod_replies[key] = replies
            summary = combine_summaries(list(replies.values()))
            self.summaries[key] = summary
            status = (self.cache.owner(key) or {}).get("status") or {}
            changed = (status.get("battles"), status.get("players")) != (
                summary.battles,
                summary.players,
            )
            await self._write_deletion_costs(key, pods, replies)
        if changed or self._floor_changed(key):
            self.enqueue(key)

    async def _write_deletion_costs(
        self,
        key: Key,
        pods: Mapping[str, Mapping[str, Any]],
        replies: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """Set each pod's `controller.kubernetes.io/pod-deletion-cost` to its players, so a
        scale-down removes the emptiest pod: only where the value changes, at most once per
        `deletion_cost_seconds` per pod (a merge patch of one annotation)."""
        live = {
            name: (pod.get("metadata") or {}).get("annotations") or {}
            for name, pod in pods.items()
            if not (pod.get("metadata") or {}).get("deletionTimestamp")
        }
        players = {
            name: count
            for name, reply in replies.items()
            if isinstance(count := reply.get("players"), int)
            and not isinstance(count, bool)
            and count >= 0
        }
        written = self.cost_written.setdefault(key, {})
        for gone in set(written) - set(live):
            del written[gone]
        now = time.monotonic()
        due = due_patches(
            deletion_cost_patches(live, players), written, now, self.settings.deletion_cost_seconds
        )
        for name, patch in due.items():
            try:
                patched = await self.client.merge_patch(POD, key[0], name, patch)
            except KubeError as exc:
                if exc.status != 404:  # a pod deleted meanwhile needs no cost
                    log.warning("deletion cost not written", pod=name, error=exc.message)
                    self._note_writes(ok=False, forbidden=exc.status == 403)
                continue
            written[name] = now
            self.cache.put(patched)

    def _floor_changed(self, key: Key) -> bool:
        """Whether the autoscaling floor differs from the live HPA's minReplicas."""
        body = self.cache.owner(key)
        if body is None:
            return False
        try:
            tvtt = TravellerVTT.model_validate(body)
        except ValidationError:
            return False
        if tvtt.spec.paused:
            return False
        live = self.cache.children(key, tvtt.uid)
        floor = self.floor(key, tvtt, live)
        if floor is None:
            return False
        hpa = live.get((HPA.kind, server_name(tvtt))) or {}
        return bool((hpa.get("spec") or {}).get("minReplicas") != floor.replicas)

    def floor(
        self, key: Key, tvtt: TravellerVTT, live: Mapping[tuple[str, str], Mapping[str, Any]]
    ) -> Floor | None:
        """The HPA's minReplicas now (`autoscaling.plan_floor`), remembering what was wanted for
        the stabilisation window. After a restart the live HPA's minReplicas counts as wanted
        just now, so a restart never skips the window."""
        autoscaling = tvtt.spec.autoscaling
        if autoscaling is None:
            self.floor_history.pop(key, None)
            return None
        now = self.wall_clock()
        name = server_name(tvtt)
        history = self.floor_history.get(key)
        if history is None:
            live_min = ((live.get((HPA.kind, name)) or {}).get("spec") or {}).get("minReplicas")
            history = ((now.timestamp(), live_min),) if isinstance(live_min, int) else ()
        deployment = live.get((DEPLOYMENT.kind, name)) or {}
        current = (deployment.get("spec") or {}).get("replicas")
        loads: dict[str, PodLoad] | None = None
        replies = self.pod_replies.get(key)
        if replies is not None:
            present = self.cache.observed(key, POD.kind)
            loads = {
                pod: load
                for pod, reply in replies.items()
                if pod in present and (load := pod_load(reply)) is not None
            }
        floor = plan_floor(
            autoscaling.policy(),
            loads,
            current_replicas=current if isinstance(current, int) else 0,
            now=now,
            history=history,
            battles_pinned=not tvtt.spec.redis.enabled,
        )
        self.floor_history[key] = floor.history
        return floor

    async def _analyse(self) -> None:
        """spec.rollout.analysis: look at the new pods of every release under analysis; a
        verdict to roll back or promote enqueues the resource (the reconcile acts on it).
        Only resources whose status says Analysing are parsed: an idle round costs a dict
        lookup per resource, and reads nothing from any pod."""
        while True:
            await asyncio.sleep(self.settings.analysis_seconds)
            watched: dict[Key, TravellerVTT] = {}
            templates: set[str] = set()
            for key in self.cache.owners():
                body = self.cache.owner(key) or {}
                phase = ((body.get("status") or {}).get("rolloutAnalysis") or {}).get("phase")
                if phase != AnalysisPhase.ANALYSING:
                    continue
                try:
                    tvtt = TravellerVTT.model_validate(body)
                except ValidationError:
                    continue
                if analysing(tvtt) and tvtt.status.rollout_analysis is not None:
                    watched[key] = tvtt
                    templates.add(tvtt.status.rollout_analysis.template_hash)
            for gone in set(self.verdicts) - set(watched):
                del self.verdicts[gone]
            self.watcher.forget(templates)
            await asyncio.gather(*(self._analyse_one(k, t) for k, t in watched.items()))

    async def _analyse_one(self, key: Key, tvtt: TravellerVTT) -> None:
        live = self.cache.children(key, tvtt.uid)
        pods = self.cache.observed(key, POD.kind)
        try:
            verdict = await look(self.watcher, tvtt, live, pods, datetime.now(UTC))
        except Exception:  # one resource's bad answer must not stop the others' analysis
            log.exception("rollout analysis failed", namespace=key[0], name=key[1])
            return
        status = tvtt.status.rollout_analysis
        if verdict is None or status is None or verdict.decision == Decision.WATCH:
            return
        log.info(
            "rollout verdict",
            namespace=key[0],
            name=key[1],
            decision=verdict.decision.value,
            trigger=verdict.trigger,
            message=verdict.message,
        )
        self.verdicts[key] = (status.template_hash, verdict)
        self.enqueue(key)

    def start(self) -> None:
        """Start the workers, the periodic resync (which reads only the cache) and the poll.

        Called at startup, or when this replica wins the leader election: everything cached
        while standing by is reconciled then.
        """
        for _ in range(self.settings.workers):
            self._tasks.append(asyncio.create_task(self._worker()))
        self._tasks.append(asyncio.create_task(self._resync()))
        if self.settings.poll_seconds > 0:
            self._tasks.append(asyncio.create_task(self._poll()))
        if self.settings.analysis_seconds > 0:
            self._tasks.append(asyncio.create_task(self._analyse()))
        for key in self.cache.owners():
            self.enqueue(key)

    @property
    def started(self) -> bool:
        """Whether the workers run (False on a replica standing by for the Lease)."""
        return bool(self._tasks)

    def halt(self) -> None:
        """Cancel the workers at once, without waiting (leadership lost: write nothing more)."""
        for task in self._tasks:
            task.cancel()

    async def stop(self) -> None:
        """Cancel the workers; an interrupted reconcile is simply redone after a restart."""
        self.retries.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.poller.close()
        await self.watcher.close()

    def alive(self) -> bool:
        """For /healthz: every worker task is still running, and writes are not all Forbidden.

        A replica standing by for the Lease has no workers yet and is alive.

        An operator whose every write has been refused with 403 for `forbidden_unhealthy_seconds`
        (RBAC removed or never granted) fails its liveness probe: the pod's restarts make the
        problem visible instead of a healthy-looking operator that changes nothing.
        """
        running = not any(t.done() for t in self._tasks)
        since = self._forbidden_since
        forbidden_too_long = (
            since is not None
            and time.monotonic() - since >= self.settings.forbidden_unhealthy_seconds
        )
        return running and not forbidden_too_long

    def _note_writes(self, *, ok: bool, forbidden: bool) -> None:
        """Any accepted write clears the Forbidden clock; a refused one starts it."""
        if ok:
            self._forbidden_since = None
        elif forbidden and self._forbidden_since is None:
            self._forbidden_since = time.monotonic()

    # --- one reconcile --------------------------------------------------------------------------

    async def reconcile(self, key: Key) -> bool:
        """Bring one resource's children and status in line; return False to retry later."""
        body = self.cache.owner(key)
        if body is None or body.get("metadata", {}).get("deletionTimestamp"):
            return True  # deleted: the garbage collector removes the children
        started = time.perf_counter()
        logger = log.bind(namespace=key[0], name=key[1])
        try:
            tvtt = TravellerVTT.model_validate(body)
        except ValidationError as exc:
            RECONCILES.labels(result="invalid").inc()
            RECONCILE_ERRORS.labels(cause="invalid_spec").inc()
            message = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            logger.warning("invalid spec", error=message)
            try:
                await self._report_invalid(body, message)
            except KubeError as api_exc:
                RECONCILE_ERRORS.labels(cause="api").inc()
                logger.warning("status update failed", error=api_exc.message)
                return False
            return True  # retrying cannot help; the next edit triggers a new reconcile
        live = self.cache.children(key, tvtt.uid)
        claim = self.cache.observed(key, PVC.kind).get(redis_claim_name(tvtt))
        if tvtt.spec.paused:
            return await self._report_paused(tvtt, body, live)
        floor = self.floor(key, tvtt, live)
        plan = plan_reconcile(
            tvtt,
            live,
            fresh_password=secrets.token_hex(24),
            claim=claim,
            hpa_min_replicas=None if floor is None else floor.replicas,
            fresh_backup=(secrets.token_hex(24), secrets.token_hex(32)),
            backup_claim=self.cache.observed(key, PVC.kind).get(backup_claim_name(tvtt)),
        )
        deployment_key = (DEPLOYMENT.kind, server_name(tvtt))
        live_hash_before = template_hash(live.get(deployment_key) or {})
        done = await self._execute(tvtt, plan, live)
        claim, expansion_error = await self._expand_claim(tvtt, plan, claim, done)
        tls_missing = await self._tls_secret_missing(tvtt)
        self._note_writes(ok=done.written > 0, forbidden=done.forbidden > 0)
        error = "; ".join(done.failures) or None
        if done.applied or done.deleted or done.handovers or done.corrected:
            logger.info(
                "reconciled",
                applied=done.applied,
                deleted=done.deleted,
                handovers=done.handovers,
                corrected=[c.describe() for c in done.corrected],
                generation=tvtt.generation,
            )
        if error is not None:
            RECONCILE_ERRORS.labels(cause="api").inc()
            logger.warning("apply failed", error=error, failed=len(done.failures))
        now = self.clock()
        applied_ok = error is None
        rollout = await advance(
            self.client,
            self.cache,
            tvtt,
            live,
            live_hash_before=live_hash_before,
            applied_hash=plan.applied_template_hash,
            template_applied=f"{DEPLOYMENT.kind}/{deployment_key[1]}" in done.applied,
            verdict=verdict_for(self.verdicts, key, tvtt),
            now=now,
        )
        status = build_status(
            tvtt,
            live,
            template_overridden=plan.template_overridden or rollout.rolled_back,
            error=error,
            now=now,
            # A failed apply records nothing new: the next reconcile tries the template again.
            applied_generation=plan.applied_generation
            if applied_ok
            else tvtt.status.applied_generation,
            applied_template_hash=plan.applied_template_hash
            if applied_ok
            else tvtt.status.applied_template_hash,
            summary=self.summaries.get(key),
            tls_secret_missing=tls_missing,
            claim=claim,
            expansion_error=expansion_error,
            # A refused HPA apply keeps the floor the status last reported.
            floor=None if f"{HPA.kind}/{server_name(tvtt)}" in done.failed else floor,
            rollout_analysis=rollout.status,
        )
        status_body = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        try:
            # The Event goes first: if the status write then fails, the next reconcile still
            # sees no TemplateOverridden=True and reports again (at least once, never lost).
            for type_, reason, message in rollout.events:
                await self.client.post_event(
                    build_event(body, reason=reason, message=message, now=now, type_=type_)
                )
            if (
                plan.template_overridden
                and not _overridden_before(tvtt)
                and not auto_rolled_back(tvtt)
            ):
                logger.warning("manual rollback detected; the pod template is left alone")
                await self.client.post_event(
                    build_event(
                        body,
                        reason="ManualRollback",
                        message="Deployment pod template changed outside the operator (e.g. "
                        "kubectl rollout undo); not reverted until the TravellerVTT changes",
                        now=now,
                    )
                )
            for correction in done.corrected:
                await self.client.post_event(
                    build_event(
                        body,
                        reason="DriftCorrected",
                        message=f"{correction.describe()}; restored as the TravellerVTT says",
                        now=now,
                    )
                )
            if not _status_equal(body.get("status") or {}, status_body):
                for type_, reason, message in transitions(tvtt.status, status):
                    await self.client.post_event(
                        build_event(body, reason=reason, message=message, now=now, type_=type_)
                    )
            if error is not None and _degraded_message(tvtt) != error:
                await self.client.post_event(
                    build_event(body, reason="ApplyFailed", message=error, now=now)
                )
            await self._write_status(tvtt, body, status_body)
        except KubeError as exc:
            RECONCILE_ERRORS.labels(cause="api").inc()
            logger.warning("status update failed", error=exc.message, status=exc.status)
            self._note_writes(ok=False, forbidden=exc.status == 403)
            error = error or exc.message
        RECONCILE_SECONDS.observe(time.perf_counter() - started)
        RECONCILES.labels(result="ok" if error is None else "error").inc()
        return error is None

    async def _execute(
        self, tvtt: TravellerVTT, plan: Plan, live: dict[tuple[str, str], Any]
    ) -> Outcome:
        """Make the plan's writes, each on its own: one failing child does not stop the others.

        A failed handover skips the Deployment apply it protects (without it the apply would
        drop the replicas to 1); every failure is kept with the API server's own message. Fields
        others added are removed after the applies, from the objects the applies returned (an
        apply can make some of them go, like a Service's nodePort when its type is restored).
        """
        done = Outcome()
        handover_failed = False
        for manifest in plan.handovers:
            try:
                await self.client.apply(manifest, manager=HANDOVER_FIELD_MANAGER)
                done.handovers += 1
                done.written += 1
            except KubeError as exc:
                handover_failed = True
                done.fail(_name(manifest), exc, "replica handover: ")
        for manifest in plan.applies:
            if handover_failed and manifest["kind"] == DEPLOYMENT.kind:
                continue
            try:
                applied = await self.client.apply(manifest)
            except KubeError as exc:
                done.fail(_name(manifest), exc)
                continue
            self.cache.put(applied)
            live[(applied["kind"], applied["metadata"]["name"])] = applied
            done.applied.append(_name(manifest))
            done.written += 1
        for correction in plan.corrections:
            key = (correction.kind.kind, correction.name)
            # After the apply: what is still added by others, as the API server now has it.
            current = live.get(key) or {}
            removal = removal_patch(find_drift(correction.desired, current, OURS), current)
            if not removal or f"{key[0]}/{key[1]}" in done.failed:
                continue
            try:
                patched = await self.client.json_patch(
                    correction.kind, tvtt.namespace, correction.name, removal
                )
            except KubeError as exc:
                done.fail(f"{key[0]}/{key[1]}", exc)
                continue
            self.cache.put(patched)
            done.written += 1
            live[key] = patched
        for kind, name in plan.deletes:
            try:
                await self.client.delete(kind, tvtt.namespace, name)
            except KubeError as exc:
                done.fail(f"{kind.kind}/{name}", exc, "delete: ")
                continue
            live.pop((kind.kind, name), None)
            done.deleted.append(f"{kind.kind}/{name}")
            done.written += 1
        done.corrected = [
            c for c in plan.corrections if f"{c.kind.kind}/{c.name}" not in done.failed
        ]
        return done

    async def _expand_claim(
        self, tvtt: TravellerVTT, plan: Plan, claim: dict[str, Any] | None, done: Outcome
    ) -> tuple[dict[str, Any] | None, str | None]:
        """Patch the Redis claim to the spec's size when the plan says so.

        A refusal (StorageClass without allowVolumeExpansion, a claim not bound yet) is reported
        in RedisStorageReady with the API server's words and not retried until the spec changes:
        it is not a failed reconcile. Returns the claim as it now is and the refusal, if any.
        """
        name = redis_claim_name(tvtt)
        if plan.expand_claim_to is None:
            if expansion_refused(tvtt):
                for c in tvtt.status.conditions:
                    if c.type == ConditionType.REDIS_STORAGE_READY:
                        return claim, c.message
            return claim, None
        size = plan.expand_claim_to
        try:
            patched = await self.client.merge_patch(
                PVC,
                tvtt.namespace,
                name,
                {"spec": {"resources": {"requests": {"storage": size}}}},
            )
        except KubeError as exc:
            log.warning("claim expansion refused", claim=name, size=size, error=exc.message)
            return claim, f"expanding {name} to {size} was refused: {exc.message}"
        done.written += 1
        log.info("claim expansion requested", claim=name, size=size)
        self.cache.put(patched)
        return patched, None

    async def _tls_secret_missing(self, tvtt: TravellerVTT) -> str | None:
        """The name of the Ingress's TLS Secret when it does not exist (a metadata-only GET;
        the one read a reconcile makes, and only when a TLS Secret is named)."""
        ingress = tvtt.spec.ingress
        if ingress is None or ingress.tls_secret_name is None:
            return None
        try:
            found = await self.client.exists(SECRET, tvtt.namespace, ingress.tls_secret_name)
        except KubeError as exc:
            log.warning("cannot check the TLS Secret", error=exc.message, status=exc.status)
            return None
        return None if found else ingress.tls_secret_name

    async def _report_paused(
        self, tvtt: TravellerVTT, body: dict[str, Any], live: dict[tuple[str, str], Any]
    ) -> bool:
        """spec.paused: report what runs (Paused=True), write nothing to the children."""
        now = self.clock()
        status = build_status(
            tvtt,
            live,
            template_overridden=_overridden_before(tvtt),
            error=None,
            now=now,
            applied_generation=tvtt.status.applied_generation,
            applied_template_hash=tvtt.status.applied_template_hash,
        )
        try:
            if not _condition_true(tvtt, ConditionType.PAUSED):
                log.info("paused", namespace=tvtt.namespace, name=tvtt.name)
                await self.client.post_event(
                    build_event(
                        body,
                        reason="Paused",
                        message="spec.paused is true: the children are left as they are",
                        now=now,
                        type_="Normal",
                    )
                )
            await self._write_status(
                tvtt, body, status.model_dump(by_alias=True, exclude_none=True, mode="json")
            )
        except KubeError as exc:
            RECONCILE_ERRORS.labels(cause="api").inc()
            log.warning("status update failed", error=exc.message, status=exc.status)
            return False
        RECONCILES.labels(result="paused").inc()
        return True

    async def _write_status(
        self, tvtt: TravellerVTT, body: dict[str, Any], status: dict[str, Any]
    ) -> None:
        current = body.get("status") or {}
        if _status_equal(current, status):
            return
        try:
            updated = await self.client.patch_status(tvtt.namespace, tvtt.name, status)
        except KubeError as exc:
            if exc.status == 404:
                return
            raise
        self._note_writes(ok=True, forbidden=False)
        self.cache.put(updated)

    async def _report_invalid(self, body: dict[str, Any], message: str) -> None:
        meta = body["metadata"]
        now = self.clock()
        previous = {c.get("type"): c for c in (body.get("status") or {}).get("conditions") or []}
        old = previous.get(ConditionType.DEGRADED.value) or {}
        since = old.get("lastTransitionTime") if old.get("status") == "True" else now
        degraded = {
            "type": ConditionType.DEGRADED.value,
            "status": ConditionStatus.TRUE.value,
            "reason": "InvalidSpec",
            "message": message[:32768],
            "lastTransitionTime": since,
            "observedGeneration": meta.get("generation", 1),
        }
        others = [c for t, c in previous.items() if t != ConditionType.DEGRADED.value]
        status = {
            "observedGeneration": meta.get("generation", 1),
            "conditions": [*others, degraded],
        }
        current = body.get("status") or {}
        if current.get("observedGeneration") == status["observedGeneration"] and degraded in (
            current.get("conditions") or []
        ):
            return
        updated = await self.client.patch_status(meta["namespace"], meta["name"], status)
        self.cache.put(updated)


@dataclass
class Outcome:
    """What one reconcile actually wrote, and what the API server refused (with its message)."""

    applied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    handovers: int = 0
    corrected: list[Correction] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    written: int = 0
    forbidden: int = 0

    def fail(self, child: str, exc: KubeError, what: str = "") -> None:
        """Record a refused write of `child` (`Kind/name`) with the API server's message."""
        self.failed.add(child)
        self.failures.append(f"{child}: {what}{exc.message}")
        self.forbidden += exc.status == 403


def _name(manifest: dict[str, Any]) -> str:
    return f"{manifest['kind']}/{manifest['metadata']['name']}"


def _degraded_message(tvtt: TravellerVTT) -> str | None:
    """The message of a Degraded=True already reported (its Event went out then)."""
    for c in tvtt.status.conditions:
        if c.type == ConditionType.DEGRADED and c.status == ConditionStatus.TRUE:
            return c.message
    return None


def _condition_true(tvtt: TravellerVTT, kind: ConditionType) -> bool:
    return any(c.type == kind and c.status == ConditionStatus.TRUE for c in tvtt.status.conditions)


def _overridden_before(tvtt: TravellerVTT) -> bool:
    return _condition_true(tvtt, ConditionType.TEMPLATE_OVERRIDDEN)


def _status_equal(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Compare only the fields we write (the server may add none, but stay tolerant)."""
    return all(current.get(k) == v for k, v in desired.items())
