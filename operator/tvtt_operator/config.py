"""Operator settings, read once from the environment at startup and passed down explicitly.

pydantic-settings, like the game server's `Settings`: each field is the environment variable
`TVTT_OPERATOR_<FIELD>` (e.g. TVTT_OPERATOR_HTTP_PORT=9090), validated with a message naming it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tvtt_operator.models import LogLevel

ENV_PREFIX = "TVTT_OPERATOR_"


class OperatorConfig(BaseSettings):
    """Knobs of the operator process (not of the game server: those live in the resource)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=False, frozen=True, extra="ignore"
    )

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=4, ge=1, le=64)
    resync_seconds: float = Field(default=300.0, gt=0)
    min_backoff_seconds: float = Field(default=1.0, gt=0)
    max_backoff_seconds: float = Field(default=60.0, gt=0)
    forbidden_unhealthy_seconds: float = Field(default=300.0, gt=0)
    log_level: LogLevel = LogLevel.INFO
    namespaces: Annotated[list[str], NoDecode] = []

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        """`TVTT_OPERATOR_NAMESPACES=a,b` works like `--namespace a --namespace b`."""
        if isinstance(value, str):
            return [n.strip() for n in value.split(",") if n.strip()]
        return value
