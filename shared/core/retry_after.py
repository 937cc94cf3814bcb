"""When a target lets us call again: its `Retry-After` and rate-limit reset headers, as a time.

Every function returns an aware UTC datetime "not before", never earlier than `now` nor later
than `now + max_delay`, or None when the header is absent or not a value we can read.

- `Retry-After` (RFC 9110 10.2.3): delta-seconds (digits only) or an HTTP-date in any of the
  three forms recipients must accept (5.6.7): IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the
  obsolete RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` (a two-digit year more than 50 years ahead
  is the century before) and asctime `Sun Nov  6 08:49:37 1994`. A date in the past means now.
- `RateLimit-Reset` (IETF draft-ietf-httpapi-ratelimit-headers): delta seconds until the quota
  resets. `X-RateLimit-Reset` (no standard) is epoch seconds at GitHub and Twitter, delta
  seconds at others. One heuristic reads both: a number below 10^9 is delta seconds (10^9 s is
  31 years, no quota window), from 10^9 it is epoch seconds (10^9 is 2001-09-09), from 10^12
  epoch milliseconds (10^12 s would be the year 33658). Fractions are accepted (Discord sends
  `1470173023.123`); signs, exponents, `inf` and `nan` are not.

Month and day names are matched here, not by strptime, whose names follow the process locale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

UTC = UTC
EPOCH_SECONDS_FROM = Decimal(10**9)
EPOCH_MILLISECONDS_FROM = Decimal(10**12)

_DELTA_SECONDS = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_MONTH = r"(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
_TIME = r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)"
_DAY = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_LONG_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_FLAGS = re.IGNORECASE | re.ASCII  # names in any case; digits only 0-9
_HTTP_DATES = (
    re.compile(rf"{_DAY}, (?P<day>\d\d) {_MONTH} (?P<year>\d{{4}}) {_TIME} gmt", _FLAGS),  # IMF-fixdate
    re.compile(rf"{_LONG_DAY}, (?P<day>\d\d)-{_MONTH}-(?P<yy>\d\d) {_TIME} gmt", _FLAGS),  # RFC 850
    re.compile(rf"{_DAY} {_MONTH} (?P<day>[ \d]\d) {_TIME} (?P<year>\d{{4}})", _FLAGS),  # asctime
)


def _bounded(at: datetime, now: datetime, max_delay: timedelta) -> datetime:
    return min(max(at, now), now + max_delay).astimezone(UTC)


def _after(seconds: Decimal, now: datetime, max_delay: timedelta) -> datetime:
    # Capped before it becomes a timedelta: a huge value would overflow one.
    capped = min(seconds, Decimal(max_delay.total_seconds()))
    return _bounded(now + timedelta(seconds=float(capped)), now, max_delay)


def _check(now: datetime, max_delay: timedelta) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if max_delay < timedelta(0):
        raise ValueError("max_delay must not be negative")


def http_date(value: str, now: datetime) -> datetime | None:
    """An HTTP-date (any of RFC 9110's three forms) as aware UTC, or None."""
    text = value.strip()
    for pattern in _HTTP_DATES:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        parts = match.groupdict()
        if parts.get("yy") is not None:
            year = now.astimezone(UTC).year // 100 * 100 + int(parts["yy"])
            if year > now.astimezone(UTC).year + 50:  # RFC 9110 5.6.7: more than 50 years ahead is the past
                year -= 100
        else:
            year = int(parts["year"])
        try:
            return datetime(
                year,
                _MONTHS[parts["month"].lower()],
                int(parts["day"]),
                int(parts["hour"]),
                int(parts["minute"]),
                min(int(parts["second"]), 59),  # a leap second (60) is the second before it
                tzinfo=UTC,
            )
        except ValueError:  # 30 February, hour 25, year 0
            return None
    return None


def retry_after(value: str | None, now: datetime, *, max_delay: timedelta) -> datetime | None:
    """`Retry-After`: delta-seconds or an HTTP-date."""
    _check(now, max_delay)
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return _after(Decimal(text), now, max_delay)
    at = http_date(text, now)
    return None if at is None else _bounded(at, now, max_delay)


def rate_limit_reset(value: str | None, now: datetime, *, max_delay: timedelta) -> datetime | None:
    """`RateLimit-Reset` or `X-RateLimit-Reset`: delta seconds, epoch seconds or epoch milliseconds."""
    _check(now, max_delay)
    if value is None or not _NUMBER.fullmatch(text := value.strip()):
        return None
    number = Decimal(text)
    if number < EPOCH_SECONDS_FROM:
        return _after(number, now, max_delay)
    epoch_seconds = number / 1000 if number >= EPOCH_MILLISECONDS_FROM else number
    delay = epoch_seconds - Decimal(now.timestamp())
    return _after(max(delay, Decimal(0)), now, max_delay)


def not_before(
    headers: Mapping[str, str] | None, now: datetime, *, max_delay: timedelta, limited: bool = False
) -> datetime | None:
    """The earliest time the target wants the next call, from a response's headers (any case).

    `Retry-After` wins when readable: it is an instruction about this response. The reset headers
    (`RateLimit-Reset`, then `X-RateLimit-Reset`) only say when a quota refills, which matters
    only once it is spent: when the response was rate limited (`limited`, e.g. a 429) or their
    `...-Remaining` header is 0. GitHub sends `X-RateLimit-Reset` on every response.
    """
    _check(now, max_delay)
    if not headers:
        return None
    by_name = {name.strip().lower(): value for name, value in headers.items()}
    at = retry_after(by_name.get("retry-after"), now, max_delay=max_delay)
    if at is not None:
        return at
    for prefix in ("ratelimit", "x-ratelimit"):
        spent = limited or (by_name.get(f"{prefix}-remaining") or "").strip() == "0"
        reset = rate_limit_reset(by_name.get(f"{prefix}-reset"), now, max_delay=max_delay) if spent else None
        if reset is not None:
            return reset
    return None


# The statuses whose Retry-After holds the next call back: RFC 6585 4 (429) and RFC 9110 15.6.4 (503).
HOLDING_STATUSES = frozenset({429, 503})


def response_not_before(
    status_code: int | None, headers: Mapping[str, str] | None, now: datetime, *, max_delay: timedelta
) -> datetime | None:
    """When a response lets us call again, or None: its Retry-After on a 429 or 503 (on other
    statuses RFC 9110 gives it no hold on the next call), and a spent rate limit's reset on any."""
    holding = status_code in HOLDING_STATUSES
    if headers and not holding:
        headers = {name: value for name, value in headers.items() if name.strip().lower() != "retry-after"}
    return not_before(headers, now, max_delay=max_delay, limited=holding)
