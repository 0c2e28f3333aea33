"""The bot per ship in a real browser: the GM hands an NPC ship to the bot in one click (with its
tactic) and takes it back; a solo player picks their ship and the bot runs the rest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.test_accessibility import assert_clean, axe_source
from tests.browser.test_tabletop import (
    _no_script_errors,
    _open,
    create_battle,
    gm_options_seq,
    settled_seq,
    watched_page,
)

__all__ = ["axe_source"]  # the pinned axe-core, a fixture of the accessibility test

pytestmark = pytest.mark.browser


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's page (without CSP, so axe can be injected: see `axe_violations`)."""
    yield from watched_page(new_context(bypass_csp=True))


def test_the_gm_hands_an_npc_ship_to_the_bot_in_one_click_and_takes_it_back(
    gm: Page, output_dir: Path, axe_source: str
) -> None:
    """The GM's "Stations you run" lists each ship with a tactic and a "Bot runs it" button;
    after the click the log says so, the ship's stations leave the GM's list (the bot plays
    them) and "Take back" returns them. Both states pass axe."""
    create_battle(gm, presets=("free_trader", "corsair"), starting_range="long")
    row = gm.get_by_test_id("bot-ship-s2")
    expect(row).to_contain_text("Vengeance")
    gm.get_by_test_id("bot-tactic-s2").select_option("aggressive")
    gm.get_by_test_id("bot-on-s2").click()
    expect(row).to_contain_text("bot, aggressive")
    expect(row).to_have_attribute("data-tactic", "aggressive")
    # The board's card says who runs the ship, for everyone at the table.
    expect(gm.get_by_test_id("bot-s2")).to_have_text("Bot · Aggressive")
    expect(gm.get_by_test_id("bot-s1")).to_have_count(0)
    log = gm.get_by_test_id("battle-log")
    expect(log).to_contain_text("The GM hands Vengeance to the bot (aggressive tactics).")
    gm.get_by_test_id("gm-panel").screenshot(path=str(output_dir / "gm-bot-ships.png"))
    assert_clean(gm, axe_source, "GM panel with a ship the bot runs")
    # Whatever the initiative, the GM never has to run Vengeance's stations now.
    npc = gm.get_by_test_id("gm-npc")
    for _ in range(8):
        seq = gm_options_seq(gm)
        expect(npc.locator("[data-ship=s2]")).to_have_count(0)
        if npc.get_by_test_id("npc-pass").count() == 0:
            break
        npc.get_by_test_id("npc-pass").first.click()
        expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
    expect(log).to_contain_text(re.compile(r"Vengeance"))
    gm.get_by_test_id("bot-off-s2").click()
    expect(log).to_contain_text("The GM takes Vengeance back from the bot.")
    expect(gm.get_by_test_id("bot-on-s2")).to_be_visible()
    expect(gm.get_by_test_id("bot-s2")).to_have_count(0)


def test_a_player_plays_solo_their_ship_against_the_bot(
    new_context: NewContext, output_dir: Path
) -> None:
    """Solo as a player: pick your ship and the bot's tactic; you sit at every station of your
    ship, the bot runs the other ship (a gm_bot event of the opening log) and plays its moves."""
    page = _open(new_context())
    expect(page.get_by_test_id("create-form")).to_be_visible()
    page.get_by_test_id("ship-preset-0").select_option("free_trader")
    page.get_by_test_id("ship-preset-1").select_option("corsair")
    page.get_by_test_id("starting-range").select_option("short")
    page.get_by_test_id("solo-ship").select_option(label="Vengeance")
    page.get_by_test_id("solo-tactic").select_option("cautious")
    solo = page.get_by_test_id("create-solo")
    expect(solo).to_have_text("Play solo: command Vengeance")
    page.get_by_test_id("create-form").screenshot(path=str(output_dir / "solo-create.png"))
    solo.click()
    expect(page.get_by_test_id("battle-view")).to_be_visible()
    expect(page.get_by_test_id("my-role")).to_contain_text("Vengeance")
    log = page.get_by_test_id("battle-log")
    expect(log).to_contain_text("The GM hands Beowulf to the bot (cautious tactics).")
    expect(page.get_by_test_id("bot-s1")).to_have_text("Bot · Cautious")
    expect(page.get_by_test_id("bot-s2")).to_have_count(0)
    # Pass our stations until the bot has moved for Beowulf.
    for _ in range(40):
        seq = settled_seq(page)
        if "Beowulf" in (log.inner_text() or "").split("to the bot", 1)[-1]:
            break
        panel = page.get_by_test_id("station-panel")
        expect(panel).to_have_attribute("data-seq", seq)
        button = panel.locator(
            "[data-testid=do-end_step]:not([disabled]),"
            " [data-testid=do-no_reaction]:not([disabled])"
        ).first
        if button.count() and button.is_visible():
            button.click()
            expect(page.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
        else:
            page.wait_for_function(
                "s => document.querySelector('[data-testid=battle-view]').dataset.seq !== s",
                arg=seq,
            )
    after = (log.inner_text() or "").split("to the bot", 1)[-1]
    assert "Beowulf" in after, "the bot played Beowulf's moves"
    page.screenshot(path=str(output_dir / "solo-battle.png"))
    _no_script_errors(page)
