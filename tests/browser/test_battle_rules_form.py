"""The create form's battle rules (issue 14: features with no UI yet) in a real browser: the
scenario's `detection` with its explanation, and the house rules under "Advanced rules" — the
engine's own names and defaults, and a battle created with them really has them."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from gameserver.rules.config import _LITERALS, RulesConfig
from gameserver.rules.scenario import Scenario
from tests.browser.conftest import NewContext
from tests.browser.test_accessibility import assert_clean, axe_source
from tests.browser.test_tabletop import _horizontal_overflow, _no_script_errors, _open

pytestmark = pytest.mark.browser

__all__ = ["axe_source"]  # the fixture, used by name


@pytest.fixture
def gm(new_context: NewContext) -> Iterator[Page]:
    """The GM's lobby at desktop width, without CSP (axe is injected inline)."""
    page = _open(new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True))
    yield page
    _no_script_errors(page)


def _literal(field: str) -> list[str]:
    return list(typing.get_args(Scenario.model_fields[field].annotation))


def test_the_rules_form_offers_the_engines_options_and_defaults(gm: Page) -> None:
    """Protocol/page agreement: detection and jump limit are the Scenario's literals; every
    house rule offered is a RulesConfig field with the engine's default and, for a choice, the
    engine's values (read from the code, not copied into the test)."""
    page_side: dict[str, Any] = gm.evaluate(
        """async () => {
          const m = await import('/static/js/rulesform.js');
          return {detection: m.DETECTION.map(([v]) => v), jump: m.JUMP_LIMIT.map(([v]) => v),
                  options: m.RULE_OPTIONS.map((o) => ({key: o.key, default: o.default,
                    choices: o.choices ? o.choices.map(([v]) => v) : null}))};
        }"""
    )
    assert page_side["detection"] == _literal("detection")
    assert page_side["jump"] == _literal("jump_limit")
    defaults = RulesConfig().to_dict()
    fields = {f.name for f in dataclasses.fields(RulesConfig)}
    for option in page_side["options"]:
        assert option["key"] in fields, option
        assert option["default"] == defaults[option["key"]], option
        if option["choices"] is not None:
            assert option["choices"] == list(_LITERALS[option["key"]]), option
    # Every true-or-false switch of the engine is offered but the bookkeeping ones.
    switches = {k for k, v in defaults.items() if isinstance(v, bool)}
    not_offered = {
        "crit_hull_damage_counts_sustained",
        "range_discard_excess",
        "range_reset_on_reverse",
        "tactics_negative_counts",
        "improve_initiative_on_success_only",
        "point_defence_min_one",
        "salvo_effect_once",
        "power_plant_covers_design",
    }
    offered = {o["key"] for o in page_side["options"]}
    assert switches - not_offered <= offered, switches - not_offered - offered


def test_a_battle_created_with_sensor_detection_and_house_rules_has_them(
    gm: Page, output_dir: Path, axe_source: str
) -> None:
    """Detection "sensors", a fight inside the jump limit, no power budget and cumulative
    criticals: the battle's first event records them, its start rolls the sensors, and a
    battle left as it was sends nothing of the kind."""
    expect(gm.get_by_test_id("create-form")).to_be_visible()
    detection = gm.get_by_test_id("detection")
    expect(detection).to_have_accessible_name("Detection at the start")
    expect(detection).to_have_accessible_description(
        "With Sensors, before round 1 each ship's sensor operator rolls Electronics (sensors) 8+"
        " for each enemy (MgT2e §3.B). An enemy missed cannot be sent missiles at Distant range"
        " until a Sensor Lock finds it. Cepheus Engine battles always start known."
    )
    # Cepheus Engine battles start known: the choice is off, and its own options show.
    gm.get_by_test_id("ruleset").select_option("CE")
    expect(detection).to_be_disabled()
    gm.get_by_test_id("advanced-rules").locator("summary").click()
    expect(gm.get_by_test_id("rule-ce-add-effect-to-damage")).not_to_be_checked()
    expect(gm.get_by_test_id("rule-power-budget")).to_have_count(0)
    gm.get_by_test_id("ruleset").select_option("MGT2E_2016")
    expect(detection).to_be_enabled()
    expect(gm.get_by_test_id("rule-ce-add-effect-to-damage")).to_have_count(0)

    detection.select_option("sensors")
    gm.get_by_test_id("jump-limit").select_option("inside")
    power = gm.get_by_test_id("rule-power-budget")
    expect(power).to_be_checked()
    expect(power).to_have_accessible_name(
        "Power budget: systems without power stop working (Off: only a plant at Power 0 idles"
        " the energy weapons)"
    )
    power.uncheck()
    gm.get_by_test_id("rule-crit-mode").select_option("all_intermediate_rows")
    gm.get_by_test_id("advanced-rules").screenshot(path=str(output_dir / "rules-form-1440.png"))
    assert_clean(gm, axe_source, "the create form with the advanced rules open")
    gm.set_viewport_size({"width": 390, "height": 844})
    assert _horizontal_overflow(gm) == 0
    gm.get_by_test_id("advanced-rules").screenshot(path=str(output_dir / "rules-form-390.png"))
    gm.set_viewport_size({"width": 1440, "height": 900})

    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("battle-view")).to_be_visible()
    battle_id = gm.get_by_test_id("battle-view").get_attribute("data-battle-id")
    events = gm.request.get(f"/api/battles/{battle_id}/log").json()["events"]
    started = events[0]["data"]
    assert started["scenario"]["detection"] == "sensors"
    assert started["scenario"]["jump_limit"] == "inside"
    assert started["config"]["power_budget"] is False
    assert started["config"]["crit_mode"] == "all_intermediate_rows"
    # Only what was changed was sent: the rest are the engine's defaults.
    assert started["scenario"]["config"] == {
        "power_budget": False,
        "crit_mode": "all_intermediate_rows",
    }
    # The sensors rolled before round 1: one line per ship in everyone's log.
    rolled = gm.locator("[data-testid=battle-log] > li[data-type=detection_rolled]")
    expect(rolled).to_have_count(2)
    expect(rolled.first).to_contain_text("sensors detect")


def test_a_battle_left_as_it_is_sends_no_rules(gm: Page) -> None:
    """The defaults are not sent: the scenario records no detection, no config override."""
    expect(gm.get_by_test_id("create-form")).to_be_visible()
    gm.get_by_test_id("advanced-rules").locator("summary").click()
    # Switched and switched back: still the default, so still not sent.
    gm.get_by_test_id("rule-fuel-tracking").uncheck()
    gm.get_by_test_id("rule-fuel-tracking").check()
    gm.get_by_test_id("create-battle").click()
    expect(gm.get_by_test_id("battle-view")).to_be_visible()
    battle_id = gm.get_by_test_id("battle-view").get_attribute("data-battle-id")
    started = gm.request.get(f"/api/battles/{battle_id}/log").json()["events"][0]["data"]
    assert "detection" not in started["scenario"]
    assert started["scenario"]["config"] == {}
    assert started["scenario"]["jump_limit"] == "outside"
    expect(gm.locator("[data-testid=battle-log] > li[data-type=detection_rolled]")).to_have_count(0)
