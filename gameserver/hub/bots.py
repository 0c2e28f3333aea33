"""The server's bot: plays the bot sides of a solo battle through the same commit path as people."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from gameserver import rules
from gameserver.hub.clock import now_iso
from gameserver.hub.errors import HubError
from gameserver.logs import get_logger
from gameserver.store import StoreUnavailable

if TYPE_CHECKING:
    from gameserver.hub.room import BattleRoom

log = get_logger("hub")


class BotDriver:
    """One room's bot: a task that acts whenever it is a bot side's turn, one command at a time."""

    def __init__(self, room: BattleRoom) -> None:
        self.room = room
        self.task: asyncio.Task[None] | None = None
        self._wanted = False

    def kick(self) -> None:
        """Let the bot act for its sides if it is their turn (a task, after a short delay)."""
        room = self.room
        if not room.meta.bot_sides or room.state.is_over:
            return
        self._wanted = True
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drive(), name=f"bot:{room.battle_id}")

    def _next_events(self, state: rules.BattleState) -> rules.Decision | None:
        if state.is_over:
            return None
        for side in self.room.meta.bot_sides:
            commands = rules.bot_commands(state, side)
            if commands:
                return rules.decide(state, commands[0].model_copy(update={"at": now_iso()}))
        return None

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
