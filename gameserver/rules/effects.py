"""RULES §10.B.4 critical effects applied to a ship (a mutable scratch copy inside `decide`).

Purely computational: rolls only from the `Dice` it is handed, so the event records every die.
Mode `row_only` (§15 #24 DEFAULT) applies row S's one-shot effects once; stateful effects (check
DMs, range caps, disabled/destroyed, Thrust 0) are derived from the Severity in `ShipState`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gameserver.rules.config import RulesConfig
from gameserver.rules.dice import Dice, d3, roll
from gameserver.rules.resolution import HullWork
from gameserver.rules.state import ShipState

# §12.B: which Severities of a location may be repaired in combat (not Hull damage, not
# destroyed equipment, not armour, cargo or crew injuries).
REPAIRABLE: dict[str, frozenset[int]] = {
    "sensors": frozenset({1, 2, 3, 4, 5, 6}),
    "power_plant": frozenset({1, 2, 3, 4, 5, 6}),
    "fuel": frozenset({1, 2}),
    "weapon": frozenset({1, 2}),
    "armour": frozenset(),
    "hull": frozenset(),
    "m_drive": frozenset({1, 2, 3, 4, 5, 6}),
    "cargo": frozenset(),
    "j_drive": frozenset({1, 2}),
    "crew": frozenset(),
    "computer": frozenset({1, 2, 3, 4, 5}),
}

_WEAPON_ORDER = {"ok": 0, "bane": 1, "disabled": 2, "destroyed": 3}


def pick(dice: Dice, n: int) -> int:
    """Engine DEFAULT for "a random weapon/occupant": 1D for up to 6 choices, D66 beyond."""
    if n <= 1:
        return 0
    if n <= 6:
        return (dice.d6() - 1) * n // 6
    return _d36(dice) * n // 36


def _d36(dice: Dice) -> int:
    return (dice.d6() - 1) * 6 + (dice.d6() - 1)


def system_name(system: str) -> str:
    """A system id as players read it: ``turret:0`` is "turret 1", ``m_drive`` "M-Drive"."""
    if system.startswith("turret:"):
        return f"turret {int(system.split(':')[1]) + 1}"
    return "M-Drive" if system == "m_drive" else system.replace("_", " ")


def power_text(ship: ShipState) -> str:
    """The budget for a log line: "Power 40/45"."""
    plan = ship.power_plan
    return f"Power {plan.available}/{plan.need}"


def power_change_notes(before: ShipState, after: ShipState) -> list[str]:
    """What a change of the power budget does, for the log (empty without a budget or when
    nothing changes): turrets losing or regaining power, sensors going dark or back."""
    if not after.plant:
        return []
    was, now = before.power_plan, after.power_plan
    notes: list[str] = []
    lost = sorted(was.turrets - now.turrets)
    back = sorted(now.turrets - was.turrets)
    offline = {int(s.split(":")[1]) for s in after.offline if s.startswith("turret:")}
    lost = [t for t in lost if t not in offline]
    if lost:
        notes.append(
            "no power for "
            + ", ".join(system_name(f"turret:{t}") for t in lost)
            + f" ({power_text(after)})"
        )
    if back:
        notes.append("power back to " + ", ".join(system_name(f"turret:{t}") for t in back))
    if was.basic and not now.basic:
        notes.append("basic systems short of power: the sensors go dark")
    elif now.basic and not was.basic:
        notes.append("basic systems have power again")
    return notes


class ShipEffects:
    """Mutable scratch state of one ship while a damage pipeline runs; `changes()` is the patch."""

    def __init__(self, ship: ShipState, cfg: RulesConfig, round_: int = 0) -> None:
        self.ship = ship
        self.cfg = cfg
        self.round = round_
        self.armour = ship.armour
        self.pp_thrust_loss = ship.pp_thrust_loss
        self.md_thrust_loss = ship.md_thrust_loss
        self.power_loss = ship.power_loss
        self.computer_loss = ship.computer_loss
        self.weapons = list(ship.weapons)
        self.crew = list(ship.crew)
        self.fuel_lost_pct = ship.fuel_lost_pct
        self.fuel_leak = ship.fuel_leak
        self.cargo_lost_pct = ship.cargo_lost_pct
        self.life_support = ship.life_support
        self.life_support_fails = ship.life_support_fails
        self.repaired = set(ship.repaired)
        self.repair_loc = ship.repair_loc
        self.repair_count = ship.repair_count
        self.notes: list[str] = []

    def work(self) -> HullWork:
        """The Hull/critical scratch the pipeline updates."""
        return HullWork(self.ship.hull, self.ship.design.hull_points, list(self.ship.crits))

    # --- CritEffects protocol ---

    def apply(
        self, work: HullWork, location: str, previous: int, severity: int, dice: Dice
    ) -> tuple[int, int]:
        """Apply the §10.B.4 rows for `location` going from `previous` to `severity`."""
        if location in self.repaired:
            self.repaired.discard(location)
        if self.repair_loc == location:
            self.repair_loc, self.repair_count = None, 0
        rows = (
            [severity]
            if self.cfg.crit_mode == "row_only"
            else list(range(previous + 1, severity + 1))
        )
        damage = 0
        follow = 0
        for s in rows:
            d, f = getattr(self, "_" + location)(s, dice)
            damage += d
            if f != 0:
                follow = f
        return damage, follow

    def at_maximum(self, work: HullWork, location: str, dice: Dice) -> int:
        """§10.B.3: a further critical at Severity 6 does 6D Hull damage instead."""
        dmg = roll(dice, 6)
        self.notes.append(f"{location} already at Severity 6: {dmg} extra Hull damage")
        return dmg

    # --- rows ---

    def _sensors(self, s: int, dice: Dice) -> tuple[int, int]:
        text = {
            1: "sensor checks -2",
            2: "sensors inoperative beyond Medium",
            3: "sensors inoperative beyond Short",
            4: "sensors inoperative beyond Close",
            5: "sensors inoperative beyond Adjacent",
            6: "sensors disabled",
        }[s]
        self.notes.append(text)
        return 0, 0

    def _power_plant(self, s: int, dice: Dice) -> tuple[int, int]:
        if s in (1, 2):
            self.pp_thrust_loss += 1
            self.power_loss += 10
            self.notes.append("power plant: Thrust -1, Power -10%")
        elif s == 3:
            self.pp_thrust_loss += 1
            self.power_loss += 50
            self.notes.append("power plant: Thrust -1, Power -50%")
        else:
            self.notes.append("power plant: Thrust 0, Power 0")
            if s == 5:
                return 0, 1
            if s == 6:
                return 0, -1
        return 0, 0

    def _fuel(self, s: int, dice: Dice) -> tuple[int, int]:
        # A leak is a stateful effect: row S replaces it (§10.B.4 row_only DEFAULT); with
        # `fuel_tracking` the tanks lose it at the start of each round (tenths of a ton).
        if s == 1:
            tons = dice.d6()
            self.fuel_leak = tons if self.cfg.fuel_tracking else 0
            self.notes.append(f"fuel leak: {tons} t per hour")
        elif s == 2:
            tons = dice.d6()
            self.fuel_leak = tons * 10 if self.cfg.fuel_tracking else 0
            self.notes.append(f"fuel leak: {tons} t per round")
        elif s == 3:
            pct = dice.d6() * 10
            self.fuel_leak = 0
            self.fuel_lost_pct = min(100, self.fuel_lost_pct + pct)
            self.notes.append(f"fuel: {pct}% lost")
        else:
            self.fuel_lost_pct = 100
            self.fuel_leak = 0
            self.notes.append("fuel tank destroyed")
            if s == 5:
                return 0, 1
            if s == 6:
                return 0, -1
        return 0, 0

    def _hit_weapon(self, status: str, dice: Dice) -> str | None:
        candidates = [i for i, w in enumerate(self.weapons) if w != "destroyed"]
        if not candidates:
            return None
        idx = candidates[pick(dice, len(candidates))]
        if _WEAPON_ORDER[status] > _WEAPON_ORDER[self.weapons[idx]]:
            self.weapons[idx] = status
        return self.ship.weapon_kind(idx).replace("_", " ")

    def _weapon(self, s: int, dice: Dice) -> tuple[int, int]:
        status = {1: "bane", 2: "disabled"}.get(s, "destroyed")
        name = self._hit_weapon(status, dice)
        if name is None:
            self.notes.append("weapon critical: no weapon left to hit")
        elif s >= 4:
            self.notes.append(f"a {name} explodes")
        else:
            self.notes.append(f"a {name} is {'at a Bane' if s == 1 else status}")
        return 0, (1 if s >= 4 else 0)

    def _armour(self, s: int, dice: Dice) -> tuple[int, int]:
        if s == 1:
            loss = 1
        elif s == 2:
            loss = d3(dice)
        elif s in (3, 4):
            loss = dice.d6()
        else:
            loss = roll(dice, 2)
        self.armour = max(0, self.armour - loss)
        self.notes.append(f"armour -{loss}")
        return 0, (1 if s >= 5 else 0)

    def _hull(self, s: int, dice: Dice) -> tuple[int, int]:
        dmg = roll(dice, s)
        self.notes.append(f"hull critical: {dmg} damage ({s}D, ignoring armour)")
        return dmg, 0

    def _m_drive(self, s: int, dice: Dice) -> tuple[int, int]:
        if 2 <= s <= 4:
            self.md_thrust_loss += 1
            self.notes.append(f"m-drive: control checks -{s}, Thrust -1")
        elif s == 1:
            self.notes.append("m-drive: control checks -1")
        else:
            self.notes.append("m-drive: Thrust 0")
            if s == 6:
                return 0, 1
        return 0, 0

    def _cargo(self, s: int, dice: Dice) -> tuple[int, int]:
        if s == 1:
            pct = 10
        elif s == 2:
            pct = dice.d6() * 10
        elif s == 3:
            pct = roll(dice, 2) * 10
        else:
            pct = 100
        self.cargo_lost_pct = min(100, self.cargo_lost_pct + pct)
        self.notes.append(f"cargo: {min(pct, 100)}% destroyed")
        return 0, (1 if s >= 5 else 0)

    def _j_drive(self, s: int, dice: Dice) -> tuple[int, int]:
        text = {1: "j-drive: jump checks -2", 2: "j-drive disabled"}.get(s, "j-drive destroyed")
        self.notes.append(text)
        return 0, (1 if s >= 4 else 0)

    def _hurt(self, idx: int, damage: int) -> None:
        c = self.crew[idx]
        chars = dict(c.chars)
        left = damage
        for key in self.cfg.crew_damage_order:
            if left <= 0:
                break
            have = chars.get(key, 7)
            take = min(have, left)
            chars[key] = have - take
            left -= take
        self.crew[idx] = replace(c, chars=chars)

    def _crew(self, s: int, dice: Dice) -> tuple[int, int]:
        able = [i for i, c in enumerate(self.crew) if c.able]
        if s == 1 and able:
            who = able[pick(dice, len(able))]
            dmg = dice.d6()
            self._hurt(who, dmg)
            self.notes.append(f"{self.crew[who].name} takes {dmg} damage")
        elif s == 3 and able:
            n = dice.d6()
            for k in range(min(n, len(able))):
                dmg = roll(dice, 2)
                self._hurt(able[k], dmg)
                self.notes.append(f"{self.crew[able[k]].name} takes {dmg} damage")
        elif s == 5:
            for i in able:
                dmg = roll(dice, 3)
                self._hurt(i, dmg)
            self.notes.append("every occupant takes 3D damage")
        elif s in (2, 4):
            # A stateful effect: row S replaces the countdown (§10.B.4 row_only DEFAULT); an
            # hour is 10 six-minute rounds (§3.B).
            n = dice.d6()
            unit = "hours" if s == 2 else "rounds"
            self.life_support = f"fails in {n} {unit}"
            if self.cfg.life_support_countdown:
                self.life_support_fails = self.round + n * (10 if s == 2 else 1)
            self.notes.append(f"life support {self.life_support}")
        elif s == 6:
            self.life_support = "failed"
            self.life_support_fails = 0
            self.notes.append("life support fails")
        return 0, 0

    def _computer(self, s: int, dice: Dice) -> tuple[int, int]:
        if s == 1:
            self.notes.append("computer checks -2")
        elif s <= 4:
            self.computer_loss += 1
            self.notes.append("computer rating -1")
        else:
            self.notes.append("computer disabled" if s == 5 else "computer destroyed")
        return 0, 0

    def changes(self, work: HullWork) -> dict[str, Any]:
        """The ship fields that changed, as internal values (the event patch encodes them)."""
        s = self.ship
        out: dict[str, Any] = {}
        candidates: dict[str, Any] = {
            "hull": work.hull,
            "crits": tuple(work.crits),
            "armour": self.armour,
            "pp_thrust_loss": self.pp_thrust_loss,
            "md_thrust_loss": self.md_thrust_loss,
            "power_loss": self.power_loss,
            "computer_loss": self.computer_loss,
            "weapons": tuple(self.weapons),
            "crew": tuple(self.crew),
            "fuel_lost_pct": self.fuel_lost_pct,
            "fuel_leak": self.fuel_leak,
            "cargo_lost_pct": self.cargo_lost_pct,
            "life_support": self.life_support,
            "life_support_fails": self.life_support_fails,
            "repaired": frozenset(self.repaired),
            "repair_loc": self.repair_loc,
            "repair_count": self.repair_count,
        }
        for key, value in candidates.items():
            if getattr(s, key) != value:
                out[key] = value
        return out
