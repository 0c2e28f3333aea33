"""spec.backup: the backup CronJob's schedule (checked field by field), retention and volume."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from tvtt_operator.models_base import Quantity, _check_quantity, _Model

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
