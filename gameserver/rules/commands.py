"""Commands: the intents clients send, as a pydantic union tagged by ``type``.

`actor` and `at` are never read from client JSON: the server fills them from the connection's
verified claim and its clock (`parse_command`). ``ship_id`` defaults to the actor's ship.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.json_schema import SkipJsonSchema

from gameserver.rules.errors import RuleViolation, readable_errors
from gameserver.rules.tables_mgt2e import Location
from gameserver.rules.tactics import Tactic


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sends a command: ``player`` (one ship, some stations), ``gm`` or ``bot``."""

    role: Literal["player", "gm", "bot"]
    ship_id: str | None = None
    stations: frozenset[str] = field(default_factory=frozenset)


NOBODY = Actor(role="player", ship_id=None, stations=frozenset())
BOT = Actor(role="bot")
GM = Actor(role="gm")


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ship_id: str | None = Field(default=None, description="acting ship; default: the actor's")
    actor: SkipJsonSchema[Actor] = Field(default=NOBODY, exclude=True)
    at: SkipJsonSchema[str | None] = Field(default=None, exclude=True)


class Move(_Command):
    """Pilot, Manoeuvre step: spend Thrust closing on or opening from a ship (§5.3)."""

    type: Literal["move"] = "move"
    target: str
    direction: Literal["toward", "away"]
    thrust: int = Field(ge=1, le=100)


class AidGunners(_Command):
    """Pilot, Manoeuvre step: 1 Thrust and a Pilot check; task-chain DM to gunners (§3.B)."""

    type: Literal["aid_gunners"] = "aid_gunners"


class BreakOff(_Command):
    """Pilot, Manoeuvre step: spend all Thrust opening at Distant from every enemy (§13.2)."""

    type: Literal["break_off"] = "break_off"


class Attack(_Command):
    """Gunner, Attack step: fire one or more identical weapons of a turret (linked) (§7.B)."""

    type: Literal["attack"] = "attack"
    turret: int = Field(ge=0)
    target: str
    weapons: tuple[int, ...] | None = Field(
        default=None, description="weapon indices in the turret; default: every ready one"
    )
    called_shot: Location | None = Field(default=None, description="MGT2E_2022 only")


class LaunchMissiles(_Command):
    """Gunner, Attack step: launch one missile per ready rack of the turret as a salvo (§9.B)."""

    type: Literal["launch_missiles"] = "launch_missiles"
    turret: int = Field(ge=0)
    target: str
    weapons: tuple[int, ...] | None = None


class EvasiveAction(_Command):
    """Pilot reaction: spend 1 unspent Thrust; the pending attack takes DM -Pilot (§11.B)."""

    type: Literal["evasive_action"] = "evasive_action"


class PointDefence(_Command):
    """Gunner reaction with a laser turret against the pending salvo (§11.B)."""

    type: Literal["point_defence"] = "point_defence"
    turret: int = Field(ge=0)


class Sand(_Command):
    """Gunner reaction with a sandcaster against the pending laser attack (§11.B)."""

    type: Literal["sand"] = "sand"
    turret: int = Field(ge=0)


class NoReaction(_Command):
    """A defending station declines to react to the pending attack or salvo."""

    type: Literal["no_reaction"] = "no_reaction"
    station: str | None = None


class SensorLock(_Command):
    """Sensor operator, Actions step: Electronics (sensors); a lock gives a Boon (§6.B)."""

    type: Literal["sensor_lock"] = "sensor_lock"
    target: str


class ElectronicWarfare(_Command):
    """Sensor operator, Actions step: thin a salvo or break an enemy lock (§6.B, §11.B)."""

    type: Literal["electronic_warfare"] = "electronic_warfare"
    mode: Literal["missiles", "break_lock"]
    salvo_id: int | None = None
    target: str | None = None


class ImproveInitiative(_Command):
    """Captain, Actions step: Leadership check; Effect added to Initiative next round (§4.B)."""

    type: Literal["improve_initiative"] = "improve_initiative"


class Repair(_Command):
    """Engineer, Actions step: Repair System on a critical location (§12.B)."""

    type: Literal["repair"] = "repair"
    location: Location


class Reload(_Command):
    """Gunner, Actions step: refill one missile rack or sandcaster from stores (§9.B.4)."""

    type: Literal["reload"] = "reload"
    turret: int = Field(ge=0)
    weapon: int | None = None


class PlotJump(_Command):
    """Sensor operator (the astrogator), Actions step: Calculate Jump Plot (§6, §13.1 (a))."""

    type: Literal["plot_jump"] = "plot_jump"


class Jump(_Command):
    """Engineer, Actions step of a later round: jump out on the plot (§6.B, §13.1 (a))."""

    type: Literal["jump"] = "jump"


class OverloadDrive(_Command):
    """Engineer, Actions step: Engineer (m-drive), Difficult (10+): +1 Thrust next round;
    Effect -6 or worse: a Severity-1 M-Drive critical (§6.B ⚠)."""

    type: Literal["overload_drive"] = "overload_drive"


class OverloadPlant(_Command):
    """Engineer, Actions step: Engineer (power), Difficult (10+): +10% Power next round;
    Effect -6 or worse: a Severity-1 Power Plant critical (§6.B ⚠)."""

    type: Literal["overload_plant"] = "overload_plant"


SYSTEM_PATTERN = r"^(m_drive|turret:[0-9])$"


class OfflineSystem(_Command):
    """Engineer, Actions step: take a system offline to shed its load (§6.B): the M-Drive
    (``m_drive``) or a turret (``turret:<index>``); its Power goes to the systems after it."""

    type: Literal["offline_system"] = "offline_system"
    system: str = Field(pattern=SYSTEM_PATTERN, max_length=12)


class RestoreSystem(_Command):
    """Engineer, Actions step: bring a system taken offline back online (§6.B)."""

    type: Literal["restore_system"] = "restore_system"
    system: str = Field(pattern=SYSTEM_PATTERN, max_length=12)


class ChangeStation(_Command):
    """Any crew member (MgT2e): move to a station nobody able holds (vacant, or its crew member
    incapacitated); it takes the round: they act there from the next round."""

    type: Literal["change_station"] = "change_station"
    station: str = Field(max_length=12, description="the station the crew member leaves")
    to: str = Field(max_length=12, description="the station they take over")


class HoldStation(_Command):
    """Any crew member (MgT2e): hold a station nobody able holds as well as their own; it takes
    the round (they act there from the next round), and a check at one of their stations after
    a task at another in the same step takes `RulesConfig.extra_task_dm` (§1.5)."""

    type: Literal["hold_station"] = "hold_station"
    station: str = Field(max_length=12, description="the station the crew member keeps")
    to: str = Field(max_length=12, description="the station they hold as well")


class Surrender(_Command):
    """Captain: strike colours (§13.2), at any time on the ship's own turn or step."""

    type: Literal["surrender"] = "surrender"


class EndStep(_Command):
    """This station is done for the current step."""

    type: Literal["end_step"] = "end_step"
    station: str | None = None


class CePilot(_Command):
    """CE pilot, on the ship's turn: Evasive Maneuvers or Line Up The Shot (§6.A)."""

    type: Literal["ce_pilot"] = "ce_pilot"
    action: Literal["evasive_maneuvers", "line_up_the_shot"]


class RangeCheck(_Command):
    """CE navigator: opposed Navigation against a ship; the winner's wish, one band (§5.2)."""

    type: Literal["range_check"] = "range_check"
    target: str
    wish: Literal["increase", "decrease", "keep"]


class SensorTargeting(_Command):
    """CE sensors: Comms (EDU) against a target; gunners +1/+2 at it this turn (§7.A.3)."""

    type: Literal["sensor_targeting"] = "sensor_targeting"
    target: str


class CeCaptain(_Command):
    """CE captain: Coordinate Crew (a pool of +1 DMs this turn) or Increase Initiative (§6.A)."""

    type: Literal["ce_captain"] = "ce_captain"
    action: Literal["coordinate_crew", "increase_initiative"]


class CeFire(_Command):
    """CE gunner: every ready beam weapon of a turret fires at one target, each its own roll
    (§7.A.1 DEFAULT)."""

    type: Literal["ce_fire"] = "ce_fire"
    turret: int = Field(ge=0, le=31)
    target: str


class CeRepair(_Command):
    """CE damage control: repair hits on one system, ``turret:<i>`` for a turret (§12.A)."""

    type: Literal["ce_repair"] = "ce_repair"
    system: str = Field(min_length=1, max_length=20)


class Hasty(_Command):
    """CE captain, at the start of the ship's turn: hasty action, initiative +2 this turn and
    every crew check -1 (§1.5, §3.A)."""

    type: Literal["hasty"] = "hasty"


class Delay(_Command):
    """CE captain or pilot, before any of the crew acts: hold the ship's action (§3.A Delay).
    With `before`, act just before that ship later this turn, at its initiative; without,
    hold the whole turn: the ship loses this turn's actions and acts first next turn."""

    type: Literal["delay"] = "delay"
    before: str | None = Field(default=None, min_length=1, max_length=64)


class CeReload(_Command):
    """CE gunner: Reload Weapons System, refilling a turret's racks or sandcasters from stores
    (§6.A, #16)."""

    type: Literal["ce_reload"] = "ce_reload"
    turret: int = Field(ge=0, le=31)


class JamMissiles(_Command):
    """CE sensors: Electronic Warfare against the smart missiles flying at this ship (§6.A)."""

    type: Literal["jam_missiles"] = "jam_missiles"


class Board(_Command):
    """CE captain (the chief security officer): a boarding action against an adjacent ship,
    opposed INT Tactics (§13.4)."""

    type: Literal["board"] = "board"
    target: str


class Dock(_Command):
    """MgT2e pilot, Manoeuvre step: dock with an adjacent ship (§3.B, §5.2 Dock): Average
    Piloting; an unwilling target opposes with its pilot, the docking ship at DM -2."""

    type: Literal["dock"] = "dock"
    target: str


class BoardingAction(_Command):
    """MgT2e captain (the pilot on a ship without one), Actions step: a boarding action
    against an adjacent or docked ship, opposed INT Tactics (§6.B Marines, §13.4)."""

    type: Literal["boarding_action"] = "boarding_action"
    target: str


class CeLaunch(_Command):
    """CE gunner: each loaded missile rack of a turret launches one smart missile (§9.A, #16)."""

    type: Literal["ce_launch"] = "ce_launch"
    turret: int = Field(ge=0, le=31)
    target: str


class CePointDefence(_Command):
    """CE reaction, a laser turret's gunner: shoot down arriving missiles, one per success,
    until a miss (§11.A)."""

    type: Literal["ce_point_defence"] = "ce_point_defence"
    turret: int = Field(ge=0, le=31)


class Dodge(_Command):
    """CE reaction, pilot: Dodge Incoming Fire, -2 to that attack on success (§11.A)."""

    type: Literal["dodge"] = "dodge"


class FireSand(_Command):
    """CE reaction, a sandcaster gunner: each beam's damage -1D on success (§11.A)."""

    type: Literal["fire_sand"] = "fire_sand"
    turret: int = Field(ge=0, le=31)


class TriggerScreens(_Command):
    """CE reaction, the commander: trigger one of the ship's screens against the attack or
    missiles it matches; damage -2D - Screens skill, a nuclear damper also stops the
    radiation hit (§11.A)."""

    type: Literal["trigger_screens"] = "trigger_screens"
    screen: int = Field(ge=0, le=7)
    station: str = Field(default="captain", pattern=r"^(captain|gunner:[0-9]{1,2})$")


class GmAdvance(_Command):
    """GM: resolve the pending reaction without further reactions, or end the current step."""

    type: Literal["gm_advance"] = "gm_advance"


class GmRuling(_Command):
    """GM house ruling: set one value (ship field or a pair's range band), with a reason."""

    type: Literal["gm_ruling"] = "gm_ruling"
    field: str = Field(min_length=1, max_length=40)
    value: Any
    pair: tuple[str, str] | None = None
    reason: str = Field(min_length=1, max_length=300)


class GmUndo(_Command):
    """GM: revert the effects of the last n events (the dice stream is not rewound)."""

    type: Literal["gm_undo"] = "gm_undo"
    n: int = Field(default=1, ge=1, le=100)


class GmBot(_Command):
    """GM: hand a ship to the server's bot with a tactic, or take it back (``tactic`` null).

    Why a command (an event in the log): who runs a ship changes what happens next, so undo
    and replay must see it like any other decision."""

    type: Literal["gm_bot"] = "gm_bot"
    tactic: Tactic | None = Field(
        description="cautious, standard or aggressive; null: the bot stops running the ship"
    )


class GmEnd(_Command):
    """GM: end the battle now (a draw) and reveal its dice."""

    type: Literal["gm_end"] = "gm_end"
    reason: str = Field(min_length=1, max_length=300)


Command = Annotated[
    Move
    | AidGunners
    | BreakOff
    | Attack
    | LaunchMissiles
    | EvasiveAction
    | PointDefence
    | Sand
    | NoReaction
    | SensorLock
    | ElectronicWarfare
    | ImproveInitiative
    | Repair
    | Reload
    | PlotJump
    | Jump
    | OverloadDrive
    | OverloadPlant
    | OfflineSystem
    | RestoreSystem
    | ChangeStation
    | HoldStation
    | Surrender
    | EndStep
    | CePilot
    | RangeCheck
    | SensorTargeting
    | CeCaptain
    | CeFire
    | CeRepair
    | CeLaunch
    | CePointDefence
    | Hasty
    | Board
    | Dock
    | BoardingAction
    | CeReload
    | JamMissiles
    | Dodge
    | FireSand
    | TriggerScreens
    | Delay
    | GmAdvance
    | GmRuling
    | GmUndo
    | GmBot
    | GmEnd,
    Field(discriminator="type"),
]

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(data: dict[str, Any], actor: Actor, at: str | None = None) -> Command:
    """Validate client JSON into a `Command`, stamping the verified actor and the server time.

    Raises `RuleViolation("bad_command", ...)` with a readable reason on invalid input.
    """
    if not isinstance(data, dict):
        raise RuleViolation("bad_command", "a command must be a JSON object")
    clean = {k: v for k, v in data.items() if k not in ("actor", "at")}
    if clean.get("ship_id") is None and actor.ship_id is not None:
        clean["ship_id"] = actor.ship_id
    clean["actor"] = actor
    clean["at"] = at
    try:
        return COMMAND_ADAPTER.validate_python(clean)
    except ValidationError as exc:
        raise RuleViolation("bad_command", readable_errors(exc, limit=3, whole="command")) from None


def command_json_schema() -> dict[str, Any]:
    """JSON Schema of the command union as clients send it (for ``/api/protocol.json``)."""
    return COMMAND_ADAPTER.json_schema()


def command_to_dict(cmd: BaseModel) -> dict[str, Any]:
    """Client JSON form of a command (without actor and timestamp)."""
    return cmd.model_dump(mode="json", exclude_none=True)


def command_record(cmd: BaseModel) -> dict[str, Any]:
    """The command as the log records it with its batch: its fields and who sent it.

    Why: an import re-executes every recorded command through `decide` and accepts the file
    only if the events are the same (`rules.reexecution`); the actor (role, ship, stations
    held) is part of what `decide` judges, the time is the batch's own ``at``. Fields that are
    None are kept (a GM ruling may set a value to null).
    """
    actor: Actor = getattr(cmd, "actor", NOBODY)
    record = cmd.model_dump(mode="json")
    record["actor"] = {
        "role": actor.role,
        "ship_id": actor.ship_id,
        "stations": sorted(actor.stations),
    }
    return record


def command_from_record(record: dict[str, Any], at: str | None) -> Command:
    """Inverse of `command_record`, stamped with the batch's time.

    Raises `RuleViolation("bad_command", ...)` when the record is not one this server reads.
    """
    if not isinstance(record, dict):
        raise RuleViolation("bad_command", "a recorded command must be a JSON object")
    raw = record.get("actor")
    if (
        not isinstance(raw, dict)
        or set(raw) != {"role", "ship_id", "stations"}
        or raw["role"] not in ("player", "gm", "bot")
        or not (raw["ship_id"] is None or isinstance(raw["ship_id"], str))
        or not isinstance(raw["stations"], list)
        or not all(isinstance(s, str) for s in raw["stations"])
    ):
        raise RuleViolation(
            "bad_command", "a recorded command's actor is {role, ship_id, stations}"
        )
    actor = Actor(role=raw["role"], ship_id=raw["ship_id"], stations=frozenset(raw["stations"]))
    fields = {k: v for k, v in record.items() if k != "actor"}
    return parse_command(fields, actor, at)
