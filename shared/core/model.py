"""Domain vocabulary shared by every role: statuses, plan sources, limits."""

from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class RunStatus(str, Enum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    ABANDONED = "abandoned"  # the worker died or lost its lease mid-attempt
    CANCELED = "canceled"
    SKIPPED = "skipped"  # not called: its dependency's gate was closed (the reason is on the run)


class PlanSource(str, Enum):
    """Why the governor chose a time; stored on every run ("why it ran")."""

    PAUSED = "paused"
    MANUAL = "manual"
    AI_ONESHOT = "ai-oneshot"
    AI_INTERVAL = "ai-interval"
    BASELINE_CRON = "baseline-cron"
    BASELINE_INTERVAL = "baseline-interval"
    CLAMPED_MIN = "clamped-min"
    CLAMPED_MAX = "clamped-max"
    DEFERRED = "deferred"  # the tenant reached its monthly run limit
    RETRY = "retry"  # a failed attempt's slot is tried again (`cronicorn.core.retries`)
    RETRY_AFTER = "retry-after"  # held back to the time the target's Retry-After or rate-limit reset gave
    # Schedule options (issue 12):
    CATCH_UP = "catch-up"  # a slot missed while nothing could run it, replayed (catch_up=all)
    BACKFILL = "backfill"  # a slot of a past range someone asked to run (`backfill`)
    ONE_OFF = "one-off"  # the one run of an endpoint scheduled with run_at
    STARTS_AT = "starts-at"  # the first run of an interval endpoint, held until its starts_at
    DEPENDENCY = "dependency"  # its upstreams' runs met its dependency (`cronicorn.core.dependencies`)


class CatchUp(str, Enum):
    """What a grid schedule does with slots that came due while nothing could run them."""

    COALESCE = "coalesce"  # one run, now, for all of them (the default)
    SKIP = "skip"  # none: the next slot on the grid that is still ahead
    ALL = "all"  # each, oldest first, as far back as the catch-up window reaches


class RetryOn(str, Enum):
    """The failures an endpoint may retry within their slot: the transient ones."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"  # refused, reset or broken (not DNS, TLS or a blocked address: those persist)
    SERVER_ERROR = "5xx"
    RATE_LIMITED = "429"


class Overlap(str, Enum):
    """What a grid schedule does with a slot that falls due while its own call is still running."""

    SKIP = "skip"  # drop it: the next slot still ahead once the call has ended (the default)
    BUFFER_ONE = "buffer_one"  # run once, right after the call ends, however many fell due


class PausedBy(str, Enum):
    USER = "user"
    AI = "ai"


class ErrorKind(str, Enum):
    """Classification of a failed HTTP call (retryable kinds first)."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DNS = "dns"
    TLS = "tls"
    HTTP_STATUS = "http_status"
    BLOCKED = "blocked"  # refused by the SSRF guard
    TOO_MANY_REDIRECTS = "too_many_redirects"
    INVALID_URL = "invalid_url"
    ABANDONED = "abandoned"
    NOT_SENT = "not_sent"  # not called: the attempt's lease had ended before the request could leave
    UNSTORABLE = "unstorable"  # called, but the response could not be stored as it came
    DEFERRED = "deferred"  # not called: the tenant's monthly run limit was reached
    GATED = "gated"  # not called: its dependency's gate was closed
    MISSED = "missed"  # not called: the slot came due while the scheduler was down, and catch_up is skip


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

MIN_BASELINE_INTERVAL_MS = 1_000
MIN_TIMEOUT_MS = 1_000
DEFAULT_TIMEOUT_MS = 30_000
DEFAULT_MAX_EXECUTION_TIME_MS = 60_000
MAX_EXECUTION_TIME_MS = 1_800_000
DEFAULT_MAX_RESPONSE_SIZE_KB = 100
MAX_FAILURE_EXPONENT = 5  # backoff is interval x 2^min(failures, 5): at most 32x
MIN_RUN_SPACING_MS = 1_000  # no run starts sooner than this after the previous run's start, whatever asked
# --- schedule options (issue 12) ---------------------------------------------------------------
DEFAULT_CATCH_UP_WINDOW_MS = 3_600_000  # `CatchUp.ALL` replays missed slots at most this far back
MAX_CATCH_UP_WINDOW_MS = 24 * 3_600_000  # a day: older slots are history, for `backfill`
MIN_CATCH_UP_WINDOW_MS = 1_000
MAX_JITTER_MS = 3_600_000  # and never more than an interval baseline; the governor keeps it inside each gap
MAX_RUNS = 1_000_000_000  # fits every integer column
MAX_BACKFILL_SLOTS = 1_000  # slots one backfill may ask for: a larger range is backfilled in parts
# A claimed slot more than this late, whose next slot is due too, was missed (the scheduler was down):
# `CatchUp.SKIP` does not run it. Ordinary dispatch lag (a tick, a busy queue) stays well under it.
MISSED_SLOT_GRACE_MS = 30_000

# Retries within a slot (issue 12): off unless an endpoint asks (`retry_max_attempts`).
MAX_RETRY_ATTEMPTS = 10  # retries of one slot at most, whatever the endpoint asks
DEFAULT_RETRY_BACKOFF_MS = 1_000  # retry k waits base x 2^(k-1) ...
DEFAULT_RETRY_BACKOFF_MAX_MS = 60_000  # ... but never longer than this
MAX_RETRY_BACKOFF_MS = 86_400_000  # no retry of a slot waits longer than a day
DEFAULT_RETRY_ON = (RetryOn.TIMEOUT, RetryOn.CONNECTION, RetryOn.SERVER_ERROR, RetryOn.RATE_LIMITED)
# A target's Retry-After or rate-limit reset holds the next call back at most this long when the
# endpoint has no max_interval (which caps it otherwise): a day covers daily quotas.
MAX_NOT_BEFORE_MS = 86_400_000
