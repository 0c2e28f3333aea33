"""axe-core on the tabletop page: the lobby, a battle as GM, player and spectator, and the same
battle once it is over. No serious or critical violation is allowed.

axe-core is a test-only asset: `make` installs the version pinned in tests/browser/axe/
(package.json + package-lock.json, `npm ci`) into tests/browser/axe/node_modules, never into
gameserver/static. The test injects it into the page it checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewContext
from tests.browser.test_first_hour import gm_ruling, join_as_spectator
from tests.browser.test_tabletop import (
    PHONE,
    _no_script_errors,
    _open,
    create_battle,
    gm_runs_until_offered,
    join_as_player,
    settled_seq,
    watched_page,
)

pytestmark = pytest.mark.browser

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_source() -> str:
    """The pinned axe-core build (`make test` / `make test-browser` installs it)."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `make axe-core` (npm ci in {AXE_DIR})")
    pinned = json.loads((AXE_DIR / "package.json").read_text())["devDependencies"]["axe-core"]
    installed = json.loads((AXE_JS.parent / "package.json").read_text())["version"]
    assert installed == pinned, f"axe-core {installed} installed, {pinned} pinned: make axe-core"
    return AXE_JS.read_text()


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's page, on the lobby (fails the test on a script error there)."""
    yield from watched_page(new_context(bypass_csp=True))


def axe_violations(page: Page, source: str) -> list[dict[str, Any]]:
    """Serious and critical axe violations on the page as it stands, one entry per rule.

    axe is injected as an inline script, which the server's Content-Security-Policy forbids (as
    it should): the contexts of this test bypass CSP, the pages are otherwise the same.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=source)
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ['violations']});
          return r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
          }));
        }"""
    )
    return [v for v in found if v["impact"] in BLOCKING]


def assert_clean(page: Page, source: str, where: str) -> None:
    violations = axe_violations(page, source)
    assert violations == [], f"{where}: " + json.dumps(violations, indent=1)


def test_axe_finds_no_serious_violation_in_the_lobby_and_the_battle(
    gm: Page, new_context: NewContext, axe_source: str
) -> None:
    """Lobby (desktop and phone, crew editor open), then one battle seen by each role, before
    and after it ends (dice in the log, an attack preview on the gunner's station)."""
    expect(gm.get_by_test_id("create-form")).to_be_visible()
    gm.get_by_test_id("edit-crew-0").click()
    assert_clean(gm, axe_source, "lobby")
    phone = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True))
    expect(phone.get_by_test_id("create-form")).to_be_visible()
    assert_clean(phone, axe_source, "lobby at 390 px")
    gm.reload()
    code = create_battle(gm)
    player = _open(new_context(bypass_csp=True))
    join_as_player(player, code, "s2-gunner:0")
    watcher = _open(new_context(bypass_csp=True))
    join_as_spectator(watcher, code)
    gm_runs_until_offered(gm, player, player.get_by_test_id("fire"))
    expect(player.get_by_test_id("dm-breakdown")).to_be_visible()
    expect(watcher.get_by_test_id("battle-view")).to_have_attribute("data-seq", settled_seq(gm))
    expect(gm.locator(".log .die").first).to_be_visible()
    gm.get_by_test_id("npc-s2-gunner:1").locator("summary").click()
    for page, role in ((gm, "GM"), (player, "player"), (watcher, "spectator")):
        assert_clean(page, axe_source, f"battle as {role}")
    gm_ruling(gm, "ship:s1", "status", "wrecked", "the reactor breached")
    for page, role in ((gm, "GM"), (player, "player"), (watcher, "spectator")):
        expect(page.get_by_test_id("outcome")).to_be_visible()
        assert_clean(page, axe_source, f"finished battle as {role}")
    _no_script_errors(phone, player, watcher)
