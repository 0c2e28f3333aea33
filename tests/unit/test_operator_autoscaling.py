"""The autoscaling floor, purely: cron windows (edges, midnight, week wrap, time zones, daylight
saving), connections → pods with the strategy's hysteresis, the stabilisation window, battles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tvtt_operator.autoscaling import (
    Floor,
    FloorReason,
    PodLoad,
    Policy,
    Window,
    connection_floor,
    open_windows,
    parse_cron,
    plan_floor,
    pod_load,
    stabilize,
    window_open,
)

FRIDAY = datetime(2026, 12, 4, tzinfo=UTC)  # a Friday
GAME_NIGHT = Window("game-night", "0 19 * * 5", 240, 4)


def at(day: datetime, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute, second=second)


# --- cron ---------------------------------------------------------------------------------------


def test_cron_fields_ranges_lists_and_steps() -> None:
    cron = parse_cron("*/15 9-17 * * 1-5")
    assert cron.minutes == frozenset({0, 15, 30, 45})
    assert cron.hours == frozenset(range(9, 18))
    assert cron.weekdays == frozenset({1, 2, 3, 4, 5})
    assert parse_cron("5,10-12 0 1 1 *").minutes == frozenset({5, 10, 11, 12})
    assert parse_cron("10-40/10 0 1 1 *").minutes == frozenset({10, 20, 30, 40})
    assert parse_cron("5/20 0 1 1 *").minutes == frozenset({5, 25, 45})


def test_day_of_week_seven_is_sunday_like_zero() -> None:
    sunday = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert parse_cron("0 12 * * 7").matches(sunday)
    assert parse_cron("0 12 * * 0").matches(sunday)
    assert not parse_cron("0 12 * * 6").matches(sunday)


def test_day_of_month_or_day_of_week_when_both_are_restricted_like_cron() -> None:
    cron = parse_cron("0 12 13 * 5")  # the 13th, or any Friday
    assert cron.matches(datetime(2026, 12, 13, 12, tzinfo=UTC))  # a Sunday the 13th
    assert cron.matches(at(FRIDAY, 12))  # Friday the 4th
    assert not cron.matches(datetime(2026, 12, 5, 12, tzinfo=UTC))  # Saturday the 5th
    only_day = parse_cron("0 12 13 * *")  # `*` day of week: the day of month alone decides
    assert not only_day.matches(at(FRIDAY, 12))


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        pytest.param("0 19 * *", "five-field", id="four-fields"),
        pytest.param("0 19 * * 5 2026", "five-field", id="six-fields"),
        pytest.param("60 19 * * 5", "five-field", id="minute-60"),
        pytest.param("0 24 * * 5", "five-field", id="hour-24"),
        pytest.param("0 19 0 * *", "five-field", id="day-0"),
        pytest.param("0 19 * 13 *", "five-field", id="month-13"),
        pytest.param("0 19 * * 8", "five-field", id="weekday-8"),
        pytest.param("0 19 * * fri", "five-field", id="names"),
        pytest.param("0 19 * * 5-1", "runs backwards", id="backwards-range"),
        pytest.param("*/0 19 * * 5", "five-field", id="step-0"),
        pytest.param(" 0 19 * * 5", "five-field", id="leading-space"),
        pytest.param("", "five-field", id="empty"),
    ],
)
def test_bad_cron_is_refused_with_a_reason(expression: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_cron(expression)


# --- windows ------------------------------------------------------------------------------------


def test_a_window_is_open_from_its_start_minute_to_just_before_its_end() -> None:
    assert not window_open(GAME_NIGHT, at(FRIDAY, 18, 59, 59))
    assert window_open(GAME_NIGHT, at(FRIDAY, 19))
    assert window_open(GAME_NIGHT, at(FRIDAY, 22, 59, 59))
    assert not window_open(GAME_NIGHT, at(FRIDAY, 23))
    assert not window_open(GAME_NIGHT, at(FRIDAY + timedelta(days=1), 19, 30))  # Saturday


def test_a_window_runs_past_midnight_and_past_the_end_of_the_week() -> None:
    late = Window("late", "0 22 * * 6", 240, 3)  # Saturday 22:00 to Sunday 02:00
    saturday = FRIDAY + timedelta(days=1)
    sunday = FRIDAY + timedelta(days=2)
    assert window_open(late, at(saturday, 23, 30))
    assert window_open(late, at(sunday, 1, 59))
    assert not window_open(late, at(sunday, 2))
    weekend = Window("weekend", "0 18 * * 0", 600, 3)  # Sunday 18:00 to Monday 04:00
    monday = FRIDAY + timedelta(days=3)
    assert window_open(weekend, at(monday, 3, 59))
    assert not window_open(weekend, at(monday, 4))


def test_a_week_long_window_is_always_open_and_a_one_minute_one_only_in_its_minute() -> None:
    always = Window("always", "0 0 * * 1", 10080, 3)
    for hours in range(0, 7 * 24, 7):
        assert window_open(always, FRIDAY + timedelta(hours=hours))
    blink = Window("blink", "30 12 * * *", 1, 3)
    assert window_open(blink, at(FRIDAY, 12, 30, 59))
    assert not window_open(blink, at(FRIDAY, 12, 31))
    assert not window_open(blink, at(FRIDAY, 12, 29, 59))


def test_windows_follow_their_time_zone_and_its_daylight_saving() -> None:
    berlin = Window("berlin", "0 19 * * *", 60, 3, time_zone="Europe/Berlin")
    winter = datetime(2026, 12, 4, tzinfo=UTC)
    summer = datetime(2026, 7, 3, tzinfo=UTC)
    assert window_open(berlin, at(winter, 18))  # 19:00 CET = 18:00 UTC
    assert not window_open(berlin, at(winter, 17, 30))
    assert window_open(berlin, at(summer, 17))  # 19:00 CEST = 17:00 UTC
    assert not window_open(berlin, at(summer, 18))
    # The same instant, given in another zone, is the same answer.
    assert window_open(berlin, at(winter, 18).astimezone(ZoneInfo("America/New_York")))


def test_windows_are_wall_clock_time_across_a_daylight_saving_change() -> None:
    # Europe/Berlin skips 02:00-03:00 on 2026-03-29 (01:00 UTC). A window from 02:30 for an
    # hour is 02:30-03:30 on the local clock: the part that exists, 03:00-03:30 CEST, is open.
    skipped = Window("skipped", "30 2 * * *", 60, 3, time_zone="Europe/Berlin")
    spring = datetime(2026, 3, 29, tzinfo=UTC)
    assert not window_open(skipped, at(spring, 0, 59))  # 01:59 CET
    assert window_open(skipped, at(spring, 1))  # 03:00 CEST
    assert window_open(skipped, at(spring, 1, 29))
    assert not window_open(skipped, at(spring, 1, 30))  # 03:30 CEST
    # A 19:00 window lasts 19:00-23:00 local on the day the clocks go back (25-hour day).
    evening = Window("evening", "0 19 * * *", 240, 3, time_zone="Europe/Berlin")
    autumn = datetime(2026, 10, 25, tzinfo=UTC)
    assert window_open(evening, at(autumn, 21, 59))  # 22:59 CET
    assert not window_open(evening, at(autumn, 22))  # 23:00 CET


def test_a_window_on_one_day_of_the_year_is_found_a_week_later_only_if_it_lasts() -> None:
    new_year = Window("new-year", "0 20 31 12 *", 10080, 6)
    assert window_open(new_year, datetime(2027, 1, 7, 19, 59, tzinfo=UTC))
    assert not window_open(new_year, datetime(2027, 1, 7, 20, tzinfo=UTC))
    assert not window_open(new_year, datetime(2026, 12, 31, 19, 59, tzinfo=UTC))


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        window_open(GAME_NIGHT, datetime(2026, 12, 4, 19))


def test_open_windows_keeps_the_given_order() -> None:
    a = Window("a", "0 * * * *", 60, 3)
    b = Window("b", "0 19 * * 5", 60, 5)
    c = Window("c", "0 3 * * *", 60, 4)
    assert open_windows([b, c, a], at(FRIDAY, 19, 10)) == [b, a]


# --- connections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connections", "replicas", "floor", "held"),
    [
        pytest.param(1800, 2, 4, False, id="surge-scales-up-to-500-per-pod"),
        pytest.param(1001, 2, 3, False, id="just-over-500-per-pod"),
        pytest.param(1000, 2, 2, False, id="exactly-500-per-pod-is-not-over"),
        pytest.param(900, 4, 4, True, id="225-per-pod-holds"),
        pytest.param(400, 4, 4, True, id="exactly-100-per-pod-holds"),
        pytest.param(399, 4, 1, False, id="below-100-per-pod-may-scale-down"),
        pytest.param(0, 4, 0, False, id="nobody"),
        pytest.param(700, 0, 2, False, id="no-pods-yet"),
    ],
)
def test_connections_to_pods_with_the_strategy_hysteresis(
    connections: int, replicas: int, floor: int, held: bool
) -> None:
    assert connection_floor(connections, replicas, 500, 100) == (floor, held)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param((-1, 2, 500, 100), "negative", id="negative-connections"),
        pytest.param((1, -2, 500, 100), "negative", id="negative-replicas"),
        pytest.param((1, 2, 100, 100), "below", id="down-not-below-up"),
        pytest.param((1, 2, 500, 0), "below", id="down-zero"),
    ],
)
def test_connection_floor_refuses_nonsense(args: tuple[int, int, int, int], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        connection_floor(*args)


@pytest.mark.parametrize(
    ("reply", "load"),
    [
        pytest.param({"players": 3, "connections": 5, "battles": 1}, PodLoad(5, 1), id="full"),
        pytest.param({"players": 3, "battles": 2}, PodLoad(3, 2), id="older-server"),
        pytest.param({"connections": "5", "battles": 1}, None, id="string"),
        pytest.param({"connections": True, "battles": 1}, None, id="bool"),
        pytest.param({"connections": -1, "battles": 1}, None, id="negative"),
        pytest.param({"connections": 5, "battles": None}, None, id="battles-null"),
        pytest.param({}, None, id="empty"),
    ],
)
def test_pod_load_reads_counts_only(reply: dict[str, object], load: PodLoad | None) -> None:
    assert pod_load(reply) == load


# --- the floor ----------------------------------------------------------------------------------

POLICY = Policy(schedule=(GAME_NIGHT,))
QUIET = at(FRIDAY, 12)


def loads(*connections: int, battles: int = 0) -> dict[str, PodLoad]:
    return {f"pod-{i}": PodLoad(c, battles) for i, c in enumerate(connections)}


def test_quiet_times_keep_min_replicas() -> None:
    floor = plan_floor(POLICY, loads(10, 20), current_replicas=2, now=QUIET)
    assert (floor.replicas, floor.reason) == (2, FloorReason.MIN_REPLICAS)


def test_game_night_raises_the_floor_and_says_which_window() -> None:
    floor = plan_floor(POLICY, None, current_replicas=2, now=at(FRIDAY, 19, 5))
    assert (floor.replicas, floor.reason) == (4, FloorReason.SCHEDULE)
    assert "game-night" in floor.message


def test_a_connection_surge_raises_the_floor_and_max_replicas_caps_it() -> None:
    floor = plan_floor(POLICY, loads(900, 900), current_replicas=2, now=QUIET)
    assert (floor.replicas, floor.reason) == (4, FloorReason.CONNECTIONS)
    assert "1800 connections" in floor.message
    flood = plan_floor(POLICY, loads(4000, 4000), current_replicas=2, now=QUIET)
    assert (flood.replicas, flood.reason) == (10, FloorReason.MAX_REPLICAS)


def test_between_the_thresholds_the_pods_there_are_are_held() -> None:
    floor = plan_floor(POLICY, loads(150, 150, 150, 150, 150), current_replicas=5, now=QUIET)
    assert (floor.replicas, floor.reason) == (5, FloorReason.HOLDING_FOR_PLAYERS)


def test_unknown_load_leaves_the_connection_term_out() -> None:
    # No pod answered yet: min replicas (and the schedule) only, never a guess.
    assert plan_floor(POLICY, None, current_replicas=7, now=QUIET).replicas == 2


def test_pods_holding_battles_in_memory_are_never_scaled_away() -> None:
    pods = {"a": PodLoad(3, 1), "b": PodLoad(2, 2), "c": PodLoad(1, 1), "d": PodLoad(0, 0)}
    pinned = plan_floor(POLICY, pods, current_replicas=4, now=QUIET, battles_pinned=True)
    assert (pinned.replicas, pinned.reason) == (3, FloorReason.ACTIVE_BATTLES)
    # With Redis any pod can serve any battle: the players reconnect elsewhere and resume.
    shared = plan_floor(POLICY, pods, current_replicas=4, now=QUIET, battles_pinned=False)
    assert shared.replicas == 2


def test_a_rise_is_immediate_a_fall_waits_for_the_whole_window() -> None:
    start = QUIET
    up = plan_floor(POLICY, loads(900, 900), current_replicas=2, now=start)
    assert up.replicas == 4
    history = up.history
    for seconds in (30, 150, 299):
        later = start + timedelta(seconds=seconds)
        down = plan_floor(
            POLICY, loads(10, 10, 10, 10), current_replicas=4, now=later, history=history
        )
        assert (down.replicas, down.reason) == (4, FloorReason.STABILIZING), seconds
        history = down.history
    done = plan_floor(
        POLICY,
        loads(10, 10, 10, 10),
        current_replicas=4,
        now=start + timedelta(seconds=300),
        history=history,
    )
    assert (done.replicas, done.reason) == (2, FloorReason.MIN_REPLICAS)


def test_a_window_closing_also_waits_for_the_stabilisation_window() -> None:
    during = plan_floor(POLICY, None, current_replicas=4, now=at(FRIDAY, 22, 59))
    after = plan_floor(POLICY, None, current_replicas=4, now=at(FRIDAY, 23), history=during.history)
    assert (after.replicas, after.reason) == (4, FloorReason.STABILIZING)
    later = plan_floor(
        POLICY, None, current_replicas=4, now=at(FRIDAY, 23, 5), history=after.history
    )
    assert later.replicas == 2


def test_no_stabilisation_window_means_an_immediate_fall() -> None:
    policy = Policy(stabilization_window_seconds=0)
    up = plan_floor(policy, loads(900, 900), current_replicas=2, now=QUIET)
    down = plan_floor(policy, loads(1, 1), current_replicas=4, now=QUIET, history=up.history)
    assert (up.replicas, down.replicas) == (4, 2)


def test_stabilize_keeps_only_the_window() -> None:
    history = ((0.0, 9), (100.0, 5), (250.0, 3))
    assert stabilize(history, 300.0, 2, 300) == (5, ((100.0, 5), (250.0, 3), (300.0, 2)))
    # A reading from the future (the clock stepped back) is dropped, not held forever.
    assert stabilize(((900.0, 9),), 300.0, 2, 300) == (2, ((300.0, 2),))


def test_the_floor_stays_within_the_bounds_whatever_the_history_says() -> None:
    floor = plan_floor(
        POLICY, None, current_replicas=2, now=QUIET, history=((QUIET.timestamp(), 50),)
    )
    assert floor.replicas == POLICY.max_replicas
    assert isinstance(floor, Floor)
