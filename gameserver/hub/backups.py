"""Whole-store backups: every battle's resumable export for the backup job, and its restore.

A GM downloads one battle with their GM token (`Battles.sealed_export`); a backup job holds no
GM token, so the backup API takes the ``BACKUP_TOKEN`` setting instead (the operator generates
it into a Secret shared by the server and its backup CronJob). A backup file is the GM export's
format (events, sealed seed, chat: the import API takes it as it is) plus a ``restore`` object with
the battle's identity: its id, join code, creation time and GM token *hash* (never a token). A
restore re-checks the file exactly as an import does (every command re-executed, the sealed
seed opened with this server's ``EXPORT_KEY``) and then stores it under that identity, so join
links, join codes and the GM's token keep working after a store is rebuilt from a backup.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gameserver.hub.chat import chat_line
from gameserver.hub.errors import HubError
from gameserver.hub.exports import export_header, sealed_seed
from gameserver.hub.tokens import JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH
from gameserver.logs import get_logger
from gameserver.sealing import export_key
from gameserver.store import BattleMeta

if TYPE_CHECKING:
    from gameserver.hub.battles import CreatedBattle
    from gameserver.hub.hub import Hub

log = get_logger("backups")

# The restore identity travels in these request headers (the body is the backup file, checked
# in an import worker; the event loop never parses a 4 MiB body to find four short fields).
HEADER_BATTLE_ID = "X-Restore-Battle-Id"
HEADER_JOIN_CODE = "X-Restore-Join-Code"
HEADER_GM_TOKEN_HASH = "X-Restore-Gm-Token-Hash"
HEADER_CREATED_AT = "X-Restore-Created-At"

_BATTLE_ID = re.compile(r"^[0-9a-f]{16}$")
_JOIN_CODE = re.compile(rf"^[{JOIN_CODE_ALPHABET}]{{{JOIN_CODE_LENGTH}}}$")
_TOKEN_HASH = re.compile(r"^[0-9a-f]{64}$")
_CREATED_AT = re.compile(r"^[0-9T:.+Z-]{10,40}$")


def check_backup_token(configured: str, authorization: str) -> None:
    """Accept ``Authorization: Bearer <BACKUP_TOKEN>``; constant-time compare.

    Raises:
        HubError: 403 ``backup_disabled`` (no token configured), 401 ``bad_backup_token``.
    """
    if not configured:
        raise HubError(
            "backup_disabled", "the backup API is off on this server (BACKUP_TOKEN unset)", 403
        )
    given = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    if not hmac.compare_digest(given.encode(), configured.encode()):
        raise HubError("bad_backup_token", "the backup token is missing or wrong", 401)


@dataclass(frozen=True, slots=True)
class RestoreIdentity:
    """A backed-up battle's identity, checked field by field before anything is stored."""

    battle_id: str
    join_code: str
    gm_token_hash: str
    created_at: str

    @classmethod
    def from_headers(cls, headers: Any) -> RestoreIdentity:
        """Read and check the four restore headers.

        Raises:
            HubError: 400 ``bad_restore`` naming the first missing or malformed header.
        """
        values: dict[str, str] = {}
        for name, header, pattern in (
            ("battle_id", HEADER_BATTLE_ID, _BATTLE_ID),
            ("join_code", HEADER_JOIN_CODE, _JOIN_CODE),
            ("gm_token_hash", HEADER_GM_TOKEN_HASH, _TOKEN_HASH),
            ("created_at", HEADER_CREATED_AT, _CREATED_AT),
        ):
            value = str(headers.get(header, ""))
            if not pattern.match(value):
                raise HubError(
                    "bad_restore", f"{header}: missing or malformed", 400, {"field": header}
                )
            values[name] = value
        return cls(**values)


async def list_battles(hub: Hub) -> list[str]:
    """Every battle id in the store (all instances' battles when the store is Redis)."""
    return sorted(meta.battle_id for meta in await hub.store.list_battles())


async def backup_export(hub: Hub, battle_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One battle's backup: the GM export's header (with the running battle's sealed seed) and
    its `restore` identity, and the stored events (the caller encodes them off the loop).

    Raises:
        BattleNotFound (it ended and expired, or was never there).
    """
    meta = await hub.store.get_meta(battle_id)
    stored = await hub.store.read(battle_id, 0)
    header = export_header(battle_id, meta) | {
        "sealed_seed": sealed_seed(hub.settings.export_key, meta, stored),
        # The table's chat, as in the GM export: a restore brings it back (whispers: the GM's).
        "chat": [chat_line(e).model_dump(mode="json") for e in await hub.store.chat(battle_id)],
        "restore": {
            "battle_id": meta.battle_id,
            "join_code": meta.join_code,
            "gm_token_hash": meta.gm_token_hash,
            "created_at": meta.created_at,
        },
    }
    return header, stored


async def restore_battle(hub: Hub, raw: bytes, identity: RestoreIdentity) -> CreatedBattle:
    """Check a backup file as an import and store it under its own identity.

    Nothing is stored unless the whole file passes the import check (a truncated or altered
    file is refused with the import's own error).

    Raises:
        HubError: the import's refusal (400/422/503), or 409 ``battle_exists`` when the id or
        join code is taken (restore into an empty store, or one without that battle).
    """
    battles = hub.battles
    key = export_key(hub.settings.export_key)
    checked = await battles.imports.check(raw, key, hub.settings.catch_up_limit)
    battles._check_bot_sides(checked.bot_sides, checked.state)
    restored = BattleMeta(
        battle_id=identity.battle_id,
        join_code=identity.join_code,
        gm_token_hash=identity.gm_token_hash,
        created_at=identity.created_at,
    )
    created = await battles._store_new(
        identity.battle_id,
        checked.name,
        checked.bot_sides,
        checked.dicts,
        imported=True,
        secret=checked.secret,
        state=checked.state,
        encoded_tail=checked.tail,
        restored=restored,
    )
    if created is None:
        raise HubError(
            "battle_exists",
            f"battle {identity.battle_id} (or its join code) is already in this store",
            409,
            {"battle_id": identity.battle_id},
        )
    # The chat too; its whispers are the GM's alone (the file carries no token hashes).
    await battles._restore_chat(identity.battle_id, checked.chat)
    log.info("battle_restored", battle_id=identity.battle_id, events=len(checked.dicts))
    return created
