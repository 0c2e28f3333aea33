"""The aiohttp application: `create_app(settings)`, HTTP API, WebSocket, health and metrics.

This module assembles the app: its state under typed `web.AppKey`s (`keys`), the middlewares
(`guard`, `middleware`), the background loops in `cleanup_ctx` (`lifecycle`) and the routes
(`routes` for HTTP, `ws` for the WebSocket). Handlers stay thin: they parse, call the hub (which
calls the engine and the store) and serialise.
"""

from __future__ import annotations

from aiohttp import web

from gameserver import backup_api
from gameserver.app.guard import GuardedSite, HeaderDeadline, header_deadline_middleware
from gameserver.app.keys import HUB_KEY, METRICS_KEY, SETTINGS_KEY, STATIC_DIR, STORE_KEY
from gameserver.app.lifecycle import (
    GC_AFTER_CLOSED,
    close_websockets,
    gc_ctx,
    hub_ctx,
    probes_ctx,
)
from gameserver.app.middleware import (
    SECURITY_HEADERS,
    error_middleware,
    host_allowed,
    host_middleware,
    raw_body,
    security_headers,
)
from gameserver.app.routes import (
    battle_log,
    check_design,
    create_battle,
    find_battle,
    get_battle,
    gm_export,
    health,
    import_battle,
    index,
    metrics,
    presets,
    protocol_schema,
    ready,
    render_markdown_log,
    summary,
    verify_battle,
    weapons,
)
from gameserver.app.ws import origin_allowed, websocket
from gameserver.metrics import create_metrics
from gameserver.settings import Settings
from gameserver.store import BattleStore, create_store

__all__ = [
    "GC_AFTER_CLOSED",
    "HUB_KEY",
    "METRICS_KEY",
    "SECURITY_HEADERS",
    "SETTINGS_KEY",
    "STORE_KEY",
    "GuardedSite",
    "HeaderDeadline",
    "create_app",
    "host_allowed",
    "origin_allowed",
    "render_markdown_log",
]


def create_app(
    settings: Settings | None = None, store: BattleStore | None = None
) -> web.Application:
    """Build the game server application (store from `REDIS_URL` unless one is passed in)."""
    settings = settings or Settings()
    app = web.Application(
        middlewares=[header_deadline_middleware, host_middleware, error_middleware],
        client_max_size=max(settings.max_message_bytes, settings.max_import_bytes),
        handler_args={"keepalive_timeout": settings.keepalive_timeout_s},
    )
    app[SETTINGS_KEY] = settings
    app[STORE_KEY] = (
        store
        if store is not None
        else create_store(
            settings.redis_url,
            timeout_s=settings.store_timeout_s,
            dedupe_window=settings.dedupe_window,
            archive_after_s=settings.archive_after_s,
        )
    )
    app[METRICS_KEY] = create_metrics()
    app.cleanup_ctx.append(gc_ctx)
    app.cleanup_ctx.append(hub_ctx)
    app.cleanup_ctx.append(probes_ctx)
    app.on_shutdown.append(close_websockets)
    app.on_response_prepare.append(security_headers)
    app.router.add_get("/", index)
    if STATIC_DIR.is_dir():
        app.router.add_static("/static/", STATIC_DIR, append_version=False)
    app.router.add_get("/ws", websocket)
    app.router.add_post("/api/battles", create_battle)
    app.router.add_post("/api/battles/import", import_battle)
    app.router.add_get("/api/battles/{battle_id}", get_battle)
    app.router.add_get("/api/battles/{battle_id}/log", battle_log)
    app.router.add_get("/api/battles/{battle_id}/export", gm_export)
    app.router.add_get("/api/battles/{battle_id}/verify", verify_battle)
    app.router.add_get("/api/join/{code}", find_battle)
    app.router.add_get("/api/presets", presets)
    app.router.add_get("/api/weapons", weapons)
    app.router.add_post("/api/designs/check", check_design)
    app.router.add_get("/api/protocol.json", protocol_schema)
    app.router.add_get("/api/summary", summary)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    backup_api.add_routes(app, HUB_KEY, SETTINGS_KEY, raw_body)
    return app
