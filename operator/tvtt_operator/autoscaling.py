"""The autoscaling floor: the fewest game server pods the players need now, written as the HPA's
minReplicas.

Purely computational, no side effects (the clock and the polled figures are passed in). The HPA
keeps CPU (it needs only metrics-server); what no metrics API carries without an adapter — the
connections per pod, the game-night schedule, the pods that hold battles — the operator turns
into a floor. The HPA controller raises the Deployment to minReplicas even when it cannot read a
single metric (kubernetes pkg/controller/podautoscaler/horizontal.go, `reconcileAutoscaler`:
"Current number of replicas below Spec.MinReplicas" is decided before any metric is read), so
the floor works on a cluster without metrics-server too.

Scaling rules (the deployment strategy's): up when connections exceed `connectionsPerPod` on
average; down only when they are below `scaleDownConnectionsPerPod` — in between the floor holds
the pods there are, so the HPA's CPU side can scale down only when the players let it (the
strategy's "CPU < 30 % *and* connections < 100"). A lower floor takes effect only after it has
been wanted for the whole stabilisation window, and never below the pods that hold battles when
battles live in a pod's memory (no Redis).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# --- cron ----------------------------------------------------------------------------------------

# (name, lowest, highest) of the five fields of a crontab line; day of week 7 is Sunday like 0.
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
# The numbers each field accepts, as regular expressions: the CRD's CEL rule uses the same
# expression as the pydantic model, so `minute 61` is refused by the API server already.
_CRON_NUMBERS = (
    r"[0-5]?[0-9]",
    r"(1[0-9]|2[0-3]|0?[0-9])",
    r"(3[01]|[12][0-9]|0?[1-9])",
    r"(1[0-2]|0?[1-9])",
    r"[0-7]",
)


def _field_pattern(number: str) -> str:
    item = rf"(\*|{number}(-{number})?)(/[1-9][0-9]?)?"
    return rf"{item}(,{item})*"


CRON_PATTERN = "^" + " +".join(_field_pattern(n) for n in _CRON_NUMBERS) + "$"
_CRON = re.compile(CRON_PATTERN)


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed five-field crontab expression (minute hour day-of-month month day-of-week)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month was `*`
    any_weekday: bool  # day of week was `*`

    def matches(self, when: datetime) -> bool:
        """Whether `when` (its minute, read as wall-clock time) is a firing time."""
        return self.day_matches(when) and when.hour in self.hours and when.minute in self.minutes

    def day_matches(self, when: datetime) -> bool:
        """The day part alone. Like cron(8): when both the day of month and the day of week are
        restricted, either may match."""
        if when.month not in self.months:
            return False
        day_ok = when.day in self.days
        weekday_ok = (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if part == "*":
            first, last = low, high
        else:
            first_text, _, last_text = part.partition("-")
            first = int(first_text)
            last = int(last_text) if last_text else (high if step_text else first)
        if not low <= first <= high or not low <= last <= high:
            raise ValueError(f"{name} {item!r} is outside {low}-{high}")
        if first > last:
            raise ValueError(f"{name} range {item!r} runs backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_cron(expression: str) -> Cron:
    """Parse `0 19 * * 5` and friends (`*`, numbers, ranges, lists, `/steps`); ValueError with
    the field's name when it is not one."""
    if not _CRON.match(expression):
        raise ValueError(
            f"{expression!r} is not a five-field cron expression (minute hour day-of-month "
            "month day-of-week, e.g. '0 19 * * 5' for Fridays at 19:00)"
        )
    texts = expression.split()
    minutes, hours, days, months, weekdays = (
        _parse_field(text, *spec) for text, spec in zip(texts, CRON_FIELDS, strict=True)
    )
    return Cron(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(d % 7 for d in weekdays),
        any_day=texts[2] == "*",
        any_weekday=texts[4] == "*",
    )


# --- schedule windows ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A recurring time window: it opens when `start` fires and stays open `duration_minutes`."""

    name: str
    start: str
    duration_minutes: int
    min_replicas: int
    time_zone: str = "UTC"


def window_open(window: Window, now: datetime) -> bool:
    """Whether `window` is open at `now` (timezone-aware).

    Windows are wall-clock time in their own time zone, like cron: open from a firing of `start`
    for `duration_minutes` minutes of the local clock, the firing minute included and the
    closing minute excluded. So "19:00 for 240 minutes" is 19:00-23:00 local all year, and a
    start the clocks skip (02:30 on the night of the spring change) leaves open the part of the
    window that exists. Walks back from `now`, skipping whole days and hours that cannot match.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cron = parse_cron(window.start)
    local = now.astimezone(ZoneInfo(window.time_zone)).replace(tzinfo=None, second=0, microsecond=0)
    earliest = local - timedelta(minutes=window.duration_minutes)
    minute = timedelta(minutes=1)
    when = local
    while when > earliest:
        if not cron.day_matches(when):
            when = when.replace(hour=0, minute=0) - minute
        elif when.hour not in cron.hours:
            when = when.replace(minute=0) - minute
        elif when.minute in cron.minutes:
            return True
        else:
            when -= minute
    return False


def open_windows(windows: Iterable[Window], now: datetime) -> list[Window]:
    """The windows open at `now`, in the order given."""
    return [w for w in windows if window_open(w, now)]


# --- the floor -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """What the floor needs from `spec.autoscaling` (built by the models, tested without them)."""

    min_replicas: int = 2
    max_replicas: int = 10
    connections_per_pod: int = 500
    scale_down_connections_per_pod: int = 100
    stabilization_window_seconds: int = 300
    schedule: tuple[Window, ...] = ()


@dataclass(frozen=True, slots=True)
class PodLoad:
    """One game server pod's `/api/summary` figures."""

    connections: int
    battles: int


class FloorReason(StrEnum):
    """Which term decided the floor (the condition's reason)."""

    MIN_REPLICAS = "MinReplicas"
    SCHEDULE = "Schedule"
    CONNECTIONS = "Connections"
    HOLDING_FOR_PLAYERS = "HoldingForPlayers"
    ACTIVE_BATTLES = "ActiveBattles"
    STABILIZING = "ScaleDownStabilizing"
    MAX_REPLICAS = "MaxReplicas"


@dataclass(frozen=True, slots=True)
class Floor:
    """The floor now, why, and the wanted floors the stabilisation window remembers."""

    replicas: int
    reason: FloorReason
    message: str
    history: tuple[tuple[float, int], ...] = field(default=())


def connection_floor(
    connections: int, current_replicas: int, up_per_pod: int, down_per_pod: int
) -> tuple[int, bool]:
    """Pods the connections need, and whether that is the current count held.

    Above `up_per_pod` on average: enough pods to bring it down to `up_per_pod`. Below
    `down_per_pod`: no more than that (the connections allow a scale-down). In between: the pods
    there are (neither rule fires, so the players keep what they have).
    """
    if connections < 0 or current_replicas < 0:
        raise ValueError("connections and replicas cannot be negative")
    if not 0 < down_per_pod < up_per_pod:
        raise ValueError(
            "scale-down connections per pod must be above 0 and below connections per pod"
        )
    needed = math.ceil(connections / up_per_pod)
    if current_replicas == 0 or connections >= down_per_pod * current_replicas:
        if needed > current_replicas or current_replicas == 0:
            return needed, False
        return current_replicas, needed < current_replicas
    return needed, False


def stabilize(
    history: Sequence[tuple[float, int]], now: float, wanted: int, window_seconds: int
) -> tuple[int, tuple[tuple[float, int], ...]]:
    """The highest floor wanted within the window (a rise is immediate, a fall waits), and the
    history to keep: only entries still inside the window, plus this one."""
    kept = tuple((t, r) for t, r in history if now - t < window_seconds and t <= now)
    kept = (*kept, (now, wanted))
    return max(r for _, r in kept), kept


def plan_floor(
    policy: Policy,
    pods: Mapping[str, PodLoad] | None,
    *,
    current_replicas: int,
    now: datetime,
    history: Sequence[tuple[float, int]] = (),
    battles_pinned: bool = False,
) -> Floor:
    """The HPA's minReplicas for now. Purely computational, no side effects.

    `pods`: the last poll of the pods that answered (None: no figures yet, the connection term is
    left out); `current_replicas`: the Deployment's replicas (the HPA's last choice);
    `battles_pinned`: battles live in each pod's memory (no Redis), so a pod holding one must not
    be removed. The result is clamped to [minReplicas, maxReplicas].
    """
    terms: list[tuple[int, FloorReason, str]] = [
        (policy.min_replicas, FloorReason.MIN_REPLICAS, f"minReplicas {policy.min_replicas}")
    ]
    for window in open_windows(policy.schedule, now):
        terms.append(
            (
                window.min_replicas,
                FloorReason.SCHEDULE,
                f"schedule window {window.name!r} open (minReplicas {window.min_replicas})",
            )
        )
    if pods is not None:
        connections = sum(p.connections for p in pods.values())
        wanted, held = connection_floor(
            connections,
            current_replicas,
            policy.connections_per_pod,
            policy.scale_down_connections_per_pod,
        )
        per_pod = connections / current_replicas if current_replicas else float(connections)
        if held:
            text = (
                f"{connections} connections on {current_replicas} pods ({per_pod:.0f} per pod, "
                f"not below {policy.scale_down_connections_per_pod}): holding {wanted} pods"
            )
            terms.append((wanted, FloorReason.HOLDING_FOR_PLAYERS, text))
        else:
            text = (
                f"{connections} connections need {wanted} pods at "
                f"{policy.connections_per_pod} per pod"
            )
            terms.append((wanted, FloorReason.CONNECTIONS, text))
        if battles_pinned:
            holding = sum(1 for p in pods.values() if p.battles > 0)
            terms.append(
                (holding, FloorReason.ACTIVE_BATTLES, f"{holding} pods hold battles in memory")
            )
    wanted, reason, message = max(terms, key=lambda t: t[0])
    wanted = min(wanted, policy.max_replicas)
    clock = now.timestamp()
    replicas, kept = stabilize(history, clock, wanted, policy.stabilization_window_seconds)
    replicas = min(max(replicas, policy.min_replicas), policy.max_replicas)
    if replicas > wanted:
        reason = FloorReason.STABILIZING
        message = (
            f"{message}; keeping {replicas} until the lower floor has been wanted for "
            f"{policy.stabilization_window_seconds} s"
        )
    elif replicas == policy.max_replicas and any(t[0] > policy.max_replicas for t in terms):
        reason = FloorReason.MAX_REPLICAS
        message = f"{message}; capped at maxReplicas {policy.max_replicas}"
    return Floor(replicas=replicas, reason=reason, message=message, history=kept)


def pod_load(reply: Mapping[str, object]) -> PodLoad | None:
    """A pod's load from its `/api/summary` reply; None when the figures are not counts (an older
    server without `connections` counts its players instead)."""
    connections = _count(reply.get("connections", reply.get("players")))
    battles = _count(reply.get("battles", 0))
    if connections is None or battles is None:
        return None
    return PodLoad(connections=connections, battles=battles)


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value
