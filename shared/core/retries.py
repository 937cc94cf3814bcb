"""Retries within a slot: which failed calls are tried again, and when. Pure: values and `now` in, a plan out.

An endpoint with `retry_max_attempts = n > 0` tries a failed slot again, up to n times, when the
failure is of a kind it retries (`retry_on`: timeout, connection, 5xx, 429). Retry k waits
`retry_backoff_ms x 2^(k-1)`, at most `retry_backoff_max_ms`, from the end of the attempt before
it; never less than the target's Retry-After (or spent rate limit's reset) says, and never
outside the governor's bounds (min_interval and the 1 s spacing from the attempt's start, the
max_interval ceiling). A retry keeps its slot, so it carries the same Idempotency-Key.

A paused endpoint is not retried: the pause ends the slot, and the governor plans the pause end.
Only once the slot is decided (a success, or a failure with no retry left) does the failure count,
and with it the interval's backoff, change: n retries of one slot count as one failure, and one
of `max_runs`. A retry keeps to the schedule's dates (none after `ends_at`); a backfill slot's
retry, like the backfill, does not (`backfill`). A retry is a time, never jittered: its slot is
the slot it retries, jittered or not, so it carries that slot's Idempotency-Key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cronicorn.core.governor import EndpointState, Plan, bounds
from cronicorn.core.model import (
    DEFAULT_RETRY_BACKOFF_MAX_MS,
    DEFAULT_RETRY_BACKOFF_MS,
    DEFAULT_RETRY_ON,
    ErrorKind,
    PlanSource,
    RetryOn,
)

_MAX_EXPONENT = 40  # 2^40 ms is decades: any cap is reached long before, and the integer stays small


@dataclass(frozen=True)
class RetryPolicy:
    """An endpoint's retry settings."""

    max_attempts: int = 0
    backoff_ms: int = DEFAULT_RETRY_BACKOFF_MS
    backoff_max_ms: int = DEFAULT_RETRY_BACKOFF_MAX_MS
    on: frozenset[RetryOn] = frozenset(DEFAULT_RETRY_ON)


@dataclass(frozen=True)
class Retry:
    """A retry to make: which one of its slot (`number`, 1 for the first) and when (`plan`)."""

    number: int
    plan: Plan


def failure_class(error_kind: str | None, status_code: int | None) -> RetryOn | None:
    """The kind of a failed call as `retry_on` names it, or None for failures never retried.

    DNS, TLS, a blocked address, a bad URL and too many redirects are the target's or the
    endpoint's configuration, which a retry seconds later would only meet again; a 4xx other
    than 429 is the request's fault.
    """
    if error_kind == ErrorKind.TIMEOUT.value:
        return RetryOn.TIMEOUT
    if error_kind == ErrorKind.CONNECTION.value:
        return RetryOn.CONNECTION
    if error_kind == ErrorKind.HTTP_STATUS.value and status_code == 429:
        return RetryOn.RATE_LIMITED
    if error_kind == ErrorKind.HTTP_STATUS.value and status_code is not None and 500 <= status_code <= 599:
        return RetryOn.SERVER_ERROR
    return None


def backoff(policy: RetryPolicy, number: int) -> timedelta:
    """The wait before retry `number` (1 for the first): base x 2^(number-1), at most the cap."""
    exponent = min(max(number - 1, 0), _MAX_EXPONENT)
    return timedelta(milliseconds=min(policy.backoff_ms * 2**exponent, policy.backoff_max_ms))


def plan_retry(
    state: EndpointState,
    policy: RetryPolicy,
    now: datetime,
    *,
    failure: RetryOn | None,
    retries_done: int,
    slot: datetime,
    started_at: datetime,
    backfill: bool = False,
) -> Retry | None:
    """The retry of `slot` after its attempt (started at `started_at`) failed with `failure`, or
    None: the slot is finally failed.

    `state` is the endpoint as settled after that attempt (its start as `last_run_at`, its
    response's `not_before_at`); `retries_done` is how many retries of the slot came before.
    `backfill`: the slot is a backfill's, which runs whatever the schedule's dates and count say.
    """
    if failure is None or failure not in policy.on or retries_done >= policy.max_attempts:
        return None
    if state.paused_until is not None and state.paused_until > now:
        return None
    if not backfill and state.runs_left is not None and state.runs_left <= 0:
        return None  # the count ran out meanwhile (an edit during the call): the slot ends here
    number = retries_done + 1
    b = bounds(state, now, slot=slot, started=started_at)
    at = max(now + backoff(policy, number), b.min_floor)
    if b.ceiling is not None:
        at = min(at, b.ceiling)  # as in the governor, max wins over min
    plan = Plan(at, PlanSource.RETRY)
    if b.held is not None and at < b.held:
        plan = Plan(b.held, PlanSource.RETRY_AFTER)
    # The spacing keeps the source, as in the governor: the backoff or the target still chose the time.
    plan = Plan(max(plan.at, b.spacing_floor), plan.source)
    if not backfill and not _within_dates(state, plan.at):
        return None
    return Retry(number, plan)


def _within_dates(state: EndpointState, at: datetime) -> bool:
    """Whether a retry at `at` keeps to the endpoint's dates (the governor's rule 8): none before
    `starts_at` (moved later by an edit during the call), none after `ends_at`. A retry that would
    fall outside them is not made: the slot is failed, and the schedule ends or waits as it says."""
    if state.starts_at is not None and at < state.starts_at:
        return False
    return state.ends_at is None or at <= state.ends_at
