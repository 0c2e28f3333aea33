"""Pure Traveller starship-combat rules engine (MgT2e): commands in, events out, state is a fold.

No I/O (an import-linter contract enforces it). The rules are RULES.md's (the project's rules
authority); its house decisions live in `RulesConfig` (`config.py`). Layout: `engine.py`
(`decide`, `is_legal`), `authorise.py` (who may act), `actions/` (one handler per command,
registered with `@handles`), `battle.py` (start, rounds, steps, end), `turns.py` (who acts now),
`legal.py` (legal lists and previews), `evolve.py` (the fold), `events.py` (the event codec),
`state.py` and `pending.py` (the state), `resolution.py` and `effects.py` (the dice maths),
`tables_mgt2e.py` (the MgT2e tables), `bot.py`.
"""

from gameserver.rules.battle import initiative_order, open_battle, start_battle
from gameserver.rules.bot import bot_command, bot_commands, next_bot_command, tactic_of
from gameserver.rules.commands import (
    BOT,
    GM,
    Actor,
    Command,
    command_json_schema,
    command_to_dict,
    parse_command,
)
from gameserver.rules.commitment import SALT_BYTES, commit, matches
from gameserver.rules.config import RulesConfig, Ruleset
from gameserver.rules.decision import Decision
from gameserver.rules.dice import Dice, ScriptedDice, SeededDice, die_at
from gameserver.rules.engine import decide, is_legal
from gameserver.rules.errors import (
    DiceExhausted,
    RuleViolation,
    UnknownPatchField,
    UnsupportedSchemaVersion,
)
from gameserver.rules.events import EVENT_SCHEMA_VERSION, Event, decode_events
from gameserver.rules.evolve import evolve, replay
from gameserver.rules.legal import legal_commands
from gameserver.rules.scenario import CrewMemberSpec, CrewQuality, Scenario, ShipEntry, SideSpec
from gameserver.rules.secret import DiceSecret, SecretMismatch, with_secret
from gameserver.rules.ships import (
    PRESET_RULESET,
    PRESETS,
    ShipDesign,
    TurretSpec,
    preset_catalog,
)
from gameserver.rules.state import (
    BattleState,
    CrewState,
    ShipState,
    Station,
    Step,
    ce_ship_view,
    public_view,
    state_from_dict,
    state_to_dict,
    station_id,
)
from gameserver.rules.tables_mgt2e import Location, Mount, RangeBand, SensorGrade, WeaponKind
from gameserver.rules.turns import awaiting

__all__ = [
    "BOT",
    "EVENT_SCHEMA_VERSION",
    "GM",
    "PRESETS",
    "PRESET_RULESET",
    "SALT_BYTES",
    "Actor",
    "BattleState",
    "Command",
    "CrewMemberSpec",
    "CrewQuality",
    "CrewState",
    "Decision",
    "Dice",
    "DiceExhausted",
    "DiceSecret",
    "Event",
    "Location",
    "Mount",
    "RangeBand",
    "RuleViolation",
    "RulesConfig",
    "Ruleset",
    "Scenario",
    "ScriptedDice",
    "SecretMismatch",
    "SeededDice",
    "SensorGrade",
    "ShipDesign",
    "ShipEntry",
    "ShipState",
    "SideSpec",
    "Station",
    "Step",
    "TurretSpec",
    "UnknownPatchField",
    "UnsupportedSchemaVersion",
    "WeaponKind",
    "awaiting",
    "bot_command",
    "bot_commands",
    "ce_ship_view",
    "command_json_schema",
    "command_to_dict",
    "commit",
    "decide",
    "decode_events",
    "die_at",
    "evolve",
    "initiative_order",
    "is_legal",
    "legal_commands",
    "matches",
    "next_bot_command",
    "open_battle",
    "parse_command",
    "preset_catalog",
    "public_view",
    "replay",
    "start_battle",
    "state_from_dict",
    "state_to_dict",
    "station_id",
    "tactic_of",
    "with_secret",
]
