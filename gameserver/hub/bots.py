"""The server's bot: plays the ships it runs through the same commit path as people.

It runs a ship the GM handed to it (`gm_bot`, at the ship's tactic level) and every ship of a
solo battle's bot sides (at ``standard``) unless the GM took that ship back; the choices are
`rules.next_bot_command`'s, this module only drives them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from gameserver import rules
from gameserver.hub.clock import now_iso
from gameserver.hub.errors import RETRY_AFTER_FAILURE_S, HubError
from gameserver.logs import get_logger
from gameserver.store import StoreUnavailable

if TYPE_CHECKING:
    from gameserver.hub.room import BattleRoom

log = get_logger("hub")


class BotDriver:
    """One room's bot: a task that acts while a ship it runs is awaited, a command at a time."""

    def __init__(self, room: BattleRoom) -> None:
        self.room = room
        self.task: asyncio.Task[None] | None = None
        self._wanted = False

    def kick(self) -> None:
        """Let the bot act if a ship it runs is awaited (a task, after a short delay)."""
        room = self.room
        state = room.state
        if state.is_over or not any(
            rules.tactic_of(state, ship_id, room.meta.bot_sides) is not None
            for ship_id, _ in rules.awaiting(state)
        ):
            return
        self._wanted = True
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drive(), name=f"bot:{room.battle_id}")

    def _next_events(self, state: rules.BattleState) -> rules.Decision | None:
        command = rules.next_bot_command(state, self.room.meta.bot_sides)
        if command is None:
            return None
        return rules.decide(state, command.model_copy(update={"at": now_iso()}))

    async def _drive(self) -> None:
        """Play the bot's commands one at a time, as events, so replay stays exact."""
        room = self.room
        delay = room.hub.settings.bot_delay_ms / 1000
        while self._wanted:
            self._wanted = False
            await asyncio.sleep(delay)
            try:
                async with room.lock:
                    await room.commit(self._next_events)
            except (rules.RuleViolation, HubError) as exc:
                log.warning("bot_refused", battle_id=room.battle_id, reason=str(exc))
                return
            except StoreUnavailable:
                await asyncio.sleep(1.0)
                self._wanted = True
            except Exception:
                # A failure the bot did not expect must not end its battle silently (a task
                # that dies keeps its exception unseen while the room holds it): say so, and
                # try again, as the room's subscription does.
                log.exception("bot_failed", battle_id=room.battle_id)
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                self._wanted = True
