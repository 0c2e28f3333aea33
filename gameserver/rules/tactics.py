"""The bot's three tactic levels and what each decides (when to evade, close, launch, flee or
strike colours).

Purely computational: a table of thresholds the bot (`rules.bot`) reads. Why a table: the GM picks
a level per ship mid-battle (`gm_bot`), and the levels differ only in these few choices, so one
decision path reads them instead of three bots drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Tactic(StrEnum):
    """How boldly the bot fights a ship: ``cautious``, ``standard`` or ``aggressive``."""

    CAUTIOUS = "cautious"
    STANDARD = "standard"
    AGGRESSIVE = "aggressive"


TACTICS: tuple[str, ...] = tuple(t.value for t in Tactic)
"""The tactic names as commands and the page spell them, mildest first."""

BOT_OFF = "off"
"""A ship's `bot` when the GM took it back from the bot (its side's bot no longer runs it)."""


@dataclass(frozen=True, slots=True)
class TacticProfile:
    """The thresholds of one tactic level.

    Attributes:
        keep_thrust: MgT2e: Thrust kept back for evasive action when closing (§11.B).
        aid_from: MgT2e: the pilot aids the gunners (§3.B) only with this much Thrust left.
        close_to: the range band index the ship closes to: None = its best weapon's reach.
        evade_below_pct: evade (MgT2e evasive action, CE Dodge) only at or below this share of
            Hull, in percent; 100 = always.
        evasive_first: CE pilot: Evasive Maneuvers before Line Up The Shot (§6.A).
        launch_to: the farthest range band index missiles are launched at (§9).
        flee_pct: break off (MgT2e §13.2), plot and jump (§13.1 (a)) or open the range (CE
            §5.2) at or below this share of Hull, in percent; 0 = never.
        plot_pct: MgT2e: plot the jump ahead, at or below this share of Hull (0 = when fleeing).
        surrender_pct: MgT2e: strike colours (§13.2) at or below this share of Hull; 0 = never.
        ce_surrender_pct: CE: strike colours once the Hull is gone and Structure is at or
            below this share (§13.1); 0 = never.
    """

    keep_thrust: int
    aid_from: int
    close_to: int | None
    evade_below_pct: int
    evasive_first: bool
    launch_to: int
    flee_pct: int
    plot_pct: int
    surrender_pct: int
    ce_surrender_pct: int


# Band indices (RULES §2): adjacent 0, close 1, short 2, medium 3, long 4, very long 5, distant 6.
PROFILES: dict[Tactic, TacticProfile] = {
    # Keeps Thrust to evade, fires missiles only where they arrive soon, plots a jump at once
    # and leaves early.
    Tactic.CAUTIOUS: TacticProfile(
        keep_thrust=2,
        aid_from=3,
        close_to=None,
        evade_below_pct=100,
        evasive_first=True,
        launch_to=4,
        flee_pct=60,
        plot_pct=100,
        surrender_pct=25,
        ce_surrender_pct=50,
    ),
    # The bot as it always played: close to reach keeping 1 Thrust, fire everything, react
    # whenever it can, break off (or jump, plotted at half Hull) at a fifth of its Hull,
    # strike at a tenth.
    Tactic.STANDARD: TacticProfile(
        keep_thrust=1,
        aid_from=2,
        close_to=None,
        evade_below_pct=100,
        evasive_first=False,
        launch_to=6,
        flee_pct=20,
        plot_pct=50,
        surrender_pct=10,
        ce_surrender_pct=25,
    ),
    # Spends all Thrust closing to Short, evades only when badly hurt, never runs or strikes.
    Tactic.AGGRESSIVE: TacticProfile(
        keep_thrust=0,
        aid_from=1,
        close_to=2,
        evade_below_pct=50,
        evasive_first=False,
        launch_to=6,
        flee_pct=0,
        plot_pct=0,
        surrender_pct=0,
        ce_surrender_pct=0,
    ),
}
