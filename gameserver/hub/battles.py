"""The battles this instance serves: creating, importing, loading (once) and unloading rooms."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from gameserver import jsonstream, rules
from gameserver.hub.clock import now_iso
from gameserver.hub.errors import HubError
from gameserver.hub.room import BattleRoom
from gameserver.hub.tokens import new_join_code, new_token, token_hash
from gameserver.logs import get_logger
from gameserver.protocol import CreateBattleRequest, ErrorCode, ErrorMessage, ImportBattleRequest
from gameserver.rules.errors import readable_errors
from gameserver.rules.reexecution import LogDivergence, reexecute
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
            raise HubError("bad_scenario", readable_errors(exc), status=422) from None
        # Only the server draws a seed (the creator cannot choose one: `app.create_battle`).
        seed = secrets.randbits(62)
        secret = rules.DiceSecret(seed, secrets.token_bytes(rules.SALT_BYTES))
        for _ in range(8):
            battle_id = uuid.uuid4().hex[:16]
            try:
                state, events = rules.open_battle(
                    scenario, seed, battle_id, now_iso(), salt=secret.salt
                )
            except rules.RuleViolation as exc:
                raise HubError(exc.code, exc.message, status=422) from None
            self._check_bot_sides(request.bot_sides, state)
            created = await self._store_new(
                battle_id,
                request.name,
                request.bot_sides,
                [e.to_dict() for e in events],
                secret=secret,
            )
            if created is not None:
                return created
        raise HubError(ErrorCode.CONFLICT, "could not allocate a battle id; try again")

    async def import_battle(self, raw: bytes) -> CreatedBattle:
        """Resume an exported battle (the import body's bytes) as a new battle, once its
        commands re-execute exactly.

        Parsing and the check (`parse_import`, `check_import`: decoding, the seed, re-executing
        every command through `decide`) run in one executor thread: the largest legal import
        takes a few seconds of CPU, and even freeing its parsed JSON (~300,000 objects) would
        stop the event loop for tens of milliseconds; only the checked result comes back.
        """
        key = export_key(self.hub.settings.export_key)
        checked = await asyncio.get_running_loop().run_in_executor(
            None, parse_and_check_import, raw, key
        )
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
            )
            if created is not None:
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
        first, _ = rules.decode_events(stored[:1])
        sealed = None
        if meta.dice_secret is not None:
            digest = str((first[0].data.get("commitment") or {}).get("digest", ""))
            sealed = seal(export_key(self.hub.settings.export_key), meta.dice_secret, digest)
        header = {
            "battle_id": battle_id,
            "name": meta.name,
            "bot_sides": list(meta.bot_sides),
            "schema_version": rules.EVENT_SCHEMA_VERSION,
            "exported_at": now_iso(),
            "sealed_seed": sealed,
        }
        return header, stored

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
    ) -> CreatedBattle | None:
        """Store a new battle; with `state` (the fold of `dicts`, with the secret) its room is
        loaded from it at once instead of folding the log again."""
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
            await self.hub.store.create(meta, dicts)
        except BattleExists:
            return None
        self.hub.metrics.events_appended.inc(len(dicts))
        log.info("battle_created", battle_id=battle_id, events=len(dicts), imported=imported)
        if state is not None and battle_id not in self.rooms and battle_id not in self._loading:
            tail = dicts[-self.hub.settings.catch_up_limit :]
            self._register(BattleRoom(self.hub, meta, state, tail))
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
            if not room.peers and room.last_used < cutoff:
                await self.drop_room(room.battle_id)
        return expired

    async def close(self) -> None:
        """Unload every room (the server stops)."""
        for battle_id in list(self.rooms):
            await self.drop_room(battle_id)


@dataclass(frozen=True, slots=True)
class CheckedImport:
    """An import that re-executed exactly: the state reached, the events as this server
    writes them, and the battle's secret."""

    state: rules.BattleState
    dicts: list[dict[str, Any]]
    secret: rules.DiceSecret
    name: str = ""
    bot_sides: tuple[str, ...] = ()


_BOUND_ERRORS = frozenset(
    {
        "too_long",
        "too_short",
        "string_too_long",
        "string_too_short",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
    }
)


def refusal_status(exc: ValidationError) -> int:
    """422 when every error is a value out of its bounds (the body is well formed, a number
    or a length is past its limit, which the message names); 400 for a malformed body."""
    return 422 if all(e["type"] in _BOUND_ERRORS for e in exc.errors()) else 400


def parse_json(raw: bytes) -> Any:
    """A body's JSON; `HubError` (400) when it is not JSON or nested too deeply. A large body
    is parsed in small steps (`jsonstream`): this runs in executor threads too."""
    try:
        return jsonstream.loads(raw)
    except RecursionError:
        raise HubError("bad_request", "the body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise HubError("bad_request", f"the body is not JSON: {exc}") from None


def parse_import(raw: bytes) -> ImportBattleRequest:
    """The import body (an export, or its bare list of events) as a request; `HubError` when
    it is not JSON (400), malformed (400) or past a bound such as the event count (422)."""
    body = parse_json(raw)
    if isinstance(body, list):
        body = {"events": body}
    try:
        return ImportBattleRequest.model_validate(body)
    except ValidationError as exc:
        raise HubError("bad_log", readable_errors(exc), status=refusal_status(exc)) from None


def parse_and_check_import(raw: bytes, key: bytes) -> CheckedImport:
    """`parse_import` then `check_import`, with the request's name and bot sides."""
    request = parse_import(raw)
    checked = check_import(request.events, request.sealed_seed, key)
    return replace(checked, name=request.name, bot_sides=tuple(request.bot_sides))


def check_import(raw: list[dict[str, Any]], sealed_seed: str | None, key: bytes) -> CheckedImport:
    """Check an exported log: readable, numbered from 1, with its battle's secret (sealed in
    the GM export of a running battle, revealed in a finished one), and every recorded command
    re-executing through `decide` to exactly the recorded events (`rules.reexecution`).

    Synchronous and free of I/O, so it can run in an executor thread. Raises `HubError`
    (422 for a well-formed log that is refused, naming the first divergent event).
    """
    try:
        events, dicts = rules.decode_events(raw)
    except rules.UnsupportedSchemaVersion as exc:
        raise HubError("unsupported_schema_version", str(exc)) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise HubError("bad_log", f"an event could not be read: {exc}") from None
    for expected, event in enumerate(events, start=1):
        if event.seq != expected:
            raise HubError("bad_log", f"event #{expected} has seq {event.seq}")
    first = events[0]
    if first.type != "battle_started":
        raise HubError("bad_log", "a battle log starts with a battle_started event")
    if first.cmd is None:
        raise HubError(
            "no_command_record",
            "this log records no commands (it was written before event schema version 4):"
            " an import re-executes the commands, so it cannot be imported; its dice can"
            " still be verified with python -m gameserver.verify",
            status=422,
        )
    commitment = first.data.get("commitment") or {}
    digest = str(commitment.get("digest", "")) if isinstance(commitment, dict) else ""
    if sealed_seed is not None:
        try:
            secret = rules.DiceSecret.from_text(unseal(key, sealed_seed, digest))
        except (SealError, ValueError) as exc:
            raise HubError(
                "bad_seed", f"the sealed seed cannot be opened: {exc}", status=422
            ) from None
    else:
        revealed = revealed_secret(events)
        if revealed is None:
            raise HubError(
                "seed_sealed",
                "this log is of a running battle and has no seed (it is secret until the end):"
                " resume it from the GM's sealed export",
                status=422,
            )
        secret = revealed
    if not rules.matches(commitment, secret.seed, secret.salt.hex()):
        raise HubError("bad_seed", "the seed does not match the battle's commitment", status=422)
    try:
        state, produced = reexecute(events, dicts, secret)
    except LogDivergence as exc:
        raise HubError("log_diverges", exc.message, status=422, details=exc.to_dict()) from None
    except Exception as exc:
        log.warning("import_failed", error=repr(exc)[:300])
        raise HubError("bad_log", f"the log cannot be re-executed: {exc}", status=422) from None
    return CheckedImport(state, produced, secret)


def revealed_secret(events: Sequence[rules.Event]) -> rules.DiceSecret | None:
    """The seed and salt a finished battle's ``dice_revealed`` event publishes, if any."""
    for event in reversed(events):
        if event.type == "dice_revealed":
            try:
                return rules.DiceSecret(
                    int(str(event.data["seed"])), bytes.fromhex(str(event.data["salt"]))
                )
            except (KeyError, ValueError) as exc:
                raise HubError(
                    "bad_seed",
                    f"event {event.seq} (dice_revealed) has no readable seed and salt: {exc}",
                    status=422,
                ) from None
    return None
