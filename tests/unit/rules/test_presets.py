"""Preset ships match RULES §14: figures, crews, and one person holding two stations."""

from __future__ import annotations

from gameserver import rules

from .conftest import Battle, make_scenario


def test_the_fighter_has_one_crew_member_who_flies_and_fires() -> None:
    """§14.6: a Fighter has crew 1; the pilot also fires its fixed pulse laser (and has the
    skills of both stations), so a hurt pilot silences the gun too."""
    b = Battle(make_scenario("fighter", "free_trader", "short"))
    fighter = b.ship("a")
    assert len(fighter.crew) == 1
    pilot = fighter.crew[0]
    assert (pilot.station, pilot.covers) == ("pilot", ("gunner:0",))
    assert fighter.crew_at("gunner:0") is pilot
    assert pilot.skill("gunner") == 1
    assert fighter.design.station_ids() == ("pilot", "gunner:0")
    b.to(rules.Step.ATTACK, "a")
    assert ("a", "gunner:0") in rules.awaiting(b.state)
    knocked_out = {"STR": 0, "DEX": 0, "END": 0} | {
        k: v for k, v in pilot.chars.items() if k not in ("STR", "DEX", "END")
    }
    b.patch(
        "a", crew=(rules.CrewState("pilot", pilot.name, knocked_out, pilot.skills, ("gunner:0",)),)
    )
    assert b.ship("a").crew_at("gunner:0") is None
    assert b.ship("a").crew_at("pilot") is None


def test_the_scout_has_its_printed_crew() -> None:
    """§14.2: pilot, astrogator (at the sensors), engineer, and a gunner for the turret; no
    captain, so the pilot strikes the colours."""
    b = Battle(make_scenario("scout", "free_trader", "short"))
    scout = b.ship("a")
    assert [c.station for c in scout.crew] == ["pilot", "sensors", "engineer", "gunner:0"]
    b.to(rules.Step.MANOEUVRE, "a")
    b.do({"type": "surrender", "ship_id": "a"})
    assert b.ship("a").status == "surrendered"


def test_a_new_battle_records_its_presets_figures() -> None:
    """The battle_started event pins each preset's design, so later preset changes never
    alter what a recorded battle replays to."""
    events = rules.start_battle(make_scenario("fighter", "scout", "short"), 1, "x", None)
    ships = events[0].data["scenario"]["ships"]
    assert [(s["preset"], s["design"]["name"]) for s in ships] == [
        ("fighter", "Fighter"),
        ("scout", "Scout/Courier"),
    ]
    assert ships[0]["design"]["held_by"] == {"gunner:0": "pilot"}
