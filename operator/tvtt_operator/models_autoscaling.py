"""spec.autoscaling: the HPA's bounds and the schedule's windows (the planner is `autoscaling`)."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, field_validator, model_validator

from tvtt_operator.autoscaling import CRON_PATTERN, Policy, Window, parse_cron
from tvtt_operator.models_base import _Model

MAX_SCHEDULE_WINDOWS = 16


class ScheduleWindow(_Model):
    """A recurring window with a higher minimum (game night): opens when `start` fires."""

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="A name for the condition's message and the Events (e.g. game-night).",
    )
    start: str = Field(
        min_length=9,
        max_length=200,
        description="When the window opens, a five-field cron expression in timeZone (minute "
        "hour day-of-month month day-of-week; `*`, numbers, ranges, lists and /steps), e.g. "
        "'0 19 * * 5' for Fridays at 19:00.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches(r'{CRON_PATTERN}')",
                    "message": "must be a five-field cron expression (minute 0-59, hour 0-23, "
                    "day of month 1-31, month 1-12, day of week 0-7), e.g. '0 19 * * 5'",
                }
            ]
        },
    )
    duration_minutes: int = Field(
        ge=1, le=10080, description="How long the window stays open (at most a week)."
    )
    min_replicas: int = Field(
        ge=1, le=100, description="Fewest game server pods while the window is open."
    )
    time_zone: str = Field(
        default="UTC",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$",
        description="IANA time zone of `start` (e.g. Europe/Berlin); daylight saving is followed.",
    )

    @field_validator("start")
    @classmethod
    def _cron(cls, value: str) -> str:
        parse_cron(value)
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value


class Autoscaling(_Model):
    """Autoscaling: the HPA scales on CPU between the bounds; the operator raises its minReplicas
    for the connections per pod, the schedule's windows and the pods holding battles."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.minReplicas <= self.maxReplicas",
                    "message": "autoscaling.minReplicas must be <= autoscaling.maxReplicas",
                    "fieldPath": ".minReplicas",
                },
                {
                    "rule": "self.scaleDownCpuUtilization < self.targetCpuUtilization",
                    "message": "autoscaling.scaleDownCpuUtilization must be below "
                    "autoscaling.targetCpuUtilization",
                    "fieldPath": ".scaleDownCpuUtilization",
                },
                {
                    "rule": "self.scaleDownConnectionsPerPod < self.connectionsPerPod",
                    "message": "autoscaling.scaleDownConnectionsPerPod must be below "
                    "autoscaling.connectionsPerPod",
                    "fieldPath": ".scaleDownConnectionsPerPod",
                },
                {
                    "rule": "!has(self.schedule) || "
                    "self.schedule.all(w, w.minReplicas <= self.maxReplicas)",
                    "message": "autoscaling.schedule[].minReplicas must be <= "
                    "autoscaling.maxReplicas",
                    "fieldPath": ".schedule",
                },
                {
                    "rule": "!has(self.schedule) || "
                    "self.schedule.all(w, self.schedule.exists_one(v, v.name == w.name))",
                    "message": "autoscaling.schedule[].name must be unique",
                    "fieldPath": ".schedule",
                },
            ]
        }
    )

    min_replicas: int = Field(
        default=2, ge=1, le=100, description="Fewest game server pods the HPA keeps."
    )
    max_replicas: int = Field(
        default=10, ge=1, le=100, description="Most game server pods the HPA may run."
    )
    target_cpu_utilization: int = Field(
        default=70,
        ge=1,
        le=100,
        description="Average CPU use (percent of the request) above which the HPA adds pods.",
    )
    scale_down_cpu_utilization: int = Field(
        default=30,
        ge=1,
        le=99,
        description="Average CPU use below which the HPA may remove pods (its scale-down "
        "tolerance; between the two it holds).",
    )
    connections_per_pod: int = Field(
        default=500,
        ge=2,
        le=100_000,
        description="Average WebSocket connections per pod above which pods are added.",
    )
    scale_down_connections_per_pod: int = Field(
        default=100,
        ge=1,
        le=99_999,
        description="Average connections per pod below which pods may be removed (between the "
        "two the operator holds the pods there are).",
    )
    stabilization_window_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="A scale-down waits until the lower count has been wanted this long "
        "(battles drain meanwhile); scale-ups are immediate.",
    )
    schedule: list[ScheduleWindow] = Field(
        default_factory=list,
        max_length=MAX_SCHEDULE_WINDOWS,
        description="Recurring windows with a higher minimum (game night).",
    )

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling.minReplicas must be <= autoscaling.maxReplicas")
        if self.scale_down_cpu_utilization >= self.target_cpu_utilization:
            raise ValueError(
                "autoscaling.scaleDownCpuUtilization must be below autoscaling.targetCpuUtilization"
            )
        if self.scale_down_connections_per_pod >= self.connections_per_pod:
            raise ValueError(
                "autoscaling.scaleDownConnectionsPerPod must be below autoscaling.connectionsPerPod"
            )
        if any(w.min_replicas > self.max_replicas for w in self.schedule):
            raise ValueError(
                "autoscaling.schedule[].minReplicas must be <= autoscaling.maxReplicas"
            )
        names = [w.name for w in self.schedule]
        if len(set(names)) != len(names):
            raise ValueError("autoscaling.schedule[].name must be unique")
        return self

    def policy(self) -> Policy:
        """The pure planner's view of these settings."""
        return Policy(
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            connections_per_pod=self.connections_per_pod,
            scale_down_connections_per_pod=self.scale_down_connections_per_pod,
            stabilization_window_seconds=self.stabilization_window_seconds,
            schedule=tuple(
                Window(
                    name=w.name,
                    start=w.start,
                    duration_minutes=w.duration_minutes,
                    min_replicas=w.min_replicas,
                    time_zone=w.time_zone,
                )
                for w in self.schedule
            ),
        )

    @property
    def scale_down_tolerance(self) -> str:
        """The HPA's behavior.scaleDown.tolerance that makes `scaleDownCpuUtilization` its
        scale-down threshold: it removes pods only when usage/target < 1 - tolerance."""
        ratio = Decimal(self.scale_down_cpu_utilization) / Decimal(self.target_cpu_utilization)
        return f"{int((1 - ratio) * 1000)}m"
