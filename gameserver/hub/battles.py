"""The battles this instance serves: creating, importing, loading (once) and unloading rooms."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gameserver import importcheck, rules
from gameserver.hub.chat import chat_line
from gameserver.hub.clock import now_iso
from gameserver.hub.errors import HubError
from gameserver.hub.exports import export_header, sealed_seed
from gameserver.hub.imports import ImportWorkers
from gameserver.hub.room import BattleRoom
from gameserver.hub.tokens import new_join_code, new_token, token_hash
from gameserver.importcheck import ImportRefused
from gameserver.logs import get_logger
from gameserver.protocol import CreateBattleRequest, ErrorCode, ErrorMessage
from gameserver.rules.errors import readable_errors
from gameserver.sealing import export_key
from gameserver.store import BattleExists, BattleMeta, BattleNotFound, ChatEntry

if TYPE_CHECKING:
    from gameserver.hub.hub import Hub

log = get_logger("hub")


@dataclass(frozen=True, slots=True)
class CreatedBattle:
    """What the creator gets back once: the GM token is never shown again."""

    meta: BattleMeta
    gm_token: str
    seq: int


class Battles:
    """The rooms of this instance by battle id; a battle is loaded once however many ask."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.rooms: dict[str, BattleRoom] = {}
        self._loading: dict[str, asyncio.Task[BattleRoom]] = {}
        settings = hub.settings
        self.imports = ImportWorkers(
            settings.import_workers, settings.import_queue, settings.import_timeout_s
        )

    async def create_battle(self, request: CreateBattleRequest) -> CreatedBattle:
        """Start a battle from a scenario (validated by the engine) and store its opening events."""
        try:
            scenario = rules.Scenario.model_validate(request.scenario)
        except ValidationError as exc:
            raise HubError("bad_scenario", readable_errors(exc), status=422) from None
        # Only the server draws a seed (the creator cannot choose one: `app.create_battle`).
        secret = rules.DiceSecret(secrets.randbits(62), secrets.token_bytes(rules.SALT_BYTES))
        loop = asyncio.get_running_loop()
        for _ in range(8):
            battle_id = uuid.uuid4().hex[:16]
            # In an executor thread: opening the largest legal battle (24 ships of 8 triple
            # turrets) takes ~40 ms of CPU, in short Python steps that let the loop run.
            state, dicts = await loop.run_in_executor(
                None, _open_battle, scenario, secret, battle_id, now_iso(), request.bot_ships
            )
            self._check_bot_sides(request.bot_sides, state)
            created = await self._store_new(
                battle_id, request.name, request.bot_sides, dicts, secret=secret
            )
            if created is not None:
                if request.bot_ships and not request.bot_sides:
                    # the bot may have the first move: load the room so it plays it
                    (await self.room(battle_id)).kick_bot()
                return created
        raise HubError(ErrorCode.CONFLICT, "could not allocate a battle id; try again")

    async def import_battle(self, raw: bytes) -> CreatedBattle:
        """Resume an exported battle (the import body's bytes) as a new battle, once its
        commands re-execute exactly.

        Parsing and the check (`importcheck`: decoding, the seed, re-executing every command
        through `decide`) run in a worker process (`ImportWorkers`): the largest legal import
        takes seconds of CPU and builds ~300,000 objects, which in a thread of this process
        held the loop's GIL for up to a second.
        """
        key = export_key(self.hub.settings.export_key)
        checked = await self.imports.check(raw, key, self.hub.settings.catch_up_limit)
        self._check_bot_sides(checked.bot_sides, checked.state)
        for _ in range(8):
            created = await self._store_new(
                uuid.uuid4().hex[:16],
                checked.name,
                checked.bot_sides,
                checked.dicts,
                imported=True,
                secret=checked.secret,
                state=checked.state,
                encoded_tail=checked.tail,
            )
            if created is not None:
                await self._restore_chat(created.meta.battle_id, checked.chat)
                return created
        raise HubError(ErrorCode.CONFLICT, "could not allocate a battle id; try again")

    async def sealed_export(
        self, battle_id: str, gm_token: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The GM's resumable export: its header (with, while the battle runs, the sealed seed)
        and the stored events (the caller decodes them, off the loop for a long log).

        Raises:
            HubError (bad GM token, 403), BattleNotFound.
        """
        meta = await self.hub.store.get_meta(battle_id)
        if not hmac.compare_digest(token_hash(gm_token), meta.gm_token_hash):
            raise HubError("bad_gm_token", "the GM token is not valid for this battle", status=403)
        stored = await self.hub.store.read(battle_id, 0)
        header = export_header(battle_id, meta) | {
            "sealed_seed": sealed_seed(self.hub.settings.export_key, meta, stored),
            # The table's chat and whispers (the GM reads them all), beside the log, never in it.
            "chat": [
                chat_line(e).model_dump(mode="json") for e in await self.hub.store.chat(battle_id)
            ],
        }
        return header, stored

    async def _restore_chat(self, battle_id: str, lines: Sequence[Mapping[str, Any]]) -> None:
        """Keep an import's chat lines (checked by `ImportedChatLine`) with the new battle,
        before anyone can join it (its join code and GM token are not out yet). The file has
        no token hashes, so whispers are kept for the GM alone (`chat.may_read`)."""
        for line in lines:
            await self.hub.store.append_chat(
                battle_id,
                ChatEntry(
                    at=line["at"],
                    sender=line["sender"],
                    sender_role=line["sender_role"],
                    to=line["to"],
                    to_name=line["to_name"],
                    text=line["text"],
                ),
            )
        if lines:
            log.info("chat_restored", battle_id=battle_id, lines=len(lines))

    @staticmethod
    def _check_bot_sides(bot_sides: Sequence[str], state: rules.BattleState) -> None:
        sides = {side_id for side_id, _name in state.sides}
        unknown = [s for s in bot_sides if s not in sides]
        if unknown:
            raise HubError(
                "bad_scenario", f"bot_sides names unknown sides: {', '.join(unknown)}", status=422
            )

    async def _store_new(
        self,
        battle_id: str,
        name: str,
        bot_sides: Sequence[str],
        dicts: list[dict[str, Any]],
        *,
        imported: bool = False,
        secret: rules.DiceSecret | None = None,
        state: rules.BattleState | None = None,
        encoded_tail: Sequence[tuple[int, str]] = (),
        restored: BattleMeta | None = None,
    ) -> CreatedBattle | None:
        """Store a new battle; with `state` (the fold of `dicts`, with the secret) its room is
        loaded from it at once instead of folding the log again (its catch-up tail from
        `encoded_tail`, when the import worker encoded it). `restored` (a backup's restore,
        `gameserver.hub.backups`) keeps the battle's join code, GM token hash and creation time:
        no new GM token is issued (the returned one is empty)."""
        gm_token = new_token() if restored is None else ""
        meta = BattleMeta(
            battle_id=battle_id,
            join_code=new_join_code() if restored is None else restored.join_code,
            gm_token_hash=token_hash(gm_token) if restored is None else restored.gm_token_hash,
            created_at=now_iso() if restored is None else restored.created_at,
            name=name,
            bot_sides=tuple(bot_sides),
            imported=imported,
            dice_secret=secret.to_text() if secret is not None else None,
        )
        try:
            await self.hub.store.create(meta, dicts)
        except BattleExists:
            return None
        self.hub.metrics.events_appended.inc(len(dicts))
        log.info("battle_created", battle_id=battle_id, events=len(dicts), imported=imported)
        if len(dicts) > 1000:
            # The store's checks and the room's tail (1,000 events encoded) each cost a few
            # milliseconds for a long import: the loop runs between the two.
            await asyncio.sleep(0)
        if state is not None and battle_id not in self.rooms and battle_id not in self._loading:
            tail = dicts[-self.hub.settings.catch_up_limit :]
            room = BattleRoom(self.hub, meta, state, [] if encoded_tail else tail)
            room.tail.extend(encoded_tail)
            self._register(room)
        if bot_sides:
            room = await self.room(battle_id)
            room.kick_bot()
        return CreatedBattle(meta=meta, gm_token=gm_token, seq=len(dicts))

    async def room(self, battle_id: str) -> BattleRoom:
        """The loaded battle (snapshot + newer events folded), loading it once per instance.

        Raises:
            BattleNotFound / StoreUnavailable.
        """
        room = self.rooms.get(battle_id)
        if room is not None:
            return room
        task = self._loading.get(battle_id)
        if task is None:
            task = asyncio.create_task(self._load(battle_id))
            self._loading[battle_id] = task
            task.add_done_callback(lambda _: self._loading.pop(battle_id, None))
        return await asyncio.shield(task)

    async def _load(self, battle_id: str) -> BattleRoom:
        meta = await self.hub.store.get_meta(battle_id)
        snapshot = await self.hub.store.load_snapshot(battle_id)
        loop = asyncio.get_running_loop()
        state: rules.BattleState | None = None
        after = 0
        if snapshot is not None:
            try:
                # Off the loop: with its undo chain a snapshot is up to ~2 MB of JSON.
                state = await loop.run_in_executor(None, rules.state_from_dict, snapshot.state)
                after = snapshot.seq
            except Exception:
                log.warning("snapshot_unreadable", battle_id=battle_id, seq=snapshot.seq)
        dicts = await self.hub.store.read(battle_id, after)
        try:
            # In an executor thread: folding a long log (up to the import limit of 20,000
            # events) takes longer than the event loop may stop.
            folded, dicts = await loop.run_in_executor(None, self._fold, meta, state, dicts)
        except Exception as exc:
            # One unreadable battle (corrupt, or from an incompatible version) is refused on
            # its own, with the reason; the others keep working.
            log.error("battle_unreadable", battle_id=battle_id, error=str(exc)[:300])
            raise HubError(
                "battle_unreadable",
                f"battle {battle_id} is stored in a form this server cannot read: {exc}",
                status=409,
            ) from None
        room = BattleRoom(self.hub, meta, folded, dicts[-self.hub.settings.catch_up_limit :])
        return self._register(room)

    def _register(self, room: BattleRoom) -> BattleRoom:
        self.rooms[room.battle_id] = room
        self.hub.metrics.active_battles.set(len(self.rooms))
        room.start()
        return room

    @staticmethod
    def _fold(
        meta: BattleMeta, state: rules.BattleState | None, dicts: list[dict[str, Any]]
    ) -> tuple[rules.BattleState, list[dict[str, Any]]]:
        """The stored events folded (onto the snapshot's state), with the secret seed back."""
        events, dicts = rules.decode_events(dicts)
        if state is None:
            state = rules.replay(events)
        else:
            for event in events:
                state = rules.evolve(state, event)
        if meta.dice_secret is not None:
            state = rules.with_secret(state, rules.DiceSecret.from_text(meta.dice_secret))
        return state, dicts

    async def drop_room(self, battle_id: str) -> None:
        """Unload a battle (expired or idle without peers)."""
        room = self.rooms.pop(battle_id, None)
        if room is None:
            return
        for conn in list(room.peers.values()):
            conn.send_model(ErrorMessage(code=ErrorCode.NOT_FOUND, message="the battle expired"))
            conn.queue.put_nowait(None)
        await room.stop()
        room.unlink()
        self.hub.chat.unloaded(battle_id)
        self.hub.metrics.active_battles.set(len(self.rooms))

    async def expire_once(self) -> list[str]:
        """Keep battles with peers alive, expire idle ones in the store, unload idle rooms."""
        for room in list(self.rooms.values()):
            if room.peers:
                with contextlib.suppress(BattleNotFound):
                    await self.hub.store.touch(room.battle_id)
        expired = await self.hub.store.expire_idle(self.hub.settings.battle_idle_s)
        for battle_id in expired:
            await self.drop_room(battle_id)
            log.info("battle_expired", battle_id=battle_id)
        cutoff = time.monotonic() - min(self.hub.settings.battle_idle_s, 600.0)
        for room in list(self.rooms.values()):
            # A finished battle nobody watches is unloaded at once: its state (with the undo
            # chain) leaves memory and the store may archive its log; a GM's undo reloads it.
            if not room.peers and (room.last_used < cutoff or room.state.is_over):
                await self.drop_room(room.battle_id)
        return expired

    async def close(self) -> None:
        """Unload every room (the server stops)."""
        for battle_id in list(self.rooms):
            await self.drop_room(battle_id)
        await self.imports.close()


def _open_battle(
    scenario: rules.Scenario,
    secret: rules.DiceSecret,
    battle_id: str,
    at: str,
    bot_ships: Mapping[str, str] | None = None,
) -> tuple[rules.BattleState, list[dict[str, Any]]]:
    """The opening state and events of a new battle, with the ships handed to the bot from the
    start (each a GM `gm_bot` event, as if the GM had clicked); `HubError` (422) when the
    rules refuse."""
    try:
        state, events = rules.open_battle(scenario, secret.seed, battle_id, at, salt=secret.salt)
    except rules.RuleViolation as exc:
        raise HubError(exc.code, exc.message, status=422) from None
    for ship_id, tactic in (bot_ships or {}).items():
        hand = {"type": "gm_bot", "ship_id": ship_id, "tactic": tactic}
        try:
            state, more = rules.decide(state, rules.parse_command(hand, rules.GM, at))
        except rules.RuleViolation as exc:
            raise HubError(exc.code, f"bot_ships: {exc.message}", status=422) from None
        events += more
    return state, [e.to_dict() for e in events]


def parse_json(raw: bytes) -> Any:
    """A body's JSON; `HubError` (400) when it is not JSON or nested too deeply. A large body
    is parsed in small steps (`jsonstream`)."""
    try:
        return importcheck.parse_json(raw)
    except ImportRefused as exc:
        raise HubError(exc.code, exc.message, status=exc.status) from None
