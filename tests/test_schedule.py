"""Cron expressions and time zones: validation and the wall-clock DST rule."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.schedule import next_cron_after, validate_cron, validate_timezone

UTC = timezone.utc
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("expr", ["*/5 * * * *", "0 9 * * 1-5", "30 2 1 * *", "@daily", "@hourly", "0 0 29 2 *"])
def test_valid_cron_expressions_are_accepted(expr: str) -> None:
    validate_cron(expr)


@pytest.mark.parametrize(
    "expr, message",
    [
        ("", "empty"),
        ("* * * *", "has 4 fields"),
        ("0 * * * * *", "has 6 fields"),
        ("61 * * * *", "not valid"),
        ("every minute", "has 2 fields"),
        ("@sometimes", "not one of"),
        ("0 0 30 2 *", "never fires"),
    ],
)
def test_invalid_cron_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_cron(expr)


def test_unknown_time_zones_are_refused_by_name() -> None:
    validate_timezone("Europe/Berlin")
    with pytest.raises(ValueError, match="'Mars/Base' is not a known IANA time zone"):
        validate_timezone("Mars/Base")


def test_next_slot_is_strictly_after_and_in_utc() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    slot = next_cron_after("0 * * * *", "UTC", at)
    assert slot == datetime(2026, 1, 1, 13, 0, tzinfo=UTC) and slot.tzinfo is UTC


def test_a_year_of_half_hours_in_new_york_runs_each_wall_clock_slot_once() -> None:
    at = datetime(2026, 1, 1, tzinfo=NY).astimezone(UTC)
    end = datetime(2027, 1, 1, tzinfo=NY).astimezone(UTC)
    slots = []
    while at < end:
        at = next_cron_after("*/30 * * * *", "America/New_York", at)
        slots.append(at)
    assert all(b > a for a, b in zip(slots, slots[1:]))
    walls = [s.astimezone(NY).replace(tzinfo=None) for s in slots]
    assert len(walls) == len(set(walls))  # no wall-clock slot twice (the fold's second pass adds none)
    # 365 days x 48 slots, less the spring gap's two slots (02:00 and 02:30 collapse into 03:00,
    # which was a slot anyway) and no extra runs in the fall-back fold.
    assert len(slots) == 365 * 48 - 2


def test_the_gap_transition_is_found_without_assuming_one_hour() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 -> 02:30.
    at = datetime(2026, 10, 4, 1, 50, tzinfo=ZoneInfo("Australia/Lord_Howe"))
    slot = next_cron_after("10 2 * * *", "Australia/Lord_Howe", at)
    assert slot.astimezone(ZoneInfo("Australia/Lord_Howe")).strftime("%H:%M") == "02:30"
    assert slot - at.astimezone(UTC) == timedelta(minutes=10)
