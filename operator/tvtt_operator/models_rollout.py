"""spec.rollout: how a new pod template is released and analysed for an automatic rollback."""

from __future__ import annotations

from pydantic import Field

from tvtt_operator.models_base import _Model


class RolloutAnalysis(_Model):
    """Watch a new pod template's pods for a window; roll back on the strategy's triggers.

    The defaults are the deployment strategy's rollback figures: a failing health check, more
    than 5 % of commands failing on the server's side, a command latency p95 above 500 ms, more
    than 10 % of WebSocket upgrades refused or failed. See docs/operator.md, "Rollback".
    """

    enabled: bool = Field(
        default=True, description="Analyse each new pod template (false: keep the figures, off)."
    )
    window_seconds: int = Field(
        default=300,
        ge=10,
        le=86400,
        description="How long the new pods are watched after the template is applied; the "
        "release is promoted when the window has passed, the rollout is complete and no "
        "trigger fired.",
    )
    min_samples: int = Field(
        default=20,
        ge=1,
        le=1_000_000,
        description="Commands (for the error ratio and the p95) and WebSocket upgrades (for "
        "their failure ratio) the new pods must have seen before that trigger can fire.",
    )
    health_check_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Consecutive failed health checks (GET /health) of one new pod that fire "
        "the health trigger; a restart of a new pod's container fires it at once.",
    )
    max_error_ratio_percent: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="Commands answered internal_error or store_unavailable, in percent of all "
        "commands the new pods received.",
    )
    max_command_latency_p95_ms: int = Field(
        default=500,
        ge=1,
        le=600_000,
        description="p95 of the new pods' command latency (tvtt_command_latency_seconds).",
    )
    max_websocket_failure_percent: float = Field(
        default=10.0,
        gt=0,
        le=100,
        description="WebSocket upgrades refused or failed, in percent of all upgrades.",
    )


class Rollout(_Model):
    """How a new pod template is released."""

    analysis: RolloutAnalysis | None = Field(
        default=None,
        description="Automatic rollback: watch the new pods and roll back on the strategy's "
        "triggers. Unset: no analysis.",
    )
