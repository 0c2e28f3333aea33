"""Operator settings, read once from the environment at startup and passed down explicitly."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from tvtt_operator.models import LogLevel

ENV_PREFIX = "TVTT_OPERATOR_"


class OperatorConfig(BaseModel):
    """Knobs of the operator process (not of the game server: those live in the resource)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=4, ge=1, le=64)
    resync_seconds: float = Field(default=300.0, gt=0)
    max_backoff_seconds: float = Field(default=60.0, gt=0)
    log_level: LogLevel = LogLevel.INFO

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OperatorConfig:
        """Read `TVTT_OPERATOR_<FIELD>` variables (e.g. TVTT_OPERATOR_HTTP_PORT=9090)."""
        values = {
            name: environ[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if ENV_PREFIX + name.upper() in environ
        }
        return cls.model_validate(values)
