"""Fixtures for the rules-engine tests: scenarios, a scripted-dice battle driver, bot play."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import pytest

from gameserver import rules


def make_scenario(
    a: str = "corsair",
    b: str = "free_trader",
    band: str = "long",
    round_limit: int = 30,
    **extra: Any,
) -> rules.Scenario:
    """Two ships, one per side, from presets."""
    data: dict[str, Any] = {
        "name": "test",
        "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
        "ships": [
            {"id": "a", "name": "Alpha", "side": "red", "preset": a},
            {"id": "b", "name": "Bravo", "side": "blue", "preset": b},
        ],
        "starting_range": band,
        "round_limit": round_limit,
    }
    data.update(extra)
    return rules.Scenario.model_validate(data)


def design(
    name: str = "Test ship",
    *,
    tons: int = 200,
    hull: int | None = 80,
    armour: int = 0,
    thrust: int = 0,
    turrets: Iterable[tuple[str, Iterable[str]]] = (),
    stations: Iterable[str] = ("captain", "pilot", "engineer", "sensors"),
    **extra: Any,
) -> dict[str, Any]:
    """A custom `ShipDesign` as scenario JSON; defaults: 200 t, Hull 80, no armour, Thrust 0."""
    return {
        "name": name,
        "tons": tons,
        "hull": hull,
        "armour": armour,
        "thrust": thrust,
        "turrets": [{"mount": m, "weapons": list(w)} for m, w in turrets],
        "stations": list(stations),
        **extra,
    }


def crew(skill: int | None, **chars: int) -> dict[str, Any]:
    """A crew member with one skill level for every skill a station uses and given scores."""
    skills = {
        s: skill for s in ("gunner", "pilot", "engineer", "electronics", "leadership", "tactics")
    }
    return {"name": "Crew", "characteristics": chars, "skills": skills}


def duel(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    *,
    band: str = "short",
    crew_a: Mapping[str, Any] | None = None,
    crew_b: Mapping[str, Any] | None = None,
    ruleset: str = "MGT2E_2016",
    config: Mapping[str, Any] | None = None,
    round_limit: int = 30,
    extra_ships: Iterable[Mapping[str, Any]] = (),
) -> rules.Scenario:
    """Ship ``a`` (side red) against ship ``b`` (side blue), custom designs and crews."""
    ships: list[dict[str, Any]] = [
        {"id": "a", "name": "Alpha", "side": "red", "design": dict(a)},
        {"id": "b", "name": "Bravo", "side": "blue", "design": dict(b)},
    ]
    if crew_a is not None:
        ships[0]["crew"] = dict(crew_a)
    if crew_b is not None:
        ships[1]["crew"] = dict(crew_b)
    ships.extend(dict(s) for s in extra_ships)
    return rules.Scenario.model_validate(
        {
            "name": "duel",
            "ruleset": ruleset,
            "config": dict(config or {}),
            "sides": [{"id": "red", "name": "Red"}, {"id": "blue", "name": "Blue"}],
            "ships": ships,
            "starting_range": band,
            "round_limit": round_limit,
        }
    )


class Battle:
    """A battle driven command by command, with scripted dice where a test gives them.

    `do` asserts that every scripted die was used, so a test also pins the order and number
    of dice the rules consume (RULES §0.3).
    """

    def __init__(
        self, scenario: rules.Scenario, seed: int = 1, init_dice: Iterable[int] | None = None
    ) -> None:
        dice = rules.ScriptedDice(init_dice) if init_dice is not None else None
        self.events: list[rules.Event] = rules.start_battle(scenario, seed, "test", None, dice=dice)
        self.state: rules.BattleState = rules.replay(
            self.events, rules.DiceSecret(seed, bytes(rules.SALT_BYTES))
        )

    def ship(self, sid: str) -> rules.ShipState:
        """A ship of the current state."""
        return self.state.ships[sid]

    def command(self, data: Mapping[str, Any], actor: rules.Actor = rules.BOT) -> rules.Command:
        """Parse client JSON as `actor` would send it."""
        return rules.parse_command(dict(data), actor)

    def do(
        self,
        data: Mapping[str, Any],
        dice: Iterable[int] | None = None,
        actor: rules.Actor = rules.BOT,
    ) -> list[rules.Event]:
        """Decide and fold one command; with `dice`, exactly those dice must be consumed."""
        given = list(dice) if dice is not None else None
        scripted = rules.ScriptedDice(given) if given is not None else None
        self.state, new = rules.decide(self.state, self.command(data, actor), dice=scripted)
        if scripted is not None and given is not None:
            assert scripted.used == len(given), f"{len(given) - scripted.used} dice unused"
        self.events.extend(new)
        return new

    def refuse(
        self, data: Mapping[str, Any], actor: rules.Actor = rules.BOT
    ) -> rules.RuleViolation:
        """Assert the command is refused without any change; return the violation."""
        before = rules.state_to_dict(self.state)
        with pytest.raises(rules.RuleViolation) as exc:
            rules.decide(self.state, self.command(data, actor))
        assert rules.state_to_dict(self.state) == before
        return exc.value

    def gm(self, data: Mapping[str, Any], dice: Iterable[int] | None = None) -> list[rules.Event]:
        """A GM command."""
        return self.do(data, dice, actor=rules.GM)

    def patch(self, sid: str, **fields: Any) -> None:
        """Set ship fields directly (test setup that no command reaches cheaply)."""
        ships = dict(self.state.ships)
        ships[sid] = replace(ships[sid], **fields)
        self.state = replace(self.state, ships=ships)

    def until(self, done: Callable[[rules.BattleState], bool], max_commands: int = 300) -> None:
        """End steps and decline reactions until `done(state)` holds (no dice are drawn
        unless a declined reaction resolves an attack: then the seeded stream rolls)."""
        for _ in range(max_commands):
            st = self.state
            if done(st):
                return
            assert not st.is_over, "the battle ended first"
            aw = rules.awaiting(st)
            assert aw, "nobody is awaited"
            ship_id, station = aw[0]
            kind = "no_reaction" if st.pending else "end_step"
            self.do({"type": kind, "ship_id": ship_id, "station": station})
        raise AssertionError("the awaited situation never came")

    def to(self, step: rules.Step, sid: str, round_: int | None = None) -> None:
        """Play on until `sid` acts in `step` (of round `round_` when given)."""
        self.until(
            lambda st: (
                st.step == step
                and st.acting_ship == sid
                and not st.pending
                and (round_ is None or st.round == round_)
            )
        )

    def last(self, type_: str) -> rules.Event:
        """The last event of a type."""
        return next(e for e in reversed(self.events) if e.type == type_)

    def types(self, events: Iterable[rules.Event]) -> list[str]:
        """Event types, in order."""
        return [e.type for e in events]


def play_bots(
    state: rules.BattleState, max_commands: int = 20_000
) -> tuple[rules.BattleState, list[rules.Event]]:
    """Let the bot play every side until the battle ends; returns the final state and events."""
    events: list[rules.Event] = []
    for _ in range(max_commands):
        if state.is_over:
            break
        aw = rules.awaiting(state)
        assert aw, f"nobody awaited at round {state.round} {state.step}"
        cmd = rules.bot_command(state, state.ships[aw[0][0]].side)
        assert cmd is not None, f"the bot has no legal command for {aw[0]}"
        state, new = rules.decide(state, cmd)
        events.extend(new)
    return state, events


@pytest.fixture
def scenario_factory() -> Callable[..., rules.Scenario]:
    """Build two-ship scenarios."""
    return make_scenario
