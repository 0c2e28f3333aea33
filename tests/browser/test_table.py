"""The GM decides who sits at the table: a kicked player stays out until let back in, and a
locked table takes no strangers (real browsers, real server)."""

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
    join_as_player,
    watched_page,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's page, on the lobby."""
    yield from watched_page(new_context())


def try_to_join(page: Page, code: str, seat: str, name: str) -> None:
    """The join link, a seat and the Join button (the join may be refused)."""
    page.goto(f"/?join={code}")
    page.get_by_test_id("join-name").fill(name)
    page.get_by_test_id("role-player").check()
    page.get_by_test_id(f"seat-{seat}").check()
    page.get_by_test_id("join-battle").click()


def test_the_gm_kicks_lets_back_in_and_locks_the_table(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    code = create_battle(gm)
    ana = _open(new_context())
    join_as_player(ana, code, "s1-pilot")
    peers = gm.get_by_test_id("gm-peers")
    expect(peers).to_contain_text("Ana")

    peers.locator("li", has_text="Ana").get_by_role("button", name="Kick").click()
    expect(ana.get_by_test_id("battle-ended")).to_contain_text("Removed from the battle")
    expect(gm.get_by_test_id("gm-bans")).to_contain_text("Ana")
    # Back through the join link from the same browser (her resume token): refused.
    try_to_join(ana, code, "s1-pilot", "Ana")
    expect(ana.get_by_test_id("join-error")).to_have_attribute("data-code", "banned")

    gm.get_by_test_id("gm-bans").get_by_role("button", name="Let back in").click()
    expect(gm.get_by_test_id("gm-table")).to_contain_text("Nobody is banned")
    join_as_player(ana, code, "s1-pilot")
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("Ana")

    gm.get_by_test_id("table-lock").check()
    expect(gm.get_by_test_id("toast")).to_contain_text("Table locked")
    bob = _open(new_context())
    try_to_join(bob, code, "s1-captain", "Bob")
    expect(bob.get_by_test_id("join-error")).to_have_attribute("data-code", "table_locked")
    expect(gm.get_by_test_id("toast")).to_have_count(0)  # 4 s
    gm.get_by_test_id("gm-presence").screenshot(path=str(output_dir / "gm-table-locked.png"))
    ana.reload()  # a seated player comes back to a locked table
    expect(ana.get_by_test_id("connection")).to_have_attribute("data-state", "joined")
    _no_script_errors(ana, bob)
