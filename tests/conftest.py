"""Fixtures shared by the tiers: a real redis-server per test (Redis tier, store contract suite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.redis_server import RedisProcess


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A fresh redis-server on a free port with `appendonly yes` + `appendfsync always`.

    Fails (RedisServerMissing) when the binary is absent: a skipped durability test would hide
    exactly the regressions this tier exists for.
    """
    server = RedisProcess(tmp_path / "redis", appendfsync="always")
    try:
        server.start()
        yield server
    finally:
        server.stop()
