"""Operator settings, read once from the environment at startup and passed down explicitly.

pydantic-settings, like the game server's `Settings`: each field is the environment variable
`TVTT_OPERATOR_<FIELD>` (e.g. TVTT_OPERATOR_HTTP_PORT=9090), validated with a message naming it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator
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
    # BATTLES/PLAYERS: how often the game server pods' /api/summary is polled (0: never).
    poll_seconds: float = Field(default=30.0, ge=0)
    poll_timeout_seconds: float = Field(default=2.0, gt=0)
    # Each game server pod's pod-deletion-cost (its players, from the poll) is written at most
    # this often per pod, and never when unchanged.
    deletion_cost_seconds: float = Field(default=60.0, ge=0)
    # spec.rollout.analysis: how often the new pods' /health and /metrics are read (0: never).
    analysis_seconds: float = Field(default=5.0, ge=0)
    # Leader election with a coordination.k8s.io Lease: only the holder reconciles; the others
    # keep a warm cache and take over when the holder stops renewing (see docs/operator.md).
    leader_election: bool = False
    lease_name: str = "traveller-vtt-operator"
    lease_namespace: str = "default"
    identity: str = ""  # the Lease's holderIdentity; the host name and process id when empty
    lease_duration_seconds: float = Field(default=15.0, gt=0)
    renew_deadline_seconds: float = Field(default=10.0, gt=0)
    retry_period_seconds: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _election_timing(self) -> OperatorConfig:
        """A leader must give up (renew deadline) before others may take over (duration)."""
        if self.leader_election and not (
            self.retry_period_seconds < self.renew_deadline_seconds < self.lease_duration_seconds
        ):
            raise ValueError(
                "need TVTT_OPERATOR_RETRY_PERIOD_SECONDS < TVTT_OPERATOR_RENEW_DEADLINE_SECONDS "
                "< TVTT_OPERATOR_LEASE_DURATION_SECONDS"
            )
        return self

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        """`TVTT_OPERATOR_NAMESPACES=a,b` works like `--namespace a --namespace b`."""
        if isinstance(value, str):
            return [n.strip() for n in value.split(",") if n.strip()]
        return value
