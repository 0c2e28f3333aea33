"""The TravellerVTT resource's shared vocabulary: identity constants, quantities, enums and the
camelCase base model every spec and status section builds on (see `models`)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator
from pydantic.alias_generators import to_camel

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
