"""The engineer's power actions on the page: a dark turret and the power line on the ship card,
the engineer's "Take offline" with its system picker, and the turret lit again for everyone."""

from __future__ import annotations

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


def test_the_engineer_sheds_load_to_light_a_dark_turret(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """A Severity-3 Power Plant critical (house ruling) leaves the Scout 30 Power of the 35
    its systems need: turret 1 goes dark. In the Actions step the engineer takes the M-Drive
    offline; the turret has power again and both browsers show it."""
    code = create_battle(gm, presets=("scout", "corsair"))
    player = _open(new_context())
    join_as_player(player, code, "s1-engineer")
    gm.get_by_test_id("gm-ruling-target").select_option("ship:s1")
    gm.get_by_test_id("gm-ruling-field").select_option("crit:power_plant")
    gm.get_by_test_id("gm-ruling-value").fill("3")
    gm.get_by_test_id("gm-ruling-reason").fill("a power surge")
    gm.get_by_test_id("gm-ruling").click()
    expect(player.get_by_test_id("power-s1")).to_have_text("Power 30/35")
    expect(player.get_by_test_id("unpowered-s1-0")).to_have_text("no power")
    expect(gm.get_by_test_id("unpowered-s1-0")).to_be_visible()

    offline = player.get_by_test_id("do-offline_system")
    gm_runs_until_offered(gm, player, offline)
    expect(player.get_by_test_id("do-overload_plant")).to_have_text("Overload plant")
    picker = player.get_by_test_id("offline_system-system")
    expect(picker.locator("option")).to_have_text(["M-Drive", "Turret 1"])
    picker.select_option("m_drive")
    player.screenshot(path=str(output_dir / "engineer-power-before.png"), full_page=True)
    offline.click()
    expect(player.get_by_test_id("power-s1")).to_have_text("Power 30/25 · M-Drive offline")
    expect(player.get_by_test_id("unpowered-s1-0")).to_have_count(0)
    expect(gm.get_by_test_id("unpowered-s1-0")).to_have_count(0)
    expect(player.locator("[data-type=system_offline]")).to_contain_text(
        "takes the M-Drive offline"
    )
    player.screenshot(path=str(output_dir / "engineer-power-after.png"), full_page=True)
    _no_script_errors(player)


def test_the_gm_reassigns_crew_from_the_ruling_form(gm: Page, new_context: NewContext) -> None:
    """House ruling "Crew: move the Engineer to (swap)" -> Pilot: the cards show the swap."""
    code = create_battle(gm, presets=("scout", "corsair"))
    player = _open(new_context())
    join_as_player(player, code, "s1-engineer")
    gm.get_by_test_id("gm-ruling-target").select_option("ship:s1")
    gm.get_by_test_id("gm-ruling-field").select_option("station:engineer")
    value = gm.get_by_test_id("gm-ruling-value")
    expect(value.locator("option[value=pilot]")).to_have_text("Pilot")
    value.select_option("pilot")
    gm.get_by_test_id("gm-ruling-reason").fill("the engineer flies better")
    gm.get_by_test_id("gm-ruling").click()
    crew = player.get_by_test_id("ship-s1").locator(".crew-line")
    expect(crew).to_contain_text("Pilot Regular engineer")
    expect(crew).to_contain_text("Engineer Regular pilot")
    _no_script_errors(player)


def test_the_gm_has_one_crew_member_hold_a_station_as_well(gm: Page) -> None:
    """House ruling "Crew: the Gunner 1 is held as well by": the Fighter's one pilot lets the
    gun go (nobody), then holds it again; the log says both."""
    create_battle(gm, presets=("fighter", "corsair"))
    gm.get_by_test_id("gm-ruling-target").select_option("ship:s1")
    gm.get_by_test_id("gm-ruling-field").select_option("cover:gunner:0")
    value = gm.get_by_test_id("gm-ruling-value")
    expect(value.locator("option[value='']")).to_have_text("nobody (let it go)")
    value.select_option("")
    gm.get_by_test_id("gm-ruling-reason").fill("the pilot only flies")
    gm.get_by_test_id("gm-ruling").click()
    rulings = gm.locator("[data-type=gm_ruling]")
    expect(rulings.last).to_contain_text("cover:gunner:0 = nobody (the pilot only flies)")
    gm.get_by_test_id("gm-ruling-field").select_option("cover:gunner:0")
    gm.get_by_test_id("gm-ruling-value").select_option("pilot")
    gm.get_by_test_id("gm-ruling-reason").fill("back on the trigger")
    gm.get_by_test_id("gm-ruling").click()
    expect(rulings.last).to_contain_text("cover:gunner:0 = pilot (back on the trigger)")
