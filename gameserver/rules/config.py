"""Ruleset profiles and `RulesConfig`: every DEFAULT and ⚠ house decision of RULES.md.

Purely computational, no side effects. Part A of RULES.md wins over Part B; §15 wins within Part B.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from gameserver.rules.errors import RuleViolation


class Ruleset(StrEnum):
    """RULES Part A "Profiles": MgT2e 2016 is the default; 2022 changes critical Severity;
    CE is the Cepheus Engine (hits, locations, Hull and Structure)."""

    MGT2E_2016 = "MGT2E_2016"
    MGT2E_2022 = "MGT2E_2022"
    CE = "CE"

    @property
    def is_ce(self) -> bool:
        """Whether this is the Cepheus Engine profile."""
        return self is Ruleset.CE


def _default_flight() -> dict[str, int]:
    # RULES §9.B.2 ⚠ (CRB16 via fan wiki): rounds to impact by the band at launch.
    return {
        "adjacent": 0,
        "close": 0,
        "short": 0,
        "medium": 0,
        "long": 1,
        "very_long": 4,
        "distant": 10,
    }


@dataclass(frozen=True, slots=True)
class RulesConfig:
    """House decisions a table can switch; defaults are RULES.md's (§15 numbers in comments).

    Every field is JSON-able so the first event of a battle can record the whole config.
    """

    # §1.2 / #29: natural 2 and natural 12 are not automatic.
    natural_auto_results: bool = False
    # §1.6 DEFAULT: boons and banes net out; more than one net boon is still one boon.
    boon_net_max: int = 1
    # #23: severity formula; "by_ruleset" = 2016 ceil(damage/10), 2022 Effect-5.
    severity_formula: Literal["by_ruleset", "damage", "effect"] = "by_ruleset"
    # #24: cumulative critical effects.
    crit_mode: Literal["row_only", "all_intermediate_rows"] = "row_only"
    # #25: sustained-damage thresholds at exact 10% fractions, or 10% rounded up.
    sustained_threshold: Literal["exact", "rounded_up"] = "exact"
    # §10.B.3 DEFAULT: Hull damage from criticals counts toward sustained thresholds, recursively.
    crit_hull_damage_counts_sustained: bool = True
    # §10.B.3 HG option ⚠: ships of 2,000 t+ ignore attack-roll criticals from turrets/barbettes.
    big_ship_ignores_turret_crits: bool = False
    # #26: range-change cost is the outer band's value in both directions (or the band moved from).
    range_cost: Literal["outer", "from_band"] = "outer"
    # §5.3 DEFAULT: excess Thrust past a band threshold is discarded; reversing resets progress.
    range_discard_excess: bool = True
    range_reset_on_reverse: bool = True
    # §3.B ⚠: Aid Gunners costs 1 Thrust.
    aid_gunners_thrust: int = 1
    # Part A: the Tactics Effect is added to initiative even when negative.
    tactics_negative_counts: bool = True
    # §4.B ⚠: Improve Initiative adds the Leadership Effect from the next round (success only).
    improve_initiative_on_success_only: bool = True
    # §1.4 DEFAULT: Leadership uses SOC ⚠; repair uses the better of INT and EDU ◐.
    leadership_characteristic: Literal["SOC", "INT", "EDU"] = "SOC"
    # Part A: a point-defence success removes max(1, Effect) missiles.
    point_defence_min_one: bool = True
    # §4.B DEFAULT: each sandcaster turret reacts at most once per round.
    sand_once_per_turret_per_round: bool = True
    # #27 ⚠: salvo maths and flight times.
    salvo_dm_per_missile: int = 1
    salvo_effect_once: bool = True
    missile_damage_dice: int = 4
    missile_flight_rounds: dict[str, int] = field(default_factory=_default_flight)
    missile_endurance_rounds: int = 10
    smart_dm_min: int = 1
    smart_dm_max: int = 6
    # §8.B: 12 missiles per rack; §8.A DEFAULT (no MgT2e figure): 20 sand canisters ready.
    missile_rack_load: int = 12
    sandcaster_load: int = 20
    # §11.B DEFAULT: EW against a salvo is Difficult (10+) and removes max(1, Effect) missiles.
    ew_missile_target: int = 10
    # §7.B (CRB22 only): called shot DM and the farthest band it is allowed at.
    called_shot_dm: int = -2
    # §8.B ⚠ twodsix: radiation weapons expose the crew to 2D x 20 rads (recorded, no effect).
    radiation_rads: bool = True
    # §6 / §13.1 (a) ⚠: Calculate Jump Plot is Easy (4+) with DM -1 for haste (Astrogation,
    # EDU); the jump is an Average (8+) Engineer check in a later round's Actions step.
    jump_plot_target: int = 4
    jump_plot_dm: int = -1
    jump_target: int = 8
    # §6.B ⚠ Overload Drive / Overload Plant: an Engineer check, Difficult (10+); success gives
    # +1 Thrust (drive) or +10% of the plant's Power (plant) for the next round; an Effect of
    # -6 or worse (`overload_mishap_effect`) is a Severity-1 critical on the overloaded system.
    overload_target: int = 10
    overload_mishap_effect: int = -6
    overload_drive_thrust: int = 1
    overload_plant_pct: int = 10
    # Power budget (MgT2e; RULES leaves the consequences of a shortfall open). On: the plant's
    # Power (less its critical losses) feeds basic systems, then the M-Drive (Thrust beyond the
    # power left is lost), then the turrets in order (§8.B mount + weapon power; an unpowered
    # turret cannot fire, launch, cast sand or defend); basic systems short: the sensors go
    # dark; Power 0: nothing runs. Off: only Power 0 idles the energy weapons (the old rule).
    power_budget: bool = True
    # With the budget: a design's plant is taken to cover all its systems at full power (the
    # engine's armed presets add turrets to published designs); off: the design's `power` as is.
    power_plant_covers_design: bool = True
    # §10.B.4 Fuel row, applied (engine DEFAULT): a Severity-1 leak loses 1D t an hour (1D/10 t
    # a 6-minute round), Severity 2 1D t a round, at the start of every round until repaired
    # or the tanks are dry; and a jump needs `jump_fuel_pct` of the tonnage in the tanks (High
    # Guard: 10% per parsec; Jump-1 is the least). Off: leaks are only noted, fuel never counts.
    fuel_tracking: bool = True
    jump_fuel_pct: int = 10
    # §10.B.4 Crew row, applied (engine DEFAULT): "life support fails in 1D hours" (Severity
    # 2) counts down 10 six-minute rounds an hour (§3.B), "in 1D rounds" (Severity 4) that many
    # rounds; at the start of the round it runs out, life support fails (an event). RULES.md
    # gives no consequence of failed life support in combat: it is recorded, nothing more.
    # Off: the countdown is only noted.
    life_support_countdown: bool = True
    # §3.B setup "decide starting range and detection (sensors)" with a scenario's
    # `detection: sensors` (MgT2e): RULES.md gives no detection check, so (engine DEFAULT) it
    # is the Sensor Lock's Electronics (sensors) check, INT, with the sensors' DM (§8.B grade,
    # criticals), at this target (Average 8+, as §15 #13 takes unstated difficulties). A
    # successful Sensor Lock also detects; §9.B.2: a launch at Distant needs the target detected.
    detection_target: int = 8
    # One person holding several stations (MgT2e flexible crew): §1.5 Multiple simultaneous
    # tasks (CE ✅; MgT2e gives no figure, engine DEFAULT: the same) - DM `extra_task_dm` on a
    # check for each task the same person already performed at another station this step (a
    # check rolled is never rolled again, so the later tasks carry it). Off: no penalty.
    extra_task_penalty: bool = True
    extra_task_dm: int = -2
    # CE §1.5 ✅ Multiple simultaneous tasks: the same DM (`extra_task_dm`) on a CE check for
    # each task the same person already performed at another station this turn (a design's
    # `held_by`, e.g. the CE Fighter's pilot who fires the gun, or a `hold_station`). The ship's
    # own turn only: reactions on other ships' turns carry none. Off: no penalty (and a battle
    # recorded before it existed replays with it off).
    ce_extra_task_penalty: bool = True
    # §13.2 DEFAULT: breaking off needs a further 50 Thrust opening at Distant from every enemy.
    break_off_thrust: int = 50
    # MgT2e docking and boarding (§3.B "Docking", §6.B Marines, §13.4 read for MgT2e; engine
    # DEFAULTs where RULES.md is silent). Off: neither is offered (a battle recorded before
    # they existed replays with it off: a captainless ship's pilot is never awaited to board).
    boarding: bool = True
    # §3.B ⚠: Docking is a combat manoeuvre paid from the Thrust pool like Aid Gunners: 1.
    dock_thrust: int = 1
    # §5.2 "an unwilling target": a ship of the same side or one that surrendered is willing;
    # on (DEFAULT) so is a ship that cannot manoeuvre (no Thrust, or nobody able at the helm):
    # it cannot refuse the dock, so the check is the plain Average Piloting.
    dock_helpless_willing: bool = True
    # §13.4 "1 Single internal hit" has no MgT2e figure: that many D6 of Hull damage, no armour
    # (the exceptional row's 2D6 internal damage is Hull damage, no armour, too; A15).
    boarding_hit_dice: int = 1
    # §13.4 "Attacker needs 1 turn to take control": the boarded ship is captured at the start
    # of the round this many rounds later (0: at once), unless the boarders' ship left the fight.
    boarding_control_rounds: int = 1
    # §13.1 "Boarding can follow" a surrender: the crew struck colours, so (DEFAULT) a boarding
    # action against a surrendered ship takes it without a roll; off: its crew still opposes.
    boarding_surrendered_unopposed: bool = True
    # CE §10.A.5 Fuel row, applied (engine DEFAULT, like `fuel_tracking` for MgT2e): the 1st
    # hit leaks 1D tons an hour (a 1,000-second turn loses 1D x 10/36 t, to the tenth, at its
    # start), the 2nd loses 1D x 10% of the fuel, the 3rd destroys the tank; a repair that
    # clears the Fuel hits stops the leak. Off: fuel hits are only counted.
    ce_fuel_effects: bool = True
    # CE #1: add the attack Effect to ship damage (the personal-combat rule); no by default.
    ce_add_effect_to_damage: bool = False
    # CE #2: the pulse laser's -2 stacks with the range table.
    ce_pulse_penalty_stacks: bool = True
    # CE §12.A: DM on in-combat repairs (the SRD's example is Very Difficult, -4).
    ce_repair_dm: int = 0
    # Engine: how many events a GM may undo at most (also the depth a snapshot keeps).
    undo_limit: int = 20
    # §10.B.4 crew damage: damage reduces END, then STR, then DEX (engine order).
    crew_damage_order: tuple[str, ...] = ("END", "STR", "DEX")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (recorded in the `battle_started` event)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RulesConfig:
        """Build from (partial) overrides; unknown keys or wrong types raise `RuleViolation`."""
        return apply_overrides(cls(), data)


_FIELDS = {f.name: f for f in dataclasses.fields(RulesConfig)}

# Rules added after battles were already recorded: a recorded config without the key is a
# battle played before the rule, which replays (and re-executes) with it off.
LATER_SWITCHES: tuple[str, ...] = (
    "power_budget",
    "fuel_tracking",
    "life_support_countdown",
    "extra_task_penalty",
    "ce_fuel_effects",
    "boarding",
    "ce_extra_task_penalty",
)


def recorded_config(data: dict[str, Any]) -> RulesConfig:
    """The config a ``battle_started`` event records, with the later switches it predates off."""
    cfg = RulesConfig.from_dict(data)
    off: dict[str, Any] = {key: False for key in LATER_SWITCHES if key not in data}
    return dataclasses.replace(cfg, **off) if off else cfg


def apply_overrides(base: RulesConfig, data: dict[str, Any]) -> RulesConfig:
    """Return `base` with `data` applied; why: a scenario overrides only what its table changes."""
    if not isinstance(data, dict):
        raise RuleViolation("bad_config", "config overrides must be an object")
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _FIELDS:
            known = ", ".join(sorted(_FIELDS))
            raise RuleViolation("bad_config", f"unknown rules option {key!r}; known: {known}")
        current = getattr(base, key)
        changes[key] = _coerce_option(key, current, value)
    return dataclasses.replace(base, **changes)


_LITERALS: dict[str, tuple[str, ...]] = {
    "severity_formula": ("by_ruleset", "damage", "effect"),
    "crit_mode": ("row_only", "all_intermediate_rows"),
    "sustained_threshold": ("exact", "rounded_up"),
    "range_cost": ("outer", "from_band"),
    "leadership_characteristic": ("SOC", "INT", "EDU"),
}


# The range every integer option accepts (inclusive). Why: an option is multiplied into dice
# rolls, loops and the undo chain, so an unbounded one stalls the server (a billion damage dice,
# an undo chain no snapshot can hold); the limits are the rules' sensible extremes.
INT_BOUNDS: dict[str, tuple[int, int]] = {
    "boon_net_max": (0, 3),
    "aid_gunners_thrust": (0, 15),
    "salvo_dm_per_missile": (0, 6),
    "missile_damage_dice": (1, 12),
    "missile_endurance_rounds": (1, 50),
    "smart_dm_min": (-6, 12),
    "smart_dm_max": (-6, 12),
    "missile_rack_load": (0, 100),
    "sandcaster_load": (0, 100),
    "ew_missile_target": (2, 20),
    "called_shot_dm": (-12, 0),
    "break_off_thrust": (0, 500),
    "undo_limit": (0, 20),
    "jump_plot_target": (2, 20),
    "jump_plot_dm": (-6, 6),
    "jump_target": (2, 20),
    "overload_target": (2, 20),
    "overload_mishap_effect": (-12, 0),
    "overload_drive_thrust": (0, 6),
    "overload_plant_pct": (0, 100),
    "jump_fuel_pct": (0, 100),
    "detection_target": (2, 20),
    "extra_task_dm": (-6, 0),
    "dock_thrust": (0, 15),
    "boarding_hit_dice": (0, 6),
    "boarding_control_rounds": (0, 5),
    "ce_repair_dm": (-6, 6),
}
# The options that belong to the CE profile (a CE vector case may override only these).
CE_OPTIONS: frozenset[str] = frozenset(
    {"ce_add_effect_to_damage", "ce_pulse_penalty_stacks", "ce_repair_dm"}
)
# missile_flight_rounds: rounds to impact per band (only the bands it already names).
FLIGHT_ROUNDS_MAX = 20
CREW_DAMAGE_ORDER_MAX = 6


def _coerce_option(key: str, current: Any, value: Any) -> Any:
    def bad(expected: str) -> RuleViolation:
        return RuleViolation(
            "bad_config", f"rules option {key!r} must be {expected}, not {value!r}"
        )

    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        lo, hi = INT_BOUNDS[key]
        if not lo <= value <= hi:
            raise bad(f"an integer from {lo} to {hi}")
        return value
    if isinstance(current, str):
        allowed = _LITERALS.get(key)
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            raise bad("one of " + ", ".join(allowed or ("a string",)))
        return value
    if isinstance(current, tuple):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        if len(value) > CREW_DAMAGE_ORDER_MAX:
            raise bad(f"a list of at most {CREW_DAMAGE_ORDER_MAX} strings")
        return tuple(value)
    if isinstance(current, dict):
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            for k, v in value.items()
        ):
            raise bad("an object of integers")
        unknown = sorted(set(value) - set(current))
        if unknown:
            raise bad("an object with the keys " + ", ".join(current))
        if not all(0 <= v <= FLIGHT_ROUNDS_MAX for v in value.values()):
            raise bad(f"an object of integers from 0 to {FLIGHT_ROUNDS_MAX}")
        merged = dict(current)
        merged.update(value)
        return merged
    raise bad("a supported value")  # pragma: no cover - every field type is handled above
