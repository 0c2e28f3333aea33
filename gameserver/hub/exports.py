"""What every export of a battle opens with: the public log, the GM's resumable export and a
backup share one header shape, and the last two carry the running battle's seed sealed alike.

One place, so an import reads all three the same way and they cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from gameserver import rules
from gameserver.hub.clock import now_iso
from gameserver.sealing import export_key, seal
from gameserver.store import BattleMeta, EventDict


def export_header(battle_id: str, meta: BattleMeta) -> dict[str, Any]:
    """The header fields every export has, stamped now."""
    return {
        "battle_id": battle_id,
        "name": meta.name,
        "bot_sides": list(meta.bot_sides),
        "schema_version": rules.EVENT_SCHEMA_VERSION,
        "exported_at": now_iso(),
    }


def sealed_seed(key_setting: str, meta: BattleMeta, stored: list[EventDict]) -> str | None:
    """The running battle's dice secret sealed with the export key (`EXPORT_KEY`), bound to its
    commitment's digest so it opens only for this battle; None once the battle has ended (the
    secret is gone, the log shows the seed)."""
    if meta.dice_secret is None:
        return None
    first, _ = rules.decode_events(stored[:1])
    digest = str((first[0].data.get("commitment") or {}).get("digest", ""))
    return seal(export_key(key_setting), meta.dice_secret, digest)
