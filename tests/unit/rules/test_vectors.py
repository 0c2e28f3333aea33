"""The shared MgT2e and CE vectors pass through the command-line checker (RULES Part A)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gameserver.rules import vectors

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
SHARED = ROOT.parent / "shared" / "rules"
# The shared files when ../shared is beside the checkout, and always the copies pinned in the repo.
VECTOR_FILES = [
    p
    for name in ("vectors-mgt2e.json", "vectors-ce.json")
    for p in (SHARED / name, HERE / name)
    if p.is_file()
]


def test_both_profiles_have_a_pinned_copy() -> None:
    assert (HERE / "vectors-mgt2e.json").is_file()
    assert json.loads((HERE / "vectors-ce.json").read_text())["ruleset"] == "CE"


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: f"{p.parent.parent.name}-{p.stem}")
def test_public_vectors_pass_via_the_command(path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gameserver.rules.vectors", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    cases = len(json.loads(path.read_text())["cases"])
    assert out.stdout.strip().splitlines()[-1] == f"{cases} passed, 0 failed"


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        pytest.param(
            {"id": "x", "op": "nope", "input": {}, "expect": {}}, "unknown op", id="unknown-op"
        ),
        pytest.param(
            {"id": "x", "op": "point_defence", "input": {}, "dice": [6, 6], "expect": {}},
            "missing required input field 'salvo'",
            id="missing-required",
        ),
        pytest.param(
            {"id": "x", "op": "check", "input": {"skill": 1}, "dice": [6], "expect": {}},
            "only 1 were given",
            id="too-few-dice",
        ),
        pytest.param(
            {"id": "x", "op": "check", "input": {}, "dice": [3, 3], "expect": {"total": 7}},
            "total: expected 7, got 3",
            id="wrong-value",
        ),
        pytest.param(
            {"id": "x", "op": "check", "input": {}, "dice": [3, 3], "expect": {"success": 0}},
            "success: expected 0, got false",
            id="bool-is-not-int",
        ),
    ],
)
def test_bad_cases_fail_with_a_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, object], needle: str
) -> None:
    f = tmp_path / "v.json"
    f.write_text(json.dumps({"ruleset": "MGT2E_2016", "cases": [case]}))
    assert vectors.main([str(f)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert needle in out[0]
    assert out[-1] == "0 passed, 1 failed"


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        pytest.param(
            {"id": "x", "op": "severity", "input": {}, "expect": {}},
            "unknown op 'severity' for CE",
            id="mgt2e-op-in-a-ce-file",
        ),
        pytest.param(
            {
                "id": "x",
                "op": "repair",
                "input": {"system": "sensors", "hits": 1, "config": {"undo_limit": 3}},
                "dice": [3, 3],
                "expect": {},
            },
            "undo_limit is not a CE option",
            id="foreign-config-key",
        ),
        pytest.param(
            {
                "id": "x",
                "op": "attack",
                "input": {"weapon": "beam_laser", "range": "short"},
                "dice": [6, 6],
                "expect": {},
            },
            "missing required input field 'target'",
            id="missing-target",
        ),
        pytest.param(
            {
                "id": "x",
                "op": "attack",
                "input": {
                    "weapon": "railgun",
                    "range": "short",
                    "target": {"tons": 100, "hull": 2, "structure": 2},
                },
                "expect": {},
            },
            "unknown weapon 'railgun'",
            id="not-a-ce-weapon",
        ),
    ],
)
def test_bad_ce_cases_fail_with_a_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, object], needle: str
) -> None:
    f = tmp_path / "v.json"
    f.write_text(json.dumps({"ruleset": "CE", "cases": [case]}))
    assert vectors.main([str(f)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert needle in out[0], out
    assert out[-1] == "0 passed, 1 failed"


def test_a_ce_refusal_rolls_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = {
        "id": "x",
        "op": "attack",
        "input": {
            "weapon": "pulse_laser",
            "range": "distant",
            "target": {"tons": 200, "hull": 4, "structure": 4},
        },
        "expect": {"error": "out_of_range"},
    }
    f = tmp_path / "v.json"
    f.write_text(json.dumps({"ruleset": "CE", "cases": [case]}))
    assert vectors.main([str(f)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 0 failed"


def test_unreadable_file_counts_as_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "broken.json"
    f.write_text("{not json")
    assert vectors.main([str(f)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "0 passed, 1 failed"
