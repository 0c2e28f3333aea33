"""Initiative (§4.B, Part A tie-breaks), Improve Initiative, Sensor Lock and breaking it,
Repair System (§12.B) with scripted dice."""

from __future__ import annotations

from typing import Any

import pytest

from gameserver import rules
from gameserver.rules.tables_mgt2e import LOCATION_INDEX

from .conftest import Battle, crew, design, duel

PLAIN = design("Plain", thrust=2, hull=400, sensors="military")


def test_initiative_is_2d_plus_pilot_plus_thrust_plus_tactics_effect() -> None:
    """§16 MG-09: Pilot-1, Thrust 2, [4, 4] -> 11; Tactics-1, INT 9: [4, 4] -> 10, Effect 2:
    Initiative 13."""
    crew_a = {"pilot": crew(1), "captain": crew(1, INT=9)}
    b = Battle(duel(PLAIN, PLAIN, crew_a=crew_a), init_dice=[4, 4, 4, 4, 1, 1, 1, 1])
    ev = next(e for e in b.events if e.type == "initiative_rolled" and e.data["ship"] == "a")
    assert ev.data["initiative"] == 13
    assert ev.data["tactics"]["effect"] == 2
    assert ev.dice == (4, 4, 4, 4)
    assert b.ship("a").initiative == 13


def test_a_failed_tactics_check_still_counts() -> None:
    """Part A: the Tactics Effect is added even when negative: [1, 1] + 1 + 1 - 8 = -4."""
    crew_a = {"pilot": crew(1), "captain": crew(1, INT=9)}
    b = Battle(duel(PLAIN, PLAIN, crew_a=crew_a), init_dice=[4, 4, 1, 1, 1, 1, 1, 1])
    assert b.ship("a").initiative == 8 + 1 + 2 - 4


def test_no_tactics_skill_no_tactics_roll() -> None:
    """§4.B: the Tactics check is optional; a captain without the skill does not roll."""
    captain = {"name": "Cap", "skills": {"leadership": 1}}
    b = Battle(duel(PLAIN, PLAIN, crew_a={"captain": captain}), init_dice=[3, 3, 1, 1, 1, 1])
    assert b.ship("a").initiative == 6 + 1 + 2


def test_the_tactics_check_is_the_captains_choice() -> None:
    """Part A: the Tactics check is optional, the captain's choice (given with the ship as
    `roll_tactics`); a captain who does not roll adds nothing and draws no dice: [4, 4] + 1 + 2.
    """
    crew_a = {"pilot": crew(1), "captain": crew(1, INT=9)}
    data = duel(PLAIN, PLAIN, crew_a=crew_a).model_dump(mode="json")
    data["ships"][0]["roll_tactics"] = False
    b = Battle(rules.Scenario.model_validate(data), init_dice=[4, 4, 1, 1, 1, 1])
    ev = next(e for e in b.events if e.type == "initiative_rolled" and e.data["ship"] == "a")
    assert (ev.data["tactics"], ev.dice, ev.data["initiative"]) == (None, (4, 4), 11)
    other = next(e for e in b.events if e.type == "initiative_rolled" and e.data["ship"] == "b")
    assert other.data["tactics"] is not None, "the default: a captain with Tactics rolls"


NO_CAPTAIN = ("pilot", "engineer")


@pytest.mark.parametrize(
    ("thrust_a", "thrust_b", "pilot_a", "pilot_b", "dice", "order"),
    [
        pytest.param(2, 2, 1, 1, [6, 6, 1, 1], ("a", "b"), id="higher-initiative-first"),
        pytest.param(1, 2, 1, 1, [6, 5, 5, 5], ("b", "a"), id="tie-higher-thrust-first"),
        pytest.param(2, 2, 1, 2, [6, 6, 6, 5], ("b", "a"), id="tie-then-higher-pilot"),
        pytest.param(2, 2, 1, 1, [3, 3, 4, 2], ("a", "b"), id="tie-then-joined-first"),
    ],
)
def test_initiative_order_and_ties(
    thrust_a: int,
    thrust_b: int,
    pilot_a: int,
    pilot_b: int,
    dice: list[int],
    order: tuple[str, ...],
) -> None:
    """Part A: ties -> higher Thrust, then higher Pilot skill, then the ship that joined first."""
    a = design("A", thrust=thrust_a, stations=NO_CAPTAIN)
    b_ = design("B", thrust=thrust_b, stations=NO_CAPTAIN)
    b = Battle(
        duel(a, b_, crew_a={"pilot": crew(pilot_a)}, crew_b={"pilot": crew(pilot_b)}),
        init_dice=dice,
    )
    assert b.state.order == order


@pytest.mark.parametrize(
    ("dice", "bonus", "config"),
    [
        pytest.param([4, 4], 3, {}, id="success-adds-effect"),
        pytest.param([1, 1], 0, {}, id="failure-adds-nothing"),
        pytest.param(
            [1, 1],
            -3,
            {"improve_initiative_on_success_only": False},
            id="house-option-failure-counts",
        ),
    ],
)
def test_improve_initiative_takes_effect_next_round(
    dice: list[int], bonus: int, config: dict[str, Any]
) -> None:
    """§4.B ⚠: the captain's Leadership check (SOC ⚠; Leadership-2, SOC 10 +1) adds its
    Effect to Initiative from the next round."""
    b = Battle(duel(PLAIN, PLAIN, crew_a={"captain": crew(2, SOC=10)}, config=config))
    start = b.ship("a").initiative
    b.to(rules.Step.ACTIONS, "a")
    ev = b.do({"type": "improve_initiative", "ship_id": "a"}, dice)
    assert ev[0].data["bonus"] == bonus
    assert b.ship("a").initiative == start
    b.until(lambda st: st.round == 2)
    assert b.ship("a").initiative == start + bonus


def test_sensor_lock_is_broken_by_opposed_electronic_warfare() -> None:
    """§6.B: EW can break a lock: our Electronics check must succeed and beat theirs."""
    b = Battle(duel(PLAIN, PLAIN, crew_a={"sensors": crew(2)}, crew_b={"sensors": crew(1)}))
    b.patch("b", sensor_lock="a")
    b.to(rules.Step.ACTIONS, "a")
    b.do(
        {"type": "electronic_warfare", "ship_id": "a", "mode": "break_lock", "target": "b"},
        [5, 5, 1, 1],
    )
    ev = b.last("electronic_warfare")
    assert (ev.data["check"]["effect"], ev.data["opposed"]["effect"], ev.data["broken"]) == (
        4,
        -5,
        True,
    )
    assert b.ship("b").sensor_lock is None


def test_a_lock_holds_when_ew_does_not_beat_the_locking_operator() -> None:
    """§1.2 opposed checks: the higher Effect wins; a tie keeps the lock."""
    b = Battle(duel(PLAIN, PLAIN, crew_a={"sensors": crew(1)}, crew_b={"sensors": crew(1)}))
    b.patch("b", sensor_lock="a")
    b.to(rules.Step.ACTIONS, "a")
    b.do(
        {"type": "electronic_warfare", "ship_id": "a", "mode": "break_lock", "target": "b"},
        [4, 4, 4, 4],
    )
    assert b.last("electronic_warfare").data["broken"] is False
    assert b.ship("b").sensor_lock == "a"


# --------------------------------------------------------------------- repairs (§12.B)


def _damaged(
    location: str, sev: int, engineer: dict[str, Any] | None = None, **ship: Any
) -> Battle:
    b = Battle(duel(PLAIN, PLAIN, crew_a={"engineer": engineer or crew(2, INT=8, EDU=6)}))
    crits = [0] * 11
    crits[LOCATION_INDEX[location]] = sev
    b.patch("a", crits=tuple(crits), **ship)
    return b


def test_repair_mg11_consecutive_rounds_add_one() -> None:
    """§16 MG-11: Engineer-2, INT 8, Sev-2 M-Drive: [3, 4] -> 7 fails; next round +1 -> 8
    succeeds; the effects are suppressed for 1D hours (Thrust back to 2)."""
    b = _damaged("m_drive", 2, md_thrust_loss=1)
    assert b.ship("a").thrust == 1
    b.to(rules.Step.ACTIONS, "a")
    first = b.do({"type": "repair", "ship_id": "a", "location": "m_drive"}, [3, 4])[0]
    assert (first.data["check"]["total"], first.data["success"]) == (7, False)
    b.to(rules.Step.ACTIONS, "a", round_=2)
    second = b.do({"type": "repair", "ship_id": "a", "location": "m_drive"}, [3, 4, 5])[0]
    assert (second.data["consecutive"], second.data["check"]["total"]) == (1, 8)
    assert (second.data["success"], second.data["hours"]) == (True, 5)
    ship = b.ship("a")
    assert ship.repaired == frozenset({"m_drive"})
    assert ship.crits[LOCATION_INDEX["m_drive"]] == 2  # the Severity stays recorded
    assert (ship.thrust, ship.control_dm) == (2, 0)


def test_a_skipped_round_resets_the_count() -> None:
    """§12.B: +1 per consecutive round on the same critical; a gap starts again at 0."""
    b = _damaged("m_drive", 2)
    b.to(rules.Step.ACTIONS, "a")
    b.do({"type": "repair", "ship_id": "a", "location": "m_drive"}, [1, 1])
    b.to(rules.Step.ACTIONS, "a", round_=2)
    b.do({"type": "end_step", "ship_id": "a", "station": "engineer"})
    b.to(rules.Step.ACTIONS, "a", round_=3)
    ev = b.do({"type": "repair", "ship_id": "a", "location": "m_drive"}, [1, 1])[0]
    assert ev.data["consecutive"] == 0


def test_repair_uses_the_better_of_int_and_edu() -> None:
    """§1.4 / §12.B: Engineer check with INT or EDU, the best (EDU 12: +2 over INT 5: -1)."""
    b = _damaged("sensors", 1, engineer=crew(0, INT=5, EDU=12))
    b.to(rules.Step.ACTIONS, "a")
    ev = b.do({"type": "repair", "ship_id": "a", "location": "sensors"}, [1, 1])[0]
    assert ev.data["check"]["characteristic_dm"] == 2


def test_repairing_a_weapon_clears_bane_and_disabled() -> None:
    """§12.B: a repair suppresses the weapon critical's effects."""
    gun = PLAIN | {"turrets": [{"mount": "double", "weapons": ["beam_laser", "beam_laser"]}]}
    b = Battle(duel(gun, PLAIN, crew_a={"engineer": crew(3, INT=10)}))
    crits = [0] * 11
    crits[LOCATION_INDEX["weapon"]] = 2
    b.patch("a", crits=tuple(crits), weapons=("disabled", "bane"))
    b.to(rules.Step.ACTIONS, "a")
    b.do({"type": "repair", "ship_id": "a", "location": "weapon"}, [4, 4, 2])
    assert b.ship("a").weapons == ("ok", "ok")


@pytest.mark.parametrize(
    ("location", "sev", "code"),
    [
        pytest.param("hull", 1, "not_repairable", id="hull-damage"),
        pytest.param("armour", 2, "not_repairable", id="armour"),
        pytest.param("weapon", 3, "not_repairable", id="weapon-destroyed"),
        pytest.param("j_drive", 3, "not_repairable", id="j-drive-destroyed"),
        pytest.param("computer", 6, "not_repairable", id="computer-destroyed"),
        pytest.param("fuel", 4, "not_repairable", id="tank-destroyed"),
        pytest.param("cargo", 1, "not_repairable", id="cargo-lost"),
        pytest.param("crew", 1, "not_repairable", id="injuries"),
        pytest.param("sensors", 0, "nothing_to_repair", id="no-critical"),
    ],
)
def test_what_cannot_be_repaired_in_combat(location: str, sev: int, code: str) -> None:
    """§12.B: Hull damage and destroyed equipment cannot be repaired in combat."""
    b = _damaged(location, sev)
    b.to(rules.Step.ACTIONS, "a")
    assert b.refuse({"type": "repair", "ship_id": "a", "location": location}).code == code


def test_a_patched_location_is_not_repaired_twice() -> None:
    """§12.B: once suppressed, the critical needs no more work this battle."""
    b = _damaged("m_drive", 1)
    b.patch(
        "a",
        repaired=frozenset({"m_drive"}),
        crits=tuple(
            1 if i in (LOCATION_INDEX["m_drive"], LOCATION_INDEX["sensors"]) else 0
            for i in range(11)
        ),
    )
    b.to(rules.Step.ACTIONS, "a")
    v = b.refuse({"type": "repair", "ship_id": "a", "location": "m_drive"})
    assert v.code == "already_repaired"
