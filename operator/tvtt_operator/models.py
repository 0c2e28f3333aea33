"""The TravellerVTT custom resource as pydantic models: the single source of truth for the CRD.

`crdgen` turns these models into the OpenAPI schema the API server enforces; the operator parses
every object it reconciles with the same models. Each cross-field check exists twice on purpose:
as a pydantic validator (so the operator and unit tests reject bad specs with the same wording) and
as a CEL rule in `x-kubernetes-validations` (so the API server rejects them before they are stored).

The sections live in sibling modules by concern (`models_base`, `models_autoscaling`,
`models_workload`, `models_backup`, `models_rollout`, `models_status`); every name is re-exported
here, so `from tvtt_operator.models import ...` stays the one import the rest of the operator uses.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from tvtt_operator.models_autoscaling import (
    MAX_SCHEDULE_WINDOWS,
    Autoscaling,
    ScheduleWindow,
)
from tvtt_operator.models_backup import (
    BACKUP_CRON_PATTERN,
    CRON_MESSAGE,
    BackupSpec,
)
from tvtt_operator.models_base import (
    _NAME,
    API_VERSION,
    DEFAULT_IMAGE,
    DEFAULT_REDIS_IMAGE,
    DRAIN_MARGIN_SECONDS,
    GROUP,
    KIND,
    MAX_NAME_LENGTH,
    PLURAL,
    PRESTOP_SLEEP_SECONDS,
    PROBE_PORT,
    REDIS_PORT,
    SERVER_PORT,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    AppendFsync,
    IntOrPercent,
    LogLevel,
    PVCRetention,
    Quantity,
    ResourceList,
    Resources,
    ServiceType,
    TaintEffect,
    TolerationOperator,
    _Model,
    quantity,
    quantity_value,
)
from tvtt_operator.models_rollout import (
    Rollout,
    RolloutAnalysis,
)
from tvtt_operator.models_status import (
    AnalysisPhase,
    Condition,
    ConditionStatus,
    ConditionType,
    RedisVolumeStatus,
    RolloutAnalysisStatus,
    State,
    TravellerVTTStatus,
)
from tvtt_operator.models_workload import (
    Disruption,
    Drain,
    Ingress,
    RedisSpec,
    ServerSettings,
    ServiceSpec,
    Toleration,
)

__all__ = [
    "API_VERSION",
    "BACKUP_CRON_PATTERN",
    "CRON_MESSAGE",
    "DEFAULT_IMAGE",
    "DEFAULT_REDIS_IMAGE",
    "DRAIN_MARGIN_SECONDS",
    "GROUP",
    "KIND",
    "MAX_NAME_LENGTH",
    "MAX_SCHEDULE_WINDOWS",
    "NAME_RULE",
    "NAME_RULE_MESSAGE",
    "PLURAL",
    "PRESTOP_SLEEP_SECONDS",
    "PROBE_PORT",
    "REDIS_PORT",
    "SERVER_PORT",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "AnalysisPhase",
    "AppendFsync",
    "Autoscaling",
    "BackupSpec",
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "Disruption",
    "Drain",
    "Ingress",
    "IntOrPercent",
    "LogLevel",
    "PVCRetention",
    "Quantity",
    "RedisSpec",
    "RedisVolumeStatus",
    "ResourceList",
    "Resources",
    "Rollout",
    "RolloutAnalysis",
    "RolloutAnalysisStatus",
    "ScheduleWindow",
    "ServerSettings",
    "ServiceSpec",
    "ServiceType",
    "State",
    "TaintEffect",
    "Toleration",
    "TolerationOperator",
    "TravellerVTT",
    "TravellerVTTSpec",
    "TravellerVTTStatus",
    "quantity",
    "quantity_value",
]


class TravellerVTTSpec(_Model):
    """Desired state of one Traveller VTT installation (game server, optional Redis and Ingress)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    # A transition rule (oldSelf): `kubectl scale tvtt` under an HPA is refused
                    # instead of silently doing nothing.
                    "rule": "!has(self.autoscaling) || !has(oldSelf.autoscaling) || "
                    "!has(oldSelf.replicas) || self.replicas == oldSelf.replicas",
                    "message": "replicas cannot change while autoscaling is set (the HPA owns the "
                    "count): change autoscaling.minReplicas/maxReplicas, or remove autoscaling",
                    "fieldPath": ".replicas",
                },
                {
                    "rule": "!(has(self.autoscaling) || (has(self.replicas) && self.replicas > 1))"
                    " || self.redis.enabled",
                    "message": "more than one replica or autoscaling requires redis.enabled=true "
                    "(battles would otherwise split across pods)",
                    "fieldPath": ".redis.enabled",
                },
            ]
        }
    )

    paused: bool = Field(
        default=False,
        description="Stop reconciling: the children are left exactly as they are (no applies, no "
        "drift correction, no deletes) and condition Paused is True until this is false again.",
    )
    image: str = Field(
        default=DEFAULT_IMAGE,
        min_length=1,
        max_length=512,
        description="Game server image, by tag or pinned by digest (repo@sha256:...).",
    )
    replicas: int = Field(
        default=1,
        ge=0,
        le=100,
        description="Game server pods (1 by default, so the scale subresource reads the real "
        "count); 0 stops serving. Ignored while autoscaling is set: the HPA owns the count.",
    )
    autoscaling: Autoscaling | None = None
    rollout: Rollout | None = None
    resources: Resources = Field(default_factory=Resources)
    server: ServerSettings = Field(default_factory=ServerSettings)
    service: ServiceSpec = Field(default_factory=ServiceSpec)
    redis: RedisSpec = Field(default_factory=RedisSpec)
    disruption: Disruption = Field(default_factory=Disruption)
    drain: Drain = Field(default_factory=Drain)
    ingress: Ingress | None = None
    backup: BackupSpec | None = Field(
        default=None,
        description="Scheduled backups of every battle (a CronJob and a volume); none when unset.",
    )
    pod_labels: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Extra labels on the game server pods."
    )
    pod_annotations: dict[str, str] = Field(
        default_factory=dict,
        max_length=64,
        description="Extra annotations on the game server pods (e.g. prometheus.io/scrape).",
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="core/v1 nodeSelector of the pods."
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, max_length=64, description="core/v1 tolerations of the pods."
    )
    affinity: dict[str, Any] | None = Field(
        default=None,
        description="core/v1 Affinity, passed to the pods unchanged.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )

    @model_validator(mode="after")
    def _cross_field(self) -> TravellerVTTSpec:
        if (self.autoscaling is not None or self.effective_replicas > 1) and not self.redis.enabled:
            raise ValueError(
                "more than one replica or autoscaling requires redis.enabled=true "
                "(battles would otherwise split across pods)"
            )
        return self

    @property
    def effective_replicas(self) -> int:
        """Replicas when not autoscaled (the field; it defaults to one)."""
        return self.replicas

    @property
    def effective_allowed_origins(self) -> list[str]:
        """Allowed origins: explicit ones win; otherwise the ingress host's origins.

        An Ingress without a TLS secret serves `http://<host>`, so that origin must be allowed
        (a browser's WebSocket from the page it was served would be refused); `https://<host>`
        stays allowed for TLS terminated in front of the Ingress.
        """
        if self.server.allowed_origins is not None:
            return list(self.server.allowed_origins)
        if self.ingress is not None:
            host = self.ingress.host
            if self.ingress.tls_secret_name is not None:
                return [f"https://{host}"]
            return [f"https://{host}", f"http://{host}"]
        return []


class TravellerVTT(_Model):
    """A whole TravellerVTT object as the operator reads it (metadata kept loosely typed)."""

    model_config = ConfigDict(extra="ignore")

    api_version: str = API_VERSION
    kind: str = KIND
    metadata: dict[str, Any]
    spec: TravellerVTTSpec = Field(default_factory=TravellerVTTSpec)
    status: TravellerVTTStatus = Field(default_factory=TravellerVTTStatus)

    @field_validator("metadata")
    @classmethod
    def _name(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        name = str(metadata.get("name", ""))
        if not _NAME.match(name) or len(name) > MAX_NAME_LENGTH:
            raise ValueError(NAME_RULE_MESSAGE)
        return metadata

    @property
    def name(self) -> str:
        """metadata.name."""
        return str(self.metadata["name"])

    @property
    def namespace(self) -> str:
        """metadata.namespace."""
        return str(self.metadata["namespace"])

    @property
    def generation(self) -> int:
        """metadata.generation (1 for objects that never carried one, e.g. in tests)."""
        return int(self.metadata.get("generation", 1))

    @property
    def uid(self) -> str:
        """metadata.uid."""
        return str(self.metadata.get("uid", ""))


NAME_RULE = (
    f"size(self.metadata.name) <= {MAX_NAME_LENGTH} && "
    "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
)
NAME_RULE_MESSAGE = (
    f"metadata.name must be a DNS-1035 label of at most {MAX_NAME_LENGTH} characters "
    "(children such as <name>-redis-config derive their names from it)"
)
