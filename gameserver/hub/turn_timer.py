"""The turn timer the GM can switch on (`TableRules.turn_timer_s`): each batch gives the stations
awaited after it that many seconds; when they run out, the stations still awaited pass.

Why an event: the expiry is decided by the server and committed like any command (`end_step` or
`no_reaction` by the `bot` actor), so the log says what happened and replay, import, undo and dice
verification never depend on a clock. Pages count down from the `timer` frame (seconds left, not
a wall-clock time: clocks differ).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from gameserver import rules
from gameserver.hub.clock import now_iso
from gameserver.hub.errors import HubError
from gameserver.logs import get_logger
from gameserver.protocol import TimerMessage
from gameserver.store import BattleNotFound, StoreUnavailable

if TYPE_CHECKING:
    from gameserver.hub.connection import Connection
    from gameserver.hub.room import BattleRoom

log = get_logger("hub")


def expiry_pass(state: rules.BattleState, armed: set[tuple[str, str]]) -> dict[str, Any] | None:
    """The pass of the first station still awaited of those the timer ran out for; purely
    computational (the command JSON, as a client would send it)."""
    if state.is_over:
        return None
    for ship_id, station in rules.awaiting(state):
        if (ship_id, station) in armed:
            kind = "no_reaction" if state.pending else "end_step"
            return {"type": kind, "ship_id": ship_id, "station": station}
    return None


class TurnTimer:
    """One room's turn timer: re-armed after every batch while the GM has it on."""

    def __init__(self, room: BattleRoom) -> None:
        self.room = room
        self.task: asyncio.Task[None] | None = None
        self.seconds = 0
        self._seq = -1
        self._deadline = 0.0
        self._wanted = False
        self._expiring = False

    def kick(self) -> None:
        """A batch landed (or the GM changed the timer): arm it for the stations awaited now.
        While it is passing expired stations (their batches kick it too) it re-arms afterwards
        instead of being cancelled halfway."""
        self._wanted = True
        if self._expiring:
            return
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = asyncio.create_task(self._run(), name=f"timer:{self.room.battle_id}")

    def frame(self) -> str:
        """The `timer` frame of now: seconds left for the awaited stations (None: no timer)."""
        room = self.room
        running = self.seconds > 0 and self._seq == room.seq and not room.state.is_over
        left = max(0.0, self._deadline - time.monotonic()) if running else None
        return TimerMessage(
            battle_id=room.battle_id, seq=room.seq, seconds=self.seconds, seconds_left=left
        ).model_dump_json()

    def send(self, conn: Connection | None = None) -> None:
        """The timer frame to one connection or to every peer of the room on this instance."""
        frame = self.frame()
        for peer in [conn] if conn is not None else list(self.room.peers.values()):
            peer.send(frame)

    async def _run(self) -> None:
        while self._wanted:
            self._wanted = False
            armed = await self._arm()
            if armed is None:
                return
            seq, stations = armed
            await asyncio.sleep(self.seconds)
            self._expiring = True
            try:
                await self._expire(seq, stations)
            finally:
                self._expiring = False

    async def _arm(self) -> tuple[int, set[tuple[str, str]]] | None:
        """Start the countdown for the stations awaited now and tell the pages (None: off)."""
        room = self.room
        try:
            table_rules = await room.table_rules()
        except (StoreUnavailable, BattleNotFound):
            return None
        seconds = table_rules.turn_timer_s
        state = room.state
        armed = set(rules.awaiting(state))
        changed = seconds != self.seconds
        self.seconds = seconds
        if seconds <= 0 or not armed or state.is_over:
            self._seq = -1
            if changed or state.is_over:
                self.send()
            return None
        self._seq = int(state.seq)
        self._deadline = time.monotonic() + seconds
        self.send()
        return self._seq, armed

    async def _expire(self, seq: int, armed: set[tuple[str, str]]) -> None:
        """Time is up: pass the stations still awaited of those armed, one batch each."""
        room = self.room

        def make(state: rules.BattleState) -> rules.Decision | None:
            data = expiry_pass(state, armed)
            if data is None:
                return None
            return rules.decide(state, rules.parse_command(data, rules.BOT, at=now_iso()))

        log.info("turn_timer_expired", battle_id=room.battle_id, seq=seq)
        try:
            async with room.lock:
                if room.seq != seq:
                    return  # someone acted at the last moment: the new batch re-armed it
                # Each pass is its own batch (the log shows each station passing).
                for _ in range(64):
                    if not await room.commit(make):
                        return
        except (rules.RuleViolation, HubError, StoreUnavailable) as exc:
            log.warning("turn_timer_refused", battle_id=room.battle_id, reason=str(exc))
