"""`python -m gameserver.rules.vectors FILE...`: check rule vector files (RULES Part A).

Prints one line per failing case (id, field, expected, got) and ends with ``N passed, M failed``;
exits 0 only when M is 0. Every op calls the same resolution functions the battle uses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gameserver.rules import vectors_ce
from gameserver.rules.config import RulesConfig, Ruleset
from gameserver.rules.dice import ScriptedDice
from gameserver.rules.errors import DiceExhausted, RuleViolation
from gameserver.rules.resolution import (
    HullWork,
    aid_gunners,
    check,
    critical_severity,
    initiative,
    net_boon,
    point_defence,
    range_change,
    repair_check,
    resolve_attack,
    resolve_damage,
    sand,
    sustained_count,
)
from gameserver.rules.tables_mgt2e import LOCATION_INDEX, MOUNT_MULTIPLE, WEAPONS
from gameserver.rules.vector_input import CaseError, In


def _ruleset(inp: In, file_ruleset: Ruleset) -> Ruleset:
    value = inp.get("ruleset", "str", file_ruleset.value)
    try:
        return Ruleset(value)
    except ValueError:
        raise CaseError(f"unknown ruleset {value!r}") from None


def _op_check(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    c = check(
        dice,
        inp.get("skill", "int?", 0),
        inp.get("characteristic", "int", 0),
        target=inp.get("target", "int", 8),
        dm=inp.get("dm", "int", 0),
        boon=net_boon(max(0, inp.get("boon", "int", 0)), max(0, -inp.get("boon", "int", 0))),
    )
    return {"roll": c.roll, "total": c.total, "effect": c.effect, "success": c.success}


def _op_initiative(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    tac_in = inp.get("tactics", "obj?", None)
    tactics = None
    if tac_in is not None:
        t = In(tac_in, "tactics")
        tactics = (t.get("skill", "int?", 0), t.get("int", "int", 0))
    value, _, _ = initiative(
        dice, inp.get("pilot_skill", "int?", 0), inp.get("thrust", "int", 0), tactics
    )
    return {"initiative": value}


def _op_attack(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    weapon = inp.get("weapon", "str")
    if weapon not in WEAPONS:
        raise CaseError(f"unknown weapon {weapon!r}")
    mount = inp.get("mount", "str", "single")
    if mount not in MOUNT_MULTIPLE:
        raise CaseError(f"unknown mount {mount!r}")
    band = inp.band("range")
    tgt = In(inp.get("target", "obj"), "target")
    hull = tgt.get("hull", "int")
    hull_max = tgt.get("hull_max", "int")
    crits_in = tgt.get("crits", "obj", {})
    crits = [0] * len(LOCATION_INDEX)
    for loc, sev in crits_in.items():
        if loc not in LOCATION_INDEX or not isinstance(sev, int) or isinstance(sev, bool):
            raise CaseError(f"target crits: bad entry {loc!r}: {sev!r}")
        crits[LOCATION_INDEX[loc]] = sev
    if not WEAPONS[weapon].direct_fire:
        raise RuleViolation("not_direct_fire", f"{weapon} is not a direct-fire weapon")
    if hull <= 0:
        raise RuleViolation("target_wrecked", "the target is a wreck")
    boon = net_boon(
        int(inp.get("sensor_lock", "bool", False)), int(inp.get("weapon_bane", "bool", False))
    )
    cfg = RulesConfig()
    res = resolve_attack(
        dice,
        weapon=weapon,
        band=band,
        gunner_skill=inp.get("gunner_skill", "int?", 0),
        dex=inp.get("dex", "int", 0),
        mount=mount,
        linked=inp.get("weapons_linked", "int", 1),
        fire_control=inp.get("fire_control", "int", 0),
        boon=boon,
        aid_dm=inp.get("aid_dm", "int", 0),
        evasive_dm=tgt.get("evasive_dm", "int", 0),
        other_dm=inp.get("other_dm", "int", 0),
        armour=tgt.get("armour", "int", 0),
        sand_armour=tgt.get("sand_armour", "int", 0),
        ruleset=rs,
        cfg=cfg,
    )
    work = HullWork(hull, hull_max, crits)
    records = []
    if res.hit:
        records = resolve_damage(dice, work, res.damage, res.severity, None, cfg, None)
    return {
        "total": res.total,
        "hit": res.hit,
        "effect": res.effect,
        "damage": res.damage,
        "hull_after": work.hull,
        "criticals": [[r.location, r.severity] for r in records],
        "status": "wrecked" if work.hull <= 0 else "active",
    }


def _op_severity(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    return {
        "severity": critical_severity(inp.get("damage", "int", 0), inp.get("effect", "int", 0), rs)
    }


def _op_sustained(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    hull_max = inp.get("hull_max", "int")
    if hull_max <= 0:
        raise CaseError("input field 'hull_max' must be positive")
    return {
        "count": sustained_count(
            hull_max, inp.get("lost_before", "int", 0), inp.get("lost_after", "int", 0)
        )
    }


def _op_range_change(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    cost, rounds = range_change(
        inp.band("from"),
        inp.band("to"),
        inp.get("thrust", "int", 0),
        inp.get("other_thrust", "int", 0),
    )
    return {"cost": cost, "rounds": rounds}


def _op_point_defence(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    res = point_defence(
        dice,
        inp.get("gunner_skill", "int?", 0),
        inp.get("dex", "int", 0),
        inp.get("mount", "str", "single"),
        inp.get("salvo", "int"),
    )
    return {"success": res.check.success, "removed": res.removed, "remaining": res.remaining}


def _op_sand(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    c, bonus = sand(dice, inp.get("gunner_skill", "int?", 0), inp.get("dex", "int", 0))
    return {"success": c.success, "armour_bonus": bonus, "effect": c.effect, "total": c.total}


def _op_repair(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    c = repair_check(
        dice,
        inp.get("engineer_skill", "int?", 0),
        inp.get("characteristic", "int", 0),
        inp.get("severity", "int", 0),
        inp.get("consecutive_rounds", "int", 0),
    )
    return {"total": c.total, "success": c.success, "effect": c.effect}


def _op_aid_gunners(inp: In, dice: ScriptedDice, rs: Ruleset) -> dict[str, Any]:
    c, dm = aid_gunners(dice, inp.get("pilot_skill", "int?", 0), inp.get("dex", "int", 0))
    return {"effect": c.effect, "dm": dm, "total": c.total, "success": c.success}


OPS: dict[str, Callable[[In, ScriptedDice, Ruleset], dict[str, Any]]] = {
    "check": _op_check,
    "initiative": _op_initiative,
    "attack": _op_attack,
    "severity": _op_severity,
    "sustained": _op_sustained,
    "range_change": _op_range_change,
    "point_defence": _op_point_defence,
    "sand": _op_sand,
    "repair": _op_repair,
    "aid_gunners": _op_aid_gunners,
}


def _same(expected: Any, got: Any) -> bool:
    """JSON equality that keeps booleans apart from numbers; lists compare in order."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    if isinstance(expected, list):
        return (
            isinstance(got, list | tuple)
            and len(expected) == len(got)
            and all(_same(e, g) for e, g in zip(expected, got, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and expected.keys() == got.keys()
            and all(_same(v, got[k]) for k, v in expected.items())
        )
    return bool(expected == got)


def run_case(case: Any, file_ruleset: Ruleset) -> tuple[str, list[str]]:
    """Run one case; returns (id, list of mismatch descriptions) — empty when it passed."""
    if not isinstance(case, dict):
        return "?", ["case: not an object"]
    cid = str(case.get("id", "?"))
    op = case.get("op")
    expect = case.get("expect")
    if not isinstance(expect, dict):
        return cid, ["expect: missing or not an object"]
    raw_input = case.get("input", {})
    if not isinstance(raw_input, dict):
        return cid, ["input: not an object"]
    inp = In(raw_input)
    try:
        rs = _ruleset(inp, file_ruleset)
    except CaseError as exc:
        return cid, [f"input: {exc}"]
    ops = vectors_ce.OPS if rs.is_ce else OPS
    fn = ops.get(op) if isinstance(op, str) else None
    if fn is None:
        return cid, [f"op: unknown op {op!r} for {rs.value}; known: {', '.join(sorted(ops))}"]
    try:
        dice = ScriptedDice(case.get("dice") or [])
    except ValueError as exc:
        return cid, [f"dice: {exc}"]
    try:
        got: dict[str, Any] = fn(inp, dice, rs)
    except RuleViolation as exc:
        got = {"error": exc.code}
    except DiceExhausted as exc:
        return cid, [f"dice: {exc}"]
    except CaseError as exc:
        return cid, [f"input: {exc}"]
    if "error" in got and "error" not in expect:
        return cid, [f"error: expected none, got {json.dumps(got['error'])}"]
    problems = []
    for key, want in expect.items():
        have = got.get(key, None if key == "error" else "<not reported>")
        if not _same(want, have):
            problems.append(f"{key}: expected {json.dumps(want)}, got {json.dumps(have)}")
    return cid, problems


def run_file(path: Path) -> tuple[int, int, list[str]]:
    """Check one vector file; returns (passed, failed, failure lines)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return 0, 1, [f"{path}: cannot read vector file: {exc}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        return 0, 1, [f"{path}: not a vector file (needs an object with a 'cases' list)"]
    try:
        file_ruleset = Ruleset(doc.get("ruleset", Ruleset.MGT2E_2016.value))
    except ValueError:
        return 0, 1, [f"{path}: unknown ruleset {doc.get('ruleset')!r}"]
    passed, failed, lines = 0, 0, []
    for case in doc["cases"]:
        cid, problems = run_case(case, file_ruleset)
        if problems:
            failed += 1
            lines.append(f"{cid}: " + "; ".join(problems))
        else:
            passed += 1
    return passed, failed, lines


def main(argv: list[str]) -> int:
    """Entry point: every file named, one line per failing case, then the totals line."""
    if not argv:
        print("usage: python -m gameserver.rules.vectors FILE...", file=sys.stderr)
        return 2
    total_passed = total_failed = 0
    for name in argv:
        passed, failed, lines = run_file(Path(name))
        for line in lines:
            print(line)
        total_passed += passed
        total_failed += failed
    print(f"{total_passed} passed, {total_failed} failed")
    return 0 if total_failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
