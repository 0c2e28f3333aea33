"""The lobby's setup tools in a real browser: the ship designer (a custom design within the
rules' limits, its figures as the engine builds them, the battle starting with that ship) and
saved fleets in this browser's storage (a hostile stored value ignored with a notice)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from gameserver.rules.ships import MAX_TURRETS, ShipDesign
from gameserver.rules.tables_mgt2e import Mount, SensorGrade, WeaponKind
from tests.browser.conftest import NewContext
from tests.browser.test_accessibility import assert_clean, axe_source
from tests.browser.test_tabletop import PHONE, _horizontal_overflow, _no_script_errors, _open

pytestmark = pytest.mark.browser

__all__ = ["axe_source"]  # the fixture, used by name


def _bounds(field: str) -> tuple[int, int]:
    info = ShipDesign.model_fields[field]
    lo = next(m.ge for m in info.metadata if hasattr(m, "ge"))
    hi = next(m.le for m in info.metadata if hasattr(m, "le"))
    return int(lo), int(hi)


def test_the_designer_uses_the_engines_limits_and_names(gm: Page) -> None:
    """Protocol/page agreement: the form's bounds, mounts, weapons, sensor grades, stations and
    turret count are ShipDesign's (read from the pydantic model, not copied into the test)."""
    page_side: dict[str, Any] = gm.evaluate(
        """async () => {
          const d = await import('/static/js/designer.js');
          return {limits: d.DESIGN_LIMITS, name: d.NAME_MAX, turrets: d.MAX_TURRETS,
                  mounts: d.MOUNTS, weapons: d.WEAPON_KINDS, sensors: d.SENSOR_GRADES,
                  stations: d.CREW_STATIONS};
        }"""
    )
    for field, lim in page_side["limits"].items():
        assert (lim["min"], lim["max"]) == _bounds(field), field
    numeric = {
        name
        for name, info in ShipDesign.model_fields.items()
        if info.annotation is int and any(hasattr(m, "le") for m in info.metadata)
    }
    assert set(page_side["limits"]) == numeric, "every bounded number of the design has a field"
    name_max = next(
        m.max_length for m in ShipDesign.model_fields["name"].metadata if hasattr(m, "max_length")
    )
    assert page_side["name"] == name_max
    assert page_side["turrets"] == MAX_TURRETS
    assert page_side["mounts"] == [m.value for m in Mount]
    assert page_side["weapons"] == [w.value for w in WeaponKind]
    assert page_side["sensors"] == [g.value for g in SensorGrade]
    station_type = ShipDesign.model_fields["stations"].annotation
    assert set(page_side["stations"]) == set(station_type.__args__[0].__args__)  # type: ignore[union-attr]


def _open_designer(page: Page) -> None:
    expect(page.get_by_test_id("create-form")).to_be_visible()
    page.get_by_test_id("ship-preset-0").select_option("free_trader")
    page.get_by_test_id("custom-design-0").click()
    expect(page.get_by_test_id("designer-0")).to_be_visible()
    expect(page.get_by_test_id("design-0-figures")).to_contain_text("As the engine builds it")


def test_a_custom_design_within_the_rules_starts_the_battle(
    gm: Page, output_dir: Path, axe_source: str, new_context: NewContext
) -> None:
    _open_designer(gm)
    figures = gm.get_by_test_id("design-0-figures")
    # Starts from the preset it replaces: the Free Trader's 200 tons, Hull 80.
    expect(gm.get_by_test_id("design-0-tons")).to_have_value("200")
    expect(figures).to_contain_text("Hull 80")

    # Out of bounds: named under the field, in words, and the battle cannot be created.
    gm.get_by_test_id("design-0-tons").fill("2000000")
    expect(gm.get_by_test_id("design-0-msg-tons")).to_have_text(
        "Tonnage: at most 1,000,000 (the rules' limit)."
    )
    gm.get_by_test_id("design-0-thrust").fill("-1")
    expect(gm.get_by_test_id("design-0-msg-thrust")).to_have_text("Thrust: at least 0.")
    expect(figures).to_contain_text("Fix the fields marked")
    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("create-status")).to_contain_text("breaks the rules")
    expect(gm.get_by_test_id("battle-view")).to_have_count(0)

    # A rule only the engine knows: a single mount holds one weapon.
    gm.get_by_test_id("design-0-tons").fill("300")
    gm.get_by_test_id("design-0-thrust").fill("4")
    gm.get_by_test_id("design-0-armour").fill("6")
    gm.get_by_test_id("design-0-name").fill("Gunboat")
    gm.get_by_test_id("design-0-add-turret").click()
    gm.get_by_test_id("design-0-t2-mount").select_option("single")
    gm.get_by_test_id("design-0-t2-w1").select_option("pulse_laser")
    expect(gm.get_by_test_id("design-0-msg-turrets.2")).to_contain_text(
        "Turret 3: a single mount holds at most 1 weapon(s)"
    )
    gm.get_by_test_id("design-0-t2-mount").select_option("double")
    expect(gm.get_by_test_id("design-0-msg-turrets.2")).to_be_hidden()
    # The engine's figures: Hull 0.4 x 300 = 120 (the page did not compute it).
    expect(figures).to_contain_text("Hull 120")
    expect(figures).to_contain_text("Gunner 3")
    expect(gm.get_by_test_id("design-0-msg-tons")).to_be_hidden()
    gm.get_by_test_id("designer-0").screenshot(path=str(output_dir / "designer-1440.png"))
    assert_clean(gm, axe_source, "the designer at 1440 px")

    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("battle-view")).to_be_visible()
    battle_id = gm.get_by_test_id("battle-view").get_attribute("data-battle-id")
    public = gm.request.get(f"/api/battles/{battle_id}").json()
    ship = next(s for s in public["state"]["ships"] if s["id"] == "s1")
    assert (ship["design"], ship["tons"], ship["preset"]) == ("Gunboat", 300, None)
    assert (ship["hull_max"], ship["armour"], ship["thrust_rating"]) == (120, 6, 4)
    stations = [c["station"] for c in ship["crew"]]
    assert stations[-3:] == ["gunner:0", "gunner:1", "gunner:2"], stations
    expect(gm.get_by_test_id("ship-s1")).to_contain_text("Gunboat")

    # On a phone the designer fits (no horizontal scroll) and is axe clean too.
    phone = _open(new_context(viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True))
    _open_designer(phone)
    phone.get_by_test_id("design-0-add-turret").click()
    expect(phone.get_by_test_id("design-0-figures")).to_contain_text("Gunner 3")
    assert _horizontal_overflow(phone) == 0
    phone.get_by_test_id("designer-0").screenshot(path=str(output_dir / "designer-390.png"))
    assert_clean(phone, axe_source, "the designer at 390 px")
    _no_script_errors(phone)


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's lobby at desktop width, without CSP (axe is injected inline)."""
    page = _open(new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True))
    yield page
    _no_script_errors(page)
