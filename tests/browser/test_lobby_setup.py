"""The lobby's setup tools in a real browser: the ship designer (a custom design within the
rules' limits, its figures as the engine builds them, the battle starting with that ship) and
saved fleets in this browser's storage (a hostile stored value ignored with a notice)."""

from __future__ import annotations

import json
import re
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

NO_STICKY = ".topbar { position: static !important; }"
"""Element screenshots scroll the element into view: the sticky top bar would cover its top."""


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
                  stations: d.CREW_STATIONS, missiles: d.MISSILES, screens: d.SCREENS};
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
    assert page_side["missiles"] == list(ShipDesign.model_fields["missile"].annotation.__args__)  # type: ignore[union-attr]
    screens = ShipDesign.model_fields["screens"].annotation.__args__[0]  # type: ignore[union-attr]
    assert page_side["screens"] == list(screens.__args__)
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
    # A turret with no weapon is named before anything is asked of the server.
    gm.get_by_test_id("design-0-t2-w0").select_option("")
    gm.get_by_test_id("design-0-t2-w0").select_option("")
    expect(gm.get_by_test_id("design-0-msg-turrets.2")).to_have_text(
        "Turret 3: pick at least one weapon."
    )
    gm.get_by_test_id("design-0-t2-w0").select_option("beam_laser")
    # The engine's figures: Hull 0.4 x 300 = 120 (the page did not compute it).
    expect(figures).to_contain_text("Hull 120")
    expect(figures).to_contain_text("Gunner 3")
    expect(gm.get_by_test_id("design-0-msg-tons")).to_be_hidden()
    gm.get_by_test_id("designer-0").screenshot(
        path=str(output_dir / "designer-1440.png"), style=NO_STICKY
    )
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
    phone.get_by_test_id("designer-0").screenshot(
        path=str(output_dir / "designer-390.png"), style=NO_STICKY
    )
    assert_clean(phone, axe_source, "the designer at 390 px")
    _no_script_errors(phone)


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's lobby at desktop width, without CSP (axe is injected inline)."""
    page = _open(new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True))
    yield page
    _no_script_errors(page)


def _fleet_options(page: Page) -> list[str]:
    return [
        t.strip() for t in page.get_by_test_id("fleet-pick").locator("option").all_inner_texts()
    ]


def test_a_saved_fleet_comes_back_after_a_reload_and_a_hostile_one_is_ignored(
    gm: Page, output_dir: Path
) -> None:
    _open_designer(gm)
    gm.get_by_test_id("design-0-name").fill("Gunboat")
    gm.get_by_test_id("design-0-tons").fill("300")
    expect(gm.get_by_test_id("design-0-figures")).to_contain_text("Hull 120")
    gm.get_by_test_id("ship-name-1").fill("Grendel")
    gm.get_by_test_id("edit-crew-1").click()
    pilot = gm.get_by_test_id("crew-1-pilot")
    pilot.get_by_label("Crew name").fill("Mara Voss")
    pilot.get_by_label("Skills").fill("Pilot 3, Tactics (naval) 1")
    pilot.get_by_label("Skills").blur()
    gm.get_by_test_id("fleet-name").fill("Regina patrol")
    gm.get_by_test_id("fleet-save").click()
    expect(gm.get_by_test_id("fleet-notice")).to_have_text("Saved “Regina patrol”: 2 ships.")
    assert _fleet_options(gm) == ["Regina patrol"]

    # A reload starts from the defaults; Load brings the designs and crews back.
    gm.reload()
    expect(gm.get_by_test_id("designer-0")).to_have_count(0)
    gm.get_by_test_id("fleet-pick").select_option("Regina patrol")
    gm.get_by_test_id("fleet-load").click()
    expect(gm.get_by_test_id("fleet-notice")).to_have_text("Loaded “Regina patrol”: 2 ships.")
    expect(gm.get_by_test_id("design-0-tons")).to_have_value("300")
    expect(gm.get_by_test_id("design-0-figures")).to_contain_text("Hull 120")
    expect(gm.get_by_test_id("ship-name-1")).to_have_value("Grendel")
    pilot = gm.get_by_test_id("crew-1-pilot")
    expect(pilot.get_by_label("Crew name")).to_have_value("Mara Voss")
    expect(pilot.get_by_label("Skills")).to_have_value(re.compile("Pilot 3"))
    gm.get_by_test_id("fleets").screenshot(
        path=str(output_dir / "fleets-1440.png"), style=NO_STICKY
    )

    # A second fleet, then Delete the first: only the second is kept.
    gm.get_by_test_id("fleet-name").fill("Spare")
    gm.get_by_test_id("fleet-save").click()
    gm.get_by_test_id("fleet-pick").select_option("Regina patrol")
    gm.get_by_test_id("fleet-delete").click()
    expect(gm.get_by_test_id("fleet-notice")).to_have_text("Deleted “Regina patrol”.")
    assert _fleet_options(gm) == ["Spare"]
    stored = json.loads(gm.evaluate("() => localStorage.getItem('tvtt:fleets')"))
    assert list(stored["fleets"]) == ["Spare"]

    # The loaded fleet starts the battle: the custom design and the edited crew.
    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("battle-view")).to_be_visible()
    battle_id = gm.get_by_test_id("battle-view").get_attribute("data-battle-id")
    ships = {
        s["id"]: s for s in gm.request.get(f"/api/battles/{battle_id}").json()["state"]["ships"]
    }
    assert (ships["s1"]["design"], ships["s1"]["hull_max"]) == ("Gunboat", 120)
    assert ships["s2"]["name"] == "Grendel"
    crew = {c["station"]: c for c in ships["s2"]["crew"]}
    assert crew["pilot"]["name"] == "Mara Voss"


HOSTILE_FLEETS = {
    "not JSON": ("{nope", "could not be read (not JSON)"),
    "a list": ("[1, 2]", "not in a form this page knows"),
    "too large": ('"' + "x" * (600 * 1024) + '"', "too large to be real"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FLEETS))
def test_a_corrupt_stored_value_is_ignored_with_a_notice(gm: Page, case: str) -> None:
    value, notice = HOSTILE_FLEETS[case]
    gm.evaluate("(v) => localStorage.setItem('tvtt:fleets', v)", value)
    gm.reload()
    expect(gm.get_by_test_id("fleet-notice")).to_contain_text(notice)
    expect(gm.get_by_test_id("fleet-load")).to_be_disabled()
    # The lobby still works: save a fleet over the unreadable value, and create a battle.
    gm.get_by_test_id("fleet-name").fill("Fresh")
    gm.get_by_test_id("fleet-save").click()
    assert _fleet_options(gm) == ["Fresh"]
    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("battle-view")).to_be_visible()


def test_a_hostile_stored_fleet_is_refused_whole_and_shown_as_text(gm: Page) -> None:
    markup = '<img src=x onerror="window.__pwned=1">'
    good_crew = {
        "pilot": {
            "name": "Ana",
            "characteristics": dict.fromkeys(["STR", "DEX", "END", "INT", "EDU", "SOC"], 99),
            "skills": {"pilot": 2},
        }
    }
    ship = {"name": "A", "side": "a", "preset": "scout", "quality": "regular"}
    fleets = {
        markup: {
            "ruleset": "MGT2E_2016",
            "ships": [ship, ship | {"side": "b", "preset": "__proto__"}],
        },
        "Bad crew": {
            "ruleset": "MGT2E_2016",
            "ships": [ship | {"crew": good_crew}, ship | {"side": "b"}],
        },
        "__proto__": {"ruleset": "D20", "ships": []},
    }
    gm.evaluate(
        "(v) => localStorage.setItem('tvtt:fleets', v)",
        json.dumps({"version": 1, "fleets": fleets}),
    )
    gm.reload()
    expect(gm.get_by_test_id("fleet-pick").locator("option")).to_have_count(3)
    assert markup in _fleet_options(gm)
    before = gm.get_by_test_id("ship-rows").inner_text()
    for name, reason in (
        (markup, "ship 2's design \"__proto__\" is not one of this ruleset's presets"),
        ("Bad crew", "ship 1's pilot has a characteristic out of 0-15"),
        ("__proto__", "its ruleset is unknown"),
    ):
        gm.get_by_test_id("fleet-pick").select_option(name)
        gm.get_by_test_id("fleet-load").click()
        expect(gm.get_by_test_id("fleet-notice")).to_contain_text(reason)
        expect(gm.get_by_test_id("fleet-notice")).to_contain_text(
            "the ships were left as they were"
        )
        assert gm.get_by_test_id("ship-rows").inner_text() == before
    assert gm.evaluate("() => window.__pwned") is None
    assert gm.evaluate("() => ({}).ruleset") is None, "no prototype was polluted"
    expect(gm.locator("img[src=x]")).to_have_count(0)


def test_a_design_from_the_fighter_keeps_its_pilot_at_the_gun(gm: Page) -> None:
    """What the form does not edit comes along from the preset (the Fighter's pilot fires its
    gun: `held_by`), and is dropped once its station is gone rather than refused."""
    expect(gm.get_by_test_id("create-form")).to_be_visible()
    gm.get_by_test_id("ship-preset-0").select_option("fighter")
    gm.get_by_test_id("custom-design-0").click()
    figures = gm.get_by_test_id("design-0-figures")
    expect(figures).to_contain_text("crew 1: Pilot, Gunner 1.")
    gm.get_by_test_id("design-0-t0-remove").click()
    expect(figures).to_contain_text("crew 1: Pilot.")
    expect(gm.get_by_test_id("design-0-problem")).to_be_hidden()
