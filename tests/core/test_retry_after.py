"""Reading a target's Retry-After and rate-limit reset headers, table-driven: (value, expected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronicorn.core.retry_after import http_date, not_before, rate_limit_reset, retry_after

UTC = UTC
NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
EPOCH = int(NOW.timestamp())  # 1772452800
SEC, MIN, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
CAP = timedelta(hours=6)


RETRY_AFTER_ROWS = [
    # delta-seconds
    pytest.param("120", NOW + 2 * MIN, id="delta-seconds"),
    pytest.param("0", NOW, id="zero-means-now"),
    pytest.param("  30 ", NOW + 30 * SEC, id="surrounding-whitespace-is-ignored"),
    pytest.param("007", NOW + 7 * SEC, id="leading-zeros"),
    pytest.param("86400", NOW + CAP, id="longer-than-the-cap-is-capped"),
    pytest.param("9" * 60, NOW + CAP, id="huge-is-capped-without-overflow"),
    # HTTP-date, the three forms of RFC 9110
    pytest.param("Mon, 02 Mar 2026 12:05:00 GMT", NOW + 5 * MIN, id="imf-fixdate"),
    pytest.param("mon, 02 mar 2026 12:05:00 gmt", NOW + 5 * MIN, id="imf-fixdate-in-any-case"),
    pytest.param("Monday, 02-Mar-26 12:05:00 GMT", NOW + 5 * MIN, id="rfc850-date"),
    pytest.param("Mon Mar  2 12:05:00 2026", NOW + 5 * MIN, id="asctime-date-with-a-padded-day"),
    pytest.param("Mon Mar 12 12:05:00 2026", NOW + CAP, id="asctime-date-ten-days-ahead-is-capped"),
    pytest.param("Mon, 02 Mar 2026 12:04:59 GMT", NOW + 4 * MIN + 59 * SEC, id="seconds-are-kept"),
    pytest.param("Tue, 03 Mar 2026 12:00:00 GMT", NOW + CAP, id="date-past-the-cap-is-capped"),
    pytest.param("Fri, 31 Dec 9999 23:59:59 GMT", NOW + CAP, id="far-future-date-is-capped"),
    pytest.param("Mon, 02 Mar 2026 11:00:00 GMT", NOW, id="date-in-the-past-means-now"),
    pytest.param("Sun, 06 Nov 1994 08:49:37 GMT", NOW, id="date-decades-ago-means-now"),
    pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", NOW, id="rfc850-two-digit-year-far-ahead-is-last-century"),
    pytest.param("Mon, 02 Mar 2026 12:00:60 GMT", NOW + 59 * SEC, id="leap-second-is-the-second-before"),
    pytest.param("Wed, 02 Mar 2026 12:05:00 GMT", NOW + 5 * MIN, id="a-wrong-weekday-is-not-checked"),
    # garbage: None, never an exception
    pytest.param(None, None, id="absent"),
    pytest.param("", None, id="empty"),
    pytest.param("   ", None, id="blank"),
    pytest.param("-5", None, id="negative"),
    pytest.param("+5", None, id="signed"),
    pytest.param("1.5", None, id="fraction-is-not-delta-seconds"),
    pytest.param("1e3", None, id="exponent"),
    pytest.param("inf", None, id="infinity"),
    pytest.param("NaN", None, id="not-a-number"),
    pytest.param("soon", None, id="words"),
    pytest.param("120 seconds", None, id="delta-with-a-unit"),
    pytest.param("120, 120", None, id="a-repeated-header-joined-by-a-comma"),
    pytest.param("٣٠", None, id="non-ascii-digits"),
    pytest.param("Mon, ٠٢ Mar 2026 12:05:00 GMT", None, id="non-ascii-digits-in-a-date"),
    pytest.param("Mon, 30 Feb 2026 12:00:00 GMT", None, id="no-such-day"),
    pytest.param("Mon, 02 Mar 2026 25:00:00 GMT", None, id="no-such-hour"),
    pytest.param("Mon, 02 Foo 2026 12:00:00 GMT", None, id="no-such-month"),
    pytest.param("Mon, 02 Mar 2026 12:05:00 +0000", None, id="numeric-zone-is-not-an-http-date"),
    pytest.param("Mon, 02 Mar 2026 12:05:00 CET", None, id="other-zone-is-not-an-http-date"),
    pytest.param("2026-03-02T12:05:00Z", None, id="iso-8601-is-not-an-http-date"),
    pytest.param("Mon, 02 Mar 0000 12:00:00 GMT", None, id="year-zero"),
]


@pytest.mark.parametrize("value, expected", RETRY_AFTER_ROWS)
def test_it_reads_retry_after(value: str | None, expected: datetime | None) -> None:
    at = retry_after(value, NOW, max_delay=CAP)
    assert at == expected
    assert at is None or at.tzinfo is UTC


RESET_ROWS = [
    pytest.param("60", NOW + MIN, id="delta-seconds"),
    pytest.param("0", NOW, id="zero-means-now"),
    pytest.param("1.5", NOW + 1500 * timedelta(milliseconds=1), id="fractional-delta"),
    pytest.param(str(EPOCH + 90), NOW + 90 * SEC, id="epoch-seconds"),
    pytest.param(f"{EPOCH + 90}.250", NOW + 90250 * timedelta(milliseconds=1), id="fractional-epoch-seconds"),
    pytest.param(str((EPOCH + 90) * 1000), NOW + 90 * SEC, id="epoch-milliseconds"),
    pytest.param(str(EPOCH - 3600), NOW, id="epoch-in-the-past-means-now"),
    pytest.param("1000000000", NOW, id="smallest-epoch-reading-is-2001"),
    pytest.param("999999999", NOW + CAP, id="largest-delta-reading-is-capped"),
    pytest.param(str(EPOCH + 86_400), NOW + CAP, id="epoch-past-the-cap-is-capped"),
    pytest.param("9" * 80, NOW + CAP, id="huge-is-capped-without-overflow"),
    pytest.param(None, None, id="absent"),
    pytest.param("", None, id="empty"),
    pytest.param("-60", None, id="negative"),
    pytest.param("1e9", None, id="exponent"),
    pytest.param("inf", None, id="infinity"),
    pytest.param("nan", None, id="not-a-number"),
    pytest.param(".5", None, id="bare-fraction"),
    pytest.param("Mon, 02 Mar 2026 12:05:00 GMT", None, id="a-date-is-not-a-reset"),
]


@pytest.mark.parametrize("value, expected", RESET_ROWS)
def test_it_reads_a_rate_limit_reset_as_delta_or_epoch(value: str | None, expected: datetime | None) -> None:
    assert rate_limit_reset(value, NOW, max_delay=CAP) == expected


HEADER_ROWS = [
    pytest.param({"Retry-After": "30"}, False, NOW + 30 * SEC, id="retry-after"),
    pytest.param({"retry-after": "30"}, False, NOW + 30 * SEC, id="names-in-any-case"),
    pytest.param({"RETRY-AFTER": "30"}, False, NOW + 30 * SEC, id="names-in-upper-case"),
    pytest.param(
        {"Retry-After": "30", "RateLimit-Reset": "600", "RateLimit-Remaining": "0"},
        True,
        NOW + 30 * SEC,
        id="retry-after-wins-over-the-reset",
    ),
    pytest.param(
        {"Retry-After": "later", "RateLimit-Reset": "600"},
        True,
        NOW + 10 * MIN,
        id="unreadable-retry-after-falls-back-to-the-reset",
    ),
    pytest.param({"RateLimit-Reset": "600"}, True, NOW + 10 * MIN, id="reset-of-a-rate-limited-response"),
    pytest.param(
        {"RateLimit-Reset": "600", "RateLimit-Remaining": "0"}, False, NOW + 10 * MIN, id="reset-of-a-spent-quota"
    ),
    pytest.param(
        {"RateLimit-Reset": "600", "RateLimit-Remaining": "12"}, False, None, id="reset-of-a-quota-not-spent-is-ignored"
    ),
    pytest.param({"RateLimit-Reset": "600"}, False, None, id="reset-without-remaining-on-a-normal-response-is-ignored"),
    pytest.param(
        {"x-ratelimit-reset": str(EPOCH + 120), "x-ratelimit-remaining": "0"},
        False,
        NOW + 2 * MIN,
        id="github-style-epoch-reset-of-a-spent-quota",
    ),
    pytest.param(
        {"X-RateLimit-Reset": str(EPOCH + 120), "X-RateLimit-Remaining": "4999"},
        False,
        None,
        id="github-sends-the-reset-on-every-response",
    ),
    pytest.param(
        {"RateLimit-Reset": "60", "X-RateLimit-Reset": "600"}, True, NOW + MIN, id="standard-reset-before-the-x-one"
    ),
    pytest.param(
        {"RateLimit-Reset": "soon", "X-RateLimit-Reset": "600"},
        True,
        NOW + 10 * MIN,
        id="unreadable-reset-falls-back-to-the-x-one",
    ),
    pytest.param({"Retry-After": "-1", "X-RateLimit-Reset": "junk"}, True, None, id="nothing-readable"),
    pytest.param({}, True, None, id="no-headers"),
    pytest.param(None, True, None, id="no-header-mapping"),
    pytest.param({"Content-Type": "application/json"}, True, None, id="unrelated-headers"),
]


@pytest.mark.parametrize("headers, limited, expected", HEADER_ROWS)
def test_it_finds_the_earliest_next_call_in_a_responses_headers(
    headers: dict[str, str] | None, limited: bool, expected: datetime | None
) -> None:
    assert not_before(headers, NOW, max_delay=CAP, limited=limited) == expected


def test_the_result_is_utc_whatever_the_zone_of_now() -> None:
    berlin_now = NOW.astimezone(ZoneInfo("Europe/Berlin"))
    at = retry_after("60", berlin_now, max_delay=CAP)
    assert at == NOW + MIN and at is not None and at.tzinfo is UTC


def test_a_zero_cap_means_now() -> None:
    assert retry_after("3600", NOW, max_delay=timedelta(0)) == NOW


def test_it_refuses_a_naive_now_or_a_negative_cap() -> None:
    with pytest.raises(ValueError, match="aware"):
        retry_after("1", NOW.replace(tzinfo=None), max_delay=CAP)
    with pytest.raises(ValueError, match="negative"):
        rate_limit_reset("1", NOW, max_delay=-SEC)


def test_a_two_digit_year_is_read_within_fifty_years_of_now() -> None:
    assert http_date("Saturday, 02-Mar-30 12:00:00 GMT", NOW) == datetime(2030, 3, 2, 12, 0, tzinfo=UTC)
    assert http_date("Thursday, 02-Mar-95 12:00:00 GMT", NOW) == datetime(1995, 3, 2, 12, 0, tzinfo=UTC)


@settings(max_examples=500, deadline=None)
@given(value=st.text() | st.integers(min_value=-(10**30), max_value=10**30).map(str), limited=st.booleans())
def test_any_value_gives_none_or_a_time_between_now_and_the_cap(value: str, limited: bool) -> None:
    for read in (retry_after, rate_limit_reset):
        at = read(value, NOW, max_delay=CAP)
        assert at is None or NOW <= at <= NOW + CAP
    headers = {"Retry-After": value, "RateLimit-Reset": value, "X-RateLimit-Reset": value}
    at = not_before(headers, NOW, max_delay=CAP, limited=limited)
    assert at is None or NOW <= at <= NOW + CAP
