"""The page and the server agree on the bot's names: the tactic levels (static/js/bots.js vs
`protocol.BOT_TACTICS` vs the engine's `Tactic`), the `gm_bot` command's fields the GM panel
sends, and the `bot_ships` field the lobby's solo mode posts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gameserver import rules
from gameserver.protocol import BOT_TACTICS, CreateBattleRequest, PublicShip
from gameserver.rules.tactics import BOT_OFF, TACTICS

JS = Path(__file__).resolve().parents[2] / "gameserver" / "static" / "js"


def _js_array(source: str, name: str) -> list[str]:
    match = re.search(rf"export const {name} = (\[[^\]]*\]);", source)
    assert match, f"{name} not found"
    values: list[str] = json.loads(match.group(1))
    return values


def test_the_page_offers_the_engines_tactic_levels_in_order() -> None:
    page = _js_array((JS / "bots.js").read_text(), "BOT_TACTICS")
    assert tuple(page) == BOT_TACTICS == TACTICS
    help_text = (JS / "bots.js").read_text()
    for tactic in TACTICS:
        assert re.search(rf"^\s+{tactic}: \"", help_text, re.M), f"no help for {tactic}"


def test_the_gm_panel_sends_the_gm_bot_command_the_engine_parses() -> None:
    source = (JS / "gm.js").read_text()
    sent = re.search(r'\{ type: "(gm_bot)", (\w+): ship\.id, (\w+) \}', source)
    assert sent, "the GM panel's gm_bot command"
    schema = rules.command_json_schema()["$defs"]["GmBot"]
    assert sent.group(1) == schema["properties"]["type"]["const"]
    assert {sent.group(2), sent.group(3)} <= set(schema["properties"])
    command = rules.parse_command(
        {"type": "gm_bot", "ship_id": "s2", "tactic": TACTICS[0]}, rules.GM
    )
    assert command.type == "gm_bot"


def test_the_lobby_posts_bot_ships_and_reads_the_views_bot() -> None:
    lobby = (JS / "lobby.js").read_text()
    assert re.search(r"\bbot_ships: Object\.fromEntries", lobby)
    assert "bot_ships" in CreateBattleRequest.model_fields
    bots = (JS / "bots.js").read_text()
    assert "ship?.bot" in bots
    assert "bot" in PublicShip.model_fields
    values = PublicShip.model_json_schema()["properties"]["bot"]["anyOf"][0]["enum"]
    assert values == [*TACTICS, BOT_OFF]
