"""The CE ops of the vector checker (RULES Part A "CE test vectors").

Each op reads its input, calls the same `resolution_ce` functions the CE battle uses and reports
the fields Part A names. `vectors.py` picks this table for files (or cases) whose ruleset is CE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gameserver.rules import resolution_ce as ce
from gameserver.rules.config import CE_OPTIONS, RulesConfig, Ruleset, apply_overrides
from gameserver.rules.dice import ScriptedDice, roll
from gameserver.rules.errors import RuleViolation
from gameserver.rules.tables_ce import (
    COLUMNS,
    DIFFICULTY_DM,
    GROUP_HITS,
    HAZARD_DM,
    LAUNCHERS,
    MISSILE_DICE,
    SCREEN_MATCH,
    SYSTEMS,
    WEAPONS,
)
from gameserver.rules.vector_input import CaseError, In


def _config(inp: In) -> RulesConfig:
    data = inp.get("config", "obj", {})
    unknown = sorted(set(data) - CE_OPTIONS)
    if unknown:
        raise CaseError(f"config: {', '.join(unknown)} is not a CE option")
    try:
        return apply_overrides(RulesConfig(), data)
    except RuleViolation as exc:
        raise CaseError(f"config: {exc.message}") from None


def _choice(inp: In, name: str, allowed: Any, default: Any = ...) -> str:
    value = inp.get(name, "str", default) if default is not ... else inp.get(name, "str")
    if value not in allowed:
        raise CaseError(f"{inp.where} field {name!r}: unknown value {value!r}")
    return str(value)


def _side(inp: In, name: str) -> ce.Side:
    s = inp.sub(name)
    return ce.Side(
        s.get("skill", "int?", 0),
        s.get("characteristic", "int", 0),
        s.get("dm", "int", 0),
        s.get("hasty", "bool", False),
    )


def _target(inp: In) -> tuple[ce.CeHull, ce.DefenderDMs, bool]:
    t = inp.sub("target")
    systems = t.get("systems", "obj", {})
    for k, v in systems.items():
        if k not in SYSTEMS or not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 3:
            raise CaseError(f"target systems: bad entry {k!r}: {v!r}")
    missing = t.get("missing", "list", [])
    for m in missing:
        if m not in SYSTEMS:
            raise CaseError(f"target missing: {m!r} is not a system")
    work = ce.CeHull(
        tons=t.get("tons", "int"),
        hull=t.get("hull", "int"),
        structure=t.get("structure", "int"),
        armour=t.get("armour", "int", 0),
        thrust=t.get("thrust", "int", 0),
        systems=dict(systems),
        missing=frozenset(missing),
    )
    dfn = ce.DefenderDMs(
        t.get("evasive_dm", "int", 0),
        t.get("dodge", "bool", False),
        t.get("evade_software", "int", 0),
    )
    return work, dfn, t.get("reflec", "bool", False)


def _screens(inp: In) -> list[ce.Screen]:
    out = []
    for raw in inp.get("screens", "list", []):
        if not isinstance(raw, dict):
            raise CaseError("screens: each screen is an object")
        s = In(raw, "screen")
        out.append(ce.Screen(_choice(s, "type", SCREEN_MATCH), s.get("skill", "int", 0)))
    return out


def _attacker(inp: In) -> ce.AttackerDMs:
    return ce.AttackerDMs(
        gunner_skill=inp.get("gunner_skill", "int?", 0),
        dex=inp.get("dex", "int", 0),
        computer_gunner=inp.get("computer_gunner", "bool", False),
        sensor_targeting=inp.get("sensor_targeting", "int", 0),
        line_up=inp.get("line_up", "int", 0),
        computer_targeting=inp.get("computer_targeting", "int", 0),
        pursuit_turn=inp.get("pursuit_turn", "int", 0),
        coordinate=inp.get("coordinate", "int", 0),
        intercept=inp.get("intercept", "bool", False),
        aid_dm=inp.get("aid_dm", "int", 0),
        hasty=inp.get("hasty", "bool", False),
        mount_hits=inp.get("mount_hits", "int", 0),
        bridge_hits=inp.get("bridge_hits", "int", 0),
        sensors_hits=inp.get("sensors_hits", "int", 0),
        other_dm=inp.get("other_dm", "int", 0),
    )


def _hull_out(work: ce.CeHull, report: ce.HitReport | None) -> dict[str, Any]:
    r = report or ce.HitReport()
    return {
        "hits": list(r.hits),
        "rolls": list(r.rolls),
        "locations": list(r.locations),
        "crew_hits": list(r.crew_hits),
        "hull_after": work.hull,
        "structure_after": work.structure,
        "armour_after": work.armour,
        "thrust_after": work.thrust,
        "systems_after": work.systems_hit(),
        "status": work.status,
    }


def _pipeline_out(work: ce.CeHull, dmg: ce.DamageResult | None) -> dict[str, Any]:
    out = {
        "raw": dmg.raw if dmg else 0,
        "reduction": dmg.reduction if dmg else 0,
        "damage": dmg.damage if dmg else 0,
        "radiation": dmg.radiation if dmg else None,
    }
    out.update(_hull_out(work, dmg.report if dmg else None))
    return out


def _roller(inp: In) -> tuple[int | None, int]:
    """Who rolls a check: the `skill` level (None: unskilled) and the `characteristic` score."""
    return inp.get("skill", "int?", 0), inp.get("characteristic", "int", 0)


def _check_out(c: ce.CeCheck) -> dict[str, Any]:
    """What most ops report of a check."""
    return {"total": c.total, "effect": c.effect, "success": c.success}


def _turret_gunner(inp: In) -> dict[str, Any]:
    """The turret gunner's inputs point defence and Fire Sand share (§11.A)."""
    return {
        "gunner_skill": inp.get("gunner_skill", "int?", 0),
        "dex": inp.get("dex", "int", 0),
        "computer_gunner": inp.get("computer_gunner", "bool", False),
        "mount_hits": inp.get("mount_hits", "int", 0),
        "hasty": inp.get("hasty", "bool", False),
        "other_dm": inp.get("other_dm", "int", 0),
    }


def op_check(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    c = ce.check(
        dice,
        *_roller(inp),
        inp.get("dm", "int", 0),
        difficulty=_choice(inp, "difficulty", DIFFICULTY_DM, "average"),
        hasty=inp.get("hasty", "bool", False),
        jot=inp.get("jot", "int", 0),
    )
    return {
        "roll": c.roll,
        "char_dm": c.char_dm,
        "total": c.total,
        "effect": c.effect,
        "success": c.success,
        "degree": c.degree,
    }


def _opposed_out(o: ce.Opposed, a: str = "a", b: str = "b") -> dict[str, Any]:
    return {
        "winner": a if o.a_wins else b,
        f"effect_{a}": o.effect_a,
        f"effect_{b}": o.effect_b,
        "rerolls": o.rerolls,
    }


def op_opposed(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    a, b = _side(inp, "a"), _side(inp, "b")
    return _opposed_out(ce.opposed(dice, a, b))


def op_initiative(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    others = inp.get("other_thrusts", "list", [])
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in others):
        raise CaseError("other_thrusts: a list of integers")
    tac = inp.get("tactics", "obj?", None)
    tactics = None
    if tac is not None:
        t = In(tac, "tactics")
        tactics = (t.get("skill", "int?", 0), t.get("int", "int", 0), t.get("dm", "int", 0))
    res = ce.initiative(
        dice,
        inp.get("thrust", "int", 0),
        others,
        tactics,
        surprise=inp.get("surprise", "bool", False),
        hasty=inp.get("hasty", "bool", False),
        bonus=inp.get("bonus", "int", 0),
    )
    return {
        "roll": res.roll,
        "greater_thrust": res.greater_thrust,
        "tactics_effect": res.tactics_effect,
        "initiative": res.initiative,
        "reactions": res.reactions,
    }


def op_reactions(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    return {
        "reactions": ce.reactions_for(
            inp.get("initiative", "int"), inp.get("disabled", "bool", False)
        )
    }


def op_initiative_order(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    ships = []
    for raw in inp.get("ships", "list"):
        if not isinstance(raw, dict):
            raise CaseError("ships: each ship is an object")
        s = In(raw, "ship")
        ships.append((s.get("id", "str"), s.get("initiative", "int", 0), s.get("thrust", "int", 0)))
    return {"order": ce.initiative_order(ships)}


def op_crew_action(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    action = _choice(inp, "action", ce.GRANTING_ACTIONS)
    sensors_hits = inp.get("sensors_hits", "int", 0)
    ce.crew_action_refusal(action, inp.get("bridge_hits", "int", 0), sensors_hits)
    dm = inp.get("dm", "int", 0)
    if action == "sensor_targeting":
        dm += ce.sensor_targeting_dm(
            inp.get("own_sensors_dm", "int", 0),
            inp.get("target_sensors_dm", "int", 0),
            inp.get("target_jammers", "bool", False),
            inp.get("target_stealth", "bool", False),
            sensors_hits,
        )
    c = ce.check(
        dice,
        *_roller(inp),
        dm,
        hasty=inp.get("hasty", "bool", False),
    )
    return _check_out(c) | {"grants": ce.grant(action, c)}


def op_attack(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    weapon = inp.get("weapon", "str")
    if weapon not in WEAPONS and weapon not in LAUNCHERS:
        raise CaseError(f"unknown weapon {weapon!r}")
    band = inp.band("range")
    cfg = _config(inp)
    work, dfn, reflec = _target(inp)
    screens = _screens(inp)
    res = ce.resolve_attack(
        dice,
        work,
        weapon=weapon,
        band=band,
        att=_attacker(inp),
        dfn=dfn,
        sand=inp.get("sand", "bool", False),
        screens=screens,
        reflec=reflec,
        cfg=cfg,
    )
    out = {"total": res.check.total, "hit": res.hit, "effect": res.check.effect}
    out.update(_pipeline_out(work, res.damage))
    return out


def op_damage_hits(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    return {"hits": ce.damage_hits(inp.get("damage", "int"))}


def op_hit_location(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    column = _choice(inp, "column", COLUMNS)
    r = dice.d6() + dice.d6()
    return {"roll": r, "location": ce.location_of(column, r)}


def op_apply_damage(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    work, _, _ = _target(inp)
    hits = inp.get("hits", "list", [])
    for h in hits:
        if h not in GROUP_HITS:
            raise CaseError(f"hits: unknown hit group {h!r}")
    column = inp.get("column", "str", None)
    if column not in (None, "internal"):
        raise CaseError(f"column: {column!r} (null or internal)")
    if work.structure <= 0:
        raise RuleViolation("target_destroyed", "the target is destroyed")
    groups = hits if hits else ce.damage_hits(inp.get("damage", "int", 0))
    report = ce.apply_hits(dice, work, groups, column)
    return _hull_out(work, report)


def op_crew_hit(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    _choice(inp, "column", ("normal", "radiation"))
    total, result = ce.crew_hit(dice, inp.get("dm", "int", 0))
    return {"total": total, "result": result}


def op_ship_capacity(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    tons = inp.get("tons", "int")
    if tons <= 0:
        raise CaseError("tons must be positive")
    hull, structure, column = ce.ship_capacity(tons)
    return {"hull": hull, "structure": structure, "column": column}


def op_missile_launch(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    missile = _choice(inp, "missile", MISSILE_DICE, "standard")
    launcher = _choice(inp, "launcher", LAUNCHERS, "missile_rack")
    res = ce.missile_launch(
        dice,
        band=inp.band("range"),
        missile=missile,
        launcher=launcher,
        att=_attacker(inp),
        spent=inp.get("spent", "bool", False),
    )
    return {
        "total": res.check.total if res.check else None,
        "effect": res.check.effect if res.check else None,
        "to_hit": res.to_hit,
        "flight_turns": res.flight_turns,
        "missiles": res.missiles,
    }


def op_missile_attack(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    missile = _choice(inp, "missile", MISSILE_DICE, "standard")
    to_hit = inp.get("to_hit", "int")
    work, dfn, _ = _target(inp)
    res = ce.missile_attack(
        dice,
        work,
        missile=missile,
        to_hit=to_hit,
        turn=inp.get("turn", "int", 1),
        dfn=dfn,
        screens=_screens(inp),
    )
    out: dict[str, Any] = {"total": res.total, "hit": res.hit, "continues": res.continues}
    out.update(_pipeline_out(work, res.damage))
    return out


def _chain_out(c: ce.Chain, removed: str) -> dict[str, Any]:
    return {
        "totals": list(c.totals),
        "rolls": len(c.totals),
        removed: c.removed,
        "remaining": c.remaining,
    }


def op_point_defence(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    salvo = inp.get("salvo", "int")
    weapon = inp.get("weapon", "str")
    res = ce.point_defence(
        dice,
        weapon=weapon,
        salvo=max(0, salvo),
        **_turret_gunner(inp),
    )
    return _chain_out(res, "removed")


def op_sand(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    c = ce.fire_sand(
        dice,
        **_turret_gunner(inp),
        spent=inp.get("spent", "bool", False),
    )
    return _check_out(c)


def op_ew_missiles(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    res = ce.ew_missiles(
        dice,
        *_roller(inp),
        max(0, inp.get("missiles", "int")),
        dm=inp.get("dm", "int", 0),
        hasty=inp.get("hasty", "bool", False),
    )
    return _chain_out(res, "stopped")


def op_repair(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    system = inp.get("system", "str")
    if system not in SYSTEMS and system not in ("hull", "structure", "armour", "crew"):
        raise CaseError(f"unknown system {system!r}")
    cfg = _config(inp)
    res = ce.repair(
        dice,
        *_roller(inp),
        system,
        inp.get("hits", "int", 0),
        auto_repair=inp.get("auto_repair", "bool", False),
        hasty=inp.get("hasty", "bool", False),
        dm=inp.get("dm", "int", 0),
        cfg=cfg,
    )
    thrust = None
    if system == "m_drive":
        thrust = ce.m_drive_thrust(inp.get("thrust_rating", "int", 0), res.hits_after)
    return _check_out(res.check) | {
        "repairs": res.repairs,
        "hits_after": res.hits_after,
        "thrust_after": thrust,
    }


_WISHES = ("increase", "decrease", "keep")


def op_range_check(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    a, b = _side(inp, "a"), _side(inp, "b")
    band = inp.band("range")
    a_wants = _choice(inp, "a_wants", _WISHES, "keep")
    b_wants = _choice(inp, "b_wants", _WISHES, "keep")
    o = ce.opposed(dice, a, b)
    out = _opposed_out(o)
    out["range_after"] = ce.range_after(band, a_wants if o.a_wins else b_wants)
    return out


def op_pursuit(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    a, b = _side(inp, "a"), _side(inp, "b")
    ce.pursuit_refusal(
        inp.band("range"), inp.get("speed_a", "int", 0), inp.get("speed_b", "int", 0)
    )
    o = ce.opposed(dice, a, b)
    return _opposed_out(o) | {"in_pursuit": o.a_wins}


def op_ram(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    a, b = _side(inp, "a"), _side(inp, "b")
    speed_a, speed_b = inp.get("speed_a", "int", 0), inp.get("speed_b", "int", 0)
    ce.ram_refusal(inp.band("range"), speed_a, speed_b)
    o = ce.opposed(dice, a, b)
    damage = roll(dice, speed_a - speed_b) if o.a_wins else 0
    return _opposed_out(o) | {"rammed": o.a_wins, "damage": damage}


def op_avoid_collision(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    c, damage = ce.avoid_collision(
        dice,
        *_roller(inp),
        _choice(inp, "hazard", HAZARD_DM),
        speed=inp.get("speed", "int", 0),
        speed_difference=_flag(inp, "speed_difference"),
        hasty=inp.get("hasty", "bool", False),
        dm=inp.get("dm", "int", 0),
    )
    return {"total": c.total, "success": c.success, "damage": damage}


def _flag(inp: In, name: str) -> bool:
    """A yes/no input some files may give as a number (the speed difference itself)."""
    value = inp.data.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    return bool(inp.get(name, "int", 0))


def op_boarding(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    attacker, defender = _side(inp, "attacker"), _side(inp, "defender")
    band = inp.band("range") if inp.data.get("range") is not None else None
    res = ce.boarding(dice, attacker, defender, band, inp.get("docked", "bool", False))
    out = _opposed_out(res.opposed, "attacker", "defender")
    out["result"] = res.result
    out.update(res.outcome())
    return out


OPS: dict[str, Callable[[In, ScriptedDice, Ruleset], dict[str, Any]]] = {
    "check": op_check,
    "opposed": op_opposed,
    "initiative": op_initiative,
    "reactions": op_reactions,
    "initiative_order": op_initiative_order,
    "crew_action": op_crew_action,
    "attack": op_attack,
    "damage_hits": op_damage_hits,
    "hit_location": op_hit_location,
    "apply_damage": op_apply_damage,
    "crew_hit": op_crew_hit,
    "ship_capacity": op_ship_capacity,
    "missile_launch": op_missile_launch,
    "missile_attack": op_missile_attack,
    "point_defence": op_point_defence,
    "sand": op_sand,
    "ew_missiles": op_ew_missiles,
    "repair": op_repair,
    "range_check": op_range_check,
    "pursuit": op_pursuit,
    "ram": op_ram,
    "avoid_collision": op_avoid_collision,
    "boarding": op_boarding,
}
