"""The tabletop page in a real browser against the real server (no mocks).

A GM and players in separate browser profiles (separate localStorage = separate people) create,
join and fire; every wait is Playwright's auto-waiting `expect` on a condition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, WebSocketRoute, expect

from tests.browser.conftest import NewContext

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _open(ctx: BrowserContext, path: str = "/") -> Page:
    """A page that fails the test on any uncaught script error."""
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _no_script_errors(*pages: Page) -> None:
    for page in pages:
        errors = page.errors  # type: ignore[attr-defined]
        assert errors == [], f"script errors on {page.url}: {errors}"


def watched_page(ctx: BrowserContext) -> Iterator[Page]:
    """A page (`_open`) whose script errors fail the test once it is done: the body of every
    module's `gm` fixture (`yield from watched_page(new_context(...))`)."""
    page = _open(ctx)
    yield page
    _no_script_errors(page)


def create_battle(
    page: Page,
    *,
    presets: tuple[str, str] = ("free_trader", "corsair"),
    bot_side: str = "",
    pilot: tuple[str, str] | None = None,
    starting_range: str = "short",
) -> str:
    """Create a two-ship battle (at Short range unless told) as GM; return the join code.

    Ship 1 (s1) is Beowulf on side a, ship 2 (s2) Vengeance on side b, of the given presets.
    `pilot` (name, skills) edits the crew of Beowulf's pilot station.
    """
    expect(page.get_by_test_id("create-form")).to_be_visible()
    page.get_by_test_id("ship-preset-0").select_option(presets[0])
    page.get_by_test_id("ship-preset-1").select_option(presets[1])
    page.get_by_test_id("starting-range").select_option(starting_range)
    if pilot is not None:
        page.get_by_test_id("edit-crew-0").click()
        editor = page.get_by_test_id("crew-0-pilot")
        editor.get_by_label("Crew name").fill(pilot[0])
        editor.get_by_label("Skills").fill(pilot[1])
        editor.get_by_label("Skills").blur()
    if bot_side:
        page.get_by_test_id("bot-side").select_option(bot_side)
    page.get_by_test_id("create-battle").click()
    expect(page.get_by_test_id("battle-view")).to_be_visible()
    expect(page.get_by_test_id("my-role")).to_have_text("GM")
    code = page.get_by_test_id("join-code-display")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4,}$"))
    return code.inner_text()


def join_as_player(page: Page, code: str, seat: str, name: str = "Ana") -> None:
    """Join via the share link as a player at `seat` (data-testid suffix "<ship>-<station>")."""
    page.goto(f"/?join={code}")
    page.get_by_test_id("join-name").fill(name)
    expect(page.get_by_test_id("seat-form")).to_be_visible()
    page.get_by_test_id("role-player").check()
    page.get_by_test_id(f"seat-{seat}").check()
    page.get_by_test_id("join-battle").click()
    expect(page.get_by_test_id("battle-view")).to_be_visible()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "joined")


def settled_seq(page: Page) -> str:
    """The last seq whose whole batch this page has applied (it moves only between batches)."""
    view = page.get_by_test_id("battle-view")
    expect(view).to_have_attribute("data-seq", re.compile(r"^\d+$"))
    return view.get_attribute("data-seq") or ""


def gm_options_seq(gm: Page) -> str:
    """The seq of the GM's station options, once they are those of the page's current state
    (not a list left from an older one). Both seqs are read together: a seq read first may be
    gone before the options catch up (the bot or the idle-crew passes move the battle on),
    and would then never be shown."""
    handle = gm.wait_for_function(
        """() => {
          const view = document.querySelector('[data-testid=battle-view]');
          const npc = document.querySelector('[data-testid=gm-npc]');
          return /^\\d+$/.test(view?.dataset.seq ?? '') && npc?.dataset.seq === view.dataset.seq
            && view.dataset.seq;
        }"""
    )
    return str(handle.json_value())


def gm_passes_one_station(gm: Page) -> None:
    """The GM passes the first awaited station nobody plays (its turn or its reaction)."""
    npc = gm.get_by_test_id("gm-npc")
    seq = gm_options_seq(gm)
    npc.get_by_test_id("npc-pass").first.click()
    expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)


def gm_runs_until(gm: Page, others: list[Page], done: Callable[[], bool], limit: int = 60) -> None:
    """The GM passes NPC stations until `done()` holds once every page has caught up."""
    for _ in range(limit):
        seq = settled_seq(gm)
        for page in others:
            expect(page.get_by_test_id("battle-view")).to_have_attribute("data-seq", seq)
        if done():
            return
        gm_passes_one_station(gm)
    pytest.fail(f"not reached after the GM passed {limit} stations")


def gm_runs_until_offered(gm: Page, page: Page, action: Locator) -> None:
    """The GM passes NPC stations until `page` is offered `action` (e.g. its Fire button)."""

    def offered() -> bool:
        action.or_(page.get_by_test_id("no-actions")).first.wait_for()
        return bool(action.is_visible())

    gm_runs_until(gm, [page], offered)


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's page, on the lobby."""
    yield from watched_page(new_context())


def test_gm_and_player_fire_and_see_the_same_log_and_hull(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Create, join, fire: both browsers show the same attack line and the target's new hull.

    The player is the first gunner of the Corsair Vengeance (s2); the GM runs every other
    station (Beowulf's whole crew, Vengeance's other gunners) and passes them.
    """
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s2-gunner:0")
    expect(player.get_by_test_id("my-station")).to_contain_text("Gunner 1 · Vengeance")
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("Ana")
    # The main view: range ladder, hull bars, armour, thrust, initiative, round and step.
    for page in (gm, player):
        expect(page.get_by_test_id("range-band-s1-s2")).to_have_text("Short")
        expect(page.get_by_test_id("armour-s1")).to_have_text("2")
        expect(page.get_by_test_id("thrust-s2")).to_have_text("4")
        expect(page.get_by_test_id("initiative").locator("li")).to_have_count(2)
        expect(page.get_by_test_id("round")).to_contain_text("Round 1")

    target_hull = player.get_by_test_id("hull-s1")
    start = target_hull.inner_text()
    assert start == "80 / 80"
    fire = player.get_by_test_id("fire")
    idle = player.get_by_test_id("no-actions")
    resolved = player.locator("[data-testid^=log-][data-type=attack_resolved]")
    # The dice decide whether a shot lands; fire each round until one does (bounded).
    for _ in range(3):

        def may_fire() -> bool:
            fire.or_(idle).first.wait_for()
            return fire.is_visible()

        gm_runs_until(gm, [player], may_fire)
        expect(player.get_by_test_id("steps").locator("[aria-current=step]")).to_have_text("Attack")
        # The pickers and the DM breakdown come before the shot.
        player.get_by_test_id("attack-target").select_option("s1")
        expect(player.get_by_test_id("attack-weapons")).to_contain_text("Beam laser")
        expect(player.get_by_test_id("dm-breakdown")).to_be_visible()
        expect(player.get_by_test_id("dm-breakdown")).to_contain_text("Gunner skill")
        expect(player.get_by_test_id("dm-total")).to_have_text(re.compile(r"^[+\u2212]?\d+$"))
        shots = resolved.count()
        seq = settled_seq(player)
        fire.click()
        expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)

        # Beowulf may react (evasive action, sand): the GM, who runs her, lets the shot through.
        def shot_resolved(before: int = shots) -> bool:
            return resolved.count() > before

        gm_runs_until(gm, [player], shot_resolved, limit=6)
        # The board has drawn the state after the shot before its hull is read.
        expect(player.get_by_test_id("board")).to_have_attribute("data-seq", settled_seq(player))
        if target_hull.inner_text() != start:
            break
    line = resolved.last
    fired_seq = line.get_attribute("data-seq")
    expect(line).to_contain_text("Vengeance")
    expect(line.locator(".die").first).to_be_visible()
    expect(target_hull).not_to_have_text(start)
    new_hull = target_hull.inner_text()
    # The GM's browser shows exactly the same attack line (dice included) and the same hull.
    text = player.get_by_test_id(f"log-{fired_seq}").text_content() or ""
    assert "Beowulf" in text
    expect(gm.get_by_test_id(f"log-{fired_seq}")).to_have_text(text)
    expect(gm.get_by_test_id("hull-s1")).to_have_text(new_hull)
    expect(player.get_by_test_id("battle-log")).to_have_attribute("aria-live", "polite")
    gm.screenshot(path=str(output_dir / "gm-after-fire.png"), full_page=True)
    player.screenshot(path=str(output_dir / "player-after-fire.png"), full_page=True)
    assert (output_dir / "gm-after-fire.png").stat().st_size > 0
    _no_script_errors(player)


def test_reload_restores_the_claimed_station(gm: Page, new_context: NewContext) -> None:
    """The resume token kept in the browser gets the same station back after a reload."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s1-pilot")
    expect(player.get_by_test_id("my-station")).to_contain_text("Pilot")
    token = player.evaluate("() => JSON.stringify(localStorage)")
    assert "resume_token" in token
    player.reload()
    expect(player.get_by_test_id("connection")).to_have_attribute("data-state", "joined")
    assert player.evaluate("() => JSON.stringify(localStorage)") == token
    expect(player.get_by_test_id("my-station")).to_contain_text("Pilot")
    expect(player.get_by_test_id("my-station")).to_contain_text("Beowulf")
    # The GM sees the station held and its holder connected again.
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("Ana")
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("online")
    _no_script_errors(player)


def test_a_second_browser_cannot_take_a_claimed_station(gm: Page, new_context: NewContext) -> None:
    """The picker shows the station taken, forcing the join is refused by the server, and only
    the GM's release frees it."""
    code = create_battle(gm)
    first = _open(new_context())
    join_as_player(first, code, "s1-pilot")
    second = _open(new_context())
    second.goto(f"/?join={code}")
    expect(second.get_by_test_id("seat-form")).to_be_visible()
    expect(second.get_by_test_id("seat-s1-pilot")).to_be_disabled()
    expect(second.get_by_test_id("seat-s1-captain")).to_be_enabled()
    # Going around the picker (a stored seat for that station) is refused by the server.
    battle_id = json.loads(first.evaluate("() => JSON.stringify(Object.keys(localStorage))"))
    key = next(k for k in battle_id if k.startswith("tvtt:battle:"))
    seat = {"role": "player", "ship_id": "s1", "stations": ["pilot"], "name": "Mallory"}
    second.evaluate("([k, v]) => localStorage.setItem(k, v)", [key, json.dumps(seat)])
    second.goto(f"/?battle={key.removeprefix('tvtt:battle:')}")
    expect(second.get_by_test_id("join-error")).to_have_attribute("data-code", "station_taken")
    # The first player still holds it.
    expect(first.get_by_test_id("my-station")).to_contain_text("Pilot")
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("Ana")
    # Until the GM releases it: the server confirms, the holder is told, the station is free.
    gm.get_by_test_id("release-s1-pilot").click()
    expect(gm.get_by_test_id("toast")).to_contain_text("Pilot aboard Beowulf released")
    expect(first.get_by_test_id("toast")).to_contain_text("released")
    expect(gm.get_by_test_id("gm-claims")).to_have_count(0)
    join_as_player(second, code, "s1-pilot", name="Mallory")
    expect(second.get_by_test_id("my-station")).to_contain_text("Pilot · Beowulf")
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("Mallory")
    _no_script_errors(first, second)


def _tab_to(page: Page, testid: str, limit: int = 60) -> None:
    """Press Tab until the element with `testid` has focus (fails if it is not reachable)."""
    for _ in range(limit):
        focused = page.evaluate("() => document.activeElement?.dataset?.testid ?? ''")
        if focused == testid:
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{testid} is not reachable with the Tab key")


def test_keyboard_only_join(gm: Page, new_context: NewContext) -> None:
    """Code, name, role and station can all be entered with the keyboard alone."""
    code = create_battle(gm)
    page = _open(new_context())
    expect(page.get_by_test_id("join-code")).to_be_visible()
    _tab_to(page, "join-code")
    page.keyboard.type(code)
    _tab_to(page, "join-name")
    page.keyboard.type("Kira")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("seat-form")).to_be_visible()
    _tab_to(page, "role-player")
    page.keyboard.press("Space")
    expect(page.get_by_test_id("role-player")).to_be_checked()
    _tab_to(page, "seat-s1-captain")
    page.keyboard.press("Space")
    expect(page.get_by_test_id("seat-s1-captain")).to_be_checked()
    _tab_to(page, "join-battle")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "joined")
    expect(page.get_by_test_id("my-station")).to_contain_text("Captain")
    _no_script_errors(page)


def _horizontal_overflow(page: Page) -> int:
    return int(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def test_phone_width_has_no_horizontal_scroll(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """At 390 px the lobby (crew editor open), the join form, a gunner's station with its
    pickers and DM breakdown, and the GM's own view all fit the width."""
    code = create_battle(gm)
    phone = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    expect(phone.get_by_test_id("create-form")).to_be_visible()
    phone.get_by_test_id("edit-crew-1").click()
    expect(phone.get_by_test_id("crew-1-gunner:0")).to_be_visible()
    assert _horizontal_overflow(phone) == 0
    phone.goto(f"/?join={code}")
    expect(phone.get_by_test_id("seat-form")).to_be_visible()
    assert _horizontal_overflow(phone) == 0
    join_as_player(phone, code, "s2-gunner:0", name="Pocket")
    expect(phone.get_by_test_id("range-ladders")).to_be_visible()
    expect(phone.get_by_test_id("battle-log").locator("li").first).to_be_visible()
    assert _horizontal_overflow(phone) == 0
    gm_runs_until_offered(gm, phone, phone.get_by_test_id("fire"))
    expect(phone.get_by_test_id("dm-breakdown")).to_be_visible()
    assert _horizontal_overflow(phone) == 0
    phone.screenshot(path=str(output_dir / "phone-390.png"), full_page=True)
    # A GM on a phone: the NPC stations and the GM forms fit too.
    phone_gm = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    create_battle(phone_gm)
    expect(phone_gm.get_by_test_id("npc-pass").first).to_be_visible()
    assert _horizontal_overflow(phone_gm) == 0
    phone_gm.screenshot(path=str(output_dir / "phone-gm-390.png"), full_page=True)
    _no_script_errors(phone, phone_gm)


def test_gm_downloads_the_battle_and_resumes_it(gm: Page, output_dir: Path) -> None:
    """Crew edited at creation, a few turns, Download battle, then Resume from the file."""
    code = create_battle(gm, pilot=("Mara Voss", "Pilot 3, Tactics 1"))
    expect(gm.get_by_test_id("ship-s1")).to_contain_text("Mara Voss")
    battle_id = gm.get_by_test_id("battle-view").get_attribute("data-battle-id")
    public = gm.request.get(f"/api/battles/{battle_id}").json()
    beowulf = next(s for s in public["state"]["ships"] if s["id"] == "s1")
    pilot = next(c for c in beowulf["crew"] if c["station"] == "pilot")
    assert pilot["skills"] == {"pilot": 3, "tactics": 1}
    for _ in range(3):
        gm_passes_one_station(gm)
    seq = settled_seq(gm)
    last_line = gm.get_by_test_id(f"log-{seq}").text_content() or ""
    with gm.expect_download() as info:
        gm.get_by_test_id("gm-download").click()
    saved = output_dir / "saved-battle.json"
    info.value.save_as(saved)
    exported = json.loads(saved.read_text())
    assert [e["seq"] for e in exported["events"]] == list(range(1, int(seq) + 1))
    assert exported["sealed_seed"].startswith("v1."), "a running battle's seed travels sealed"
    assert "seed" not in exported["events"][0]["data"]
    assert exported["events"][0]["cmd"] == {"type": "open_battle"}, "each batch's command"

    # A file with one die changed is refused, naming the event whose re-execution differs.
    rolled = next(e for e in exported["events"] if e["dice"])
    rolled["dice"][0] = rolled["dice"][0] % 6 + 1
    forged = output_dir / "forged-battle.json"
    forged.write_text(json.dumps(exported))
    gm.goto("/")
    gm.get_by_test_id("import-file").set_input_files(forged)
    gm.get_by_test_id("import-battle").click()
    expect(gm.get_by_test_id("import-status")).to_contain_text(
        f"event {rolled['seq']} ({rolled['type']}) differs from its re-execution at dice[0]"
    )
    gm.screenshot(path=output_dir / "forged-import-refused.png")

    gm.get_by_test_id("import-file").set_input_files(saved)
    gm.get_by_test_id("import-battle").click()
    expect(gm.get_by_test_id("my-role")).to_have_text("GM")
    expect(gm.get_by_test_id("join-code-display")).not_to_have_text(code)
    assert gm.get_by_test_id("battle-view").get_attribute("data-battle-id") != battle_id
    # The resumed battle stands exactly where the saved one stopped, and play goes on.
    expect(gm.get_by_test_id("battle-view")).to_have_attribute("data-seq", seq)
    expect(gm.get_by_test_id(f"log-{seq}")).to_have_text(last_line)
    expect(gm.get_by_test_id("ship-s1")).to_contain_text("Mara Voss")
    gm_passes_one_station(gm)
    expect(gm.get_by_test_id(f"log-{int(seq) + 1}")).to_be_visible()
    # The GM ends the battle: the seed is revealed and the page shows the server's verdict.
    assert "dice_revealed" not in (gm.get_by_test_id("battle-log").text_content() or "")
    gm.once("dialog", lambda dialog: dialog.accept())
    gm.get_by_test_id("gm-end").click()
    expect(gm.get_by_test_id("dice-verified")).to_have_text("dice verified")
    revealed = gm.locator("[data-type=dice_revealed]")
    expect(revealed).to_contain_text("The dice are revealed")


def test_solo_mode_the_bot_plays_its_side_and_a_spectator_watches(
    gm: Page, new_context: NewContext
) -> None:
    """The engine's bot commands the Corsairs; the GM runs only Beowulf; a spectator sees it all."""
    code = create_battle(gm, bot_side="b")
    watcher = _open(new_context())
    watcher.goto(f"/?join={code}")
    expect(watcher.get_by_test_id("seat-form")).to_be_visible()
    # The bot's stations cannot be claimed.
    expect(watcher.get_by_test_id("seat-s2-pilot")).to_be_disabled()
    expect(watcher.get_by_test_id("seat-s1-pilot")).to_be_enabled()
    watcher.get_by_test_id("join-name").fill("Wren")
    watcher.get_by_test_id("role-spectator").check()
    watcher.get_by_test_id("join-battle").click()
    expect(watcher.get_by_test_id("my-role")).to_have_text("Spectator")
    expect(watcher.get_by_test_id("station-panel")).to_contain_text("Spectating")
    expect(watcher.get_by_test_id("gm-panel")).to_be_hidden()
    expect(gm.get_by_test_id("gm-peers")).to_contain_text("Wren")
    # A bot side's ship says so on the board, to the spectator too.
    expect(watcher.get_by_test_id("bot-s2")).to_have_text("Bot · Standard")
    expect(watcher.get_by_test_id("bot-s1")).to_have_count(0)

    bot_fired = gm.locator("[data-type=attack_declared]", has_text="Vengeance fires")
    for _ in range(40):
        # Wait until the bot has the move done and the GM holds the next station (or it fired).
        gm.wait_for_function(
            """() => {
                const seq = document.querySelector('[data-testid=battle-view]').dataset.seq;
                const npc = document.querySelector('[data-testid=gm-npc]');
                const log = document.querySelector('[data-testid=battle-log]').textContent;
                return log.includes('Vengeance fires') || (npc.dataset.seq === seq &&
                    npc.querySelector('[data-testid=npc-pass]:not([disabled])') !== null);
            }"""
        )
        if bot_fired.count():
            break
        npc = gm.get_by_test_id("gm-npc")
        # The GM is never asked to run the bot's ship.
        assert npc.locator("[data-ship=s2]").count() == 0
        assert npc.locator("[data-ship=s1]").count() > 0
        gm_passes_one_station(gm)
    else:
        pytest.fail("the bot never fired")
    seq = bot_fired.first.get_attribute("data-seq")
    text = bot_fired.first.text_content() or ""
    expect(watcher.get_by_test_id(f"log-{seq}")).to_have_text(text)
    # Spectators are read-only: no actions to offer.
    expect(watcher.get_by_test_id("fire")).to_have_count(0)
    _no_script_errors(watcher)


def test_a_dropped_player_reconnects_and_catches_up(gm: Page, new_context: NewContext) -> None:
    """The connection drops and stays down a while: the page reconnects by itself and gets
    exactly the events it missed (Playwright stands between the page and the server's /ws)."""
    network_down = False
    to_server: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        if network_down:
            ws.close(code=4001, reason="network down (test)")
            return
        to_server.append(ws.connect_to_server())

    code = create_battle(gm)
    player = _open(new_context())
    player.route_web_socket(re.compile(r"/ws$"), route)
    join_as_player(player, code, "s2-gunner:0")
    expect(player.get_by_test_id("battle-view")).to_have_attribute("data-seq", settled_seq(gm))
    network_down = True
    # Closing the server side closes the page's side too (a browser may only send 1000/3xxx/4xxx).
    to_server[-1].close(code=1000, reason="dropped (test)")
    expect(player.get_by_test_id("connection")).to_have_attribute("data-state", "reconnecting")
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("offline")
    for _ in range(3):
        gm_passes_one_station(gm)
    seq = settled_seq(gm)
    expect(player.get_by_test_id(f"log-{seq}")).to_have_count(0)
    network_down = False
    # The page's backoff tops out at 8 s (protocol.js BACKOFF_MS); a slow machine gets there.
    expect(player.get_by_test_id("connection")).to_have_attribute(
        "data-state", "joined", timeout=15_000
    )
    expect(player.get_by_test_id("battle-view")).to_have_attribute("data-seq", seq)
    # Every event once, in order: nothing skipped, nothing repeated; the station is still hers.
    seqs = (
        player.get_by_test_id("battle-log")
        .locator(":scope > li")  # the log's lines, not the rows of their roll cards
        .evaluate_all("els => els.map((el) => Number(el.dataset.seq))")
    )
    assert seqs == list(range(1, int(seq) + 1))
    expect(player.get_by_test_id(f"log-{seq}")).to_have_text(
        gm.get_by_test_id(f"log-{seq}").text_content() or ""
    )
    expect(player.get_by_test_id("my-station")).to_contain_text("Gunner 1 · Vengeance")
    expect(gm.get_by_test_id("gm-claims")).to_contain_text("online")
    _no_script_errors(player)


def test_gm_advances_rules_and_undoes_and_every_browser_follows(
    gm: Page, new_context: NewContext
) -> None:
    """The GM panel: advance the step, a house ruling with its reason, undo; the player sees it."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s2-gunner:0")
    step = player.get_by_test_id("steps").locator("[aria-current=step]")
    expect(step).to_have_text("Manoeuvre")
    gm.get_by_test_id("gm-advance").click()
    expect(step).to_have_text("Attack")
    expect(player.locator("[data-type=gm_advanced]")).to_have_count(1)

    gm.get_by_test_id("gm-ruling-target").select_option("ship:s1")
    gm.get_by_test_id("gm-ruling-field").select_option("hull")
    gm.get_by_test_id("gm-ruling-value").fill("50")
    gm.get_by_test_id("gm-ruling-reason").fill("a micrometeoroid swarm")
    gm.get_by_test_id("gm-ruling").click()
    expect(player.locator("[data-type=gm_ruling]").last).to_contain_text("micrometeoroid")
    expect(player.get_by_test_id("hull-s1")).to_have_text("50 / 80")
    expect(gm.get_by_test_id("hull-s1")).to_have_text("50 / 80")

    gm.get_by_test_id("gm-ruling-target").select_option("pair:s1|s2")
    gm.get_by_test_id("gm-ruling-field").select_option("band")
    gm.get_by_test_id("gm-ruling-value").select_option("long")
    gm.get_by_test_id("gm-ruling-reason").fill("Beowulf slipped away in the debris")
    gm.get_by_test_id("gm-ruling").click()
    expect(player.get_by_test_id("range-band-s1-s2")).to_have_text("Long")

    # Undo back to the hull ruling: it and everything after it (steps that followed included).
    expect(gm.get_by_test_id("board")).to_have_attribute("data-seq", settled_seq(player))
    first_ruling = gm.locator("[data-type=gm_ruling]").first.get_attribute("data-seq") or ""
    gm.get_by_test_id("gm-undo-to").select_option(first_ruling)
    gm.get_by_test_id("gm-undo").click()
    gm.get_by_test_id("gm-undo-confirm").click()
    expect(player.locator("[data-type=gm_undo]")).to_have_count(1)
    expect(player.get_by_test_id("hull-s1")).to_have_text("80 / 80")
    expect(player.get_by_test_id("range-band-s1-s2")).to_have_text("Short")
    expect(gm.get_by_test_id("hull-s1")).to_have_text("80 / 80")
    _no_script_errors(player)


def test_gm_fires_for_an_npc_ship_and_the_attacked_player_evades(
    gm: Page, new_context: NewContext
) -> None:
    """The GM acts for Vengeance's gunner (full options, not just a pass); Beowulf's pilot, a
    player, is shown the incoming shot and only the reactions, and takes evasive action."""
    code = create_battle(gm)
    player = _open(new_context())
    join_as_player(player, code, "s1-pilot")
    npc_gunner = gm.get_by_test_id("npc-s2-gunner:0")
    end_step = player.get_by_test_id("do-end_step")
    for _ in range(30):
        seq = settled_seq(gm)
        expect(player.get_by_test_id("battle-view")).to_have_attribute("data-seq", seq)
        expect(gm.get_by_test_id("gm-npc")).to_have_attribute("data-seq", seq)
        if npc_gunner.count():
            break
        end_step.or_(player.get_by_test_id("no-actions")).first.wait_for()
        if end_step.is_visible():
            # The pilot keeps her Thrust for evasive action: done for the Manoeuvre step.
            end_step.click()
            expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
        else:
            gm_passes_one_station(gm)
    else:
        pytest.fail("Vengeance's first gunner never got the move")
    seq = settled_seq(gm)
    npc_gunner.locator("summary").click()
    npc_gunner.get_by_test_id("attack-target").select_option("s1")
    expect(npc_gunner.get_by_test_id("dm-breakdown")).to_be_visible()
    npc_gunner.get_by_test_id("fire").click()
    expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
    # The player is asked to react: the incoming shot and only the reactions are offered.
    expect(player.get_by_test_id("incoming")).to_contain_text("Vengeance")
    evade = player.get_by_test_id("do-evasive_action")
    expect(evade).to_be_visible()
    expect(player.get_by_test_id("do-no_reaction")).to_be_visible()
    expect(player.get_by_test_id("do-move")).to_have_count(0)
    expect(player.get_by_test_id("do-end_step")).to_have_count(0)
    evade.click()
    evaded = player.locator("[data-type=evasive_action]")
    expect(evaded).to_contain_text("Beowulf takes evasive action")
    # Beowulf's gunners (the GM's) let the shot through; the attack resolves for everyone.
    resolved = gm.locator("[data-type=attack_resolved]")
    gm_runs_until(gm, [player], lambda: resolved.count() > 0, limit=4)
    seq_resolved = resolved.first.get_attribute("data-seq")
    expect(player.get_by_test_id(f"log-{seq_resolved}")).to_have_text(
        resolved.first.text_content() or ""
    )
    _no_script_errors(player)


def test_the_gm_runs_the_table_from_a_second_browser_with_the_token(
    gm: Page, new_context: NewContext
) -> None:
    """Join as GM: a wrong token is refused; the token shown in the GM panel lets another in."""
    code = create_battle(gm)
    gm.get_by_test_id("gm-token-box").locator("summary").click()
    token = gm.get_by_test_id("gm-token").input_value()
    assert len(token) >= 16
    other = _open(new_context())

    def join_as_gm(gm_token: str) -> None:
        other.goto(f"/?join={code}")
        expect(other.get_by_test_id("seat-form")).to_be_visible()
        other.get_by_test_id("role-gm").check()
        other.get_by_test_id("join-gm-token").fill(gm_token)
        other.get_by_test_id("join-battle").click()

    join_as_gm("not-the-token")
    expect(other.get_by_test_id("join-error")).to_have_attribute("data-code", "bad_gm_token")
    join_as_gm(token)
    expect(other.get_by_test_id("my-role")).to_have_text("GM")
    # Either GM browser moves the table; both follow.
    gm_passes_one_station(other)
    expect(gm.get_by_test_id("battle-view")).to_have_attribute("data-seq", settled_seq(other))
    _no_script_errors(other)
