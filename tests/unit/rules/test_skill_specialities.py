"""Skills typed as a MgT2e character sheet writes them ("Gunner (turret) 3") count aboard."""

from __future__ import annotations

import pytest

from gameserver.rules.scenario import CrewMemberSpec


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        pytest.param({"Gunner (turret)": 3}, {"gunner": 3}, id="gunner-turret-applies"),
        pytest.param({"gunner_turret": 2}, {"gunner": 2}, id="underscore-form"),
        pytest.param({"Pilot (spacecraft)": 2}, {"pilot": 2}, id="pilot-spacecraft"),
        pytest.param({"Pilot (small craft)": 1}, {"pilot": 1}, id="pilot-small-craft"),
        pytest.param({"Electronics (sensors)": 2}, {"electronics": 2}, id="electronics-sensors"),
        pytest.param({"Tactics (naval)": 1}, {"tactics": 1}, id="tactics-naval"),
        pytest.param({"Engineer (m-drive)": 2}, {"engineer": 2}, id="engineer-any"),
        pytest.param({"Gunner (capital)": 2}, {"gunner": 0}, id="other-speciality-is-level-0"),
        pytest.param(
            {"Electronics (comms)": 3, "Electronics (sensors)": 1},
            {"electronics": 1},
            id="the-applying-speciality-wins",
        ),
        pytest.param({"gunner (turret)": 1, "gunner": 2}, {"gunner": 2}, id="best-level"),
        pytest.param({"pilot": 2, "leadership": 1}, {"pilot": 2, "leadership": 1}, id="plain"),
        pytest.param({"gunnery": 2}, {"gunnery": 2}, id="unknown-kept-as-given"),
    ],
)
def test_specialities_fold_into_the_skill_the_station_uses(
    typed: dict[str, int], stored: dict[str, int]
) -> None:
    assert CrewMemberSpec(name="Mara", skills=typed).skills == stored


def test_a_speciality_level_beyond_the_rules_is_refused() -> None:
    with pytest.raises(ValueError, match="0-6"):
        CrewMemberSpec(name="Mara", skills={"Gunner (turret)": 7})
