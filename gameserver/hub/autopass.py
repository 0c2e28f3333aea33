"""Stations that pass themselves: the server passes an awaited station nobody holds when it has
nothing legal but passing, and (when the GM switched it on) the idle crew of a player's ship.

Why here: a pass is an ordinary command (`end_step` or `no_reaction`, sent by the `bot` actor)
committed through the room's authoritative path, so the log records it with its command and
replay, import re-execution, undo and dice verification treat it like any other batch. It used
to be the GM's page clicking "Pass" (or passing from the page, only while it was open).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, Final

from gameserver import rules
from gameserver.hub.clock import now_iso
from gameserver.hub.errors import RETRY_AFTER_FAILURE_S, HubError
from gameserver.logs import get_logger
from gameserver.store import StoreUnavailable

if TYPE_CHECKING:
    from gameserver.hub.room import BattleRoom

log = get_logger("hub")

PASS_TYPES: Final = frozenset({"end_step", "no_reaction", "surrender"})
"""Legal entries that are not a real choice: passing, declining to react, striking colours."""

LegalFor = Callable[[str, str], Sequence[dict[str, Any]]]


def pass_command(
    state: rules.BattleState,
    held: Collection[tuple[str, str]],
    bot_sides: Collection[str],
    idle_crew: bool,
    legal_for: LegalFor,
) -> dict[str, Any] | None:
    """The pass of the first awaited station that passes itself now, or None; purely computational.

    A station passes itself when nobody holds it, the bot does not run its ship (`tactic_of`:
    a bot side or the GM's `gm_bot`), and either its only legal entries are passes (nothing to
    decide) or `idle_crew` is on and a player holds another station of its ship. A held station
    never does: its player is told why it has nothing to do.
    """
    if state.is_over:
        return None
    player_ships = {ship_id for ship_id, _ in held}
    for ship_id, station in rules.awaiting(state):
        ship = state.ships.get(ship_id)
        if ship is None or (ship_id, station) in held:
            continue
        if rules.tactic_of(state, ship_id, bot_sides) is not None:
            continue  # the bot plays it (its side, or the GM handed it the ship): its choice
        legal = legal_for(ship_id, station)
        passes = [e["command"] for e in legal if e["type"] in ("end_step", "no_reaction")]
        if not passes:
            continue
        idle = idle_crew and ship_id in player_ships
        if idle or all(e["type"] in PASS_TYPES for e in legal):
            return dict(passes[0])
    return None


def could_pass(
    state: rules.BattleState, bot_sides: Collection[str], idle_crew: bool, legal_for: LegalFor
) -> bool:
    """Whether `pass_command` could find a pass whoever holds which station: an awaited
    station the bot does not run has a pass, and either `idle_crew` is on or its only legal
    entries are passes. False: no need to read the claims. Purely computational."""
    if state.is_over:
        return False
    for ship_id, station in rules.awaiting(state):
        if ship_id not in state.ships or rules.tactic_of(state, ship_id, bot_sides) is not None:
            continue
        legal = legal_for(ship_id, station)
        if any(e["type"] in ("end_step", "no_reaction") for e in legal) and (
            idle_crew or all(e["type"] in PASS_TYPES for e in legal)
        ):
            return True
    return False


class AutoPasser:
    """One room's self-passing stations: a task that passes them one batch at a time."""

    def __init__(self, room: BattleRoom) -> None:
        self.room = room
        self.task: asyncio.Task[None] | None = None
        self._wanted = False

    def kick(self) -> None:
        """Look for stations to pass (after the current batch: a task, not inline)."""
        if self.room.state.is_over:
            return
        self._wanted = True
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drive(), name=f"autopass:{self.room.battle_id}")

    async def _pass_one(self) -> bool:
        room = self.room
        bots = room.meta.bot_sides
        now = room.state
        if all(rules.tactic_of(now, s, bots) is not None for s, _ in rules.awaiting(now)):
            return False  # nothing awaited, or only the bot's ships: no store reads
        table_rules = await room.table_rules()
        idle_crew = table_rules.idle_crew_pass
        if not could_pass(now, bots, idle_crew, lambda s, st: room.legal_for(s, st)[0]):
            return False  # no station would pass even if nobody held it: no claims read
        held = {(c.ship_id, c.station) for c in await room.hub.store.claims(room.battle_id)}

        def make(state: rules.BattleState) -> rules.Decision | None:
            legal_for: LegalFor = (
                (lambda s, st: room.legal_for(s, st)[0])
                if state is room.state
                else (lambda s, st: rules.legal_commands(state, s, st))
            )
            data = pass_command(state, held, bots, idle_crew, legal_for)
            if data is None:
                return None
            cmd = rules.parse_command(data, rules.BOT, at=now_iso())
            return rules.decide(state, cmd)

        async with room.lock:
            return bool(await room.commit(make))

    async def _drive(self) -> None:
        """Pass one station per batch until none is left (each pass is its own batch, so the
        log and an undo see them one by one, as if the GM had clicked)."""
        while self._wanted:
            self._wanted = False
            await asyncio.sleep(0)
            try:
                if await self._pass_one():
                    self._wanted = True
            except (rules.RuleViolation, HubError) as exc:
                log.warning("autopass_refused", battle_id=self.room.battle_id, reason=str(exc))
                return
            except StoreUnavailable:
                await asyncio.sleep(1.0)
                self._wanted = True
            except Exception:
                # As the bot's (`BotDriver._drive`): never stop silently.
                log.exception("autopass_failed", battle_id=self.room.battle_id)
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                self._wanted = True
