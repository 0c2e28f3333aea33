"""A whole round played with the keyboard alone: the GM switches idle crew on with Tab and
Space, the player fires and passes with Tab and Enter whenever the page says it is her move
(the bot plays the other side; the server passes her ship's idle crew)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.test_tabletop import (
    _no_script_errors,
    _open,
    _tab_to,
    create_battle,
    join_as_player,
    settled_seq,
)

pytestmark = pytest.mark.browser

# JS: what the focused control would do ("fire", "pass" or "").
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el) return '';
  if (el.dataset?.testid === 'fire') return 'fire';
  const act = el.closest?.('[data-testid^=action-]');
  if (act && el.type === 'submit' && /action-(end_step|no_reaction)$/.test(act.dataset.testid)) {
    return 'pass';
  }
  return '';
}"""


def _round(page: Page) -> int:
    return int(page.get_by_test_id("round").locator("strong").inner_text())


def _tab_to_action(page: Page, want: str, limit: int = 80) -> None:
    for _ in range(limit):
        if page.evaluate(FOCUSED) == want:
            return
        page.keyboard.press("Tab")
    pytest.fail(f"no {want} control reachable with the Tab key")


def test_a_whole_round_by_keyboard(gm: Page, new_context: NewContext) -> None:
    # Two Free Traders (Hull 80, two beam lasers each): the bot cannot wreck Ana's ship in the
    # first round, before her first shot (the server's dice are random: a Corsair, six triple
    # turrets, once did), and her sandcaster gives her reactions to pass on.
    code = create_battle(gm, presets=("free_trader", "free_trader"), bot_side="b")
    ana = _open(new_context())
    join_as_player(ana, code, "s1-gunner:0", name="Ana")
    # The GM: Tab to the switch, Space to turn it on.
    _tab_to(gm, "gm-autopass")
    gm.keyboard.press("Space")
    expect(gm.get_by_test_id("gm-autopass")).to_be_checked()
    body = ana.locator("body")
    fired = passed = 0
    for _ in range(300):
        if _round(ana) > 1 or ana.get_by_test_id("outcome").count():
            break
        # Wait for her move (or the round to move on without her).
        ana.wait_for_function(
            """() => document.body.dataset.yourMove === 'true'
              || Number(document.querySelector('[data-testid=round] strong').textContent) > 1
              || !!document.querySelector('[data-testid=outcome]')"""
        )
        if body.get_attribute("data-your-move") != "true":
            continue
        fire = ana.get_by_test_id("fire")
        passing = ana.locator(
            "[data-testid=action-end_step] button[type=submit],"
            " [data-testid=action-no_reaction] button[type=submit]"
        )
        fire.or_(passing).first.wait_for()
        seq = settled_seq(ana)
        want = "fire" if fire.count() else "pass"
        if want == "fire":
            # Pick the target with the arrow keys (the picker starts empty).
            _tab_to(ana, "attack-target")
            target = ana.get_by_test_id("attack-target").first
            for _ in range(5):
                if target.input_value() == "s2":
                    break
                ana.keyboard.press("ArrowDown")
            expect(target).to_have_value("s2")
        _tab_to_action(ana, want)
        ana.keyboard.press("Enter")
        expect(ana.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
        fired += want == "fire"
        passed += want == "pass"
        # Focus stays in the station panel, never back on <body>.
        assert ana.evaluate("() => document.activeElement !== document.body")
    print(f"keyboard round: {fired} shots, {passed} passes")
    expect(ana.get_by_test_id("round").locator("strong")).not_to_have_text("1")
    assert fired >= 1, "Ana fired by keyboard"
    log = ana.get_by_test_id("battle-log")
    expect(log.locator("li[data-type=attack_declared]", has_text="Beowulf").first).to_be_attached()
    _no_script_errors(ana)
