"""WebSocket wire messages: every frame is one JSON object tagged with `"type"`.

See docs/protocol.md.

Pure models, no I/O. The server parses client frames with `parse_client_message` and builds server
frames from the `*Message` models below; `protocol_json_schema()` exports both unions (and the rules
engine's command union) for clients at `GET /api/protocol.json`.

Why this shape: the server is authoritative, so clients only send intents (`command`) and requests
(`join`, `legal`, GM `release`/`kick`, `ping`); everything that happens comes back as numbered
`event`s, which a client folds or simply displays, and a client that reconnects with its last
seq gets exactly what it missed.
"""

from __future__ import annotations

import itertools
import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

# Re-exported (`X as X`): the view models and the hot-path frames live in their own modules.
from gameserver.protocol_frames import (
    ack_frame as ack_frame,
    event_frame as event_frame,
    event_json as event_json,
    legal_frame as legal_frame,
    view_json as view_json,
)
from gameserver.protocol_view import (
    BOT_TACTICS as BOT_TACTICS,
    BotSetting as BotSetting,
    PublicCrew as PublicCrew,
    PublicFuel as PublicFuel,
    PublicPower as PublicPower,
    PublicRange as PublicRange,
    PublicShip as PublicShip,
    PublicSide as PublicSide,
    PublicTurret as PublicTurret,
    PublicView as PublicView,
    PublicWeapon as PublicWeapon,
)
from gameserver.rules.errors import readable_errors

PROTOCOL_VERSION = 2
"""Bumped only on incompatible changes; sent in `joined`."""

ClientId = Annotated[str, Field(min_length=1, max_length=64)]
ShortText = Annotated[str, Field(max_length=64)]


class Role(StrEnum):
    """Who a connection is: GM (holds the GM token), player (holds stations) or spectator."""

    PLAYER = "player"
    GM = "gm"
    SPECTATOR = "spectator"


class ErrorCode(StrEnum):
    """Stable error codes of the server itself; rule violations carry the engine's own codes."""

    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    BATTLE_NOT_FOUND = "battle_not_found"
    BAD_GM_TOKEN = "bad_gm_token"
    STATION_TAKEN = "station_taken"
    READ_ONLY = "read_only"
    GM_ONLY = "gm_only"
    RATE_LIMITED = "rate_limited"
    CONFLICT = "conflict"
    STORE_UNAVAILABLE = "store_unavailable"
    SHUTTING_DOWN = "shutting_down"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    KICKED = "kicked"
    NOT_FOUND = "not_found"
    UNKNOWN_STATION = "unknown_station"
    STATION_RELEASED = "station_released"
    NOT_YOUR_STATION = "not_your_station"
    INTERNAL_ERROR = "internal_error"
    BANNED = "banned"
    BAD_RESUME_TOKEN = "bad_resume_token"
    TABLE_LOCKED = "table_locked"
    STATION_CAP = "station_cap"
    BAD_CHAT = "bad_chat"
    NOT_AT_TABLE = "not_at_table"


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- client -> server


class JoinMessage(_Message):
    """Join a battle by id or join code, as GM (with the GM token), player or spectator.

    A player claims one ship and one or more of its stations; the claim is bound to the player's
    resume token: send the token you were given in `joined` to get your stations back after a
    reload. Send `last_seq` (the last event seq you hold) to receive exactly the events you missed;
    without it (or when it is too old) you get a `snapshot`.
    """

    type: Literal["join"] = "join"
    battle_id: ShortText | None = None
    join_code: Annotated[str, Field(max_length=16)] | None = None
    role: Role = Role.SPECTATOR
    ship_id: ShortText | None = None
    stations: Annotated[list[ShortText], Field(max_length=16)] = []
    gm_token: Annotated[str, Field(max_length=128)] | None = None
    resume_token: Annotated[str, Field(max_length=128)] | None = None
    last_seq: Annotated[int, Field(ge=0)] | None = None
    name: Annotated[str, Field(max_length=40)] = ""

    @model_validator(mode="after")
    def _check_role_fields(self) -> JoinMessage:
        """Refuse joins that cannot succeed, with a message that says what is missing."""
        if (self.battle_id is None) == (self.join_code is None):
            raise ValueError("give exactly one of battle_id or join_code")
        if self.role is Role.PLAYER and (self.ship_id is None or not self.stations):
            raise ValueError("a player must claim a ship_id and at least one station")
        if self.role is Role.GM and not self.gm_token:
            raise ValueError("the gm role needs the gm_token")
        return self


class CommandMessage(_Message):
    """An intent for the rules engine (its `command` object is the engine's command JSON).

    The server fills in who sent it (from the verified claim or GM token) and the time; it answers
    with `ack` (the seqs of the events the command produced, after they were sent) or `error`.
    """

    type: Literal["command"] = "command"
    client_id: ClientId
    command: dict[str, Any]


class LegalRequest(_Message):
    """Ask for the legal actions (with attack DM-breakdown previews) of one or all held stations."""

    type: Literal["legal"] = "legal"
    client_id: ClientId | None = None
    ship_id: ShortText | None = None
    station: ShortText | None = None


class ReleaseMessage(_Message):
    """GM only: free a claimed station so another player can take it."""

    type: Literal["release"] = "release"
    client_id: ClientId | None = None
    ship_id: ShortText
    station: ShortText


class KickMessage(_Message):
    """GM only: disconnect a peer (see `presence`), free the stations it held and ban its resume
    token from the battle (`unban` lifts it); every connection with that token goes too."""

    type: Literal["kick"] = "kick"
    client_id: ClientId | None = None
    peer_id: ShortText


class UnbanMessage(_Message):
    """GM only: let a kicked player's resume token sit down again (`ban_id` from `table`)."""

    type: Literal["unban"] = "unban"
    client_id: ClientId | None = None
    ban_id: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]


class TableRequest(_Message):
    """GM only: lock the table (no new players or spectators; seated players may return) and
    cap the stations one player may hold (0: the server's default). Omitted fields keep their
    value; answered with `ack` and a `table` frame to the GMs."""

    type: Literal["table"] = "table"
    client_id: ClientId | None = None
    locked: bool | None = None
    max_stations: Annotated[int, Field(ge=0, le=64)] | None = None
    idle_crew_pass: bool | None = Field(
        default=None, description="the unheld stations of a player's ship pass by themselves"
    )
    turn_timer_s: Annotated[int, Field(ge=0, le=3600)] | None = Field(
        default=None, description="seconds the awaited stations have before they pass; 0: off"
    )


CHAT_MAX_CHARS = 500
"""The longest chat line (characters, after trimming): a few sentences, not a document."""


class ChatRequest(_Message):
    """Say something at the table (`to`: ``table``), whisper to the GM (``gm``), or, as the GM,
    whisper to one person at the table (their `peer_id` from `presence`). Kept with the battle
    (the GM's download has it) but never in its rules log; answered with `ack` and a `chat`
    frame to everyone who may read the line. Players may whisper only to the GM."""

    type: Literal["chat"] = "chat"
    client_id: ClientId | None = None
    to: Annotated[str, Field(pattern=r"^(table|gm|[0-9a-f]{12})$")] = "table"
    # The hub checks the length after trimming (with a clear message); this bound only keeps
    # a frame from carrying a novel.
    text: Annotated[str, Field(max_length=4 * CHAT_MAX_CHARS)]


class PingMessage(_Message):
    """Application-level ping (answered with `pong`); lets a client measure the round trip."""

    type: Literal["ping"] = "ping"
    client_id: ClientId | None = None


ClientMessage = Annotated[
    JoinMessage
    | CommandMessage
    | LegalRequest
    | ReleaseMessage
    | KickMessage
    | UnbanMessage
    | TableRequest
    | ChatRequest
    | PingMessage,
    Field(discriminator="type"),
]
CLIENT_MESSAGE_TYPES = frozenset(
    {"join", "command", "legal", "release", "kick", "unban", "table", "chat", "ping"}
)
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class ProtocolError(Exception):
    """A client frame the server cannot accept; `code` is `bad_message` or `unknown_type`."""

    def __init__(self, code: ErrorCode, message: str, client_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Parse one client frame; purely computational, no side effects.

    Raises:
        ProtocolError: `bad_message` for invalid JSON or fields, `unknown_type` for an unknown tag.
            The client id is echoed when the frame had a readable one.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"not JSON: {exc}") from None
    except RecursionError:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "a message is a JSON object with a 'type'")
    client_id = data.get("client_id")
    client_id = client_id if isinstance(client_id, str) and len(client_id) <= 64 else None
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "missing 'type'", client_id)
    if kind not in CLIENT_MESSAGE_TYPES:
        known = ", ".join(sorted(CLIENT_MESSAGE_TYPES))
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r} (known: {known})", client_id
        )
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE,
            readable_errors(exc, limit=5, hide=CLIENT_MESSAGE_TYPES),
            client_id,
        ) from None


# --------------------------------------------------------------------------- server -> client


class JoinedMessage(_Message):
    """The join succeeded: who you are, your peer id and (players) your resume token; keep it."""

    type: Literal["joined"] = "joined"
    protocol: int = PROTOCOL_VERSION
    battle_id: str
    join_code: str
    role: Role
    peer_id: str
    ship_id: str | None = None
    stations: list[str] = []
    resume_token: str | None = None
    seq: int = Field(description="the battle's last seq when you joined")
    name: str = Field(default="", description="the battle's name, as the GM gave it")
    bot_sides: list[str] = Field(default=[], description="sides the server's bot plays")


class SnapshotMessage(_Message):
    """The battle at `seq`: its public view for everyone, and the engine's full state for the GM.

    Sent on join when the client has no `last_seq` or it is too old; the events that follow start at
    `seq + 1`.
    """

    type: Literal["snapshot"] = "snapshot"
    battle_id: str
    seq: int
    view: PublicView
    state: dict[str, Any] | None = Field(
        default=None, description="GM only: the engine's full state (its internal shape, no seed)"
    )
    awaiting: list[tuple[str, str]] = Field(description="(ship_id, station) pairs that may act now")
    is_over: bool


class EventMessage(_Message):
    """One event of the battle log (`event` is the engine's `Event.to_dict()`; dice included).

    The last event of a batch also carries who may act now and the public view after the batch,
    so a client never asks for the state again (the view is built once per batch for every peer).
    """

    type: Literal["event"] = "event"
    battle_id: str
    seq: int
    event: dict[str, Any]
    awaiting: list[tuple[str, str]] | None = Field(
        default=None, description="after the last event of a batch: who may act now"
    )
    view: PublicView | None = Field(
        default=None, description="after the last event of a batch: the public view at `seq`"
    )


class LegalMessage(_Message):
    """The actions a held station may take now (after events when it is awaited, or on request)."""

    type: Literal["legal"] = "legal"
    battle_id: str
    seq: int
    ship_id: str
    station: str
    commands: list[dict[str, Any]]
    client_id: str | None = None


class AckMessage(_Message):
    """Your command was accepted; its events (`seqs`) were appended and sent before this ack."""

    type: Literal["ack"] = "ack"
    client_id: str
    seq: int = Field(description="the battle's last seq after your command")
    seqs: list[int]


class ErrorMessage(_Message):
    """A refused message; nothing changed. `code` is stable (ErrorCode or the engine's code)."""

    type: Literal["error"] = "error"
    code: str
    message: str
    client_id: str | None = None


class Peer(_Message):
    """One connection in a battle, as everyone sees it (no tokens)."""

    peer_id: str
    role: Role
    name: str = ""
    ship_id: str | None = None
    stations: list[str] = []


class ClaimInfo(_Message):
    """A held station and whether its holder is connected right now (on any instance we know of)."""

    ship_id: str
    station: str
    name: str = ""
    connected: bool


class PresenceMessage(_Message):
    """Who is connected to the battle on this server, and which stations are held."""

    type: Literal["presence"] = "presence"
    battle_id: str
    peers: list[Peer]
    claims: list[ClaimInfo]


class BanInfo(_Message):
    """A kicked player's revoked token, by a short id (never the token) and the name it used."""

    ban_id: str
    name: str = ""


class TableMessage(_Message):
    """To GMs: the table's rules and bans (on join, and whenever a GM changes them)."""

    type: Literal["table"] = "table"
    battle_id: str
    locked: bool
    max_stations: int = Field(description="per player; 0: no cap")
    bans: list[BanInfo]
    idle_crew_pass: bool = False
    turn_timer_s: int = 0


class TimerMessage(_Message):
    """To everyone: the turn timer of the stations awaited at `seq` (on join, after each batch
    while the GM has it on, and when it is switched). `seconds_left` None: no countdown; at zero
    the server passes those still awaited (as events in the log)."""

    type: Literal["timer"] = "timer"
    battle_id: str
    seq: int
    seconds: int = Field(description="the table's turn timer; 0: off")
    seconds_left: float | None = None


class ChatLine(_Message):
    """One chat line as a reader gets it (who sent it and to whom, in names only)."""

    id: int
    at: str
    sender: str
    sender_role: Literal["gm", "player", "spectator"]
    to: Literal["table", "gm", "person"]
    to_name: str = ""
    text: str = Field(description="as typed: plain text, never markup (pages show it as text)")


class ChatMessage(_Message):
    """Chat lines this client may read: the kept history on join, then each new line."""

    type: Literal["chat"] = "chat"
    battle_id: str
    lines: list[ChatLine]


class PongMessage(_Message):
    """The answer to `ping`."""

    type: Literal["pong"] = "pong"
    client_id: str | None = None


class ServerShutdownMessage(_Message):
    """The server is stopping: reconnect (any instance) after `reconnect_after_ms` with last_seq."""

    type: Literal["server_shutdown"] = "server_shutdown"
    message: str
    reconnect_after_ms: int


ServerMessage = Annotated[
    JoinedMessage
    | SnapshotMessage
    | EventMessage
    | LegalMessage
    | AckMessage
    | ErrorMessage
    | PresenceMessage
    | TableMessage
    | ChatMessage
    | TimerMessage
    | PongMessage
    | ServerShutdownMessage,
    Field(discriminator="type"),
]
_server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def parse_server_message(raw: str | bytes) -> ServerMessage:
    """Parse a server frame (for clients written in Python: tests, the load generator)."""
    return _server_adapter.validate_json(raw)


def protocol_json_schema(command_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """JSON Schema of every WebSocket message, for clients (`GET /api/protocol.json`).

    Purely computational. `command_schema` (the engine's `command_json_schema()`) is embedded as
    `$defs.Command`, the shape of `CommandMessage.command`.
    """
    client = _client_adapter.json_schema(ref_template="#/$defs/client/$defs/{model}")
    server = _server_adapter.json_schema(ref_template="#/$defs/server/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Traveller VTT WebSocket protocol",
        "description": "Every frame is one JSON object tagged with 'type'. See docs/protocol.md.",
        "version": PROTOCOL_VERSION,
        "$defs": {
            "client": client,
            "server": server,
            "Command": command_schema or {"type": "object"},
        },
        "oneOf": [{"$ref": "#/$defs/client"}, {"$ref": "#/$defs/server"}],
    }


# --------------------------------------------------------------------------- HTTP API bodies


class CreateBattleRequest(BaseModel):
    """Body of `POST /api/battles`: the engine's scenario plus server options."""

    model_config = ConfigDict(extra="forbid")

    scenario: dict[str, Any]
    bot_sides: list[str] = Field(
        default=[], max_length=8, description="sides the server's bot plays (solo)"
    )
    bot_ships: dict[ShortText, Literal["cautious", "standard", "aggressive"]] = Field(
        default={},
        max_length=24,
        description="ships handed to the server's bot from the start, with their tactic"
        " (solo as a player: every ship but yours); each is a gm_bot event in the log",
    )
    name: str = Field(default="", max_length=80)


MAX_IMPORT_EVENTS = 20_000
"""Events an import may hold (the body is also capped at 4 MiB by the app)."""

MAX_IMPORT_CHAT = 500
"""Chat lines an import may bring back: what a battle keeps (the store's `CHAT_KEEP`, which a
test holds equal), so a file the server wrote always fits and a padded one is refused."""

CHAT_NAME_MAX = 40
"""The longest sender or addressee name a chat line carries (the store's `ChatEntry` bound)."""


class ImportedChatLine(BaseModel):
    """One chat line of an export (`ChatLine`, names only) as an import brings it back.

    A line the server could not have written is refused, not repaired: an unknown role or
    addressee, a whisper the rules of the chat do not allow (players whisper only to the GM;
    the GM never to itself), a name or text past its bound, control characters. The file
    carries no token hashes, so a restored whisper is read by the GM alone: it never becomes
    readable by anyone it was not meant for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=1)
    at: str = Field(min_length=1, max_length=40)
    sender: str = Field(min_length=1, max_length=CHAT_NAME_MAX)
    sender_role: Literal["gm", "player", "spectator"]
    to: Literal["table", "gm", "person"]
    to_name: str = Field(default="", max_length=CHAT_NAME_MAX)
    text: str = Field(min_length=1, max_length=CHAT_MAX_CHARS)

    @model_validator(mode="after")
    def _as_the_server_writes_it(self) -> ImportedChatLine:
        if self.to == "person" and self.sender_role != "gm":
            raise ValueError(f"line {self.id}: only the GM whispers to one person")
        if self.to == "person" and not self.to_name:
            raise ValueError(f"line {self.id}: a whisper to one person names that person")
        if self.to != "person" and self.to_name:
            raise ValueError(f"line {self.id}: only a whisper to one person names an addressee")
        if self.to == "gm" and self.sender_role == "gm":
            raise ValueError(f"line {self.id}: the GM does not whisper to the GM")
        kept = "".join(ch for ch in self.text if ch == "\n" or ch.isprintable()).strip()
        if kept != self.text:
            raise ValueError(f"line {self.id}: control characters or untrimmed space in its text")
        return self


class ImportBattleRequest(BaseModel):
    """Body of `POST /api/battles/import`: the JSON of `GET /api/battles/{id}/log`."""

    model_config = ConfigDict(extra="ignore")

    # `list[Any]` checked in Python, not `list[dict[str, Any]]`: pydantic would copy every
    # event of the largest import in one call that holds the GIL for tens of milliseconds.
    events: list[Any] = Field(
        min_length=1,
        max_length=MAX_IMPORT_EVENTS,
        json_schema_extra={"items": {"type": "object"}},
    )
    bot_sides: list[str] = Field(default=[], max_length=8)
    name: str = Field(default="", max_length=80)
    # The GM export of a running battle carries its seed sealed (`gameserver.sealing`).
    sealed_seed: str | None = Field(default=None, max_length=512)
    # The table's chat (the GM export has it beside the events), restored with the battle.
    chat: list[ImportedChatLine] = Field(default=[], max_length=MAX_IMPORT_CHAT)

    @field_validator("chat")
    @classmethod
    def _in_order(cls, chat: list[ImportedChatLine]) -> list[ImportedChatLine]:
        for before, line in itertools.pairwise(chat):
            if line.id <= before.id:
                raise ValueError(f"line {line.id} comes after line {before.id}: ids only grow")
        return chat

    @field_validator("events")
    @classmethod
    def _objects(cls, events: list[Any]) -> list[Any]:
        for i, event in enumerate(events):
            if not isinstance(event, dict):
                raise ValueError(f"event #{i + 1} is not a JSON object")
        return events
