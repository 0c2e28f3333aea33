"""What the app's modules share: the typed `web.AppKey`s its state lives under, the
handler type of a middleware, the page's static folder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from gameserver.hub import Hub
from gameserver.metrics import Metrics
from gameserver.settings import Settings
from gameserver.store import BattleStore

STATIC_DIR = Path(__file__).parent.parent / "static"
"""`gameserver/static/`: the tabletop page and its modules."""

SETTINGS_KEY = web.AppKey("settings", Settings)
STORE_KEY = web.AppKey("store", BattleStore)
METRICS_KEY = web.AppKey("metrics", Metrics)
HUB_KEY = web.AppKey("hub", Hub)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
