"""The battles this instance serves: creating, importing, loading (once) and unloading rooms."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gameserver import rules
from gameserver.hub.clock import now_iso
from gameserver.hub.errors import HubError
from gameserver.hub.room import BattleRoom
from gameserver.hub.tokens import new_join_code, new_token, token_hash
from gameserver.logs import get_logger
from gameserver.protocol import CreateBattleRequest, ErrorCode, ErrorMessage, ImportBattleRequest
from gameserver.rules.errors import readable_errors
from gameserver.rules.verification import check_dice
from gameserver.sealing import SealError, export_key, seal, unseal
from gameserver.store import BattleExists, BattleMeta, BattleNotFound

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

    async def create_battle(self, request: CreateBattleRequest) -> CreatedBattle:
        """Start a battle from a scenario (validated by the engine) and store its opening events."""
        try:
            scenario = rules.Scenario.model_validate(request.scenario)
        except ValidationError as exc:
            raise HubError("bad_scenario", readable_errors(exc)) from None
        seed = request.seed if request.seed is not None else secrets.randbits(62)
        secret = rules.DiceSecret(seed, secrets.token_bytes(rules.SALT_BYTES))
        for _ in range(8):
            battle_id = uuid.uuid4().hex[:16]
            try:
                state, events = rules.open_battle(
                    scenario, seed, battle_id, now_iso(), salt=secret.salt
                )
            except rules.RuleViolation as exc:
                raise HubError(exc.code, exc.message) from None
            self._check_bot_sides(request.bot_sides, state)
            created = await self._store_new(
                battle_id, request.name, request.bot_sides, events, secret=secret
            )
            if created is not None:
                return created
        raise HubError(ErrorCode.CONFLICT, "could not allocate a battle id; try again")

    async def import_battle(self, request: ImportBattleRequest) -> CreatedBattle:
        """Resume an exported battle as a new battle: validate by replaying through the engine."""
        try:
            events, _ = rules.decode_events(request.events)
        except rules.UnsupportedSchemaVersion as exc:
            raise HubError("unsupported_schema_version", str(exc)) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise HubError("bad_log", f"an event could not be read: {exc}") from None
        for expected, event in enumerate(events, start=1):
            if event.seq != expected:
                raise HubError("bad_log", f"event #{expected} has seq {event.seq}")
        if events[0].type != "battle_started":
            raise HubError("bad_log", "a battle log starts with a battle_started event")
        try:
            state = rules.replay(events)
        except Exception as exc:
            raise HubError("bad_log", f"the log does not replay: {exc}") from None
        if state.seq != len(events):
            raise HubError("bad_log", "the log does not replay to its last seq")
        secret = None
        if request.sealed_seed is not None:
            secret = self._unseal(request.sealed_seed, events[0])
            try:
                state = rules.with_secret(state, secret, events[0].data.get("commitment") or {})
            except rules.SecretMismatch as exc:
                raise HubError("bad_seed", str(exc), status=422) from None
        elif state.seed is not None and state.dice_salt is not None:
            secret = rules.DiceSecret(state.seed, bytes.fromhex(state.dice_salt))
        elif not state.is_over:
            raise HubError(
                "seed_sealed",
                "this log is of a running battle and has no seed (it is secret until the end):"
                " resume it from the GM's sealed export",
                status=422,
            )
        if secret is not None:
            _, wrong = check_dice(events, secret.seed)
            if wrong is not None:
                raise HubError("forged_dice", f"the log's dice are not its seed's: {wrong}", 422)
        self._check_bot_sides(request.bot_sides, state)
        for _ in range(8):
            created = await self._store_new(
                uuid.uuid4().hex[:16],
                request.name,
                request.bot_sides,
                events,
                imported=True,
                secret=secret,
            )
            if created is not None:
                return created
        raise HubError(ErrorCode.CONFLICT, "could not allocate a battle id; try again")

    def _unseal(self, token: str, first: rules.Event) -> rules.DiceSecret:
        digest = str((first.data.get("commitment") or {}).get("digest", ""))
        try:
            text = unseal(export_key(self.hub.settings.export_key), token, digest)
            return rules.DiceSecret.from_text(text)
        except (SealError, ValueError) as exc:
            raise HubError(
                "bad_seed", f"the sealed seed cannot be opened: {exc}", status=422
            ) from None

    async def sealed_export(self, battle_id: str, gm_token: str) -> dict[str, Any]:
        """The GM's resumable export: the log and, while the battle runs, its sealed seed.

        Raises:
            HubError (bad GM token, 403), BattleNotFound.
        """
        meta = await self.hub.store.get_meta(battle_id)
        if not hmac.compare_digest(token_hash(gm_token), meta.gm_token_hash):
            raise HubError("bad_gm_token", "the GM token is not valid for this battle", status=403)
        _, dicts = rules.decode_events(await self.hub.store.read(battle_id, 0))
        sealed = None
        if meta.dice_secret is not None:
            digest = str((dicts[0]["data"].get("commitment") or {}).get("digest", ""))
            sealed = seal(export_key(self.hub.settings.export_key), meta.dice_secret, digest)
        return {
            "battle_id": battle_id,
            "name": meta.name,
            "bot_sides": list(meta.bot_sides),
            "schema_version": rules.EVENT_SCHEMA_VERSION,
            "exported_at": now_iso(),
            "sealed_seed": sealed,
            "events": dicts,
        }

    @staticmethod
    def _check_bot_sides(bot_sides: Sequence[str], state: rules.BattleState) -> None:
        sides = {side_id for side_id, _name in state.sides}
        unknown = [s for s in bot_sides if s not in sides]
        if unknown:
            raise HubError("bad_scenario", f"bot_sides names unknown sides: {', '.join(unknown)}")

    async def _store_new(
        self,
        battle_id: str,
        name: str,
        bot_sides: Sequence[str],
        events: Sequence[rules.Event],
        *,
        imported: bool = False,
        secret: rules.DiceSecret | None = None,
    ) -> CreatedBattle | None:
        gm_token = new_token()
        meta = BattleMeta(
            battle_id=battle_id,
            join_code=new_join_code(),
            gm_token_hash=token_hash(gm_token),
            created_at=now_iso(),
            name=name,
            bot_sides=tuple(bot_sides),
            imported=imported,
            dice_secret=secret.to_text() if secret is not None else None,
        )
        try:
            await self.hub.store.create(meta, [e.to_dict() for e in events])
        except BattleExists:
            return None
        self.hub.metrics.events_appended.inc(len(events))
        log.info("battle_created", battle_id=battle_id, events=len(events), imported=imported)
        if bot_sides:
            room = await self.room(battle_id)
            room.kick_bot()
        return CreatedBattle(meta=meta, gm_token=gm_token, seq=len(events))

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
        state: rules.BattleState | None = None
        after = 0
        if snapshot is not None:
            try:
                state = rules.state_from_dict(snapshot.state)
                after = snapshot.seq
            except Exception:
                log.warning("snapshot_unreadable", battle_id=battle_id, seq=snapshot.seq)
        dicts = await self.hub.store.read(battle_id, after)
        try:
            state, dicts = self._fold(meta, state, dicts)
        except Exception as exc:
            # One unreadable battle (corrupt, or from an incompatible version) is refused on
            # its own, with the reason; the others keep working.
            log.error("battle_unreadable", battle_id=battle_id, error=str(exc)[:300])
            raise HubError(
                "battle_unreadable",
                f"battle {battle_id} is stored in a form this server cannot read: {exc}",
                status=409,
            ) from None
        room = BattleRoom(self.hub, meta, state, dicts[-self.hub.settings.catch_up_limit :])
        self.rooms[battle_id] = room
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
