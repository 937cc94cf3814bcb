"""Retries within a slot, table-driven: which failures are retried, how long each retry waits, and its bounds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronicorn.core.governor import EndpointState, Plan
from cronicorn.core.model import ErrorKind, RetryOn
from cronicorn.core.model import PlanSource as S
from cronicorn.core.retries import Retry, RetryPolicy, backoff, failure_class, plan_retry
from cronicorn.core.retry_after import response_not_before

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)  # the slot, and the failed attempt's start
MS, SEC, MIN, HOUR, DAY = (
    timedelta(milliseconds=1),
    timedelta(seconds=1),
    timedelta(minutes=1),
    timedelta(hours=1),
    timedelta(days=1),
)
DONE = NOW + 100 * MS  # the failed call ended 100 ms after it started

# The endpoint as settled after its failed attempt: that attempt's start is its last run.
TRIED = EndpointState(baseline_interval_ms=60_000, last_run_at=NOW)
THREE = RetryPolicy(max_attempts=3, backoff_ms=1_000, backoff_max_ms=60_000)

# (policy, state, now, failure, retries done, expected retry or None)
ROWS = [
    pytest.param(
        THREE,
        TRIED,
        DONE,
        RetryOn.SERVER_ERROR,
        0,
        Retry(1, Plan(DONE + SEC, S.RETRY)),
        id="first-retry-waits-the-base-from-the-failure",
    ),
    pytest.param(
        THREE,
        TRIED,
        DONE,
        RetryOn.SERVER_ERROR,
        1,
        Retry(2, Plan(DONE + 2 * SEC, S.RETRY)),
        id="second-retry-waits-twice-the-base",
    ),
    pytest.param(
        THREE,
        TRIED,
        DONE,
        RetryOn.SERVER_ERROR,
        2,
        Retry(3, Plan(DONE + 4 * SEC, S.RETRY)),
        id="third-retry-waits-four-times-the-base",
    ),
    pytest.param(
        RetryPolicy(max_attempts=5, backoff_ms=10_000, backoff_max_ms=15_000),
        TRIED,
        DONE,
        RetryOn.TIMEOUT,
        3,
        Retry(4, Plan(DONE + 15 * SEC, S.RETRY)),
        id="backoff-is-capped",
    ),
    pytest.param(THREE, TRIED, DONE, RetryOn.SERVER_ERROR, 3, None, id="retries-spent-the-slot-is-finally-failed"),
    pytest.param(RetryPolicy(), TRIED, DONE, RetryOn.SERVER_ERROR, 0, None, id="no-retries-by-default"),
    pytest.param(
        replace(THREE, on=frozenset({RetryOn.TIMEOUT})),
        TRIED,
        DONE,
        RetryOn.SERVER_ERROR,
        0,
        None,
        id="a-failure-the-endpoint-does-not-retry",
    ),
    pytest.param(THREE, TRIED, DONE, None, 0, None, id="a-failure-never-retried-404-dns-tls"),
    pytest.param(
        THREE, TRIED, DONE, RetryOn.RATE_LIMITED, 0, Retry(1, Plan(DONE + SEC, S.RETRY)), id="429-is-retried-by-default"
    ),
    pytest.param(
        THREE,
        TRIED,
        DONE,
        RetryOn.CONNECTION,
        0,
        Retry(1, Plan(DONE + SEC, S.RETRY)),
        id="connection-is-retried-by-default",
    ),
    pytest.param(
        THREE,
        TRIED,
        NOW + 20 * SEC,
        RetryOn.TIMEOUT,
        0,
        Retry(1, Plan(NOW + 21 * SEC, S.RETRY)),
        id="a-timeout-is-retried-one-backoff-after-it-ended",
    ),
    pytest.param(
        THREE, replace(TRIED, paused_until=NOW + HOUR), DONE, RetryOn.SERVER_ERROR, 0, None, id="a-pause-ends-the-slot"
    ),
    # The target's not-before (Retry-After, a spent rate limit's reset), capped like any not-before.
    pytest.param(
        THREE,
        replace(TRIED, not_before_at=NOW + 30 * SEC),
        DONE,
        RetryOn.RATE_LIMITED,
        0,
        Retry(1, Plan(NOW + 30 * SEC, S.RETRY_AFTER)),
        id="retry-after-later-than-the-backoff-wins",
    ),
    pytest.param(
        THREE,
        replace(TRIED, not_before_at=NOW + 500 * MS),
        DONE,
        RetryOn.SERVER_ERROR,
        0,
        Retry(1, Plan(DONE + SEC, S.RETRY)),
        id="retry-after-sooner-than-the-backoff-changes-nothing",
    ),
    pytest.param(
        THREE,
        replace(TRIED, not_before_at=NOW + HOUR, max_interval_ms=60_000),
        DONE,
        RetryOn.RATE_LIMITED,
        0,
        Retry(1, Plan(NOW + MIN, S.RETRY_AFTER)),
        id="retry-after-is-capped-by-the-max-interval",
    ),
    pytest.param(
        THREE,
        replace(TRIED, not_before_at=NOW + 3 * DAY),
        DONE,
        RetryOn.RATE_LIMITED,
        0,
        Retry(1, Plan(DONE + DAY, S.RETRY_AFTER)),
        id="retry-after-without-a-max-is-capped-at-a-day",
    ),
    # The governor's bounds: min_interval and the 1 s spacing from the attempt's start, the max ceiling.
    pytest.param(
        RetryPolicy(max_attempts=1, backoff_ms=600_000, backoff_max_ms=600_000),
        replace(TRIED, max_interval_ms=120_000),
        DONE,
        RetryOn.SERVER_ERROR,
        0,
        Retry(1, Plan(NOW + 2 * MIN, S.RETRY)),
        id="a-long-backoff-is-capped-by-the-max-interval",
    ),
    pytest.param(
        THREE,
        replace(TRIED, min_interval_ms=30_000),
        DONE,
        RetryOn.SERVER_ERROR,
        0,
        Retry(1, Plan(NOW + 30 * SEC, S.RETRY)),
        id="min-interval-holds-a-retry-back-source-kept",
    ),
    pytest.param(
        RetryPolicy(max_attempts=1, backoff_ms=0, backoff_max_ms=0),
        TRIED,
        DONE,
        RetryOn.SERVER_ERROR,
        0,
        Retry(1, Plan(NOW + SEC, S.RETRY)),
        id="no-retry-sooner-than-1s-after-the-attempts-start",
    ),
]


@pytest.mark.parametrize("policy, state, now, failure, done, expected", ROWS)
def test_it_plans_a_retry_or_decides_the_slot_failed(
    policy: RetryPolicy, state: EndpointState, now: datetime, failure: RetryOn | None, done: int, expected: Retry | None
) -> None:
    retry = plan_retry(state, policy, now, failure=failure, retries_done=done, slot=NOW, started_at=NOW)
    assert retry == expected
    if retry is not None:
        assert retry.plan.at.utcoffset() == timedelta(0) and retry.plan.at > now


CLASSES = [
    pytest.param(ErrorKind.TIMEOUT.value, None, RetryOn.TIMEOUT, id="timeout"),
    pytest.param(ErrorKind.CONNECTION.value, None, RetryOn.CONNECTION, id="connection"),
    pytest.param(ErrorKind.HTTP_STATUS.value, 500, RetryOn.SERVER_ERROR, id="500"),
    pytest.param(ErrorKind.HTTP_STATUS.value, 503, RetryOn.SERVER_ERROR, id="503"),
    pytest.param(ErrorKind.HTTP_STATUS.value, 599, RetryOn.SERVER_ERROR, id="599"),
    pytest.param(ErrorKind.HTTP_STATUS.value, 429, RetryOn.RATE_LIMITED, id="429"),
    pytest.param(ErrorKind.HTTP_STATUS.value, 404, None, id="404-is-the-requests-fault"),
    pytest.param(ErrorKind.HTTP_STATUS.value, 408, None, id="408-is-not-a-5xx"),
    pytest.param(ErrorKind.DNS.value, None, None, id="dns"),
    pytest.param(ErrorKind.TLS.value, None, None, id="tls"),
    pytest.param(ErrorKind.BLOCKED.value, None, None, id="blocked"),
    pytest.param(ErrorKind.INVALID_URL.value, None, None, id="invalid-url"),
    pytest.param(ErrorKind.TOO_MANY_REDIRECTS.value, None, None, id="too-many-redirects"),
    pytest.param(ErrorKind.ABANDONED.value, None, None, id="abandoned-is-the-crash-retrys-business"),
    pytest.param(ErrorKind.NOT_SENT.value, None, None, id="not-sent"),
    pytest.param(ErrorKind.UNSTORABLE.value, 200, None, id="unstorable"),
    pytest.param(None, 200, None, id="success"),
]


@pytest.mark.parametrize("error_kind, status_code, expected", CLASSES)
def test_only_transient_failures_can_be_retried(
    error_kind: str | None, status_code: int | None, expected: RetryOn | None
) -> None:
    assert failure_class(error_kind, status_code) == expected


@given(base=st.integers(0, 86_400_000), cap=st.integers(0, 86_400_000), number=st.integers(1, 10**6))
def test_a_backoff_never_shrinks_and_never_passes_its_cap(base: int, cap: int, number: int) -> None:
    policy = RetryPolicy(max_attempts=10, backoff_ms=base, backoff_max_ms=max(base, cap))
    assert backoff(policy, number) <= timedelta(milliseconds=max(base, cap))
    assert backoff(policy, number) >= backoff(policy, max(1, number - 1))


# (status, headers, expected not-before): what a response says of the next call.
NOT_BEFORE = [
    pytest.param(429, {"retry-after": "3"}, NOW + 3 * SEC, id="429-retry-after-seconds"),
    pytest.param(503, {"Retry-After": "Mon, 02 Mar 2026 12:05:00 GMT"}, NOW + 5 * MIN, id="503-retry-after-date"),
    pytest.param(429, {"ratelimit-reset": "20"}, NOW + 20 * SEC, id="429-ratelimit-reset"),
    pytest.param(200, {"retry-after": "30"}, None, id="retry-after-on-a-success-holds-nothing"),
    pytest.param(500, {"retry-after": "30"}, None, id="retry-after-on-a-500-holds-nothing"),
    pytest.param(
        200,
        {"ratelimit-remaining": "0", "ratelimit-reset": "40"},
        NOW + 40 * SEC,
        id="a-spent-quota-holds-even-a-success",
    ),
    pytest.param(200, {"ratelimit-remaining": "7", "ratelimit-reset": "40"}, None, id="a-quota-left-holds-nothing"),
    pytest.param(429, {"retry-after": "999999"}, NOW + HOUR, id="capped"),
    pytest.param(429, None, None, id="no-headers"),
]


@pytest.mark.parametrize("status, headers, expected", NOT_BEFORE)
def test_a_response_holds_the_next_call_back_only_when_it_says_so(
    status: int, headers: dict[str, str] | None, expected: datetime | None
) -> None:
    assert response_not_before(status, headers, NOW, max_delay=HOUR) == expected
