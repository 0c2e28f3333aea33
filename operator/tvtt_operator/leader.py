"""Leader election on a coordination.k8s.io Lease, the way kube-controller-manager does it.

Only the Lease holder reconciles; the other replicas keep watching (a warm cache) and take over
once the holder has not renewed for `lease_duration_seconds`. Expiry is judged on this process's
own clock from when it last saw the Lease change (client-go's rule), never by comparing another
host's timestamps, so clock skew between nodes cannot make two leaders. A holder that cannot
renew within `renew_deadline_seconds` (shorter than the duration) stops: the process exits and is
restarted as a candidate, so it never writes after another may have taken over. Every write is
conditional on the Lease's resourceVersion (409 when another candidate wrote first).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from tvtt_operator.config import OperatorConfig
from tvtt_operator.kinds import LEASE
from tvtt_operator.kube import KubeClient, KubeError
from tvtt_operator.metrics import LEADER

log = structlog.get_logger("tvtt_operator.leader")


def micro_time(moment: datetime) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """Host (the pod name in a pod) and a random suffix: unique even for two local processes."""
    return f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def lease_body(
    name: str,
    namespace: str,
    holder: str,
    duration: float,
    now: datetime,
    *,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Lease as its holder writes it. Purely computational, no side effects.

    `acquireTime` and `leaseTransitions` change only when the holder does.
    """
    spec_before = (previous or {}).get("spec") or {}
    same_holder = spec_before.get("holderIdentity") == holder
    transitions = int(spec_before.get("leaseTransitions") or 0)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if previous is not None:
        metadata["resourceVersion"] = previous["metadata"]["resourceVersion"]
    return {
        "apiVersion": LEASE.api_version,
        "kind": LEASE.kind,
        "metadata": metadata,
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": max(1, round(duration)),
            "acquireTime": spec_before.get("acquireTime")
            if same_holder and spec_before.get("acquireTime")
            else micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions if same_holder or previous is None else transitions + 1,
        },
    }


class LeaderElector:
    """Campaign for the Lease, call `on_elected` once when won, `on_lost` if it is ever lost."""

    def __init__(
        self,
        client: KubeClient,
        config: OperatorConfig,
        *,
        on_elected: Callable[[], Awaitable[None]],
        on_lost: Callable[[], None],
    ) -> None:
        self.client = client
        self.config = config
        self.identity = config.identity or default_identity()
        self.on_elected = on_elected
        self.on_lost = on_lost
        self.leading = False
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0  # monotonic time it was seen to change
        self._task: asyncio.Task[None] | None = None
        LEADER.set(0)

    def start(self) -> None:
        """Start campaigning in the background."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop; a leader releases the Lease so a standby takes over at once, not on expiry."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.leading:
            try:
                await self._release()
            except KubeError as exc:
                log.warning("releasing the lease failed", error=exc.message)
        self.leading = False
        LEADER.set(0)

    async def _run(self) -> None:
        cfg = self.config
        while not self.leading:
            try:
                self.leading = await self._try_acquire_or_renew()
            except KubeError as exc:
                log.warning("leader election attempt failed", error=exc.message, status=exc.status)
            if not self.leading:
                await asyncio.sleep(cfg.retry_period_seconds)
        LEADER.set(1)
        log.info("became leader", identity=self.identity, lease=cfg.lease_name)
        await self.on_elected()
        last_renew = time.monotonic()
        while True:
            await asyncio.sleep(cfg.retry_period_seconds)
            try:
                if await self._try_acquire_or_renew():
                    last_renew = time.monotonic()
                    continue
            except KubeError as exc:
                log.warning("lease renewal failed", error=exc.message, status=exc.status)
            if time.monotonic() - last_renew >= cfg.renew_deadline_seconds:
                self.leading = False
                LEADER.set(0)
                log.error(
                    "lost the lease; stopping so another replica leads", identity=self.identity
                )
                self.on_lost()
                return

    async def _try_acquire_or_renew(self) -> bool:
        cfg = self.config
        now = datetime.now(UTC)
        current = await self.client.get(LEASE, cfg.lease_namespace, cfg.lease_name)
        if current is None:
            body = lease_body(
                cfg.lease_name, cfg.lease_namespace, self.identity, cfg.lease_duration_seconds, now
            )
            try:
                await self.client.create(LEASE, cfg.lease_namespace, body)
            except KubeError as exc:
                if exc.status == 409:  # another candidate created it first
                    return False
                raise
            return True
        spec = current.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        seen = (holder, str(spec.get("renewTime") or ""))
        if seen != self._observed:
            self._observed, self._observed_at = seen, time.monotonic()
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration_seconds)
        expired = time.monotonic() - self._observed_at >= duration
        if holder and holder != self.identity and not expired:
            return False
        body = lease_body(
            cfg.lease_name,
            cfg.lease_namespace,
            self.identity,
            cfg.lease_duration_seconds,
            now,
            previous=current,
        )
        try:
            await self.client.replace(LEASE, cfg.lease_namespace, cfg.lease_name, body)
        except KubeError as exc:
            if exc.status == 409:  # someone else renewed or took it in between
                return False
            raise
        return True

    async def _release(self) -> None:
        cfg = self.config
        current = await self.client.get(LEASE, cfg.lease_namespace, cfg.lease_name)
        if current is None or (current.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        body = lease_body(
            cfg.lease_name, cfg.lease_namespace, "", 1, datetime.now(UTC), previous=current
        )
        body["spec"]["holderIdentity"] = None
        body["spec"]["leaseDurationSeconds"] = 1
        await self.client.replace(LEASE, cfg.lease_namespace, cfg.lease_name, body)
        log.info("released the lease", identity=self.identity)
