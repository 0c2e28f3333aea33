"""Tabletop v2 in a real browser against the real server: state in the frames (no refetch per
event batch), the SVG tactical plot at phone and desktop width, the ending.

Every wait is Playwright's auto-waiting `expect` on a condition.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import NewContext
from tests.browser.test_first_hour import gm_ruling
from tests.browser.test_tabletop import (
    PHONE,
    _no_script_errors,
    _open,
    create_battle,
    gm_passes_one_station,
    gm_runs_until,
    gm_runs_until_offered,
    join_as_player,
    settled_seq,
)

pytestmark = pytest.mark.browser


def _join_as_spectator(page: Page, code: str) -> None:
    page.goto(f"/?join={code}")
    page.get_by_test_id("join-name").fill("Wren")
    page.get_by_test_id("role-spectator").check()
    page.get_by_test_id("join-battle").click()
    expect(page.get_by_test_id("my-role")).to_have_text("Spectator")


BOARD_AT_SEQ = """(seq) => {
  const view = document.querySelector('[data-testid=battle-view]').dataset.seq;
  const board = document.querySelector('[data-testid=board]').dataset.seq;
  return Number(view) >= seq && board === view;
}"""


def test_a_page_fetches_no_state_per_event_batch(gm: Page, new_context: NewContext) -> None:
    """Every batch's last frame carries the public view: a watching page draws each new state
    without one HTTP request (before protocol 2 it fetched `/api/battles/{id}` per batch)."""
    create_battle(gm, bot_side="b")
    code = gm.get_by_test_id("join-code-display").inner_text()
    watcher = _open(new_context())
    _join_as_spectator(watcher, code)
    start = int(settled_seq(watcher))
    requests: list[str] = []

    def record(request: Request) -> None:
        # The one dice check after the end (`/verify`) is not a state fetch.
        if "/api/" in request.url and not request.url.endswith("/verify"):
            requests.append(request.url)

    watcher.on("request", record)
    batches = 0
    while batches < 12 and not gm.get_by_test_id("outcome").count():
        gm_passes_one_station(gm)
        batches += 1
        # The watcher reaches the GM's seq (or later: the bot may move) and its board draws the
        # state of the seq it shows, from the frames alone.
        watcher.wait_for_function(BOARD_AT_SEQ, arg=int(settled_seq(gm)))
    assert int(settled_seq(watcher)) > start + batches - 1, "every batch reached the watcher"
    assert requests == [], f"requests on the event path: {requests}"
    _no_script_errors(watcher)


def _plot_pair(page: Page) -> dict[str, str | None]:
    pair = page.get_by_test_id("tactical-plot").locator("g.pair").first
    return {"pair": pair.get_attribute("data-pair"), "band": pair.get_attribute("data-band")}


def _shoot(page: Page, testid: str, path: Path) -> None:
    """A picture of one element as the page shows it at the top (no sticky bar over it)."""
    page.evaluate("() => window.scrollTo(0, 0)")
    box = page.get_by_test_id(testid).bounding_box()
    assert box is not None
    page.screenshot(path=str(path), clip=box, full_page=True)


def test_the_tactical_plot_at_phone_and_desktop_width(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Ships as tokens coloured by side in the column of their range band, the acting ship
    marked, hull rings that shrink with damage; a screen reader gets the same in words."""
    code = create_battle(gm, presets=("patrol_corvette", "corsair"), starting_range="long")
    phone = _open(new_context(viewport=PHONE))
    join_as_player(phone, code, "s1-pilot")
    for page in (gm, phone):
        plot = page.get_by_test_id("tactical-plot")
        expect(plot).to_be_visible()
        expect(plot.locator("g.token")).to_have_count(2)
        # Long range: the pair's second ship is in the Long column.
        assert _plot_pair(page)["band"] == "long"
        desc = plot.locator("desc")
        expect(desc).to_contain_text("Beowulf")
        expect(desc).to_contain_text("Beowulf to Vengeance: Long")
    # The player's own ship is drawn first in its pairs (at the left) and marked as theirs.
    assert _plot_pair(phone)["pair"] == "s1|s2"
    expect(phone.get_by_test_id("tactical-plot").locator("g.token.mine")).to_have_count(1)
    # Someone is acting (the first ship's pilot, or the GM's NPC): a halo on that token.
    expect(gm.get_by_test_id("tactical-plot").locator("g.token.acting")).not_to_have_count(0)
    # No horizontal scroll on the phone with the plot drawn.
    width = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert width <= 0, f"{width}px of horizontal scroll at 390 px"
    box = phone.get_by_test_id("tactical-plot").bounding_box()
    assert box is not None
    assert box["width"] <= PHONE["width"]
    _shoot(gm, "tactical-plot", output_dir / "plot-1440.png")
    _shoot(phone, "tactical-plot", output_dir / "plot-390.png")

    # A GM ruling on the hull: the ring shrinks and the token's level changes colour.
    ring = gm.locator('[data-testid=tactical-plot] g.token[data-ship="s2"]')
    expect(ring).to_have_attribute("data-level", "ok")
    gm_ruling(gm, "ship:s2", "hull", "5", "plot test")
    expect(ring).to_have_attribute("data-level", "low")
    # The hit shows: the card and the token flash once (a class set on the drawing after it).
    expect(gm.get_by_test_id("ship-s2")).to_have_attribute("data-hit", "true")
    expect(ring).to_have_class(re.compile(r"\bhit\b"))
    expect(phone.locator('[data-testid=tactical-plot] g.token[data-ship="s2"]')).to_have_attribute(
        "data-level", "low"
    )
    _no_script_errors(phone)


def test_roll_cards_itemise_every_roll_and_the_result_card_links_to_its_own(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Initiative shows its dice and terms; a shot shows the attack dice, each DM by its
    source, the total against 8+ and the damage terms; the card sums to the log's total."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s2-gunner:0")
    initiative = player.locator("[data-type=initiative_rolled]").first
    card = initiative.locator("details.roll-card")
    expect(card.locator("summary")).to_have_text(re.compile(r"^Roll card #\d+$"))
    card.locator("summary").click()
    # Every term by its source, and they add up to the initiative: 2D + Pilot skill + Thrust
    # (the Free Trader's rating, 1) + the Tactics Effect.
    terms = card.locator("[data-roll=initiative]")
    expect(terms).to_contain_text("Pilot skill +1 Thrust")
    found = re.search(
        r"2D.*?(\d+) ([+\u2212]?\d+) Pilot skill ([+\u2212]?\d+) Thrust"
        r"(?: ([+\u2212]?\d+) Tactics Effect)? = (\d+)",
        terms.inner_text().replace("\n", " "),
    )
    assert found is not None, terms.inner_text()
    values = [int((g or "0").replace("\u2212", "-")) for g in found.groups()]
    assert sum(values[:4]) == values[4], values
    fire = player.get_by_test_id("fire")
    gm_runs_until_offered(gm, player, fire)
    player.get_by_test_id("attack-target").select_option("s1")
    fire.click()
    resolved = player.locator("[data-type=attack_resolved]")
    gm_runs_until(gm, [player], lambda: resolved.count() > 0, limit=6)
    seq = resolved.last.get_attribute("data-seq")
    # The result card beside the buttons opens the roll card of that very event.
    link = player.get_by_test_id("result-roll-card")
    expect(link).to_have_text(f"Roll card #{seq} in the log")
    link.click()
    roll = player.get_by_test_id(f"roll-{seq}")
    expect(roll).to_have_attribute("open", "")
    expect(roll.locator("summary")).to_be_focused()
    attack = roll.locator("[data-roll=attack]")
    text = " ".join(attack.inner_text().split())
    # The dice shown are the dice rolled: their sum is the 2D, the DMs add up to the total.
    faces = [int(x) for x in attack.locator(".die").all_inner_texts()]
    numbers = re.search(
        r"D (?:\(\w+: \w+ two\) )?(?:dice (?:\d, )*\d )?[\d ]*?(\d+)"
        r"((?: [+\u2212]\d+ [A-Za-z' ]+?)*) = (\d+) vs 8\+",
        text,
    )
    assert numbers, text
    dms = [int(v.replace("\u2212", "-")) for v in re.findall(r"([+\u2212]\d+)", numbers.group(2))]
    assert sum(faces[:2]) == int(numbers.group(1)) or len(faces) == 3
    assert int(numbers.group(1)) + sum(dms) == int(numbers.group(3))
    line = resolved.last.locator(".summary").inner_text()
    assert f"total {numbers.group(3)}" in line, (line, text)
    if " hits " in line:
        damage = re.search(r"for (\d+) damage", line)
        assert damage
        expect(roll.locator("[data-roll=damage]")).to_contain_text(f"= {damage.group(1)}")
    roll.screenshot(path=str(output_dir / "roll-card.png"))
    _no_script_errors(player)


def test_your_move_changes_the_title_and_icon_and_focuses_the_station(
    gm: Page, new_context: NewContext
) -> None:
    """A player sees it is their move from another tab (title, favicon), the station panel
    takes focus; once they act, the title goes back."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s1-pilot")
    body = player.locator("body")

    def my_move() -> bool:
        return body.get_attribute("data-your-move") == "true"

    gm_runs_until(gm, [player], my_move)
    expect(player).to_have_title(re.compile(r"^▶ Your move — "))
    icon = player.locator("link[rel=icon]").get_attribute("href") or ""
    assert "ffb547" in icon, icon
    expect(player.get_by_test_id("station-panel")).to_be_focused()
    # The turn clock counts how long the table has waited for this move.
    expect(player.get_by_test_id("turn-clock")).to_have_text(re.compile(r"^\s*0:0[1-9]$"))
    # The player acts: the pilot's first offered action (a manoeuvre step form).
    seq = settled_seq(player)
    player.locator("[data-testid^=action-] button[type=submit]").first.click()
    expect(player.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
    if not my_move():
        expect(player).not_to_have_title(re.compile("Your move"))
        assert "4fd1ff" in (player.locator("link[rel=icon]").get_attribute("href") or "")
    _no_script_errors(player)


# JS (any page): the next thing to do in this round. "round" when the round moved on (or the
# battle ended); "Ship/station" when a held station is awaited; "gm" when a station the GM
# runs waits for its Pass (only when `manual`, on the GM's page); null while the server passes
# the stations that pass themselves.
NEXT_UP = """([start, held, manual]) => {
  const view = document.querySelector('[data-testid=battle-view]');
  const round = Number(document.querySelector('[data-testid=round] strong')?.textContent ?? 0);
  if (round > start || document.querySelector('[data-testid=outcome]')) return 'round';
  const waiting = [...document.querySelectorAll('[data-testid=awaiting-list] li')]
    .map((li) => `${li.dataset.ship}/${li.dataset.station}`);
  const mine = waiting.find((k) => held.includes(k));
  if (mine) return mine;
  const npc = document.querySelector('[data-testid=gm-npc]');
  if (manual && npc && npc.dataset.seq === view.dataset.seq
      && npc.querySelector('[data-testid=npc-pass]:not([disabled])')) return 'gm';
  return null;
}"""


def _count_gm_clicks(gm: Page) -> int:
    return int(gm.evaluate("() => window.__gmClicks ?? 0"))


def _player_acts(page: Page, enemy: str) -> None:
    """A gunner fires when offered a shot at `enemy`; otherwise ends the step or does not react.
    Returns once the page has the events of that action."""
    expect(page.locator("body")).to_have_attribute("data-your-move", "true", timeout=30_000)
    fire = page.get_by_test_id("fire")
    passing = page.locator(
        "[data-testid=action-end_step] button[type=submit],"
        " [data-testid=action-no_reaction] button[type=submit]"
    )
    fire.or_(passing).first.wait_for()
    seq = settled_seq(page)
    if fire.first.is_visible():  # a player at two turrets has two Fire buttons
        page.get_by_test_id("attack-target").first.select_option(enemy)
        fire.first.click()
    else:
        passing.first.click()
    expect(page.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)


def _caught_up(watcher: Page, page: Page) -> None:
    """Wait until `watcher` has every batch `page` has. The watcher decides who moves next from
    its own awaiting list; read one batch behind (a busy GM page renders more than a player's),
    it would ask the player who just moved to move again, and wait for a move that never comes."""
    seq = int(settled_seq(page))
    watcher.wait_for_function(
        "(seq) => Number(document.querySelector('[data-testid=battle-view]').dataset.seq) >= seq",
        arg=seq,
    )


def _play_one_round(
    watcher: Page, players: dict[str, tuple[Page, str]], manual: bool, gm: Page | None = None
) -> None:
    """Everyone plays until the round number moves on (as `watcher` sees it): players act on
    their own stations, the GM passes the stations nobody plays (when `manual`), the server
    passes the stations that pass themselves."""
    start = int(watcher.get_by_test_id("round").locator("strong").inner_text())
    for _ in range(200):
        handle = watcher.wait_for_function(NEXT_UP, arg=[start, list(players), manual])
        who = handle.json_value()
        if who == "round":
            return
        if who == "gm":
            assert gm is not None
            gm_passes_one_station(gm)
            continue
        page, enemy = players[who]
        _player_acts(page, enemy)
        _caught_up(watcher, page)
    pytest.fail("the round did not end")


def test_gm_clicks_per_round_in_a_one_on_one_with_two_players(
    gm: Page, new_context: NewContext
) -> None:
    """Two players each command a gunner of one ship; every other station is idle crew. Round 1:
    the GM passes the idle stations that have a choice (the server passes those with nothing
    legal but a pass); round 2 with "idle crew pass by themselves" switched on: the GM clicks at
    most 5 times per round (the goal), here none. Round 3: the switch is a table rule the
    server applies, so the round ends with the GM's page closed (it used to be the GM's page
    passing, only while it was open). Before the server passed anything: 15 clicks by hand."""
    code = create_battle(gm)
    ana = _open(new_context())
    join_as_player(ana, code, "s1-gunner:0", name="Ana")
    bo = _open(new_context())
    join_as_player(bo, code, "s2-gunner:0", name="Bo")
    players = {"s1/gunner:0": (ana, "s2"), "s2/gunner:0": (bo, "s1")}
    expect(gm.get_by_test_id("gm-peers")).to_contain_text("Bo")
    gm.evaluate(
        """() => document.addEventListener('click', (e) => {
            if (e.isTrusted) window.__gmClicks = (window.__gmClicks ?? 0) + 1;
        }, true)"""
    )
    _play_one_round(gm, players, manual=True, gm=gm)
    before = _count_gm_clicks(gm)
    assert before > 5, f"round 1 took {before} GM clicks"
    gm.get_by_test_id("gm-autopass").check()
    expect(gm.get_by_test_id("gm-autopass")).to_be_checked()
    switch = _count_gm_clicks(gm)
    _play_one_round(gm, players, manual=False)
    after = _count_gm_clicks(gm) - switch
    print(f"GM clicks per round: {before} by hand, {after} with idle crew passing")
    assert after <= 5
    # The passes fill the log with bookkeeping; one switch hides it, what happened stays.
    log = gm.get_by_test_id("battle-log")
    expect(log.locator(":scope > li[data-type=station_done]").first).to_be_visible()
    gm.get_by_test_id("log-quiet").check()
    for kind in ("station_done", "turn_started", "no_reaction"):
        for line in log.locator(f":scope > li[data-type={kind}]").all():
            expect(line).to_be_hidden()
    expect(log.locator(":scope > li[data-type=attack_declared]").first).to_be_visible()
    # The GM leaves: the server still passes the idle crew, the players finish the round.
    gm.context.close()
    _play_one_round(ana, players, manual=False)
    _no_script_errors(ana, bo)


# JS (GM page): what the solo battle waits for next.
SOLO_NEXT = """() => {
  const view = document.querySelector('[data-testid=battle-view]');
  if (document.querySelector('[data-testid=outcome]')) return 'over';
  if (document.querySelectorAll('[data-type=attack_resolved]').length >= 2) return 'done';
  const waiting = [...document.querySelectorAll('[data-testid=awaiting-list] li')]
    .map((li) => `${li.dataset.ship}/${li.dataset.station}`);
  if (waiting.includes('s1/gunner:0')) return 'player';
  const npc = document.querySelector('[data-testid=gm-npc]');
  if (npc.dataset.seq === view.dataset.seq
      && npc.querySelector('[data-testid=npc-pass]:not([disabled])')) return 'gm';
  return null;
}"""


def test_screens_of_lobby_battle_and_ending_with_the_after_action_report(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Play a solo battle against the bot until shots land, end it, and read the report: the
    damage each ship took is the sum of the hits the log records against it."""
    gm.screenshot(path=str(output_dir / "lobby-1440.png"), full_page=True)
    code = create_battle(gm, bot_side="b")
    phone = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    phone.goto(f"/?join={code}")
    expect(phone.get_by_test_id("seat-form")).to_be_visible()
    phone.screenshot(path=str(output_dir / "join-390.png"), full_page=True)
    join_as_player(phone, code, "s1-gunner:0")
    gm.get_by_test_id("gm-autopass").check()

    for _ in range(80):
        handle = gm.wait_for_function(SOLO_NEXT)
        who = handle.json_value()
        if who in ("over", "done"):
            break
        if who == "player":
            _player_acts(phone, "s2")
            _caught_up(gm, phone)
        else:
            gm_passes_one_station(gm)
    gm.evaluate("() => window.scrollTo(0, 0)")
    gm.screenshot(path=str(output_dir / "battle-gm-1440.png"))
    phone.screenshot(path=str(output_dir / "battle-player-390.png"), full_page=True)
    phone.get_by_test_id("board").evaluate("el => window.scrollTo(0, el.offsetTop - 160)")
    phone.screenshot(path=str(output_dir / "battle-player-390-plot.png"))
    if not gm.get_by_test_id("outcome").count():
        gm_ruling(gm, "ship:s2", "status", "wrecked", "the reactor breached")
    for page in (gm, phone):
        expect(page.get_by_test_id("outcome")).to_be_visible()
        report = page.get_by_test_id("battle-summary")
        expect(report).to_be_visible()
    damage_to_beowulf = 0
    for line in gm.locator("[data-type=attack_resolved] .summary").all_inner_texts():
        found = re.search(r"hits Beowulf .*? for (\d+) damage", line)
        damage_to_beowulf += int(found.group(1)) if found else 0
    expect(gm.get_by_test_id("taken-s1")).to_have_text(str(damage_to_beowulf))
    gm.evaluate("() => window.scrollTo(0, 0)")
    gm.screenshot(path=str(output_dir / "ending-1440.png"))
    phone.evaluate("() => window.scrollTo(0, 0)")
    phone.screenshot(path=str(output_dir / "ending-390.png"))
    # The report fits the phone: its table scrolls inside its own box, the page does not.
    width = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert width <= 0, f"{width}px of horizontal scroll at 390 px after the end"
    _no_script_errors(phone)


def test_an_invite_link_lands_on_the_seat_picker(gm: Page, new_context: NewContext) -> None:
    """On a desktop too, the join link shows the seat picker, not the create form."""
    code = create_battle(gm)
    friend = _open(new_context(viewport={"width": 1440, "height": 900}))
    friend.goto(f"/?join={code}")
    expect(friend.get_by_test_id("seat-form")).to_be_in_viewport()
    expect(friend.get_by_test_id("create-form")).to_be_hidden()
    friend.get_by_test_id("show-create").click()
    expect(friend.get_by_test_id("create-form")).to_be_visible()
    _no_script_errors(friend)


def test_solo_as_a_player_against_the_bot(new_context: NewContext) -> None:
    """Pick the bot's side, press "Play solo": you command every station of your ship, no GM
    panel, and the bot answers your moves until a shot is resolved."""
    page = _open(new_context())
    expect(page.get_by_test_id("create-form")).to_be_visible()
    page.get_by_test_id("bot-side").select_option("b")
    solo = page.get_by_test_id("create-solo")
    expect(solo).to_have_text("Play solo: command Beowulf")
    solo.click()
    expect(page.get_by_test_id("battle-view")).to_be_visible()
    expect(page.get_by_test_id("my-role")).to_contain_text("Pilot")
    expect(page.get_by_test_id("my-role")).to_contain_text("Beowulf")
    expect(page.get_by_test_id("gm-panel")).to_be_hidden()
    resolved = page.locator("[data-type=attack_resolved]")
    for _ in range(60):
        if resolved.count() or page.get_by_test_id("outcome").count():
            break
        page.wait_for_function(
            """() => document.body.dataset.yourMove === 'true'
                || document.querySelector('[data-type=attack_resolved]') !== null
                || document.querySelector('[data-testid=outcome]') !== null"""
        )
        if page.locator("body").get_attribute("data-your-move") == "true":
            _player_acts(page, "s2")
    assert resolved.count() or page.get_by_test_id("outcome").count()
    _no_script_errors(page)


def test_crew_import_from_a_pasted_character_block(gm: Page) -> None:
    """A character as sheets write it (name, UPP, skills) fills a station in one go; the
    battle's crew then carries that name, those characteristics and the shipboard skills."""
    expect(gm.get_by_test_id("create-form")).to_be_visible()
    gm.get_by_test_id("edit-crew-0").click()
    pilot = gm.get_by_test_id("crew-0-pilot")
    pilot.get_by_text("Paste a character…").click()
    pilot.get_by_test_id("crew-0-pilot-paste").fill(
        "Mara Voss 7A8B96 Age 34\nPilot (spacecraft) 2, Gunner (turret) 1, Admin 1, Carouse 2"
    )
    pilot.get_by_test_id("crew-0-pilot-import").click()
    pilot = gm.get_by_test_id("crew-0-pilot")
    expect(pilot.get_by_label("Crew name")).to_have_value("Mara Voss")
    expect(pilot.get_by_label("Skills")).to_have_value("Pilot (spacecraft) 2, Gunner (turret) 1")
    expect(pilot.get_by_label("DEX")).to_have_value("10")
    expect(pilot.get_by_label("INT")).to_have_value("11")
    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("ship-s1")).to_contain_text("Pilot Mara Voss")


def test_tab_order_follows_the_screen_on_a_phone_invite(new_context: NewContext) -> None:
    """From a join link on a phone, Tab reaches the join code and the seat picker before
    anything of the (folded) create form: the order you see is the order you tab."""
    host = _open(new_context())
    code = create_battle(host)
    phone = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    phone.goto(f"/?join={code}")
    expect(phone.get_by_test_id("seat-form")).to_be_visible()
    tops = phone.evaluate(
        """() => [...document.querySelectorAll('#view input, #view select, #view button')]
            .filter((el) => el.offsetParent !== null && !el.closest('details:not([open])'))
            .map((el) => el.getBoundingClientRect().top + window.scrollY)"""
    )
    assert tops == sorted(tops), "controls in document order go down the screen"
    phone.get_by_test_id("show-create").click()
    # Controls folded in a closed <details> are out of the Tab order (Chrome still lays them
    # out, as if open, for find-in-page).
    tops = phone.evaluate(
        """() => [...document.querySelectorAll('#view input, #view select, #view button')]
            .filter((el) => el.offsetParent !== null && !el.closest('details:not([open])'))
            .map((el) => Math.round(el.getBoundingClientRect().top + window.scrollY))"""
    )
    rows = [t for i, t in enumerate(tops) if i == 0 or t >= tops[i - 1] - 60]
    assert rows == tops, "the create form opens below the join panel, in Tab order too"
    _no_script_errors(phone)
