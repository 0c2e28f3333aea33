"""spec sections of the children the operator runs: server settings, Service, Redis, PDB, drain,
Ingress and pod tolerations."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator, model_validator

from tvtt_operator.models_base import (
    DEFAULT_REDIS_IMAGE,
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
    _check_int_or_percent,
    _check_quantity,
    _Model,
)


class ServerSettings(_Model):
    """Game server settings, passed as environment variables through a ConfigMap."""

    log_level: LogLevel = LogLevel.INFO
    max_connections: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="WebSocket connections one game server pod accepts (MAX_CONNECTIONS).",
    )
    allowed_origins: list[Annotated[str, Field(min_length=1, max_length=253)]] | None = Field(
        default=None,
        max_length=32,
        description="Origins allowed to open a WebSocket; defaults to https://<ingress.host>.",
    )
    test_fail_commands: bool = Field(
        default=False,
        description="TEST ONLY: the game server answers every command internal_error while "
        "its probes stay green (TEST_FAIL_COMMANDS), to exercise spec.rollout.analysis. Set "
        "in the pod template, so a rollback takes it back. Never in production.",
    )


class ServiceSpec(_Model):
    """The Service in front of the game server pods."""

    type: ServiceType = ServiceType.CLUSTER_IP
    port: int = Field(
        default=80, ge=1, le=65535, description="Port of the Service (to container port 3000)."
    )


class RedisSpec(_Model):
    """Redis event store: a one-pod StatefulSet with append-only persistence."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!oldSelf.enabled || !self.enabled || "
                    "quantity(string(self.storageSize)).compareTo("
                    "quantity(string(oldSelf.storageSize))) >= 0",
                    "message": "redis.storageSize can only grow while redis is enabled (the "
                    "volume is expanded; a volume cannot shrink)",
                    "fieldPath": ".storageSize",
                },
                {
                    "rule": "!oldSelf.enabled || !self.enabled || "
                    "(has(self.storageClassName) == has(oldSelf.storageClassName) && "
                    "(!has(self.storageClassName) || "
                    "self.storageClassName == oldSelf.storageClassName))",
                    "message": "redis.storageClassName is immutable while redis is enabled",
                    "fieldPath": ".storageClassName",
                },
            ]
        }
    )

    enabled: bool = Field(
        default=True,
        description="Keep battles in Redis (the default; required for more than one replica). "
        "false runs one pod that keeps battles in memory: an image change, a drain or any "
        "restart of that pod loses every battle in it.",
    )
    image: str = Field(
        default=DEFAULT_REDIS_IMAGE, min_length=1, max_length=512, description="The Redis image."
    )
    storage_size: Quantity = Field(
        default="1Gi",
        description="Size of the Redis volume. It may grow while Redis is enabled: the operator "
        "then expands the claim, where its StorageClass allows it (allowVolumeExpansion).",
    )
    storage_class_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="StorageClass of the Redis volume; the cluster default when unset.",
    )
    appendfsync: AppendFsync = AppendFsync.EVERYSEC
    pvc_retention: PVCRetention = PVCRetention.RETAIN
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="50m", memory="64Mi"),
            limits=ResourceList(memory="256Mi"),
        ),
        description="Requests and limits of the Redis container; Redis's maxmemory is set to "
        "three quarters of limits.memory (noeviction: a full Redis refuses writes, it never "
        "drops battle events).",
    )

    @field_validator("storage_size")
    @classmethod
    def _quantity(cls, value: int | str) -> int | str:
        return _check_quantity(value)


class Disruption(_Model):
    """PodDisruptionBudget: maxUnavailable or minAvailable, not both (default maxUnavailable 1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.maxUnavailable) && has(self.minAvailable))",
                    "message": "set disruption.maxUnavailable or disruption.minAvailable, not both",
                    "fieldPath": ".minAvailable",
                }
            ]
        }
    )

    max_unavailable: IntOrPercent | None = None
    min_available: IntOrPercent | None = None

    @field_validator("max_unavailable", "min_available")
    @classmethod
    def _int_or_percent(cls, value: int | str | None) -> int | str | None:
        return None if value is None else _check_int_or_percent(value)

    @model_validator(mode="after")
    def _one_of(self) -> Disruption:
        if self.max_unavailable is not None and self.min_available is not None:
            raise ValueError("set disruption.maxUnavailable or disruption.minAvailable, not both")
        return self


class Drain(_Model):
    """How long a terminating pod may take to drain its battles (SIGTERM → exit)."""

    termination_grace_period_seconds: int = Field(
        default=60,
        ge=15,
        le=3600,
        description="Pod grace period; the server drains battles for this minus 10 s.",
    )


class Ingress(_Model):
    """An Ingress with WebSocket-friendly timeouts; its host also sets the allowed origin."""

    class_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="IngressClass to use (ingressClassName); the cluster default when unset.",
    )
    host: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        description="Host name players use; https://<host> becomes the allowed origin (and "
        "http://<host> too when there is no tlsSecretName).",
    )
    tls_secret_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="Secret with the TLS certificate for the host; plain HTTP when unset. While "
        "it does not exist condition IngressReady is False (TLSSecretMissing).",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        max_length=64,
        description="Extra annotations on the Ingress (e.g. cert-manager.io/cluster-issuer); "
        "they win over the operator's WebSocket timeout annotations.",
    )


class Toleration(_Model):
    """core/v1 Toleration."""

    key: str | None = Field(default=None, description="Taint key; empty matches every key.")
    operator: TolerationOperator | None = None
    value: str | None = Field(default=None, description="Taint value (operator Equal).")
    effect: TaintEffect | None = None
    toleration_seconds: int | None = Field(
        default=None, description="How long a NoExecute taint is tolerated before eviction."
    )
