"""The page names the flexible-crew command and the extra-task DM the engine offers (both
sides of one name: `actions.js` and the rules' command registry / attack preview)."""

from __future__ import annotations

import re
from pathlib import Path

from gameserver.rules.decision import COMMAND_RULES

ACTIONS_JS = Path(__file__).parents[2] / "gameserver" / "static" / "js" / "actions.js"


def _keys(source: str, section: str) -> set[str]:
    body = re.search(rf"const {section} = \{{(.*?)\n\}};", source, re.S)
    assert body is not None, section
    return set(re.findall(r"^\s*(\w+):", body.group(1), re.M))


def test_the_page_names_hold_station_and_the_extra_task_dm() -> None:
    source = ACTIONS_JS.read_text(encoding="utf-8")
    assert "hold_station" in COMMAND_RULES
    for section in ("VERB", "TITLE", "ALWAYS_PICK"):
        assert "hold_station" in _keys(source, section), section
    assert '"hold_station"' in source.split("const ORDER = [", 1)[1].split("];", 1)[0]
    # the attack preview's key for §1.5 (rules.legal.attack_preview)
    assert "extra_tasks" in _keys(source, "DM_NAMES")
