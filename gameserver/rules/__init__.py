"""Pure Traveller starship-combat rules engine (MgT2e): commands in, events out, state is a fold.

No I/O (an import-linter contract enforces it). See docs/rules.md for the API and house rules.
"""

from gameserver.rules.bot import bot_command, bot_commands
from gameserver.rules.commands import (
    BOT,
    GM,
    Actor,
    Command,
    command_json_schema,
    command_to_dict,
    parse_command,
)
from gameserver.rules.dice import Dice, ScriptedDice, SeededDice, die_at
from gameserver.rules.engine import (
    awaiting,
    decide,
    evolve,
    initiative_order,
    is_legal,
    legal_commands,
    replay,
    start_battle,
)
from gameserver.rules.errors import DiceExhausted, RuleViolation, UnsupportedSchemaVersion
from gameserver.rules.events import EVENT_SCHEMA_VERSION, Event, upgrade_event_dict
from gameserver.rules.profiles import RulesConfig, Ruleset
from gameserver.rules.scenario import CrewMemberSpec, CrewQuality, Scenario, ShipEntry, SideSpec
from gameserver.rules.ships import PRESETS, ShipDesign, TurretSpec, preset_catalog
from gameserver.rules.state import (
    BattleState,
    CrewState,
    ShipState,
    Station,
    Step,
    public_view,
    state_from_dict,
    state_to_dict,
    station_id,
)
from gameserver.rules.tables_mg import Location, Mount, RangeBand, SensorGrade, WeaponKind

__all__ = [
    "BOT",
    "EVENT_SCHEMA_VERSION",
    "GM",
    "PRESETS",
    "Actor",
    "BattleState",
    "Command",
    "CrewMemberSpec",
    "CrewQuality",
    "CrewState",
    "Dice",
    "DiceExhausted",
    "Event",
    "Location",
    "Mount",
    "RangeBand",
    "RuleViolation",
    "RulesConfig",
    "Ruleset",
    "Scenario",
    "ScriptedDice",
    "SeededDice",
    "SensorGrade",
    "ShipDesign",
    "ShipEntry",
    "ShipState",
    "SideSpec",
    "Station",
    "Step",
    "TurretSpec",
    "UnsupportedSchemaVersion",
    "WeaponKind",
    "awaiting",
    "bot_command",
    "bot_commands",
    "command_json_schema",
    "command_to_dict",
    "decide",
    "die_at",
    "evolve",
    "initiative_order",
    "is_legal",
    "legal_commands",
    "parse_command",
    "preset_catalog",
    "public_view",
    "replay",
    "start_battle",
    "state_from_dict",
    "state_to_dict",
    "station_id",
    "upgrade_event_dict",
]
