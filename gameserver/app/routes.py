"""The HTTP handlers: the battle API, exports and verification, the reference data the page
reads, health, readiness, the summary and metrics, the page itself.

Handlers stay thin: they parse, call the hub (which calls the engine and the store) and serialise.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from gameserver import rules
from gameserver.app.keys import HUB_KEY, METRICS_KEY, SETTINGS_KEY, STATIC_DIR
from gameserver.app.middleware import error_response, json_body, raw_body, request_address, too_many
from gameserver.hub import CreatedBattle, export_header, now_iso
from gameserver.importcheck import refusal_status
from gameserver.protocol import CreateBattleRequest, Role, protocol_json_schema
from gameserver.rules.designer import design_figures
from gameserver.rules.errors import readable_errors
from gameserver.rules.ships import ShipDesign
from gameserver.rules.tables_mgt2e import WEAPONS
from gameserver.rules.verification import verify_log
from gameserver.store import EventDict, StoreUnavailable

# The scrape waits at most this long for the store (well below Prometheus' 10 s scrape timeout).
STORE_PING_TIMEOUT_S = 2.0


def _created(created: CreatedBattle) -> web.Response:
    """201 with what the creator needs: ids to share and, only this once, the GM token."""
    return web.json_response(
        {
            "battle_id": created.meta.battle_id,
            "join_code": created.meta.join_code,
            "gm_token": created.gm_token,
            "seq": created.seq,
            "bot_sides": list(created.meta.bot_sides),
        },
        status=201,
    )


async def create_battle(request: web.Request) -> web.Response:
    """`POST /api/battles`: a scenario in, the battle id, join code and (once) the GM token out."""
    if not request.app[HUB_KEY].address_allows(request_address(request), "create"):
        return too_many()
    body = await json_body(request, request.app[SETTINGS_KEY].max_body_bytes)
    if isinstance(body, dict) and "seed" in body:
        # Fair dice: the server draws every seed and commits to it; a creator who chose it
        # could predict every roll.
        return error_response(
            422,
            "seed_not_accepted",
            "seed: the server draws every battle's seed itself (fair dice); leave it out",
            {"field": "seed"},
        )
    try:
        payload = CreateBattleRequest.model_validate(body)
    except ValidationError as exc:
        return error_response(refusal_status(exc), "bad_request", readable_errors(exc))
    created = await request.app[HUB_KEY].create_battle(payload)
    return _created(created)


async def import_battle(request: web.Request) -> web.Response:
    """`POST /api/battles/import`: an exported log in, a new battle resumed where it stopped out."""
    if not request.app[HUB_KEY].address_allows(request_address(request), "import"):
        return too_many()
    raw = await raw_body(request, request.app[SETTINGS_KEY].max_import_bytes)
    created = await request.app[HUB_KEY].import_battle(raw)
    return _created(created)


async def get_battle(request: web.Request) -> web.Response:
    """`GET /api/battles/{id}`: public state, who may act, held stations (never tokens)."""
    hub = request.app[HUB_KEY]
    room = await hub.room(request.match_info["battle_id"])
    claims = await hub.store.claims(room.battle_id)
    return web.json_response(
        {
            "battle_id": room.battle_id,
            "join_code": room.meta.join_code,
            "name": room.meta.name,
            "created_at": room.meta.created_at,
            "bot_sides": list(room.meta.bot_sides),
            "seq": room.seq,
            "is_over": bool(room.state.is_over),
            "awaiting": [list(a) for a in rules.awaiting(room.state)],
            "claims": [
                {"ship_id": c.ship_id, "station": c.station, "name": c.name} for c in claims
            ],
            "state": room.view()[0],
        }
    )


async def find_battle(request: web.Request) -> web.Response:
    """`GET /api/join/{code}`: the battle id a join code stands for (join links use the id)."""
    hub = request.app[HUB_KEY]
    if not hub.address_allows(request_address(request), "join_code"):
        return too_many()
    battle_id = await hub.store.find_by_join_code(request.match_info["code"])
    if battle_id is None:
        return error_response(404, "battle_not_found", "no battle with that join code")
    return web.json_response({"battle_id": battle_id})


async def battle_log(request: web.Request) -> web.Response:
    """`GET /api/battles/{id}/log`: the events as JSON (import them elsewhere) or `?format=md`."""
    hub = request.app[HUB_KEY]
    battle_id = request.match_info["battle_id"]
    meta = await hub.store.get_meta(battle_id)
    stored = await hub.store.read(battle_id, 0)
    loop = asyncio.get_running_loop()
    # Decoded and written off the loop: the longest legal log is 4 MiB of JSON.
    if request.query.get("format") == "md":
        text = await loop.run_in_executor(
            None, _markdown_export, meta.name or battle_id, battle_id, stored
        )
        return web.Response(
            text=text,
            content_type="text/markdown",
            headers={"Content-Disposition": f'attachment; filename="battle-{battle_id}.md"'},
        )
    header = export_header(battle_id, meta)
    body = await loop.run_in_executor(None, _json_export, header, stored)
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="battle-{battle_id}.json"'},
    )


def _json_export(header: dict[str, Any], stored: list[EventDict]) -> bytes:
    """The export's JSON: `header` and the events at the current schema version.

    Written event by event: one `json.dumps` of the longest log (4 MiB) would hold the GIL,
    and so stop the event loop, for tens of milliseconds even in an executor thread.
    """
    _, events = rules.decode_events(stored)
    head = json.dumps({**header, "events": []})
    assert head.endswith("[]}")
    return (head[:-2] + ", ".join(map(json.dumps, events)) + "]}").encode()


def _markdown_export(title: str, battle_id: str, stored: list[EventDict]) -> str:
    _, events = rules.decode_events(stored)
    return render_markdown_log(title, battle_id, events)


async def gm_export(request: web.Request) -> web.Response:
    """`GET /api/battles/{id}/export` with ``Authorization: Bearer <gm token>``: the log and the
    running battle's sealed seed, to resume it on a server with the same ``EXPORT_KEY``."""
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    battle_id = request.match_info["battle_id"]
    header, stored = await request.app[HUB_KEY].battles.sealed_export(battle_id, token)
    body = await asyncio.get_running_loop().run_in_executor(None, _json_export, header, stored)
    return web.Response(
        body=body,
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="battle-{battle_id}.json"'},
    )


async def verify_battle(request: web.Request) -> web.Response:
    """`GET /api/battles/{id}/verify`: after the end, the revealed seed opens the commitment and
    every recorded die is the stream's (`rules.verification`); before it, not yet verifiable."""
    hub = request.app[HUB_KEY]
    battle_id = request.match_info["battle_id"]
    dicts = await hub.store.read(battle_id, 0)
    verdict = await asyncio.get_running_loop().run_in_executor(None, verify_log, dicts)
    return web.json_response(verdict.to_dict())


def render_markdown_log(title: str, battle_id: str, events: list[EventDict]) -> str:
    """A readable battle log (one table row per event, dice shown); purely computational."""

    def cell(value: object) -> str:
        # Names come from players: markup in them must stay text in any Markdown viewer.
        text = html.escape(str(value), quote=False)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"# Battle log: {cell(title)}",
        "",
        f"Battle `{battle_id}`, {len(events)} events, exported {now_iso()}.",
        "",
        "| Seq | Time | Event | Dice | Summary |",
        "|---:|---|---|---|---|",
    ]
    for event in events:
        dice = ", ".join(str(d) for d in event.get("dice") or ()) or "-"
        lines.append(
            f"| {event.get('seq')} | {cell(event.get('at') or '')} | {cell(event.get('type'))}"
            f" | {dice} | {cell(event.get('summary') or '')} |"
        )
    return "\n".join(lines) + "\n"


async def presets(request: web.Request) -> web.Response:
    """`GET /api/presets`: the engine's preset ships for the create-battle form."""
    return web.json_response(rules.preset_catalog())


async def check_design(request: web.Request) -> web.Response:
    """`POST /api/designs/check` (``{"ruleset": ..., "design": {...}}``): the lobby's ship
    designer asks the engine whether a custom design is legal and what figures a battle will
    give it (`rules.designer`). A refusal names each field (`fields`: path -> message)."""
    if not request.app[HUB_KEY].address_allows(request_address(request), "design"):
        return too_many()  # each check opens a small battle: ~10 ms of CPU
    body = await json_body(request, request.app[SETTINGS_KEY].max_body_bytes)
    if not isinstance(body, dict) or not isinstance(body.get("design"), dict):
        return error_response(400, "bad_request", 'send {"ruleset": ..., "design": {...}}')
    try:
        ruleset = rules.Ruleset(body.get("ruleset", rules.Ruleset.MGT2E_2016.value))
    except ValueError:
        known = ", ".join(r.value for r in rules.Ruleset)
        return error_response(
            422, "bad_design", f"ruleset: one of {known}", {"fields": {"ruleset": known}}
        )
    try:
        design = ShipDesign.model_validate(body["design"])
        figures = await asyncio.get_running_loop().run_in_executor(
            None, design_figures, design, ruleset
        )
    except ValidationError as exc:
        fields = {
            _design_path(err["loc"]): str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        }
        return error_response(422, "bad_design", readable_errors(exc), {"fields": fields})
    except rules.RuleViolation as exc:
        return error_response(422, "bad_design", exc.message, {"fields": {"design": exc.message}})
    return web.json_response(figures)


def _design_path(loc: tuple[int | str, ...]) -> str:
    """A design error's field path (``turrets.0.weapons``); errors the designer's two-ship
    check raises carry ``ships.<i>.design.`` first, which the form knows nothing of."""
    if loc[:1] == ("ships",):
        loc = loc[3:] if loc[2:3] == ("design",) else loc[2:]
    return ".".join(str(p) for p in loc) or "design"


async def weapons(request: web.Request) -> web.Response:
    """`GET /api/weapons`: the weapon table (§8.B) the page names when it explains a station
    with nothing to do (e.g. every target beyond the weapons' maximum band)."""
    return web.json_response(
        {
            kind: {
                "max_band": w.max_range.value if w.max_range is not None else None,
                "damage_dice": w.damage_dice,
                "attack_dm": w.attack_dm,
                "direct_fire": w.direct_fire,
            }
            for kind, w in WEAPONS.items()
        }
    )


async def protocol_schema(request: web.Request) -> web.Response:
    """`GET /api/protocol.json`: JSON Schema of every WebSocket message (and of commands)."""
    return web.json_response(protocol_json_schema(rules.command_json_schema()))


async def health(request: web.Request) -> web.Response:
    """`/health`: the process is alive."""
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """`/ready`: 503 while draining or when the store does not answer its ping."""
    hub = request.app[HUB_KEY]
    if hub.draining:
        return web.json_response({"status": "draining"}, status=503)
    try:
        await asyncio.wait_for(
            hub.store.ping(), timeout=request.app[SETTINGS_KEY].ready_store_timeout_s
        )
    except (StoreUnavailable, TimeoutError):
        return web.json_response({"status": "store_unavailable"}, status=503)
    return web.json_response({"status": "ready"})


async def summary(request: web.Request) -> web.Response:
    """`/api/summary`: battles open here and the people at their tables, GMs included and
    spectators not (the operator's BATTLES and PLAYERS columns). Battles are listed as short
    digests of their ids, so the operator can count a battle followed on two pods once without
    learning the ids (an id is a join link). `connections` counts every open WebSocket,
    spectators and not-yet-joined ones included: what the operator's autoscaling floor scales on
    (each one costs the pod the same socket and fan-out)."""
    hub = request.app[HUB_KEY]
    digests = sorted(hashlib.sha256(b.encode()).hexdigest()[:16] for b in hub.rooms)
    players = sum(
        1
        for conn in hub.connections
        if conn.room is not None and conn.role is not None and conn.role is not Role.SPECTATOR
    )
    return web.json_response(
        {
            "battles": len(digests),
            "players": players,
            "connections": len(hub.connections),
            "battleDigests": digests,
        }
    )


async def metrics(request: web.Request) -> web.Response:
    """`/metrics`: Prometheus text format; each scrape first pings the store (up + latency)."""
    metrics = request.app[METRICS_KEY]
    store = request.app[HUB_KEY].store
    started = time.perf_counter()
    try:
        await asyncio.wait_for(store.ping(), timeout=STORE_PING_TIMEOUT_S)
    except (StoreUnavailable, TimeoutError):
        metrics.store_up.set(0)
    else:
        metrics.store_up.set(1)
    metrics.store_ping.observe(time.perf_counter() - started)
    registry = metrics.registry
    return web.Response(
        body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def index(request: web.Request) -> web.StreamResponse:
    """`/`: the tabletop page (the join link `/?battle=<id>` is read by the page)."""
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        return web.Response(text="Traveller VTT server: the tabletop page is not installed.\n")
    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})
