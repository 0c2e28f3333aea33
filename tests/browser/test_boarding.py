"""Docking and boarding on the page (MgT2e): the pilot docks with a crippled enemy alongside,
both boards show the pair docked, then the captain (a second player, joining late) leads a
boarding action and the log says how it went."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.test_tabletop import (
    _no_script_errors,
    _open,
    create_battle,
    gm_runs_until_offered,
    join_as_player,
    watched_page,
)


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's page, on the lobby."""
    yield from watched_page(new_context())


def test_the_pilot_docks_and_the_captain_boards(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Vengeance's M-Drive is wrecked (house ruling, Severity 5: no Thrust), so it cannot
    refuse the dock: Average Piloting, retried each round until it holds (the battle's dice
    are its own). Then the captain boards it."""
    code = create_battle(gm, presets=("corsair", "free_trader"), starting_range="adjacent")
    gm.get_by_test_id("gm-ruling-target").select_option("ship:s2")
    gm.get_by_test_id("gm-ruling-field").select_option("crit:m_drive")
    gm.get_by_test_id("gm-ruling-value").fill("5")
    gm.get_by_test_id("gm-ruling-reason").fill("drive blown")
    gm.get_by_test_id("gm-ruling").click()
    expect(gm.get_by_test_id("thrust-s2")).to_have_text("0/1")

    pilot = _open(new_context())
    join_as_player(pilot, code, "s1-pilot")
    dock = pilot.get_by_test_id("do-dock")
    tries = pilot.locator("[data-type=docking]")
    for attempt in range(1, 11):
        gm_runs_until_offered(gm, pilot, dock)
        options = pilot.get_by_test_id("dock-target").locator("option")
        expect(options).to_have_text([re.compile(r"^Vengeance")])
        if attempt == 1:
            pilot.screenshot(path=str(output_dir / "boarding-dock-offered.png"), full_page=True)
        dock.click()
        expect(tries).to_have_count(attempt)
        if "docks with" in tries.last.inner_text():
            break
    else:
        pytest.fail("ten Average Piloting checks in a row failed")
    expect(tries.last).to_contain_text("Beowulf docks with Vengeance")
    expect(pilot.get_by_test_id("docked-s1")).to_have_text("Docked with Vengeance")
    expect(gm.get_by_test_id("docked-s2")).to_have_text("Docked with Beowulf")

    captain = _open(new_context())
    join_as_player(captain, code, "s1-captain", name="Bo")
    board = captain.get_by_test_id("do-boarding_action")
    gm_runs_until_offered(gm, captain, board)
    expect(board).to_have_text("Board")
    board.click()
    line = captain.locator("[data-type=boarding]").last
    expect(line).to_contain_text("Beowulf boards Vengeance (Tactics")
    expect(gm.locator("[data-type=boarding]").last).to_contain_text("Beowulf boards Vengeance")
    line.get_by_text("Roll card").click()
    expect(line.locator("[data-roll=check]").first).to_contain_text("Boarders' Tactics")
    captain.screenshot(path=str(output_dir / "boarding-after.png"), full_page=True)
    _no_script_errors(pilot, captain)
