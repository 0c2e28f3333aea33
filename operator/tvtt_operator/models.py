"""The TravellerVTT custom resource as pydantic models: the single source of truth for the CRD.

`crdgen` turns these models into the OpenAPI schema the API server enforces; the operator parses
every object it reconciles with the same models. Each cross-field check exists twice on purpose:
as a pydantic validator (so the operator and unit tests reject bad specs with the same wording) and
as a CEL rule in `x-kubernetes-validations` (so the API server rejects them before they are stored).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator
from pydantic.alias_generators import to_camel

from tvtt_operator.autoscaling import CRON_PATTERN, Policy, Window, parse_cron

GROUP = "traveller-vtt.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "TravellerVTT"
PLURAL = "travellervtts"
SINGULAR = "travellervtt"
SHORT_NAMES = ("tvtt",)

DEFAULT_IMAGE = "ghcr.io/traveller-vtt/gameserver:0.1.0"
# Pinned to the release the Redis tests run against (Debian's redis-server), never a moving tag.
DEFAULT_REDIS_IMAGE = "redis:7.0.15"
SERVER_PORT = 3000
PROBE_PORT = 3001
"""The game server's `PROBE_PORT`: health and readiness answered from a thread, so a pod busy with
commands still answers its probes in time."""
REDIS_PORT = 6379
PRESTOP_SLEEP_SECONDS = 5
DRAIN_MARGIN_SECONDS = 5

_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[numkMGTPE]i?|Ki|m)?$")
_PERCENT_OR_INT = re.compile(r"^[0-9]+%$")
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME_LENGTH = 40


_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY_PARTS = re.compile(
    r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$"
)


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity as a number (`0.5` and `500m` are equal), or None if it is not one.

    Purely computational, no side effects.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    match = _QUANTITY_PARTS.match(str(value))
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation:
        return None


def _check_quantity(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a quantity cannot be negative")
        return value
    if not _QUANTITY.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 1Gi)")
    return value


_SUFFIX_FACTORS = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}
_QUANTITY_PARTS = re.compile(r"^[+]?([0-9.]+)([eE][-+]?[0-9]+|[a-zA-Z]*)$")


def quantity_value(value: int | str) -> Decimal:
    """The number a valid Kubernetes quantity stands for (`128Mi` -> 134217728), to compare two."""
    if isinstance(value, int):
        return Decimal(value)
    match = _QUANTITY_PARTS.match(_check_quantity(value))  # type: ignore[arg-type]
    assert match is not None
    number, suffix = match.groups()
    if suffix[:1] in ("e", "E"):
        return Decimal(number + suffix)
    return Decimal(number) * _SUFFIX_FACTORS[suffix]


def _check_int_or_percent(value: int | str) -> int | str:
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must be a non-negative integer or a percentage")
        return value
    if not _PERCENT_OR_INT.match(value):
        raise ValueError(f"{value!r} is neither an integer nor a percentage like 25%")
    return value


class _Model(BaseModel):
    """camelCase on the wire (Kubernetes style), snake_case in Python, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class LogLevel(StrEnum):
    """Log levels the game server understands (`LOG_LEVEL`)."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ServiceType(StrEnum):
    """Service types that make sense for a WebSocket game server."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


class AppendFsync(StrEnum):
    """Redis `appendfsync` policies (redis.conf): how often the AOF is flushed to disk."""

    ALWAYS = "always"
    EVERYSEC = "everysec"
    NO = "no"


class PVCRetention(StrEnum):
    """StatefulSet PVC retention policy: keep battle data (Retain) or drop it with the resource."""

    RETAIN = "Retain"
    DELETE = "Delete"


class TolerationOperator(StrEnum):
    """core/v1 Toleration operators."""

    EXISTS = "Exists"
    EQUAL = "Equal"


class TaintEffect(StrEnum):
    """core/v1 taint effects."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


Quantity = Annotated[
    int | str,
    Field(
        description="A Kubernetes quantity, e.g. 500m or 1Gi.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "type(self) == int ? self >= 0 : isQuantity(self)",
                    "message": "must be a Kubernetes quantity such as 500m, 1, 128Mi or 1Gi",
                }
            ]
        },
    ),
]
IntOrPercent = Annotated[
    int | str,
    Field(
        description="An integer or a percentage, e.g. 25%.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",
                    "message": "must be a non-negative integer or a percentage such as 25%",
                }
            ]
        },
    ),
]


class ResourceList(_Model):
    """CPU and memory quantities (core/v1 ResourceList, restricted to what the server uses)."""

    cpu: Quantity | None = None
    memory: Quantity | None = None

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity(cls, value: int | str | None) -> int | str | None:
        return None if value is None else _check_quantity(value)


def _request_within_limit(resource: str) -> dict[str, JsonValue]:
    """CEL: a request above its limit would make every pod invalid (the Deployment is refused)."""
    req, lim = f"self.requests.{resource}", f"self.limits.{resource}"
    return {
        "rule": f"!has({req}) || !has({lim}) || "
        f"quantity(string({req})).compareTo(quantity(string({lim}))) <= 0",
        "message": f"resources.requests.{resource} must not exceed resources.limits.{resource} "
        "(raise the limit too; the default limit is 256Mi of memory)",
        "fieldPath": f".requests.{resource}",
    }


class Resources(_Model):
    """Requests and limits of a container."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _request_within_limit("cpu"),
                _request_within_limit("memory"),
            ]
        }
    )

    requests: ResourceList = Field(default_factory=lambda: ResourceList(cpu="100m", memory="128Mi"))
    limits: ResourceList = Field(default_factory=lambda: ResourceList(memory="256Mi"))

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for resource in ("cpu", "memory"):
            request, limit = getattr(self.requests, resource), getattr(self.limits, resource)
            if (
                request is not None
                and limit is not None
                and quantity_value(request) > quantity_value(limit)
            ):
                raise ValueError(str(_request_within_limit(resource)["message"]))
        return self


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


_CRON_MACROS = "yearly|annually|monthly|weekly|daily|midnight|hourly"
_CRON_FIELD = r"[0-9A-Za-z*?/,-]+"
BACKUP_CRON_PATTERN = rf"^(@({_CRON_MACROS})|{_CRON_FIELD}( +{_CRON_FIELD}){{4}})$"
"""A CronJob schedule's shape (the CRD's CEL rule); `_check_cron` also checks each field's range."""
CRON_MESSAGE = (
    "backup.schedule must be a cron schedule: five fields (minute hour day-of-month month "
    "day-of-week, e.g. '0 3 * * *') or one of @hourly, @daily, @weekly, @monthly, @yearly"
)
_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12),
                ("day-of-week", 0, 7))  # fmt: skip
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {m: i + 1 for i, m in enumerate(_MONTHS)},
    {d: i for i, d in enumerate(_DAYS)},
)


def _cron_value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    value = names.get(text.lower()) if not text.isdigit() else int(text)
    return value if value is not None and low <= value <= high else None


def _check_cron(value: str) -> str:
    """Refuse what the CronJob controller would refuse later, naming the field that is wrong."""
    if not re.match(BACKUP_CRON_PATTERN, value):
        raise ValueError(CRON_MESSAGE)
    if value.startswith("@"):
        return value
    for text, (field, low, high), names in zip(
        value.split(), _CRON_RANGES, _CRON_NAMES, strict=True
    ):
        for part in text.split(","):
            span, _, step = part.partition("/")
            if step and not (step.isdigit() and int(step) >= 1):
                raise ValueError(f"backup.schedule: the {field} step {step!r} is not a number >= 1")
            if span in ("*", "?") and (span == "*" or field in ("day-of-month", "day-of-week")):
                continue
            bounds = span.split("-")
            if len(bounds) > 2 or any(_cron_value(b, low, high, names) is None for b in bounds):
                raise ValueError(
                    f"backup.schedule: the {field} field {text!r} is outside {low}-{high}"
                )
    return value


class BackupSpec(_Model):
    """Scheduled backups: a CronJob exports every battle (the GM export's format, which the
    import API takes) to a volume and keeps the newest `retention` backups."""

    schedule: str = Field(
        min_length=1,
        max_length=100,
        description="When backups run, as a CronJob schedule in the controller's time zone "
        "(UTC unless the cluster says otherwise), e.g. '0 3 * * *' or @hourly.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": f"self.matches('{BACKUP_CRON_PATTERN}')", "message": CRON_MESSAGE}
            ]
        },
    )
    retention: int = Field(
        default=7,
        ge=1,
        le=1000,
        description="Complete backups with battles kept on the volume; each run deletes older "
        "ones (a run that finds no battle, e.g. after the store lost its data, deletes none).",
    )
    suspend: bool = Field(
        default=False,
        description="Pause the schedule (the CronJob's suspend), e.g. while restoring.",
    )
    bgsave: bool = Field(
        default=True,
        description="Also ask Redis for an RDB snapshot (BGSAVE) on each run, next to its AOF "
        "(only with redis.enabled).",
    )
    storage_size: Quantity = Field(
        default="1Gi",
        description="Size of the backup volume (PersistentVolumeClaim <name>-backups, created "
        "once; it is kept when backups are turned off or the resource is deleted).",
    )
    storage_class_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="StorageClass of the backup volume; the cluster default when unset.",
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return _check_cron(value)

    @field_validator("storage_size")
    @classmethod
    def _quantity(cls, value: int | str) -> int | str:
        return _check_quantity(value)


class Toleration(_Model):
    """core/v1 Toleration."""

    key: str | None = Field(default=None, description="Taint key; empty matches every key.")
    operator: TolerationOperator | None = None
    value: str | None = Field(default=None, description="Taint value (operator Equal).")
    effect: TaintEffect | None = None
    toleration_seconds: int | None = Field(
        default=None, description="How long a NoExecute taint is tolerated before eviction."
    )


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
