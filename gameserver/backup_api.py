"""The backup API (`BACKUP_TOKEN` as a bearer token; off when unset), for `gameserver.backup`:

- ``GET /api/backup/battles``: every battle id in the store;
- ``GET /api/backup/battles/{id}``: the battle's backup file (the GM export plus its identity);
- ``POST /api/backup/battles``: restore one backup file under its identity (the restore
  headers of `gameserver.hub.backups`), after the import check.

Kept out of `gameserver.app` (which only registers these routes) so the app's module stays
about the players' API.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from gameserver import rules
from gameserver.hub import Hub
from gameserver.hub.backups import (
    RestoreIdentity,
    backup_export,
    check_backup_token,
    list_battles,
    restore_battle,
)
from gameserver.settings import Settings
from gameserver.store import EventDict


def encode_backup(header: dict[str, Any], stored: list[EventDict]) -> bytes:
    """The backup file's JSON: `header` and the events at the current schema version, written
    event by event (one `json.dumps` of a 4 MiB log would hold the GIL for tens of ms)."""
    _, events = rules.decode_events(stored)
    head = json.dumps({**header, "events": []})
    return (head[:-2] + ", ".join(map(json.dumps, events)) + "]}").encode()


def add_routes(
    app: web.Application,
    hub_key: web.AppKey[Hub],
    settings_key: web.AppKey[Settings],
    read_body: Any,
) -> None:
    """Register the three backup routes; `read_body(request, limit)` is the app's bounded body
    reader (413 past the limit, 408 when too slow)."""

    def authorised(request: web.Request) -> Hub:
        check_backup_token(
            request.app[settings_key].backup_token, request.headers.get("Authorization", "")
        )
        return request.app[hub_key]

    async def battles(request: web.Request) -> web.Response:
        hub = authorised(request)
        return web.json_response({"battles": await list_battles(hub)})

    async def export(request: web.Request) -> web.Response:
        hub = authorised(request)
        battle_id = request.match_info["battle_id"]
        header, stored = await backup_export(hub, battle_id)
        body = await asyncio.get_running_loop().run_in_executor(None, encode_backup, header, stored)
        return web.Response(body=body, content_type="application/json")

    async def restore(request: web.Request) -> web.Response:
        hub = authorised(request)
        identity = RestoreIdentity.from_headers(request.headers)
        raw = await read_body(request, request.app[settings_key].max_import_bytes)
        created = await restore_battle(hub, raw, identity)
        return web.json_response(
            {
                "battle_id": created.meta.battle_id,
                "join_code": created.meta.join_code,
                "seq": created.seq,
            },
            status=201,
        )

    app.router.add_get("/api/backup/battles", battles)
    app.router.add_get("/api/backup/battles/{battle_id}", export)
    app.router.add_post("/api/backup/battles", restore)
