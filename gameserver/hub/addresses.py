"""Rate limits per client address, for what costs the server most from anonymous clients:
WebSocket upgrades, joins, join-code lookups, battle creation, imports and design checks.

A connection's own token bucket cannot stop a client that opens a new socket for every try;
these buckets follow the address instead. Behind a reverse proxy the address is read from the
configured trusted header only (a client cannot choose its own by sending the header)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from gameserver.hub.connection import TokenBucket

ACTIONS = ("upgrade", "join", "join_code", "create", "import", "design")
"""What is limited, each with its own budget per address."""


def client_address(peer: str | None, headers: Mapping[str, str], trusted_header: str) -> str:
    """The client's address; purely computational.

    Without a trusted header the socket's peer. With one (set it only behind a proxy that
    overwrites or appends it), its last entry: the address the proxy itself saw.
    """
    if trusted_header:
        forwarded = headers.get(trusted_header, "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return peer or "unknown"


class AddressLimits:
    """One token bucket per (address, action); the least recently used are forgotten first."""

    def __init__(self, rate_per_s: float, burst: int, max_addresses: int = 10_000) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()

    def allow(self, address: str, action: str) -> bool:
        """Spend one of the address's tokens for `action`, if it has one."""
        key = (address, action)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate_per_s, self.burst)
            while len(self._buckets) > self.max_addresses * len(ACTIONS):
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take()
