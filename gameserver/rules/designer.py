"""The ship designer's check: a custom design validated by the engine's own models and opened
as the engine would open it, so the lobby shows the figures a battle will use (Hull, Structure,
Power) without a line of the engine's arithmetic in the page.

Pure: a design in, its figures or the engine's refusal out (`POST /api/designs/check`).
"""

from __future__ import annotations

from typing import Any

from gameserver.rules.battle import open_battle
from gameserver.rules.config import Ruleset
from gameserver.rules.scenario import Scenario
from gameserver.rules.ship_state import design_power_need
from gameserver.rules.ships import ShipDesign


def design_figures(design: ShipDesign, ruleset: Ruleset) -> dict[str, Any]:
    """The design's figures as a battle under `ruleset` starts it: a two-ship battle is opened
    with it (a fixed seed; no dice matter to these figures) and its ship read back.

    Raises `pydantic.ValidationError` / `RuleViolation` when the engine refuses the design.
    """
    scenario = Scenario.model_validate(
        {
            "name": "Design check",
            "ruleset": ruleset,
            "sides": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
            "ships": [
                {"id": "d", "name": design.name[:60], "side": "a", "design": design},
                {"id": "o", "name": "Other", "side": "b", "design": design},
            ],
        }
    )
    ship = open_battle(scenario, 1, "design-check", None).state.ships["d"]
    return {
        "ruleset": ruleset.value,
        "hull": ship.hull,
        "structure": ship.structure if ruleset is Ruleset.CE else None,
        "armour": ship.armour,
        "thrust": design.thrust,
        # CE has no power budget (the plant only fails as a location).
        "power": None if ruleset is Ruleset.CE else ship.plant,
        "power_need": None if ruleset is Ruleset.CE else design_power_need(design),
        "stations": list(design.station_ids()),
        "crew": len(design.crewed_stations()),
    }
