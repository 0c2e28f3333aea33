"""Look at a new pod template's pods for the rollout analysis: `/health` and `/metrics`.

One small GET of each per new pod per round (`TVTT_OPERATOR_ANALYSIS_SECONDS`), with the poll's
short timeout; only while an analysis is under way, so an idle operator sends nothing. What the
answers mean is decided in `tvtt_operator.analysis`; the reconciler acts on its verdict.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog

from tvtt_operator.analysis import (
    HEALTH_PATH,
    METRICS_PATH,
    Figures,
    PodCheck,
    Reading,
    combine,
    consecutive_failures,
    is_new_pod,
    parse_figures,
    restarts,
    started,
)
from tvtt_operator.builders import SERVER_CONTAINER
from tvtt_operator.models import SERVER_PORT

log = structlog.get_logger("tvtt_operator.rollout")


def pod_url(address: str, path: str, port: int = SERVER_PORT) -> str:
    """`http://<pod IP>:3000<path>` (IPv6 in brackets, as for the summary poll)."""
    host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    return f"http://{host}:{port}{path}"


class RolloutWatcher:
    """Remembers, per analysed template, each pod's run of failed health checks and its last
    `/metrics` figures (a missed scrape keeps them: the counters only grow)."""

    def __init__(self, timeout_seconds: float, port: int = SERVER_PORT) -> None:
        self.port = port
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._failures: dict[str, dict[str, int]] = {}
        self._figures: dict[str, dict[str, Figures]] = {}

    async def look(self, template_hash: str, pods: Mapping[str, Mapping[str, Any]]) -> Reading:
        """One round over the pods of `template_hash` (all game server pods are passed; the new
        ones are picked here)."""
        new = {name: pod for name, pod in pods.items() if is_new_pod(pod, template_hash)}
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        session = self._session
        checks = await asyncio.gather(*(self._check(session, n, p) for n, p in new.items()))
        failures = consecutive_failures(self._failures.get(template_hash, {}), checks)
        self._failures[template_hash] = failures
        figures = self._figures.setdefault(template_hash, {})
        for check in checks:
            if check.figures is not None:
                figures[check.pod] = check.figures
        return Reading(
            figures=combine(figures.values()),
            failed_checks=max(failures.values(), default=0),
            restarts=sum(c.restarts for c in checks),
        )

    def forget(self, keep: set[str]) -> None:
        """Drop what is remembered of templates no longer analysed."""
        for store in (self._failures, self._figures):
            for template in set(store) - keep:
                del store[template]

    async def _check(
        self, session: aiohttp.ClientSession, name: str, pod: Mapping[str, Any]
    ) -> PodCheck:
        count = restarts(pod, SERVER_CONTAINER)
        address = (pod.get("status") or {}).get("podIP")
        if not address or not started(pod, SERVER_CONTAINER):
            # Not up yet: the startup probe has its own budget (a slow start is not a failure).
            return PodCheck(name, healthy=None, restarts=count)
        healthy = await self._get(session, pod_url(str(address), HEALTH_PATH, self.port))
        text = await self._get_text(session, pod_url(str(address), METRICS_PATH, self.port))
        figures = None
        if text is not None:
            try:
                figures = parse_figures(text)
            except ValueError:
                log.warning("unreadable /metrics", pod=name)
        return PodCheck(name, healthy=healthy, restarts=count, figures=figures)

    async def _get(self, session: aiohttp.ClientSession, url: str) -> bool:
        try:
            async with session.get(url) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _get_text(self, session: aiohttp.ClientSession, url: str) -> str | None:
        try:
            async with session.get(url) as response:
                if response.status != 200:
                    return None
                return await response.text()
        except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError):
            return None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
