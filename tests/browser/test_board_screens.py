"""The board at 390 and 1440 px against committed reference pictures, with a tolerant pixel
diff (`tests/browser/screens.py`): antialiasing and one-pixel shifts pass, a changed number,
token or bar does not.

Refresh the references after a deliberate change to the board's look:
`TVTT_UPDATE_REFERENCES=1 .venv/bin/python -m pytest tests/browser/test_board_screens.py`, then
open `tests/browser/references/board-*.png`, check them by eye, and commit them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.screens import compare, read_reference, same_picture
from tests.browser.test_first_hour import gm_ruling, join_as_spectator
from tests.browser.test_tabletop import PHONE, _no_script_errors, _open, create_battle, settled_seq

pytestmark = pytest.mark.browser

REFERENCES = Path(__file__).resolve().parent / "references"
UPDATE = os.environ.get("TVTT_UPDATE_REFERENCES") == "1"


HIDE_STRIP = "[data-testid=last-events] { display: none !important; }"


def _board_png(page: Page, hide: str = "") -> bytes:
    """The board as the page shows it from the top (no sticky bar over it), animations stopped,
    the initiative values (dice: they differ per battle) masked, the phone's pinned strip of the
    last log lines (not the board; it names the revealed seed) out of the way."""
    page.evaluate("() => window.scrollTo(0, 0)")
    # The screenshot's `style` alone left the fixed strip drawn over the top of a full-page clip
    # in a clean-clone CI run (the revealed seed differs per battle): take it out of the page.
    page.evaluate("() => document.querySelector('[data-testid=last-events]')?.remove()")
    board = page.get_by_test_id("board")
    box = board.bounding_box()
    assert box is not None
    return page.screenshot(
        clip=box,
        full_page=True,
        animations="disabled",
        caret="hide",
        mask=[board.locator("[data-testid^=init-]")]
        + ([board.get_by_test_id(hide)] if hide else []),
        # Applied by the browser for the screenshot only (the page's CSP refuses style tags).
        style=HIDE_STRIP,
    )


def test_the_board_matches_its_reference_at_phone_and_desktop_width(
    gm: Page, new_context: NewContext, output_dir: Path
) -> None:
    """A finished battle (nobody acting, nothing moving): the Corsair ruled wrecked at Short."""
    code = create_battle(gm)
    gm_ruling(gm, "ship:s2", "status", "wrecked", "the reactor breached")
    shots: dict[str, bytes] = {}
    pages: list[Page] = []
    for width, viewport in (("390", PHONE), ("1440", {"width": 1440, "height": 900})):
        page = _open(new_context(viewport=viewport))
        join_as_spectator(page, code)
        expect(page.get_by_test_id("outcome")).to_be_visible()
        expect(page.get_by_test_id("battle-view")).to_have_attribute("data-seq", settled_seq(gm))
        expect(
            page.locator('[data-testid=tactical-plot] g.token[data-ship="s2"]')
        ).to_have_attribute("data-level", "ok")
        shots[width] = _board_png(page)
        (output_dir / f"board-{width}.png").write_bytes(shots[width])
        pages.append(page)
    if UPDATE:
        for width, png in shots.items():
            (REFERENCES / f"board-{width}.png").write_bytes(png)
    checker = _open(new_context())
    for width, png in shots.items():
        diff = compare(checker, png, read_reference(REFERENCES / f"board-{width}.png"))
        assert same_picture(diff), f"board at {width} px differs from its reference: {diff}"
    # The comparison sees a real change: one figure on a card painted over.
    desktop = pages[1]
    edited = _board_png(desktop, hide="armour-s1")
    (output_dir / "board-1440-edited.png").write_bytes(edited)
    changed = compare(checker, edited, read_reference(REFERENCES / "board-1440.png"))
    assert not same_picture(changed), f"an edited armour figure went unnoticed: {changed}"
    # The two widths are different pictures, too.
    assert not same_picture(compare(checker, shots["390"], shots["1440"]))
    _no_script_errors(*pages)
