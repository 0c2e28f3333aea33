"""`python -m gameserver` (or `traveller-vtt-server`): serve until SIGTERM, then drain and exit.

On SIGTERM/SIGINT `/ready` turns 503 and joins are refused while the socket still listens (so a
load balancer sees the instance leave), clients get `server_shutdown` with a reconnect hint, and the
process waits up to `SHUTDOWN_GRACE_S` for them to go before closing the rest with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal

from aiohttp import web

from gameserver.app import HUB_KEY, METRICS_KEY, GuardedSite, create_app
from gameserver.logs import configure_logging, get_logger
from gameserver.settings import Settings

log = get_logger("main")


def raise_fd_limit() -> int:
    """Lift RLIMIT_NOFILE to the hard limit: every WebSocket is a file descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def serve(settings: Settings) -> None:
    """Run the app on an AppRunner with our own signal handling (see the module docstring)."""
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    refusals = app[METRICS_KEY].refusals.labels(limit="header_timeout")
    site = GuardedSite(
        runner,
        settings.host,
        settings.port,
        header_timeout_s=settings.header_timeout_s,
        on_timeout=refusals.inc,
        backlog=4096,
    )
    await site.start()
    addresses = [f"{a[0]}:{a[1]}" for a in runner.addresses if isinstance(a, tuple)]
    log.info("listening", addresses=addresses, store="redis" if settings.redis_url else "memory")
    if settings.test_fail_commands:
        log.warning("test_fail_commands", message="TEST ONLY: every command fails")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutdown_requested", grace_s=settings.shutdown_grace_s)
    await app[HUB_KEY].drain(settings.shutdown_grace_s)
    await runner.cleanup()
    log.info("stopped")


def main() -> None:
    """Entry point of the `traveller-vtt-server` script."""
    settings = Settings()
    configure_logging(settings.log_level)
    raise_fd_limit()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
