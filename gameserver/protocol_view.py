"""The public view's wire models: what every client may see of a battle (see docs/protocol.md).

Pure models, no I/O. Split from `gameserver.protocol` (which re-exports every name here, and
whose `SnapshotMessage` and `EventMessage` carry a `PublicView`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)


class _ViewPart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PublicWeapon(_ViewPart):
    """One weapon of a turret: its kind, damage status, ammunition left and whether it fired."""

    kind: str
    status: str
    ammo: int
    fired: bool


class PublicTurret(_ViewPart):
    """A turret or bay: its mount and weapons (the page calls them T1, T2... in this order)."""

    mount: str
    weapons: list[PublicWeapon]


class PublicCrew(_ViewPart):
    """A crew member at a station, with the characteristics and skills the rules read."""

    station: str
    name: str
    able: bool
    chars: dict[str, int]
    skills: dict[str, int]


class PublicPower(_ViewPart):
    """The MgT2e power budget of a ship, present only while it matters (RulesConfig
    `power_budget`): a system without power, one the engineer took offline, an overload."""

    available: int = Field(description="Power the plant gives now (with an overload)")
    need: int = Field(description="Power every system online would draw")
    unpowered: list[str] = Field(description='systems online without power ("turret:<i>")')
    offline: list[str] = Field(description='systems the engineer shed ("m_drive", "turret:<i>")')
    overload: list[str] = Field(description='overloads pending or in force ("drive", "plant")')
    sensors_dark: bool = Field(description="basic systems short of power: no sensor actions")


class PublicFuel(_ViewPart):
    """Fuel once a leak has begun (RulesConfig `fuel_tracking`), in tenths of a ton."""

    left_tenths: int = Field(description="fuel in the tanks")
    leak_tenths: int = Field(description="lost at the start of the next round (0: stopped)")


BotSetting = Literal["cautious", "standard", "aggressive", "off"]
"""Who runs a ship besides people (`rules.tactics`): a tactic level, or ``off``."""

BOT_TACTICS: tuple[str, ...] = ("cautious", "standard", "aggressive")
"""The tactic levels a GM may hand a ship over with (``gm_bot``), mildest first."""


class PublicShip(_ViewPart):
    """A ship as every client sees it: hull, damage, thrust, criticals, turrets and crew."""

    id: str
    name: str
    side: str
    preset: str | None
    design: str
    tons: int
    status: str
    hull: int
    hull_max: int
    armour: int
    thrust: int
    thrust_rating: int
    thrust_pool: int
    power_pct: int
    initiative: int
    criticals: dict[str, int] = Field(description="location -> Severity, only those above 0")
    repaired: list[str]
    sensor_cap: str | None
    sensor_lock: str | None
    turrets: list[PublicTurret]
    crew: list[PublicCrew]
    done: list[str] = Field(description="stations that have finished this step")
    missile_reserve: int
    sand_reserve: int
    fuel_lost_pct: int
    cargo_lost_pct: int
    rads: int
    life_support: str | None
    escape_progress: int
    # Cepheus Engine battles only (RULES §10.A): absent from an MgT2e ship's JSON.
    structure: int | None = None
    structure_max: int | None = None
    systems: dict[str, int] | None = Field(default=None, description="CE: hits per location")
    reactions: int | None = Field(default=None, description="CE: reactions left this turn")
    evasive_dm: int | None = None
    line_up_dm: int | None = None
    targeting: dict[str, int] | None = Field(
        default=None, description="CE: sensor targeting DM per target ship"
    )
    coordinate: int | None = None
    column: str | None = Field(default=None, description="CE: the damage table column in use")
    power: PublicPower | None = Field(
        default=None, description="MgT2e power budget, only while power is short or managed"
    )
    fuel: PublicFuel | None = Field(default=None, description="MgT2e fuel, once a leak began")
    undetected: list[str] | None = Field(
        default=None,
        description="MgT2e: the enemies this ship's sensors have not detected (a scenario with"
        " detection 'sensors'); absent when none",
    )
    docked: str | None = Field(
        default=None,
        description="MgT2e: the ship this one is docked with (both record it); absent when none",
    )
    boarded_by: str | None = Field(
        default=None,
        description="MgT2e: the ship whose boarders are aboard, taking control; absent when none",
    )
    bot: BotSetting | None = Field(
        default=None,
        description="set once the GM chose (gm_bot): the tactic the server's bot runs the ship"
        " with, or off; absent: the ship's side decides (bot_sides)",
    )

    @model_serializer(mode="wrap")
    def _without_absent_ce_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An MgT2e ship's JSON has no CE keys (as the engine's view has none), not nulls;
        nor a `bot` key before the GM set one."""
        data: dict[str, Any] = handler(self)
        for name in _OPTIONAL_SHIP_FIELDS:
            if data.get(name, 0) is None:
                del data[name]
        return data


_OPTIONAL_SHIP_FIELDS = (
    "bot",
    "structure",
    "structure_max",
    "systems",
    "reactions",
    "evasive_dm",
    "line_up_dm",
    "targeting",
    "coordinate",
    "column",
    "power",
    "fuel",
    "undetected",
    "docked",
    "boarded_by",
)


class PublicSide(_ViewPart):
    """A side of the battle."""

    id: str
    name: str


class PublicRange(_ViewPart):
    """The range band of a ship pair and the progress made toward the next band (§6)."""

    a: str
    b: str
    band: str
    progress: int


class PublicView(_ViewPart):
    """What every client may see of a battle: the engine's `public_view(state)`, no dice seed.

    The page draws everything from it (board, initiative, step); it is not a second model of
    the battle. `pending` (attacks and salvos waiting for reactions) and `salvos` (missiles in
    flight, with `arrives_round`) are the engine's own JSON forms.
    """

    battle_id: str
    seq: int
    ruleset: str
    scenario: str
    round: int
    round_limit: int
    step: str
    initiative_order: list[str]
    acting_ship: str | None
    sides: list[PublicSide]
    ships: list[PublicShip]
    ranges: list[PublicRange]
    pending: list[dict[str, Any]]
    salvos: list[dict[str, Any]]
    outcome: dict[str, Any] | None = Field(description="set when the battle is over")
    undo_available: int
