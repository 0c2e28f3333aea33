"""Battle state: frozen slotted dataclasses, cheap to fold (replay), with an exact dict round trip.

Purely computational. The code lives by concern in `rules.ship_state` (steps, stations, the
power budget, crew, `ShipState`), `rules.battle_state` (`BattleState`, the per-field decoders
`evolve` applies, the exact JSON round trip) and `rules.views` (what every client may see);
this module re-exports their names, the path the rest of the server imports them by.
"""

from __future__ import annotations

from gameserver.rules.battle_state import (
    BATTLE_DECODERS,
    SECRET_FIELDS,
    SHIP_DECODERS,
    SHIP_PATCH_DECODERS,
    BattleState,
    encode_value,
    fast_replacer,
    pair_key,
    pinned_undo_chain,
    replace_battle,
    replace_ship,
    ship_from_dict,
    ship_to_dict,
    state_from_dict,
    state_to_dict,
)
from gameserver.rules.ship_state import (
    ACTIVE,
    CAPTURED,
    DESTROYED,
    DISABLED,
    ESCAPED,
    JUMPED,
    SURRENDERED,
    WRECKED,
    CrewState,
    PowerPlan,
    ShipState,
    Station,
    Step,
    basic_power,
    design_power_need,
    drive_power,
    station_id,
    turret_power,
)
from gameserver.rules.views import (
    ce_ship_view,
    fuel_view,
    power_view,
    public_view,
)

__all__ = [
    "ACTIVE",
    "BATTLE_DECODERS",
    "CAPTURED",
    "DESTROYED",
    "DISABLED",
    "ESCAPED",
    "JUMPED",
    "SECRET_FIELDS",
    "SHIP_DECODERS",
    "SHIP_PATCH_DECODERS",
    "SURRENDERED",
    "WRECKED",
    "BattleState",
    "CrewState",
    "PowerPlan",
    "ShipState",
    "Station",
    "Step",
    "basic_power",
    "ce_ship_view",
    "design_power_need",
    "drive_power",
    "encode_value",
    "fast_replacer",
    "fuel_view",
    "pair_key",
    "pinned_undo_chain",
    "power_view",
    "public_view",
    "replace_battle",
    "replace_ship",
    "ship_from_dict",
    "ship_to_dict",
    "state_from_dict",
    "state_to_dict",
    "station_id",
    "turret_power",
]
