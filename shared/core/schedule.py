"""Cron on the wall clock of an IANA time zone, with one rule for daylight-saving time.

DST rule: cron slots are wall-clock times in the endpoint's zone, and each wall-clock slot runs
at most once. `next_cron_after` iterates naive local wall times with croniter, starting from the
local wall time of `after`, converts each to UTC as below, and returns the first instant that is
strictly after `after`.
- Gap (spring forward): a wall time that does not exist (02:30 on 2026-03-08 in America/New_York)
  runs at the transition instant, the first instant after the gap (03:00 EDT). Several gap slots
  collapse into that one run, and a real slot at the transition (03:00) is the same instant, so
  it all runs once. The transition is found by binary search to the second, not by assuming a
  one-hour shift (Australia/Lord_Howe moves by 30 minutes).
- Fold (fall back): an ambiguous wall time (01:30 on 2026-11-01 in America/New_York) maps to its
  first occurrence (fold=0). The repeated hour's second pass maps to instants already passed, so
  it adds no runs: hourly runs at 00:00 EDT, 01:00 EDT, then 02:00 EST (two real hours later), and
  from inside the second pass (01:10 EST) the next slot is 02:00 EST.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter
from croniter.croniter import CroniterBadDateError, CroniterError

UTC = UTC
MACROS = frozenset({"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"})
MAX_STEPS = 10_000  # candidates rejected per call are at most a fold's worth; this only stops runaways
_PROBE_START = datetime(2000, 1, 1)  # a leap year, so 29 February counts as firing


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    """The IANA zone names zoneinfo knows (system tz database or the tzdata package)."""
    # Membership, not just ZoneInfo(name), because ZoneInfo also loads "posix/..." and the
    # leap-second "right/..." copies, and "localtime" is this host's setting rather than a zone.
    return frozenset(available_timezones() - {"localtime"})


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, cached; ValueError for anything else."""
    error = ValueError(f"timezone {name!r} is not a known IANA time zone")
    if name not in _zone_names():
        raise error
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # a listed but unreadable file
        raise error from None


def validate_timezone(name: str) -> None:
    """Raise ValueError unless `name` is an IANA time zone known to zoneinfo (e.g. Europe/Berlin)."""
    _zone(name)


@lru_cache(maxsize=1024)
def _checked_cron(expr: str) -> str:
    """`expr` validated and normalised (single spaces, lower-case macro); ValueError otherwise."""
    text = " ".join(expr.split())
    if not text:
        raise ValueError("cron expression is empty")
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise ValueError(f"cron macro {text!r} is not supported; use one of {', '.join(sorted(MACROS))}")
        return text.lower()
    fields = text.split(" ")
    if len(fields) != 5:
        extra = "; seconds and year fields are not supported" if len(fields) in (6, 7) else ""
        raise ValueError(
            f"cron expression {text!r} has {len(fields)} fields; expected 5 "
            f"(minute hour day-of-month month day-of-week){extra}"
        )
    try:
        croniter(text, _PROBE_START).get_next(datetime)
    except CroniterBadDateError:
        # croniter parses "0 0 30 2 *" fine and only fails when asked for a date; refuse it here
        # so a schedule is never stored that can't produce a next run.
        raise ValueError(f"cron expression {text!r} never fires (no such date, e.g. 30 February)") from None
    except (CroniterError, ValueError, KeyError, IndexError, TypeError) as exc:
        # croniter's message names the bad field; other exception types come from odd input
        # reaching its parser, and the caller should only ever see ValueError.
        raise ValueError(f"cron expression {text!r} is invalid: {exc}") from None
    return text


def validate_cron(expr: str) -> None:
    """Raise ValueError unless `expr` is a 5-field cron expression or a macro such as @daily."""
    _checked_cron(expr)


def _offset_at(timestamp: int, tz: ZoneInfo) -> timedelta | None:
    """The UTC offset in force in `tz` at a POSIX timestamp."""
    return datetime.fromtimestamp(timestamp, tz).utcoffset()


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """The transition instant ending the DST gap that swallows the naive wall time `wall`."""
    # For a missing wall time zoneinfo applies the offset from before the gap with fold=0 (an
    # instant after the transition) and the offset from after it with fold=1 (an instant before),
    # so the transition lies between them whatever the size of the shift.
    readings = (wall.replace(tzinfo=tz, fold=0).timestamp(), wall.replace(tzinfo=tz, fold=1).timestamp())
    low, high = math.floor(min(readings)), math.ceil(max(readings))
    before = _offset_at(low, tz)
    while high - low > 1:
        mid = (low + high) // 2
        if _offset_at(mid, tz) == before:
            low = mid
        else:
            high = mid
    return datetime.fromtimestamp(high, UTC)


def _wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in `tz` as UTC: its first occurrence in a fold, the transition in a gap."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # the wall time exists; in a fold, fold=0 is its first occurrence
    return _gap_end(wall, tz)


def next_cron_after(expr: str, tz_name: str, after: datetime) -> datetime:
    """The first slot of `expr` on the wall clock of `tz_name` strictly after `after`, in UTC."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("next_cron_after needs an aware datetime, got a naive one")
    text = _checked_cron(expr)
    tz = _zone(tz_name)
    # No slot after `after` has a wall time at or before `after`'s own: earlier wall times map to
    # earlier instants, or (in a fold's second pass) to the first pass, which is also earlier.
    slots = croniter(text, after.astimezone(tz).replace(tzinfo=None))
    for _ in range(MAX_STEPS):
        try:
            wall = slots.get_next(datetime)
        except (CroniterBadDateError, OverflowError):
            raise ValueError(f"cron expression {text!r} has no slot after {after.isoformat()}") from None
        instant = _wall_to_utc(wall, tz)
        if instant > after:
            return instant
    raise ValueError(f"cron expression {text!r} has no slot within {MAX_STEPS} steps after {after.isoformat()}")
