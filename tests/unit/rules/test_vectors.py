"""The shared MgT2e vectors pass through the command-line checker (RULES Part A)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gameserver.rules import vectors

ROOT = Path(__file__).resolve().parents[3]
PINNED = Path(__file__).resolve().parent / "vectors-mgt2e.json"
SHARED = ROOT.parent / "shared" / "rules" / "vectors-mgt2e.json"
# The shared file when ../shared is beside the checkout, and always the copy pinned in the repo.
VECTOR_FILES = [p for p in (SHARED, PINNED) if p.is_file()]


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.parent.parent.name)
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


def test_unreadable_file_counts_as_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "broken.json"
    f.write_text("{not json")
    assert vectors.main([str(f)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "0 passed, 1 failed"
