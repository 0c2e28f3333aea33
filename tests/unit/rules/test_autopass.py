"""Which awaited station passes itself (`gameserver.hub.autopass.pass_command`): one with nothing
legal but a pass, or idle crew of a player's ship when the GM switched that on; never a held one."""

from __future__ import annotations

from typing import Any

from gameserver import rules
from gameserver.hub.autopass import could_pass, pass_command
from gameserver.rules.legal import legal_commands

from .conftest import Battle, make_scenario


def _legal(state: rules.BattleState) -> Any:
    return lambda ship_id, station: legal_commands(state, ship_id, station)


def _manoeuvre_step() -> rules.BattleState:
    """Alpha's pilot awaited in her Manoeuvre step (he has moves to choose from)."""
    battle = Battle(make_scenario("free_trader", "corsair", band="short"))
    battle.to(rules.Step.MANOEUVRE, "a")
    return battle.state


def _only_passes(ship_id: str, station: str) -> list[dict[str, Any]]:
    """A legal list with nothing to decide (the engine's own lists rarely await one: it skips
    stations with nothing to do, but a reaction or a rules change may still offer just these)."""
    base = {"ship_id": ship_id}
    return [
        {"type": "end_step", "command": base | {"type": "end_step", "station": station}},
        {"type": "surrender", "command": base | {"type": "surrender"}},
    ]


def test_a_station_with_nothing_legal_but_a_pass_passes_itself() -> None:
    state = _manoeuvre_step()
    data = pass_command(state, set(), (), False, _only_passes)
    assert data == {"ship_id": "a", "type": "end_step", "station": "pilot"}
    # Passed through the engine as the `bot` actor: an ordinary station_done event.
    _, events = rules.decide(state, rules.parse_command(data, rules.BOT))
    assert events[0].type == "station_done"
    assert events[0].cmd is not None
    assert events[0].cmd["actor"]["role"] == "bot"


def test_a_held_station_or_a_bot_side_never_passes_itself() -> None:
    state = _manoeuvre_step()
    held = set(rules.awaiting(state))
    assert pass_command(state, held, (), True, _only_passes) is None
    side = state.ships["a"].side
    assert pass_command(state, set(), (side,), True, _only_passes) is None
    assert pass_command(state, {("a", "gunner:0")}, (side,), True, _legal(state)) is None


def test_a_station_with_a_choice_passes_only_as_idle_crew_of_a_player_ship() -> None:
    state = _manoeuvre_step()
    ship_id, station = rules.awaiting(state)[0]
    assert station == "pilot"
    assert any(e["type"] == "move" for e in legal_commands(state, ship_id, station))
    assert pass_command(state, set(), (), False, _legal(state)) is None
    # A player holds another station of the ship, but the GM did not switch idle crew on.
    other = {(ship_id, "gunner:0")}
    assert pass_command(state, other, (), False, _legal(state)) is None
    data = pass_command(state, other, (), True, _legal(state))
    assert data == {"ship_id": ship_id, "type": "end_step", "station": "pilot"}


def test_a_ship_the_gm_handed_to_the_bot_never_passes_itself() -> None:
    """The bot driver plays a `gm_bot` ship's stations; the self-pass leaves them to it, idle
    crew switch or not (the same `tactic_of` both ask)."""
    state = _manoeuvre_step()
    ship_id, station = rules.awaiting(state)[0]
    handed = rules.decide(
        state,
        rules.parse_command(
            {"type": "gm_bot", "ship_id": ship_id, "tactic": "aggressive"}, rules.GM
        ),
    ).state
    assert (ship_id, station) in rules.awaiting(handed)
    assert pass_command(handed, set(), (), False, _only_passes) is None
    assert pass_command(handed, {(ship_id, "gunner:0")}, (), True, _legal(handed)) is None


def test_no_claims_are_needed_when_no_station_could_pass_whoever_holds_it() -> None:
    """`could_pass` (asked before the claims are read) is False only where `pass_command` finds
    nothing for every set of held stations and either idle-crew setting: played states of a
    battle, with the engine's lists and with lists of nothing but passes."""
    battle = Battle(make_scenario("free_trader", "corsair", band="short"))
    states = [battle.state]
    for _ in range(40):
        if battle.state.is_over:
            break
        ship_id, station = rules.awaiting(battle.state)[0]
        battle.do({"type": "end_step", "ship_id": ship_id, "station": station})
        states.append(battle.state)
    saw = {True: 0, False: 0}
    for state in states:
        awaited = rules.awaiting(state)
        helds: list[set[tuple[str, str]]] = [set(), set(awaited), set(awaited[:1])]
        for legal in (_legal(state), _only_passes):
            for idle in (False, True):
                for bots in ((), ("red",), ("blue",)):
                    could = could_pass(state, bots, idle, legal)
                    saw[could] += 1
                    if not could:
                        for held in helds:
                            assert pass_command(state, held, bots, idle, legal) is None
    assert saw[True]
    assert saw[False]
