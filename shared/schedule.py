"""Cron on the wall clock of an IANA time zone, with one rule for DST.

The rule: cron slots are wall-clock times, and each wall-clock slot runs once.
- A slot inside a DST gap (02:30 on a spring-forward night) does not exist; it runs at the
  transition instant (03:00 local), so several gap slots collapse into that one run.
- A slot inside a fold (01:30 on a fall-back night) exists twice; it runs at its first
  occurrence, and the repeated hour adds no runs.
Implementation: iterate naive local wall times with croniter from the local wall time of
`after`, convert each to UTC by the rule above, and return the first instant after `after`.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

UTC = timezone.utc
MACROS = frozenset({"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight"})
MAX_STEPS = 10_000


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name!r} is not a known IANA time zone") from None


def validate_timezone(name: str) -> None:
    """Raise ValueError unless `name` is an IANA zone (e.g. Europe/Berlin)."""
    zone(name)


def validate_cron(expr: str) -> None:
    """Raise ValueError unless `expr` is a 5-field cron expression or a macro like @daily."""
    text = expr.strip()
    if not text:
        raise ValueError("cron expression is empty")
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise ValueError(f"cron macro {text!r} is not one of {', '.join(sorted(MACROS))}")
        return
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {text!r} has {len(fields)} fields; expected 5 (minute hour day month weekday)")
    if not croniter.is_valid(text):
        raise ValueError(f"cron expression {text!r} is not valid")
    # An expression that can never fire (e.g. 30 February) must be refused here, not loop later.
    try:
        next_cron_after(text, "UTC", datetime(2000, 1, 1, tzinfo=UTC))
    except Exception:  # croniter's own error types differ across versions
        raise ValueError(f"cron expression {text!r} never fires") from None


def _to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in `tz` as UTC: first occurrence in a fold, transition instant in a gap."""
    first = wall.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant  # exists (in a fold, fold=0 is its first occurrence)
    # In a gap: fold=0 maps past the gap and fold=1 before it; the transition lies between.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = instant
    if low > high:
        low, high = high, low
    offset_before = low.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).utcoffset() == offset_before:
            low = mid
        else:
            high = mid
    return high.replace(microsecond=0) if high.microsecond else high


def next_cron_after(expr: str, tz_name: str, after: datetime) -> datetime:
    """The first slot of `expr` strictly after `after`, on the wall clock of `tz_name`, in UTC."""
    if after.tzinfo is None:
        raise ValueError("next_cron_after needs an aware datetime")
    tz = zone(tz_name)
    start = after.astimezone(tz).replace(tzinfo=None)
    # Start one second early so a slot exactly at `after`'s wall time is seen and rejected
    # by the strict comparison below rather than skipped by croniter's own logic.
    it = croniter(expr.strip(), start - timedelta(seconds=1))
    for _ in range(MAX_STEPS):
        wall = it.get_next(datetime)
        candidate = _to_utc(wall, tz)
        if candidate > after:
            return candidate
    raise ValueError(f"cron expression {expr!r} has no slot within {MAX_STEPS} steps after {after.isoformat()}")
