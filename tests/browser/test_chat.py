"""Table chat and whispers in real browsers: kept beside the battle (the GM's download has them),
never in its rules log; hostile lines are refused in words or shown as plain text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.test_first_hour import join_as_spectator
from tests.browser.test_tabletop import _no_script_errors, _open, create_battle, join_as_player

pytestmark = pytest.mark.browser

INJECTION = '<img src=x onerror="window.__pwned=1"><b>bold</b> hello'


def _say(page: Page, to_label: str, text: str) -> None:
    page.get_by_test_id("chat-to").select_option(label=to_label)
    page.get_by_test_id("chat-text").fill(text)
    page.get_by_test_id("chat-send").click()


def _lines(page: Page) -> list[str]:
    return [t.strip() for t in page.get_by_test_id("chat-lines").locator("li").all_inner_texts()]


def test_table_chat_and_whispers_stay_with_their_readers(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    code = create_battle(gm)
    ana = _open(new_context())
    join_as_player(ana, code, "s1-pilot", name="Ana")
    wren = _open(new_context())
    join_as_spectator(wren, code)
    expect(gm.get_by_test_id("chat-to").locator("option", has_text="Ana")).to_have_count(1)

    # To the table: everyone reads it, markup shown as the text it is.
    _say(ana, "Table", INJECTION)
    for page in (gm, ana, wren):
        lines = page.get_by_test_id("chat-lines")
        expect(lines).to_contain_text("Ana: " + INJECTION)
        expect(lines.locator("img, b")).to_have_count(0)
        assert page.evaluate("() => window.__pwned") is None
    expect(ana.get_by_test_id("chat-text")).to_have_value("")

    # Ana whispers to the GM; the GM whispers back: the spectator reads neither.
    _say(ana, "GM (whisper)", "they are bluffing")
    expect(gm.get_by_test_id("chat-lines")).to_contain_text("Ana → GM (whisper): they are bluffing")
    _say(gm, "Ana (whisper)", "roll with it")
    expect(ana.get_by_test_id("chat-lines")).to_contain_text("→ Ana (whisper): roll with it")
    _say(wren, "Table", "popcorn")
    expect(gm.get_by_test_id("chat-lines")).to_contain_text("Wren: popcorn")
    expect(wren.get_by_test_id("chat-lines").locator("li")).to_have_count(2)
    assert not any("bluffing" in t or "roll with it" in t for t in _lines(wren))
    shown = len(_lines(gm))

    # Hostile input: each refused in words, nothing kept.
    long_line = "x" * 501
    ana.get_by_test_id("chat-text").evaluate(
        "(el, v) => { el.maxLength = 9999; el.value = v; }", long_line
    )
    ana.get_by_test_id("chat-send").click()
    expect(ana.get_by_test_id("chat-problem")).to_contain_text("at most 500 characters")
    _say(ana, "Table", "   ")
    expect(ana.get_by_test_id("chat-problem")).to_contain_text("empty")
    # A whisper to someone who is not at the table (an id nobody has now).
    gm.get_by_test_id("chat-to").evaluate(
        "(el) => el.append(new Option('Gone (whisper)', '0123456789ab'))"
    )
    _say(gm, "Gone (whisper)", "are you there?")
    expect(gm.get_by_test_id("chat-problem")).to_contain_text("nobody with that id is at the table")
    # A flood: the first few lines pass, then the server asks to wait.
    for i in range(8):
        wren.get_by_test_id("chat-text").fill(f"spam {i}")
        wren.get_by_test_id("chat-send").click()
        # Each line either comes back or is refused: wait for one (the refusal is not instant).
        wren.wait_for_function(
            """(line) => [...document.querySelectorAll('[data-testid=chat-lines] li')]
                  .some((li) => li.textContent.endsWith(line))
                || document.querySelector('[data-testid=chat-problem]')
                  .textContent.includes('too many')""",
            arg=f"spam {i}",
        )
        if "too many" in (wren.get_by_test_id("chat-problem").text_content() or ""):
            break
    expect(wren.get_by_test_id("chat-problem")).to_contain_text("too many chat lines")
    flooded = len([t for t in _lines(gm) if "spam" in t])
    assert 1 <= flooded < 8
    expect(gm.get_by_test_id("chat-lines").locator("li")).to_have_count(shown + flooded)
    assert not any("xxxxx" in t or "are you there" in t for t in _lines(gm))

    # A reload brings back the lines its reader may read, whispers included.
    ana.reload()
    expect(ana.get_by_test_id("chat-lines")).to_contain_text("roll with it")
    expect(ana.get_by_test_id("chat-lines")).to_contain_text("they are bluffing")

    # The GM's download has the chat beside the events, and no event is a chat line.
    with gm.expect_download() as info:
        gm.get_by_test_id("gm-download").click()
    saved = output_dir / "chat-battle.json"
    info.value.save_as(saved)
    exported = json.loads(saved.read_text())
    texts = [line["text"] for line in exported["chat"]]
    assert texts[:4] == [INJECTION, "they are bluffing", "roll with it", "popcorn"]
    assert exported["chat"][2]["to"] == "person"
    assert exported["chat"][2]["to_name"] == "Ana"
    assert all("token" not in key for line in exported["chat"] for key in line)
    assert not any("chat" in e["type"] for e in exported["events"])
    gm.screenshot(path=str(output_dir / "chat-1440.png"), full_page=True)
    _no_script_errors(ana, wren)


def test_a_resumed_battle_brings_back_its_chat(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """Download battle, Resume from the file: the chat comes back. The GM reads every line;
    whispers stay whispers (the file has no tokens: a restored whisper is the GM's alone), so
    a player or spectator of the resumed battle reads the table's lines only."""
    code = create_battle(gm)
    ana = _open(new_context())
    join_as_player(ana, code, "s1-pilot", name="Ana")
    expect(gm.get_by_test_id("chat-to").locator("option", has_text="Ana")).to_have_count(1)
    _say(ana, "Table", "hello table")
    _say(ana, "GM (whisper)", "they are bluffing")
    _say(gm, "Ana (whisper)", "roll with it")
    expect(ana.get_by_test_id("chat-lines").locator("li")).to_have_count(3)
    before = _lines(gm)
    assert len(before) == 3
    with gm.expect_download() as info:
        gm.get_by_test_id("gm-download").click()
    saved = output_dir / "chat-resume.json"
    info.value.save_as(saved)

    gm.goto("/")
    gm.get_by_test_id("import-file").set_input_files(saved)
    gm.get_by_test_id("import-battle").click()
    expect(gm.get_by_test_id("my-role")).to_have_text("GM")
    new_code = (gm.get_by_test_id("join-code-display").text_content() or "").strip()
    assert new_code not in ("", code)
    expect(gm.get_by_test_id("chat-lines").locator("li")).to_have_count(3)
    assert _lines(gm) == before
    expect(gm.get_by_test_id("chat-lines").locator("li.whisper")).to_have_count(2)
    gm.get_by_test_id("chat-panel").screenshot(
        path=str(output_dir / "chat-restored.png"), style=".topbar { position: static !important; }"
    )

    bo = _open(new_context())
    join_as_player(bo, new_code, "s1-pilot", name="Bo")
    wren = _open(new_context())
    join_as_spectator(wren, new_code)
    for page in (bo, wren):
        expect(page.get_by_test_id("chat-lines")).to_contain_text("Ana: hello table")
        expect(page.get_by_test_id("chat-lines").locator("li")).to_have_count(1)
    _say(bo, "Table", "back in the fight")
    expect(gm.get_by_test_id("chat-lines")).to_contain_text("Bo: back in the fight")
    _no_script_errors(gm, bo, wren)
