"""Cron expressions and time zones: validation, and the wall-clock DST rule of next_cron_after."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from cronicorn.core.schedule import next_cron_after, validate_cron, validate_timezone

UTC = UTC
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
HAVANA = ZoneInfo("America/Havana")
APIA = ZoneInfo("Pacific/Apia")


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, *, fold: int = 0) -> datetime:
    """A wall time in `tz` as UTC (fold picks the occurrence of an ambiguous time)."""
    # As UTC because PEP 495 makes an ambiguous local time compare unequal across zones.
    return datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold).astimezone(UTC)


@pytest.mark.parametrize("expr", [
    pytest.param("*/5 * * * *", id="step"),
    pytest.param("0 9 * * 1-5", id="weekday-range"),
    pytest.param("30 2 1 * *", id="monthly"),
    pytest.param("0,15,30,45 8-18 * * *", id="lists-and-ranges"),
    pytest.param("0 0 29 2 *", id="leap-day-fires-every-four-years"),
    pytest.param("0 0 * * 7", id="sunday-as-7"),
    pytest.param("0 0 1 jan sun", id="names"),
    pytest.param("  0   9 * *  * ", id="extra-whitespace"),
    pytest.param("@hourly", id="hourly"),
    pytest.param("@daily", id="daily"),
    pytest.param("@weekly", id="weekly"),
    pytest.param("@monthly", id="monthly-macro"),
    pytest.param("@yearly", id="yearly"),
    pytest.param("@annually", id="annually"),
    pytest.param("@midnight", id="midnight"),
    pytest.param("@DAILY", id="macro-in-capitals"),
])
def test_it_accepts_five_field_cron_and_the_standard_macros(expr: str) -> None:
    validate_cron(expr)


@pytest.mark.parametrize("expr, message", [
    pytest.param("", "cron expression is empty", id="empty"),
    pytest.param("   ", "cron expression is empty", id="blank"),
    pytest.param("* * * *", "has 4 fields; expected 5", id="four-fields"),
    pytest.param("every minute", "has 2 fields; expected 5", id="words"),
    pytest.param("0 * * * * *", "has 6 fields; expected 5 .*seconds and year fields are not supported", id="six-fields-seconds"),
    pytest.param("0 0 12 1 1 * 2030", "has 7 fields; expected 5 .*seconds and year fields are not supported", id="seven-fields-year"),
    pytest.param("61 * * * *", "'61 \\* \\* \\* \\*' is invalid: .*out of range", id="minute-out-of-range"),
    pytest.param("0 24 * * *", "is invalid: .*out of range", id="hour-out-of-range"),
    pytest.param("0 0 * 13 *", "is invalid: .*out of range", id="month-out-of-range"),
    pytest.param("0 0 * * 8", "is invalid: .*out of range", id="weekday-out-of-range"),
    pytest.param("a b c d e", "is invalid", id="garbage"),
    pytest.param("-1 * * * *", "is invalid: .*negative", id="negative"),
    pytest.param("H * * * *", "is invalid: .*hash", id="jenkins-hash-needs-an-id"),
    pytest.param("@sometimes", "cron macro '@sometimes' is not supported; use one of .*@daily", id="unknown-macro"),
    pytest.param("@reboot", "cron macro '@reboot' is not supported", id="reboot-is-not-a-schedule"),
    pytest.param("@every 5m", "is not supported", id="every-macro"),
    pytest.param("0 0 30 2 *", "'0 0 30 2 \\*' never fires", id="30-february-never-fires"),
    pytest.param("0 0 31 4,6,9,11 *", "never fires", id="31st-of-short-months-never-fires"),
])
def test_it_rejects_bad_cron_and_says_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_cron(expr)


@pytest.mark.parametrize("name", ["UTC", "Etc/UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Etc/GMT+5", "US/Eastern"])
def test_it_accepts_iana_time_zones(name: str) -> None:
    validate_timezone(name)


@pytest.mark.parametrize("name", [
    pytest.param("Mars/Base", id="unknown"),
    pytest.param("", id="empty"),
    pytest.param("europe/berlin", id="wrong-case"),
    pytest.param(" Europe/Berlin", id="leading-space"),
    pytest.param("America", id="a-folder-not-a-zone"),
    pytest.param("right/UTC", id="leap-second-copy"),
    pytest.param("posix/Europe/Berlin", id="posix-copy"),
    pytest.param("localtime", id="the-hosts-own-setting"),
    pytest.param("../etc/passwd", id="path-traversal"),
    pytest.param("/etc/localtime", id="absolute-path"),
    pytest.param("zone.tab", id="a-data-file-not-a-zone"),
])
def test_it_rejects_names_that_are_not_iana_time_zones_by_name(name: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(f"timezone {name!r} is not a known IANA time zone") + "$"):
        validate_timezone(name)


def test_it_names_the_zone_in_the_message() -> None:
    with pytest.raises(ValueError) as caught:
        validate_timezone("Mars/Base")
    assert str(caught.value) == "timezone 'Mars/Base' is not a known IANA time zone"


# (expr, zone, after, expected instant). Zone facts: America/New_York 2026 springs forward 03-08
# 02:00 EST -> 03:00 EDT and falls back 11-01 02:00 EDT -> 01:00 EST; Europe/Berlin 03-29
# 02:00 -> 03:00 and 10-25 03:00 -> 02:00; Australia/Lord_Howe shifts by 30 minutes (04-05
# 02:00 -> 01:30, 10-04 02:00 -> 02:30); America/Havana springs forward at midnight (03-08
# 00:00 -> 01:00); Pacific/Apia skipped the whole of 2011-12-30.
NEXT_ROWS = [
    pytest.param("0 * * * *", "UTC", datetime(2026, 1, 1, 12, 0, tzinfo=UTC), datetime(2026, 1, 1, 13, 0, tzinfo=UTC),
                 id="a-slot-exactly-at-after-is-not-returned"),
    pytest.param("0 * * * *", "UTC", datetime(2026, 1, 1, 11, 59, 59, 999_999, tzinfo=UTC), datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
                 id="a-slot-a-microsecond-later-is-returned"),
    pytest.param("*/5 * * * *", "UTC", datetime(2026, 1, 1, 12, 2, 30, tzinfo=UTC), datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
                 id="seconds-in-after-are-fine"),
    pytest.param("0 9 * * *", "Europe/Berlin", datetime(2026, 1, 1, 15, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
                 datetime(2026, 1, 1, 8, 0, tzinfo=UTC), id="after-in-another-zone-is-read-as-an-instant"),
    pytest.param("0 9 * * *", "Europe/Berlin", at(BERLIN, 2026, 1, 10, 12, 0), datetime(2026, 1, 11, 8, 0, tzinfo=UTC),
                 id="berlin-winter-is-utc-plus-1"),
    pytest.param("0 9 * * *", "Europe/Berlin", at(BERLIN, 2026, 7, 10, 12, 0), datetime(2026, 7, 11, 7, 0, tzinfo=UTC),
                 id="berlin-summer-is-utc-plus-2"),
    pytest.param("0 9 * * 1-5", "America/New_York", at(NY, 2026, 3, 6, 17, 0), at(NY, 2026, 3, 9, 9, 0),
                 id="weekday-slot-skips-the-weekend-across-the-clock-change"),
    pytest.param("@daily", "America/New_York", at(NY, 2026, 6, 1, 12, 0), datetime(2026, 6, 2, 4, 0, tzinfo=UTC), id="macro"),
    # Spring forward: gap slots run at the transition instant, once.
    pytest.param("30 2 * * *", "America/New_York", at(NY, 2026, 3, 7, 12, 0), datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
                 id="new-york-gap-slot-0230-runs-at-0300-edt"),
    pytest.param("*/15 * * * *", "America/New_York", at(NY, 2026, 3, 8, 1, 50), at(NY, 2026, 3, 8, 3, 0),
                 id="new-york-gap-slot-0200-runs-at-the-transition"),
    pytest.param("*/15 * * * *", "America/New_York", at(NY, 2026, 3, 8, 3, 0), at(NY, 2026, 3, 8, 3, 15),
                 id="new-york-gap-slots-0215-to-0245-and-0300-add-no-run-after-the-transition"),
    pytest.param("0 3 * * *", "America/New_York", at(NY, 2026, 3, 8, 1, 0), at(NY, 2026, 3, 8, 3, 0),
                 id="new-york-real-slot-at-the-transition-is-the-same-instant"),
    pytest.param("30 2 * * *", "America/New_York", at(NY, 2026, 3, 8, 3, 0), at(NY, 2026, 3, 9, 2, 30),
                 id="new-york-gap-slot-is-back-on-0230-the-next-day"),
    # Fall back: an ambiguous slot runs at its first occurrence; the second pass adds nothing.
    pytest.param("30 1 * * *", "America/New_York", at(NY, 2026, 10, 31, 12, 0), datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
                 id="new-york-fold-slot-0130-runs-at-0130-edt"),
    pytest.param("30 1 * * *", "America/New_York", at(NY, 2026, 11, 1, 1, 30, fold=0), at(NY, 2026, 11, 2, 1, 30),
                 id="new-york-fold-slot-does-not-run-at-0130-est"),
    pytest.param("0 * * * *", "America/New_York", at(NY, 2026, 11, 1, 0, 0), at(NY, 2026, 11, 1, 1, 0, fold=0),
                 id="new-york-hourly-runs-0100-edt"),
    pytest.param("0 * * * *", "America/New_York", at(NY, 2026, 11, 1, 1, 0, fold=0), datetime(2026, 11, 1, 7, 0, tzinfo=UTC),
                 id="new-york-hourly-skips-0100-est-to-0200-est"),
    pytest.param("0 * * * *", "America/New_York", at(NY, 2026, 11, 1, 1, 10, fold=1), at(NY, 2026, 11, 1, 2, 0),
                 id="new-york-after-inside-the-second-pass-goes-to-0200-est"),
    pytest.param("*/30 * * * *", "America/New_York", at(NY, 2026, 11, 1, 1, 10, fold=1), at(NY, 2026, 11, 1, 2, 0),
                 id="new-york-after-inside-the-second-pass-skips-0130-est"),
    pytest.param("*/30 * * * *", "America/New_York", at(NY, 2026, 11, 1, 1, 10, fold=0), at(NY, 2026, 11, 1, 1, 30, fold=0),
                 id="new-york-after-inside-the-first-pass-runs-0130-edt"),
    # Europe/Berlin.
    pytest.param("30 2 * * *", "Europe/Berlin", at(BERLIN, 2026, 3, 28, 12, 0), datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
                 id="berlin-gap-slot-0230-runs-at-0300-cest"),
    pytest.param("30 2 * * *", "Europe/Berlin", at(BERLIN, 2026, 10, 24, 12, 0), datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                 id="berlin-fold-slot-0230-runs-at-0230-cest"),
    pytest.param("0 * * * *", "Europe/Berlin", at(BERLIN, 2026, 10, 25, 2, 0, fold=0), datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
                 id="berlin-hourly-skips-0200-cet-to-0300-cet"),
    # Shifts that are not one hour: the transition is searched for, not assumed.
    pytest.param("10 2 * * *", "Australia/Lord_Howe", at(LORD_HOWE, 2026, 10, 4, 1, 50), datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
                 id="lord-howe-half-hour-gap-slot-0210-runs-at-0230"),
    pytest.param("45 1 * * *", "Australia/Lord_Howe", at(LORD_HOWE, 2026, 4, 4, 12, 0), datetime(2026, 4, 4, 14, 45, tzinfo=UTC),
                 id="lord-howe-half-hour-fold-slot-runs-at-its-first-occurrence"),
    pytest.param("*/30 * * * *", "Australia/Lord_Howe", at(LORD_HOWE, 2026, 4, 5, 1, 30, fold=0), datetime(2026, 4, 4, 15, 30, tzinfo=UTC),
                 id="lord-howe-half-hourly-skips-the-second-0130"),
    pytest.param("@daily", "America/Havana", at(HAVANA, 2026, 3, 7, 12, 0), datetime(2026, 3, 8, 5, 0, tzinfo=UTC),
                 id="havana-midnight-gap-runs-at-0100"),
    pytest.param("0 12 * * *", "Pacific/Apia", at(APIA, 2011, 12, 29, 12, 0), datetime(2011, 12, 30, 10, 0, tzinfo=UTC),
                 id="apia-skipped-day-runs-at-the-start-of-the-next-day"),
]


@pytest.mark.parametrize("expr, tz_name, after, expected", NEXT_ROWS)
def test_it_returns_the_first_wall_clock_slot_strictly_after_as_utc(expr: str, tz_name: str, after: datetime, expected: datetime) -> None:
    slot = next_cron_after(expr, tz_name, after)
    assert slot == expected
    assert slot.tzinfo is UTC


@pytest.mark.parametrize("zone, start, gap_slots_lost", [
    pytest.param("America/New_York", datetime(2026, 1, 1), 2, id="new-york"),  # 02:00, 02:30 -> 03:00
    pytest.param("Europe/Berlin", datetime(2026, 1, 1), 2, id="berlin"),  # 02:00, 02:30 -> 03:00
    pytest.param("Australia/Lord_Howe", datetime(2026, 1, 1), 1, id="lord-howe"),  # 02:00 -> 02:30
])
def test_it_runs_each_half_hour_wall_slot_once_over_a_whole_year(zone: str, start: datetime, gap_slots_lost: int) -> None:
    tz = ZoneInfo(zone)
    after = start.replace(tzinfo=tz).astimezone(UTC)
    end = start.replace(year=start.year + 1, tzinfo=tz).astimezone(UTC)
    slots = []
    while after < end:
        after = next_cron_after("*/30 * * * *", zone, after)
        slots.append(after)
    assert all(b > a for a, b in pairwise(slots))  # strictly increasing instants
    walls = [s.astimezone(tz).replace(tzinfo=None) for s in slots]
    assert len(walls) == len(set(walls))  # no wall-clock slot twice: the fold's second pass adds none
    assert all(w.minute in (0, 30) and w.second == 0 for w in walls)  # gap runs land on the grid here
    # Every half hour of the year once, except gap slots, which collapse into the transition slot.
    assert len(slots) == 365 * 48 - gap_slots_lost


def test_it_refuses_a_naive_after() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        next_cron_after("0 * * * *", "UTC", datetime(2026, 1, 1))


def test_it_refuses_an_unknown_zone_when_planning() -> None:
    with pytest.raises(ValueError, match="'Mars/Base' is not a known IANA time zone"):
        next_cron_after("0 * * * *", "Mars/Base", datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("expr, message", [
    pytest.param("0 0 30 2 *", "never fires", id="30-february"),
    pytest.param("0 * * * * 30", "has 6 fields", id="seconds-field"),
    pytest.param("61 * * * *", "is invalid", id="out-of-range"),
])
def test_it_raises_a_clear_error_instead_of_looping_on_an_expression_that_cannot_fire(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        next_cron_after(expr, "UTC", datetime(2026, 1, 1, tzinfo=UTC))


def test_it_finds_the_gap_transition_to_the_second_whatever_the_shift() -> None:
    # Lord Howe moves its clocks by 30 minutes, Apia skipped 24 hours: neither is "plus one hour".
    half = next_cron_after("10 2 * * *", "Australia/Lord_Howe", at(LORD_HOWE, 2026, 10, 4, 1, 50))
    assert half - at(LORD_HOWE, 2026, 10, 4, 1, 50) == timedelta(minutes=10)
    day = next_cron_after("0 12 * * *", "Pacific/Apia", at(APIA, 2011, 12, 29, 12, 0))
    assert day.astimezone(APIA).replace(tzinfo=None) == datetime(2011, 12, 31, 0, 0)
