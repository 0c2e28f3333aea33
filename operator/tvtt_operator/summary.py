"""Poll the game server pods' `/api/summary` for the BATTLES and PLAYERS columns.

A small HTTP GET per ready pod at a modest interval (`TVTT_OPERATOR_POLL_SECONDS`), each with a
short timeout; the reconciler writes status only when the sum changed, so polling alone never
writes to the API server.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog

from tvtt_operator.models import SERVER_PORT

log = structlog.get_logger("tvtt_operator.summary")

SUMMARY_PATH = "/api/summary"


def summary_url(address: str, port: int = SERVER_PORT) -> str:
    """`http://<pod IP>:3000/api/summary` (IPv6 addresses in brackets)."""
    host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    return f"http://{host}:{port}{SUMMARY_PATH}"


class SummaryPoller:
    """One HTTP session for every poll; `poll(addresses)` returns the replies that came back."""

    def __init__(self, timeout_seconds: float, port: int = SERVER_PORT) -> None:
        self.port = port
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def poll(self, addresses: list[str]) -> list[Mapping[str, Any]] | None:
        """Ask every address at once; None when none answered (keep the last figures)."""
        if not addresses:
            return []
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        replies = await asyncio.gather(*(self._one(self._session, a) for a in addresses))
        answered = [r for r in replies if r is not None]
        return answered or None

    async def poll_pods(self, pods: Mapping[str, str]) -> dict[str, Mapping[str, Any]]:
        """Pod name → its reply, for every pod (name → IP) that answered; empty when none did.

        Keyed by pod so the caller can tell the pods apart: each pod's deletion cost is its own
        player count, and the autoscaling floor counts the pods that hold battles.
        """
        if not pods:
            return {}
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        names = sorted(pods)
        replies = await asyncio.gather(*(self._one(self._session, pods[n]) for n in names))
        return {n: r for n, r in zip(names, replies, strict=True) if r is not None}

    async def _one(self, session: aiohttp.ClientSession, address: str) -> Mapping[str, Any] | None:
        try:
            async with session.get(summary_url(address, self.port)) as response:
                if response.status != 200:
                    return None
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.debug("summary poll failed", address=address, error=type(exc).__name__)
            return None
        return body if isinstance(body, dict) else None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
