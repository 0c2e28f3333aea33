"""The TravellerVTT status: conditions, the STATUS column and what the operator last observed."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field

from tvtt_operator.models_base import _Model


class ConditionStatus(StrEnum):
    """metav1.ConditionStatus."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """Condition types; `Degraded` and `TemplateOverridden` are abnormal-true by design."""

    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    REDIS_READY = "RedisReady"
    TEMPLATE_OVERRIDDEN = "TemplateOverridden"
    PAUSED = "Paused"
    INGRESS_READY = "IngressReady"
    REDIS_STORAGE_READY = "RedisStorageReady"
    AUTOSCALING_FLOOR = "AutoscalingFloor"
    ROLLED_BACK = "RolledBack"


class State(StrEnum):
    """The STATUS column: Paused, Degraded, Overridden, Ready, Progressing or NotReady, in that
    order (the first that holds)."""

    READY = "Ready"
    PROGRESSING = "Progressing"
    NOT_READY = "NotReady"
    DEGRADED = "Degraded"
    OVERRIDDEN = "Overridden"
    PAUSED = "Paused"


class Condition(_Model):
    """metav1.Condition."""

    type: ConditionType
    status: ConditionStatus
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*)$",
        description="Why the condition is as it is, in CamelCase (e.g. ManualRollback).",
    )
    message: str = Field(
        default="", max_length=32768, description="Details for people (API server messages)."
    )
    last_transition_time: str = Field(
        json_schema_extra={"format": "date-time"},
        description="When the status last changed between True and False.",
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The resource's generation this condition describes."
    )


class RedisVolumeStatus(_Model):
    """The Redis data claim as the operator last saw it (it outlives the resource by default)."""

    model_config = ConfigDict(extra="ignore")

    claim_name: str = Field(description="The PersistentVolumeClaim holding Redis's AOF.")
    phase: str | None = Field(default=None, description="Pending, Bound or Lost.")
    requested: str | None = Field(
        default=None, description="spec.resources.requests.storage of the claim."
    )
    capacity: str | None = Field(
        default=None, description="status.capacity.storage: what the volume really has."
    )


class AnalysisPhase(StrEnum):
    """Where the analysis of one pod template stands."""

    ANALYSING = "Analysing"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    CANCELLED = "Cancelled"


class RolloutAnalysisStatus(_Model):
    """The analysis of the last pod template the operator applied (spec.rollout.analysis)."""

    model_config = ConfigDict(extra="ignore")

    template_hash: str = Field(description="traveller-vtt.io/template-hash of the new template.")
    generation: int = Field(ge=0, description="The resource's generation that applied it.")
    started_at: str = Field(
        json_schema_extra={"format": "date-time"},
        description="When the template was applied: the window counts from here.",
    )
    phase: AnalysisPhase
    trigger: str | None = Field(
        default=None, description="The trigger that rolled the template back, if one fired."
    )
    message: str = Field(default="", max_length=4096, description="The figures, for people.")


class TravellerVTTStatus(_Model):
    """What the operator observed; written only through the status subresource."""

    model_config = ConfigDict(extra="ignore")

    observed_generation: int | None = Field(
        default=None, description="The generation of the spec the operator last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Progressing, Degraded, RedisReady, TemplateOverridden, Paused, "
        "IngressReady, RedisStorageReady, AutoscalingFloor with autoscaling, RolledBack (with "
        "spec.rollout.analysis).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    state: State | None = Field(
        default=None, description="One word for kubectl get: the most pressing condition."
    )
    desired_replicas: int | None = Field(
        default=None,
        description="Game server pods wanted now (the spec's replicas, or the HPA's choice).",
    )
    replicas: int | None = Field(default=None, description="Game server pods that exist.")
    ready_replicas: int | None = Field(
        default=None, description="Game server pods that pass their readiness probe."
    )
    image: str | None = Field(
        default=None, description="The game server image actually running (shows a rollback)."
    )
    endpoint: str | None = Field(default=None, description="Where players connect.")
    selector: str | None = Field(
        default=None, description="Label selector of the game server pods (scale subresource)."
    )
    battles: int | None = Field(
        default=None,
        description="Battles open on the game servers (polled from their /api/summary; a battle "
        "followed by players on two pods counts once).",
    )
    players: int | None = Field(
        default=None,
        description="People at a battle's table (players and GMs, not spectators), summed over the "
        "game server pods.",
    )
    redis_volume: RedisVolumeStatus | None = Field(
        default=None, description="The Redis data claim: size asked for and size it has."
    )
    applied_generation: int | None = Field(
        default=None,
        description="Generation whose pod template the operator last applied to the Deployment.",
    )
    applied_template_hash: str | None = Field(
        default=None,
        description="traveller-vtt.io/template-hash of that template; a live template with "
        "another hash was changed by someone else (e.g. kubectl rollout undo).",
    )
    autoscaling_floor: int | None = Field(
        default=None,
        description="The HPA's minReplicas as the operator last set it (autoscaling: the pods "
        "the connections, the schedule and the battles need now).",
    )
    rollout_analysis: RolloutAnalysisStatus | None = Field(
        default=None, description="The analysis of the last applied pod template, if any."
    )
