"""The GM fires every turret of an NPC ship at one target in one click (issue 18, "Less GM
clicking"), in a real browser against the real server.

Every wait is Playwright's auto-waiting `expect` on a condition.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocket, expect

from tests.browser.conftest import NewContext
from tests.browser.test_tabletop import (
    _horizontal_overflow,
    _no_script_errors,
    _open,
    gm_passes_one_station,
    join_as_player,
    settled_seq,
)

pytestmark = pytest.mark.browser


def _create_with_a_laser_drill(gm: Page) -> str:
    """Beowulf (Free Trader) against Vengeance, a Corsair (six turrets of three beam lasers,
    reach: Medium) with a seventh turret, a single laser drill (reach: Adjacent), at Medium
    range. Returns the join code."""
    expect(gm.get_by_test_id("create-form")).to_be_visible()
    gm.get_by_test_id("ship-preset-0").select_option("free_trader")
    gm.get_by_test_id("ship-preset-1").select_option("corsair")
    gm.get_by_test_id("starting-range").select_option("medium")
    gm.get_by_test_id("custom-design-1").click()
    gm.get_by_test_id("design-1-add-turret").click()
    gm.get_by_test_id("design-1-t6-w0").select_option("laser_drill")
    expect(gm.get_by_test_id("design-1-figures")).to_contain_text("Gunner 7")
    expect(gm.get_by_test_id("design-1-figures")).to_contain_text("As the engine builds it")
    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("my-role")).to_have_text("GM")
    return gm.get_by_test_id("join-code-display").inner_text()


def _until_vengeance_attacks(gm: Page, pilot: Page) -> None:
    """Play to Vengeance's Attack step: Beowulf's pilot (a player) keeps her Thrust for evasive
    action, the GM passes Vengeance's pilot; Beowulf's idle crew pass by themselves."""
    gunner = gm.get_by_test_id("npc-s2-gunner:0")
    end_step = pilot.get_by_test_id("do-end_step")
    for _ in range(30):
        seq = settled_seq(gm)
        expect(pilot.get_by_test_id("battle-view")).to_have_attribute("data-seq", seq)
        expect(gm.get_by_test_id("gm-npc")).to_have_attribute("data-seq", seq)
        if gunner.count():
            return
        end_step.or_(pilot.get_by_test_id("no-actions")).first.wait_for()
        if end_step.is_visible():
            end_step.click()
            expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
        else:
            gm_passes_one_station(gm)
    pytest.fail("Vengeance's gunners never got the move")


def test_gm_fires_all_turrets_of_an_npc_ship_in_one_click(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Six beam-laser turrets fire at Beowulf, one after the other (the first waits for the
    pilot's evasive action); the laser drill turret, out of range, is left alone and the report
    says why. One GM key press, and the connection's rate limit is never hit."""
    frames: list[str] = []

    def watch(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    gm.on("websocket", watch)
    code = _create_with_a_laser_drill(gm)
    ana = _open(new_context())
    join_as_player(ana, code, "s1-pilot", name="Ana")
    expect(gm.get_by_test_id("gm-peers")).to_contain_text("Ana")
    gm.get_by_test_id("gm-autopass").check()
    expect(gm.get_by_test_id("gm-autopass")).to_be_checked()
    _until_vengeance_attacks(gm, ana)

    volley = gm.get_by_test_id("volley-s2")
    fire = gm.get_by_test_id("volley-fire-s2")
    # The laser drill has nothing but a pass: the server passed it; six turrets are offered.
    expect(fire).to_have_text("Fire all 6 turrets")
    expect(gm.get_by_test_id("volley-target-s2")).to_have_accessible_name(
        "Target for all of Vengeance's turrets"
    )
    gm.set_viewport_size({"width": 390, "height": 844})
    volley.scroll_into_view_if_needed()
    gm.screenshot(path=str(output_dir / "gm-volley-390.png"), full_page=False)
    assert _horizontal_overflow(gm) == 0
    gm.set_viewport_size({"width": 1440, "height": 900})
    gm.evaluate(
        """() => document.addEventListener('click', (e) => {
            if (e.isTrusted) window.__gmClicks = (window.__gmClicks ?? 0) + 1;
        }, true)"""
    )
    gm.get_by_test_id("volley-target-s2").select_option("s1")
    # Keyboard: focus the button and press Enter (a click for the counter, as a mouse would).
    fire.focus()
    gm.keyboard.press("Enter")

    # The first shot waits for Beowulf's pilot: she evades (her one point of Thrust).
    report = gm.get_by_test_id("gm-volley")
    expect(report).to_have_attribute("data-state", "waiting")
    expect(gm.get_by_test_id("volley-status")).to_contain_text("waiting for Beowulf's reactions")
    evade = ana.get_by_test_id("do-evasive_action")
    evade.click()
    expect(report).to_have_attribute("data-state", "done")

    lines = gm.get_by_test_id("volley-lines")
    for t in range(6):
        expect(lines.locator(f"li[data-station='gunner:{t}']")).to_have_attribute(
            "data-outcome", "fired"
        )
        expect(lines.locator(f"li[data-station='gunner:{t}']")).to_have_text(
            f"Gunner {t + 1} fired 3 beam lasers at Beowulf."
        )
    drill = lines.locator("li[data-station='gunner:6']")
    expect(drill).to_have_attribute("data-outcome", "skipped")
    expect(drill).to_have_text(
        "Gunner 7 did not fire: Beowulf is at Medium range; its Laser drill reaches Adjacent"
        " at most."
    )
    expect(gm.get_by_test_id("volley-status")).to_have_text(
        "Vengeance fired 6 turrets at Beowulf; 1 did not (why below)."
    )
    # The shots are in everyone's log and resolved; Vengeance's gunners are done.
    log = gm.get_by_test_id("battle-log")
    declared = log.locator(":scope > li[data-type=attack_declared]")
    expect(declared).to_have_count(6)
    expect(declared.first).to_contain_text("Vengeance fires 3 beam lasers at Beowulf")
    expect(log.locator(":scope > li[data-type=attack_resolved]")).to_have_count(6)
    expect(ana.locator("[data-testid=battle-log] > li[data-type=attack_declared]")).to_have_count(6)
    expect(gm.locator("[data-testid^='npc-s2-gunner']")).to_have_count(0)
    assert int(gm.evaluate("() => window.__gmClicks ?? 0")) == 1
    assert not [f for f in frames if "rate_limited" in f], "the volley tripped the rate limit"
    assert not [f for f in frames if json.loads(f).get("type") == "error"]

    report.scroll_into_view_if_needed()
    gm.screenshot(path=str(output_dir / "gm-volley-1440.png"), full_page=False)
    gm.set_viewport_size({"width": 390, "height": 844})
    report.scroll_into_view_if_needed()
    gm.screenshot(path=str(output_dir / "gm-volley-report-390.png"), full_page=False)
    assert _horizontal_overflow(gm) == 0
    gm.get_by_test_id("volley-dismiss").click()
    expect(gm.get_by_test_id("volley-status")).to_have_text("")
    expect(report).not_to_have_attribute("data-state", "done")
    _no_script_errors(ana)
