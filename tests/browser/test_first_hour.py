"""The bugs a group of newcomers hit in their first hour at the tabletop, one test each.

Same setup as test_tabletop.py: the real server, Debian's chromium, separate browser profiles
for separate people, and every wait a condition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.test_tabletop import (
    PHONE,
    _no_script_errors,
    _open,
    _tab_to,
    create_battle,
    gm_passes_one_station,
    gm_runs_until,
    gm_runs_until_offered,
    join_as_player,
    settled_seq,
    watched_page,
)

pytestmark = pytest.mark.browser

# Internal ids a player must never read: ship ids ("s1"), station ids ("gunner:2"), and the old
# second naming of gunners ("Gunner T1" beside the log's "gunner 1").
INTERNAL_IDS = re.compile(r"\bs\d+\b|\bgunner:\d|\bGunner T\d|Value error|\w+\.\d+\.\w+")


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's page, on the lobby (fails the test on a script error there)."""
    yield from watched_page(new_context())


def join_as_spectator(page: Page, code: str, name: str = "Wren") -> None:
    """Join via the share link as a spectator."""
    page.goto(f"/?join={code}")
    expect(page.get_by_test_id("seat-form")).to_be_visible()
    page.get_by_test_id("join-name").fill(name)
    page.get_by_test_id("role-spectator").check()
    page.get_by_test_id("join-battle").click()
    expect(page.get_by_test_id("my-role")).to_have_text("Spectator")


def gm_ruling(gm: Page, target: str, field: str, value: str, reason: str) -> None:
    """A house ruling through the GM panel; waits until the GM's page has applied it."""
    seq = settled_seq(gm)
    gm.get_by_test_id("gm-ruling-target").select_option(target)
    gm.get_by_test_id("gm-ruling-field").select_option(field)
    box = gm.get_by_test_id("gm-ruling-value")
    if box.evaluate("el => el.tagName") == "SELECT":
        box.select_option(value)
    else:
        box.fill(value)
    gm.get_by_test_id("gm-ruling-reason").fill(reason)
    gm.get_by_test_id("gm-ruling").click()
    expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)


def visible_text(page: Page) -> str:
    return page.locator("body").inner_text()


# JS: every select whose chosen option, and every ladder rung whose text, is cut off.
TRUNCATED = """() => {
  const out = [];
  const probe = document.createElement('span');
  probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap';
  document.body.append(probe);
  for (const el of document.querySelectorAll('select')) {
    // A picker whose full choice is spelled out beside it (aria-describedby) may cut it short.
    if (!el.offsetParent || el.hasAttribute('aria-describedby')) continue;
    const cs = getComputedStyle(el);
    probe.style.font = cs.font;
    probe.style.letterSpacing = cs.letterSpacing;
    probe.textContent = el.selectedOptions[0]?.textContent ?? '';
    // Room for the text: the box minus its padding and the drop-down arrow (about 20 px).
    const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;
    const name = el.dataset.testid || el.id;
    if (probe.offsetWidth > room) out.push(`select ${name}: ${probe.textContent}`);
  }
  for (const el of document.querySelectorAll('.ladder li, .chip, .station-id, button, .stats dt')) {
    const cut = el.offsetParent && el.scrollWidth > el.clientWidth + 1;
    if (cut) out.push(`${el.className}: ${el.textContent}`);
  }
  probe.remove();
  return out;
}"""


def test_gm_undo_defaults_to_the_latest_event_and_asks_to_confirm(
    gm: Page, new_context: NewContext
) -> None:
    """The undo picker follows the newest event, says what goes, and needs a second press."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s2-gunner:0")
    undo_to = gm.get_by_test_id("gm-undo-to")
    seq = settled_seq(gm)
    expect(undo_to).to_have_value(seq)
    # The table moves on: the default moves with it (it used to stay on the first event shown).
    gm.get_by_test_id("gm-advance").click()
    expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
    gm_passes_one_station(gm)
    gm_ruling(gm, "ship:s1", "hull", "60", "a micrometeoroid swarm")
    seq = settled_seq(gm)
    expect(undo_to).to_have_value(seq)
    preview = gm.get_by_test_id("gm-undo-preview")
    expect(preview).to_contain_text("1 event")
    expect(preview).to_contain_text("micrometeoroid")
    # One press only asks; nothing is taken back yet.
    gm.get_by_test_id("gm-undo").click()
    confirm = gm.get_by_test_id("gm-undo-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_be_focused()
    expect(gm.get_by_test_id("battle-view")).to_have_attribute("data-seq", seq)
    expect(player.locator("[data-type=gm_undo]")).to_have_count(0)
    confirm.press("Enter")
    expect(player.locator("[data-type=gm_undo]")).to_have_count(1)
    # The keyboard stays in the undo form (the confirm button is gone, Undo is back).
    expect(gm.get_by_test_id("gm-undo")).to_be_focused()
    expect(player.get_by_test_id("hull-s1")).to_have_text("80 / 80")
    # After the undo the default is again the newest undoable event, and the GM can go further
    # back on purpose: the preview counts every event that goes.
    # Read the GM's seq once its page has the undo batch too (read earlier, it could be the
    # seq before the undo, which the default has already moved past).
    expect(gm.get_by_test_id("battle-view")).to_have_attribute("data-seq", settled_seq(player))
    expect(undo_to).to_have_value(settled_seq(gm))
    older = undo_to.locator("option").nth(2).get_attribute("value") or ""
    undo_to.select_option(older)
    expect(preview).to_contain_text(f"{int(settled_seq(gm)) - int(older) + 1} events")
    _no_script_errors(player)


def test_a_released_player_is_told_in_words_and_picks_another_seat(
    gm: Page, new_context: NewContext
) -> None:
    """Released by the GM: a readable notice, and a way back to the seat picker."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s1-pilot")
    gm.get_by_test_id("release-s1-pilot").click()
    toast = player.get_by_test_id("toast")
    expect(toast).to_contain_text("Pilot aboard Beowulf")
    assert not INTERNAL_IDS.search(toast.inner_text()), toast.inner_text()
    released = player.get_by_test_id("station-released")
    expect(released).to_contain_text("Pilot aboard Beowulf")
    released.get_by_test_id("pick-seat").click()
    expect(player.get_by_test_id("seat-form")).to_be_visible()
    expect(player.get_by_test_id("role-player")).to_be_checked()
    player.get_by_test_id("seat-s1-captain").check()
    player.get_by_test_id("join-battle").click()
    expect(player.get_by_test_id("my-station")).to_contain_text("Captain · Beowulf")
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("Captain")
    _no_script_errors(player)


def test_pick_another_seat_after_station_taken_does_not_offer_it_again(
    gm: Page, new_context: NewContext
) -> None:
    """After "station taken", "Pick another seat" shows that station taken, not pre-selected."""
    code = create_battle(gm)
    first = _open(new_context())
    join_as_player(first, code, "s1-pilot")
    second = _open(new_context())
    second.goto(f"/?join={code}")
    expect(second.get_by_test_id("seat-form")).to_be_visible()
    keys = json.loads(first.evaluate("() => JSON.stringify(Object.keys(localStorage))"))
    key = next(k for k in keys if k.startswith("tvtt:battle:"))
    seat = {"role": "player", "ship_id": "s1", "stations": ["pilot"], "name": "Mallory"}
    second.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, json.dumps(seat)])
    second.goto(f"/?battle={key.removeprefix('tvtt:battle:')}")
    error = second.get_by_test_id("join-error")
    expect(error).to_have_attribute("data-code", "station_taken")
    assert not INTERNAL_IDS.search(error.inner_text()), error.inner_text()
    second.get_by_test_id("back-to-join").click()
    expect(second.get_by_test_id("seat-form")).to_be_visible()
    expect(second.get_by_test_id("seat-s1-pilot")).to_be_disabled()
    expect(second.get_by_test_id("seat-s1-pilot")).not_to_be_checked()
    expect(second.locator("input[name=seat]:checked")).to_have_count(0)
    _no_script_errors(first, second)


def test_an_out_of_range_gunner_is_told_why_and_what_would_help(
    gm: Page, new_context: NewContext
) -> None:
    """Beowulf's beam lasers reach Medium; at Long her gunner is told so, not just to wait
    (while the Scout Vengeance, whose pulse laser reaches Long, has an Attack step)."""
    code = create_battle(gm, presets=("free_trader", "scout"), starting_range="long")
    player = _open(new_context())
    join_as_player(player, code, "s1-gunner:0")
    gm.get_by_test_id("gm-advance").click()
    expect(player.get_by_test_id("steps").locator("[aria-current=step]")).to_have_text("Attack")
    note = player.get_by_test_id("out-of-range")
    expect(note).to_contain_text("Vengeance is at Long range")
    expect(note).to_contain_text("Beam laser reaches Medium")
    expect(note).to_contain_text("pilot")
    expect(player.get_by_test_id("station-panel")).not_to_contain_text("until your step")
    _no_script_errors(player)


def test_keyboard_focus_stays_on_the_station_and_the_log_scrolls_by_keyboard(
    gm: Page, new_context: NewContext
) -> None:
    """An action by keyboard leaves focus in the station panel; the log is a Tab stop that
    scrolls with Home/End."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s1-pilot")
    end_step = player.get_by_test_id("do-end_step")
    gm_runs_until_offered(gm, player, end_step)
    seq = settled_seq(player)
    end_step.focus()
    player.keyboard.press("Enter")
    expect(player.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
    expect(player.get_by_test_id("no-actions").or_(end_step).first).to_be_visible()
    focused = player.evaluate(
        """() => ({tag: document.activeElement.tagName,
                   inStation: !!document.activeElement.closest('[data-testid=station-panel]')})"""
    )
    assert focused["tag"] != "BODY", focused
    assert focused["inStation"], focused
    # More lines than fit, then the log by keyboard.
    for _ in range(4):
        gm_passes_one_station(gm)
    log = player.get_by_test_id("battle-log")
    _tab_to(player, "battle-log")
    player.keyboard.press("Home")
    expect(log).to_have_js_property("scrollTop", 0)
    player.keyboard.press("End")
    player.wait_for_function(
        "() => { const l = document.querySelector('[data-testid=battle-log]');"
        " return l.scrollTop > 0 && l.scrollTop + l.clientHeight >= l.scrollHeight - 2; }"
    )
    _no_script_errors(player)


def test_after_the_battle_ends_no_panel_says_it_is_waiting(
    gm: Page, new_context: NewContext
) -> None:
    """The Corsair is ruled wrecked: the battle ends and every page says so, nobody waits."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s1-pilot")
    watcher = _open(new_context())
    join_as_spectator(watcher, code)
    gm_ruling(gm, "ship:s2", "status", "wrecked", "the reactor breached")
    for page in (gm, player, watcher):
        expect(page.get_by_test_id("outcome")).to_contain_text("Free Traders win")
        expect(page.get_by_test_id("battle-view")).to_have_attribute("data-seq", settled_seq(gm))
    expect(player.get_by_test_id("station-panel")).to_contain_text("The battle is over")
    expect(gm.get_by_test_id("gm-npc")).to_contain_text("The battle is over")
    waiting = re.compile(r"wait|until your step|Loading|have the move|your move", re.IGNORECASE)
    for page, panel in ((player, "station-panel"), (gm, "gm-panel"), (watcher, "station-panel")):
        text = page.get_by_test_id(panel).inner_text()
        assert not waiting.search(text), f"{panel}: {text}"
    # The GM's controls that still make sense stay enabled; advancing, ending, rulings and undo
    # (the dice are revealed: the server refuses them) do not.
    for disabled in ("gm-advance", "gm-end", "gm-ruling", "gm-undo"):
        expect(gm.get_by_test_id(disabled)).to_be_disabled()
    for enabled in ("gm-download", "chat-send", "table-timer-set"):
        expect(gm.get_by_test_id(enabled)).to_be_enabled()
    _no_script_errors(player, watcher)


def test_one_human_naming_and_no_internal_ids_or_validation_dumps(
    gm: Page, new_context: NewContext
) -> None:
    """Stations read the same in the UI and the log ("Gunner 1"); a refused scenario is
    explained in words (no "ships.0.crew..." or "Value error")."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s2-gunner:0")
    expect(player.get_by_test_id("my-station")).to_have_text("Gunner 1 · Vengeance")
    # Vengeance's other gunners are passed by the GM: the log names them as the UI does.
    seq = settled_seq(gm)
    gm.get_by_test_id("gm-advance").click()
    expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
    gm_passes_one_station(gm)
    gm_passes_one_station(gm)
    done = player.locator("[data-type=station_done]").last
    expect(done).to_contain_text(re.compile(r"gunner \d", re.IGNORECASE))
    for page in (gm, player):
        expect(page.get_by_test_id("battle-view")).to_have_attribute("data-seq", settled_seq(gm))
        text = visible_text(page)
        assert not INTERNAL_IDS.search(text), INTERNAL_IDS.findall(text)
    # A skill level the rules do not allow: refused in words that name the ship and station.
    lobby = _open(new_context())
    expect(lobby.get_by_test_id("create-form")).to_be_visible()
    lobby.get_by_test_id("edit-crew-0").click()
    skills = lobby.get_by_test_id("crew-0-pilot").get_by_label("Skills")
    skills.fill("Pilot 9")
    skills.blur()
    lobby.get_by_test_id("create-battle").click()
    status = lobby.get_by_test_id("create-status")
    expect(status).to_contain_text("Beowulf")
    expect(status).to_contain_text("Pilot")
    assert not INTERNAL_IDS.search(status.inner_text()), status.inner_text()
    _no_script_errors(player, lobby)


def test_no_label_is_cut_off_at_phone_or_desktop_width(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Range rungs, pickers (the GM's ruling target, a gunner's weapon) fit at 390 and 1280 px."""
    code = create_battle(gm)
    gm.get_by_test_id("gm-ruling-target").select_option("pair:s1|s2")
    assert gm.evaluate(TRUNCATED) == []
    phone = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    join_as_player(phone, code, "s2-gunner:0", name="Pocket")
    desk = _open(new_context())
    join_as_player(desk, code, "s2-gunner:1", name="Desk")
    gm_runs_until_offered(gm, phone, phone.get_by_test_id("fire"))
    expect(desk.get_by_test_id("fire")).to_be_visible()
    phone.screenshot(path=str(output_dir / "phone-gunner-390.png"), full_page=True)
    for page in (phone, desk):
        assert page.evaluate(TRUNCATED) == []
    phone_gm = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    create_battle(phone_gm)
    phone_gm.get_by_test_id("gm-ruling-target").select_option("pair:s1|s2")
    assert phone_gm.evaluate(TRUNCATED) == []
    _no_script_errors(phone, desk, phone_gm)


def test_skills_typed_with_specialities_count_and_unknown_ones_are_flagged(
    gm: Page, output_dir: Path
) -> None:
    """ "Gunner (turret) 3" and "Pilot (spacecraft) 2" as a MgT2e sheet writes them give those
    levels aboard; "Gunnery" (no such skill) is flagged in the crew editor before creating."""
    expect(gm.get_by_test_id("create-form")).to_be_visible()
    gm.get_by_test_id("edit-crew-0").click()
    for station, skills in (("pilot", "Pilot (spacecraft) 2"), ("gunner:0", "Gunner (turret) 3")):
        box = gm.get_by_test_id(f"crew-0-{station}").get_by_label("Skills")
        box.fill(skills)
        box.blur()
        expect(gm.get_by_test_id(f"skills-warning-0-{station}")).to_be_hidden()
    odd = gm.get_by_test_id("crew-0-gunner:1").get_by_label("Skills")
    odd.fill("Gunnery 2")
    warning = gm.get_by_test_id("skills-warning-0-gunner:1")
    expect(warning).to_contain_text("Gunnery: no station uses this skill")
    odd.fill("Gunner (capital) 2")
    expect(warning).to_contain_text("counts as Gunner 0")
    gm.get_by_test_id("crew-0-gunner:1").screenshot(path=str(output_dir / "crew-warning.png"))
    odd.blur()
    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("battle-view")).to_be_visible()
    battle_id = gm.get_by_test_id("battle-view").get_attribute("data-battle-id")
    public = gm.request.get(f"/api/battles/{battle_id}").json()
    beowulf = next(s for s in public["state"]["ships"] if s["id"] == "s1")
    stored = {c["station"]: c["skills"] for c in beowulf["crew"]}
    assert stored["pilot"] == {"pilot": 2}
    assert stored["gunner:0"] == {"gunner": 3}
    # MgT2e: another speciality of the skill gives level 0 (not unskilled).
    assert stored["gunner:1"] == {"gunner": 0}


def test_the_result_of_your_own_shot_shows_beside_the_buttons(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """After Fire: a card in the station panel says hit or miss, the total against 8+ and,
    on a hit, the damage, with the same numbers as the log line everyone sees."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s2-gunner:0")
    fire = player.get_by_test_id("fire")
    gm_runs_until_offered(gm, player, fire)
    player.get_by_test_id("attack-target").select_option("s1")
    fire.click()
    card = player.get_by_test_id("result-card")
    expect(card).to_be_visible()
    # Beowulf (the GM's) may react first: the card says the shot waits, then its result.
    resolved = player.locator("[data-type=attack_resolved]")
    gm_runs_until(gm, [player], lambda: resolved.count() > 0, limit=6)
    expect(card).to_have_attribute("data-outcome", re.compile(r"^(hit|miss)$"))
    line = resolved.last.text_content() or ""
    total = re.search(r"total (\d+)", line)
    assert total, line
    expect(card.get_by_test_id("result-roll")).to_contain_text(f"= {total.group(1)} vs 8+")
    if " hits " in line:
        expect(card).to_have_attribute("data-outcome", "hit")
        damage = re.search(r"for (\d+) damage", line)
        assert damage, line
        expect(card.get_by_test_id("result-damage")).to_contain_text(f"= {damage.group(1)}")
    else:
        expect(card).to_have_attribute("data-outcome", "miss")
        expect(card.get_by_test_id("result-damage")).to_have_count(0)
    card.screenshot(path=str(output_dir / "result-card.png"))
    _no_script_errors(player)


# JS: is the newest log line (desktop) or the strip's newest line (narrower) on screen now?
NEWEST_ON_SCREEN = """(where) => {
  const seq = document.querySelector('[data-testid=battle-view]').dataset.seq;
  const el = where === 'log'
    ? document.querySelector(`[data-testid=log-${seq}]`)
    : document.querySelector(`[data-testid=last-events] [data-seq="${seq}"]`);
  if (!el) return false;
  const r = el.getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight
    && getComputedStyle(el.closest('[data-testid=last-events]') ?? el).display !== 'none';
}"""


def test_the_newest_log_lines_stay_on_screen(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Desktop (1440 px): the log is a column pinned beside the panels, wherever the page is
    scrolled. Phone (390 px): a strip at the bottom repeats the newest lines."""
    gm.set_viewport_size({"width": 1440, "height": 900})
    code = create_battle(gm)
    phone = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    join_as_spectator(phone, code, name="Pocket")
    for _ in range(4):
        gm_passes_one_station(gm)
    expect(phone.get_by_test_id("battle-view")).to_have_attribute("data-seq", settled_seq(gm))
    for top in (True, False):
        script = "() => window.scrollTo(0, 0)" if top else "() => window.scrollTo(0, 1e6)"
        gm.evaluate(script)
        gm.wait_for_function(NEWEST_ON_SCREEN, arg="log")
        phone.evaluate("() => window.scrollTo(0, 0)")
        phone.wait_for_function(NEWEST_ON_SCREEN, arg="strip")
    gm.evaluate("() => window.scrollTo(0, 0)")
    assert gm.evaluate(TRUNCATED) == []
    gm.screenshot(path=str(output_dir / "gm-1440.png"))
    phone.screenshot(path=str(output_dir / "phone-strip-390.png"))
    # The strip steps aside when the log panel itself is in view.
    phone.get_by_test_id("log-panel").scroll_into_view_if_needed()
    expect(phone.get_by_test_id("last-events")).to_be_hidden()
    _no_script_errors(phone)
