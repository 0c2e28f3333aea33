"""The GM's turn timer in real browsers: every page counts down, and at zero the server passes
the awaited stations itself, as events in the log (nobody clicks)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.test_tabletop import (
    _no_script_errors,
    _open,
    create_battle,
    join_as_player,
    settled_seq,
)

pytestmark = pytest.mark.browser


def test_at_zero_the_awaited_stations_pass_by_themselves(gm: Page, new_context: NewContext) -> None:
    code = create_battle(gm)
    ana = _open(new_context())
    join_as_player(ana, code, "s1-pilot", name="Ana")
    start = int(settled_seq(gm))
    timer = ana.get_by_test_id("turn-timer")
    expect(timer).to_be_hidden()
    gm.get_by_test_id("table-timer").fill("4")
    gm.get_by_test_id("table-timer-set").click()
    expect(gm.get_by_test_id("table-timer")).to_have_value("4")
    # Every page counts down for the stations awaited now.
    for page in (gm, ana):
        expect(page.get_by_test_id("turn-timer")).to_have_text(re.compile(r"0:0[0-4] left"))
    # Nobody clicks: the server passes each awaited station when its time runs out, Ana's
    # pilot included, and the log says so.
    log = ana.get_by_test_id("battle-log")
    done = log.locator("li[data-type=station_done]", has_text="Beowulf")
    expect(done.first).to_be_visible(timeout=60_000)
    assert int(settled_seq(ana)) > start
    # Switched off: no countdown, and nothing passes any more.
    gm.get_by_test_id("table-timer").fill("0")
    gm.get_by_test_id("table-timer-set").click()
    expect(timer).to_be_hidden()
    expect(gm.get_by_test_id("turn-timer")).to_be_hidden()
    _no_script_errors(ana)
