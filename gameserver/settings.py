"""Server settings from the environment, passed to `create_app`, never global."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the game server; each field is read from the upper-case environment variable.

    `ALLOWED_ORIGINS` is a comma-separated list of origins (`https://vtt.example.org`); empty means
    same-origin only (the Origin's host must equal the Host header; requests without Origin pass).
    """

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    probe_port: int = Field(default=0, ge=0, le=65535)
    """`/health` and `/ready` also on this port, answered from a thread (`gameserver.probes`):
    they do not queue behind commands on a saturated server. 0: only on `port`."""
    probe_stall_s: float = Field(default=5.0, gt=0)
    """The probe port fails `/health` and `/ready` when the event loop has not run for this long
    (hung, not busy), and `/ready` when the store's last good ping is older than this."""
    ready_store_timeout_s: float = Field(default=2.0, gt=0)
    """How long `/ready` waits for the store's ping (probe timeouts must be longer)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    redis_url: str | None = None
    max_connections: int = Field(default=10_000, ge=1)
    allowed_origins: Annotated[list[str], NoDecode] = []
    max_message_bytes: int = Field(default=16 * 1024, ge=256)
    rate_limit_per_s: float = Field(default=10.0, gt=0)
    rate_limit_burst: int = Field(default=20, ge=1)
    battle_idle_s: float = Field(default=6 * 3600, gt=0)
    expiry_interval_s: float = Field(default=60.0, gt=0)
    archive_after_s: float = Field(default=60.0, gt=0)
    """In-memory store: a battle untouched this long (nobody connected) keeps its log compressed
    until it is read or appended to again (checked every `expiry_interval_s`)."""
    catch_up_limit: int = Field(default=1000, ge=0)
    snapshot_every: int = Field(default=200, ge=1)
    append_retries: int = Field(default=3, ge=1)
    bot_delay_ms: int = Field(default=300, ge=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    reconnect_after_ms: int = Field(default=1000, ge=0)
    send_queue_frames: int = Field(default=2000, ge=10)
    heartbeat_s: float = Field(default=30.0, gt=0)
    send_timeout_s: float = Field(default=10.0, gt=0)
    """A frame (or closing handshake) the client does not take within this: the socket is cut."""
    join_timeout_s: float = Field(default=30.0, gt=0)
    """A socket that has not joined a battle within this is closed (1008)."""
    max_invalid_frames: int = Field(default=20, ge=1)
    """Invalid frames one connection may send before it is closed (1008)."""
    presence_interval_s: float = Field(default=0.25, ge=0)
    """A battle's `presence` goes out at most once per this (changes in between are merged)."""
    join_rate_per_s: float = Field(default=20.0, gt=0)
    join_burst: int = Field(default=100, ge=1)
    """Joins one battle accepts per second, with bursts up to `join_burst` (`rate_limited`)."""
    address_rate_per_s: float = Field(default=10.0, gt=0)
    address_burst: int = Field(default=200, ge=1)
    """Per client address and action (upgrade, join, join-code lookup, create, import, design
    check): this many per second, in bursts up to `address_burst` (HTTP 429 /
    `rate_limited`)."""
    trusted_proxy_header: str = ""
    """Behind a reverse proxy: the header it sets with the client's address (`X-Forwarded-For`);
    its last entry is the client. Empty: the socket's peer address (the header is ignored)."""
    body_timeout_s: float = Field(default=10.0, gt=0)
    """A request body (create, import) must arrive within this (408): a slow sender cannot hold
    a handler."""
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest body of `POST /api/battles` (a scenario)."""
    max_import_bytes: int = Field(default=4 << 20, ge=1024)
    """Largest body of `POST /api/battles/import` (a whole battle log)."""
    import_workers: int = Field(default=1, ge=1, le=8)
    """Worker processes that check imports (parse and re-execute every command), so the
    seconds of CPU of a large import never stop the event loop; kept between imports."""
    import_prestart: bool = True
    """Start the import workers with the server (a worker started on demand stops the event
    loop while it execs: up to tens of milliseconds on a busy machine)."""
    import_queue: int = Field(default=4, ge=0, le=100)
    """Imports that may wait for a busy worker; past that an import is refused at once (503
    `import_busy`)."""
    import_timeout_s: float = Field(default=60.0, gt=0, le=600)
    """A check that takes longer is stopped (its worker killed) and answered 503
    `import_timeout`; the largest legal import takes ~3 s of CPU."""
    allowed_hosts: Annotated[list[str], NoDecode] = []
    """Host names the server answers to; empty: any when serving beyond loopback, and only
    loopback names when `HOST` is a loopback address (DNS rebinding cannot reach `make run`)."""
    store_timeout_s: float = Field(default=5.0, gt=0)
    """Every store (Redis) call answers within this or fails with `store_unavailable`; a command
    that waited this long for its battle's lock is refused the same way (never applied)."""
    dedupe_window: int = Field(default=1000, ge=1)
    """Keyed commands each battle remembers: a command resent with the same `client_id` by the
    same sender among its last this-many is answered with the first ack, never applied twice."""
    max_stations_per_player: int = Field(default=0, ge=0)
    """Stations one resume token may hold in a battle unless its GM set a cap (0: no cap)."""
    header_timeout_s: float = Field(default=10.0, gt=0)
    """A request's headers must arrive within this from the first byte (or from the connection's
    start): a client that sends them byte by byte (slowloris) is cut (408)."""
    keepalive_timeout_s: float = Field(default=75.0, gt=0)
    """An idle keep-alive HTTP connection is closed after this."""
    test_fail_commands: bool = False
    """TEST ONLY (`TEST_FAIL_COMMANDS`): answer every command `internal_error` (nothing applied)
    while `/health` and `/ready` stay green: the bad release the operator's rollout analysis
    must roll back (tests/e2e/node/test_rollback.py). Never set it in production."""
    # Seals a running battle's seed in the GM's resumable export (`gameserver.sealing`); every
    # instance that should resume another's exports needs the same value. Unset: per process.
    export_key: str = Field(default="", repr=False)
    backup_token: str = Field(default="", repr=False)
    """Bearer token of the backup API (`gameserver.backup_api`: list every battle, export it
    with its sealed seed, restore it with its id); unset (the default): that API is off."""

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept `a,b` from the environment as well as a list from code."""
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        """`vtt.example.org,localhost` from the environment, lower-cased."""
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        """`LOG_LEVEL=INFO` is as good as `info`."""
        return value.lower() if isinstance(value, str) else value
