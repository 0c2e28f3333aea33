"""The battle hub: connections, battle rooms, the command path and the fan-out.

- `hub.py`: `Hub`, every connection and room of this instance; dispatches each client message
  (join, command, legal, release, kick, ping) and drains on shutdown.
- `connection.py`: one WebSocket client (rate limit, bounded send queue and its writer task).
- `room.py`: `BattleRoom`, one loaded battle: folded state, fan-out, catch-up, the commit path.
- `battles.py`: creating, importing, loading (once) and unloading rooms; `exports.py`: the
  header and sealed seed every export of a battle shares.
- `seats.py`: station claims, GM release and kick, notices from other instances.
- `presence.py`: who is connected where, published to the store and sent to clients (coalesced).
- `bots.py`: the bot that plays a solo battle's bot sides.
- `addresses.py`: rate limits per client address; `errors.py`, `clock.py`, `tokens.py`: the
  hub's refusal, the wall clock, tokens and join codes.
"""

from __future__ import annotations

from gameserver.hub.battles import CreatedBattle
from gameserver.hub.clock import now_iso
from gameserver.hub.connection import Connection
from gameserver.hub.errors import HubError
from gameserver.hub.exports import export_header
from gameserver.hub.hub import Hub
from gameserver.hub.room import BattleRoom

__all__ = [
    "BattleRoom",
    "Connection",
    "CreatedBattle",
    "Hub",
    "HubError",
    "export_header",
    "now_iso",
]
