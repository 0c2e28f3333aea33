"""Scenarios: the first event, the ruleset switch, preset figures (Part A), custom ships and
crews, default crew quality (§14.7), and scenarios refused with a readable reason."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from gameserver import rules

from .conftest import Battle, crew, design, duel, make_scenario


def test_first_event_records_ruleset_config_and_schema_version() -> None:
    """Part A: every battle records its ruleset, its RulesConfig and the event schema version
    in its first event (with the house options the scenario changed)."""
    scenario = make_scenario(config={"crit_mode": "all_intermediate_rows"})
    first = rules.start_battle(scenario, 7, "b1", "t0")[0]
    assert (first.seq, first.type) == (1, "battle_started")
    assert first.data["schema_version"] == rules.EVENT_SCHEMA_VERSION
    assert first.data["ruleset"] == "MGT2E_2016"
    cfg = rules.RulesConfig.from_dict(first.data["config"])
    assert cfg == rules.RulesConfig(crit_mode="all_intermediate_rows")
    assert first.data["config"] == cfg.to_dict()
    assert "seed" not in first.data, "the seed stays secret until the end"
    assert first.data["commitment"] == {
        "scheme": "sha256-tvtt-dice-v1",
        "digest": rules.commit(7, bytes(rules.SALT_BYTES)),
    }
    assert first.dice == ()


@pytest.mark.parametrize(
    ("ruleset", "severity"),
    [
        pytest.param("MGT2E_2016", 2, id="2016-ceil-12-over-10"),
        pytest.param("MGT2E_2022", 1, id="2022-effect-6-minus-5"),
    ],
)
def test_profile_switch_changes_critical_severity_in_play(ruleset: str, severity: int) -> None:
    """Part A profiles: MGT2E_2022 takes Severity from Effect - 5 instead of ceil(damage/10).
    Gunner-2, DEX 9, a triple beam at Short: [3, 3] + 2 + 1 + 4 + 1 = 14, Effect 6; 1D 6 + 2
    (linked) + 6 - 2 armour = 12 damage; the critical lands at [1, 1] Sensors."""
    gun = design("Gun", turrets=[("triple", ["beam_laser"] * 3)])
    target = design("Target", armour=2, hull=400)
    b = Battle(duel(gun, target, crew_a={"gunner:0": crew(2, DEX=9)}, ruleset=ruleset))
    assert b.state.ruleset == rules.Ruleset(ruleset)
    assert b.events[0].data["ruleset"] == ruleset
    b.to(rules.Step.ATTACK, "a")
    b.do({"type": "attack", "ship_id": "a", "turret": 0, "target": "b"}, [3, 3, 6, 1, 1])
    res = b.last("attack_resolved")
    assert (res.data["attack"]["effect"], res.data["attack"]["damage"]) == (6, 12)
    assert res.data["criticals"][0]["severity"] == severity
    assert b.ship("b").sev("sensors") == severity


@pytest.mark.parametrize(
    ("preset", "tons", "hull", "armour", "thrust"),
    [
        pytest.param("scout", 100, 40, 4, 2, id="scout-pub"),
        pytest.param("free_trader", 200, 80, 2, 1, id="free-trader-pub"),
        pytest.param("far_trader", 200, 80, 2, 1, id="far-trader-pub"),
        pytest.param("patrol_corvette", 400, 160, 4, 4, id="patrol-corvette-pub"),
        pytest.param("corsair", 600, 240, 8, 4, id="corsair-conv-ce-raider"),
        pytest.param("system_defence_boat", 400, 160, 8, 6, id="sdb-conv"),
        pytest.param("fighter", 10, 4, 0, 6, id="fighter-conv-10t-hull-4"),
    ],
)
def test_preset_figures(preset: str, tons: int, hull: int, armour: int, thrust: int) -> None:
    """Part A preset ships: §14 "pub" figures where given, else CE converted (0.4 x tons)."""
    d = rules.PRESETS[preset]
    assert (d.tons, d.hull_points, d.armour, d.thrust) == (tons, hull, armour, thrust)
    assert d.turrets, "every preset is armed in the engine's variant"


def test_presets_carry_their_weapons_and_ammunition() -> None:
    """§14.3/14.6: the corvette and SDB carry missile racks (12 each, §8.B) with reserves."""
    b = Battle(make_scenario("patrol_corvette", "system_defence_boat"))
    corvette = b.ship("a")
    kinds = [w.value for t in corvette.design.turrets for w in t.weapons]
    assert kinds.count("missile_rack") == 6
    assert kinds.count("beam_laser") == 3
    racks = [corvette.ammo[i] for i, k in enumerate(kinds) if k == "missile_rack"]
    assert racks == [12] * 6
    assert corvette.missile_reserve > 0


def test_custom_ship_design_and_crew() -> None:
    """Issue: a scenario can define a custom ship and the crew at each station with their
    characteristics and skills."""
    custom = design(
        "Q-ship",
        tons=300,
        hull=None,
        armour=3,
        thrust=3,
        turrets=[("double", ["pulse_laser", "sandcaster"]), ("barbette", ["particle_beam"])],
        sand_reserve=10,
    )
    ace = {
        "name": "Ace",
        "characteristics": {"DEX": 12, "INT": 10},
        "skills": {"gunner": 3, "pilot": None},
    }
    b = Battle(duel(custom, design("Other"), crew_a={"gunner:1": ace}))
    ship = b.ship("a")
    assert ship.design.hull_points == 120  # 0.4 x 300
    assert (ship.hull, ship.armour, ship.design.thrust) == (120, 3, 3)
    assert ship.ammo == (0, rules.RulesConfig().sandcaster_load, 0)
    assert ship.sand_reserve == 10
    gunner = ship.crew_at("gunner:1")
    assert gunner is not None
    assert (gunner.name, gunner.char("DEX"), gunner.skill("gunner")) == ("Ace", 12, 3)
    assert gunner.skill("pilot") is None
    assert gunner.char("STR") == 8  # unlisted characteristics: the crew quality's score
    assert [c.station for c in ship.crew] == [
        "captain",
        "pilot",
        "engineer",
        "sensors",
        "gunner:0",
        "gunner:1",
    ]


@pytest.mark.parametrize(
    ("quality", "skill", "score"),
    [
        pytest.param("green", 0, 7, id="green"),
        pytest.param("regular", 1, 8, id="regular"),
        pytest.param("veteran", 2, 9, id="veteran"),
        pytest.param("elite", 3, 10, id="elite"),
    ],
)
def test_default_crew_quality(quality: str, skill: int, score: int) -> None:
    """§14.7: default crew skill and characteristic by quality."""
    data = make_scenario().model_dump()
    data["ships"][0]["crew_quality"] = quality
    b = Battle(rules.Scenario.model_validate(data))
    for member in b.ship("a").crew:
        assert set(member.chars.values()) == {score}
        assert set(member.skills.values()) == {skill}
    pilot = b.ship("a").crew_at("pilot")
    assert pilot is not None
    assert pilot.skills == {"pilot": skill}


def _scenario_data(**changes: Any) -> dict[str, Any]:
    return make_scenario().model_dump(mode="json") | changes


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        pytest.param(
            _scenario_data(sides=[{"id": "red", "name": "Red"}]), "at least 2", id="one-side"
        ),
        pytest.param(
            _scenario_data(
                ships=[
                    {"id": "a", "name": "A", "side": "red", "preset": "scout"},
                    {"id": "b", "name": "B", "side": "red", "preset": "scout"},
                ]
            ),
            "two sides need ships",
            id="all-on-one-side",
        ),
        pytest.param(
            _scenario_data(
                ships=[
                    {"id": "a", "name": "A", "side": "red", "preset": "yacht"},
                    {"id": "b", "name": "B", "side": "blue", "preset": "scout"},
                ]
            ),
            "unknown preset",
            id="unknown-preset",
        ),
        pytest.param(
            _scenario_data(
                ships=[
                    {"id": "a", "name": "A", "side": "red", "preset": "scout"},
                    {"id": "a", "name": "B", "side": "blue", "preset": "scout"},
                ]
            ),
            "unique",
            id="duplicate-ship-id",
        ),
        pytest.param(
            _scenario_data(
                ships=[
                    {
                        "id": "a",
                        "name": "A",
                        "side": "red",
                        "preset": "scout",
                        "crew": {"gunner:3": {"name": "X"}},
                    },
                    {"id": "b", "name": "B", "side": "blue", "preset": "scout"},
                ]
            ),
            "no station 'gunner:3'",
            id="crew-at-a-missing-station",
        ),
        pytest.param(_scenario_data(config={"hasty": True}), "unknown rules option", id="config"),
        pytest.param(
            _scenario_data(config={"crit_mode": "sometimes"}), "crit_mode", id="config-value"
        ),
    ],
)
def test_bad_scenarios_are_refused_readably(data: dict[str, Any], needle: str) -> None:
    """Scenario validators refuse bad input with a message that says what is wrong."""
    with pytest.raises(pydantic.ValidationError) as exc:
        rules.Scenario.model_validate(data)
    assert needle in str(exc.value)


def test_seed_must_fit_the_stream() -> None:
    """Part A: the seed is an integer of at most 128 bits."""
    with pytest.raises(rules.RuleViolation) as exc:
        rules.start_battle(make_scenario(), 2**130, "x", None)
    assert exc.value.code == "bad_seed"


def test_same_seed_same_battle() -> None:
    """Part A: the seeded stream makes a battle reproducible."""
    one = rules.start_battle(make_scenario(), 5, "x", None)
    two = rules.start_battle(make_scenario(), 5, "x", None)
    three = rules.start_battle(make_scenario(), 6, "x", None)
    assert [e.to_dict() for e in one] == [e.to_dict() for e in two]
    assert [e.dice for e in one] != [e.dice for e in three]
