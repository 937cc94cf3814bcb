"""Request and response bodies in the original's camelCase, documented for the OpenAPI page."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from cronicorn.core.casing import UNRENAMED, camel_word, to_camel
from cronicorn.core.constants import (
    DEFAULT_INTERVAL_HINT_TTL_MINUTES,
    DEFAULT_ONESHOT_HINT_TTL_MINUTES,
    MAX_HINT_REACH_MS,
    MAX_HINT_TTL_MINUTES,
    MAX_INTERVAL_HINT_MS,
    MAX_REASON_CHARS,
    MIN_INTERVAL_HINT_MS,
)
from cronicorn.core.model import (
    DEFAULT_RETRY_BACKOFF_MAX_MS,
    DEFAULT_RETRY_BACKOFF_MS,
    MAX_CATCH_UP_WINDOW_MS,
    MAX_JITTER_MS,
    MAX_RETRY_ATTEMPTS,
    MAX_RETRY_BACKOFF_MS,
    MAX_RUNS,
    MIN_CATCH_UP_WINDOW_MS,
    MIN_RUN_SPACING_MS,
    RetryOn,
)

# Values that are the user's (or a target's) own data: passed through, keys untouched.
USER_DATA = frozenset({"headers", "body", "body_json", "response_body", "response_headers", "args"})


def to_api(value: Any) -> Any:
    """A record (dataclass or mapping) with camelCase keys, recursively."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {to_camel(k): v if k in USER_DATA else to_api(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_api(v) for v in value]
    return value


class _In(BaseModel):
    model_config = ConfigDict(alias_generator=camel_word, populate_by_name=True, extra="forbid")

    def snake(self) -> dict[str, Any]:
        """The fields the caller sent, in our names."""
        return {UNRENAMED.get(to_camel(k), k): v for k, v in self.model_dump(exclude_unset=True).items()}


class JobIn(_In):
    name: str = Field(description="1-255 characters")
    description: str | None = Field(default=None, description="up to 1000 characters")


class JobPatchIn(_In):
    name: str | None = None
    description: str | None = None


class EndpointIn(_In):
    """An endpoint: exactly one of baselineCron or baselineIntervalMs."""

    name: str
    url: str = Field(description="http:// or https:// with a host; a port, if given, in 1-65535")
    description: str | None = None
    method: str | None = Field(default=None, description="GET, POST, PUT, PATCH or DELETE (default GET)")
    headers_json: dict[str, str] | None = Field(
        default=None,
        alias="headersJson",
        description="token names, Latin-1 values without control characters, within CRONICORN_MAX_HEADERS, "
        "_MAX_HEADER_NAME_CHARS and _MAX_HEADER_VALUE_CHARS. Secret values (Authorization, Cookie, X-Api-Key, "
        'names with auth, token, secret, key, password ...) read back as "***"; sending "***" keeps the stored one',
    )
    body_json: Any = Field(
        default=None,
        alias="bodyJson",
        description="JSON body, POST/PUT/PATCH only; at most CRONICORN_MAX_BODY_BYTES as compact JSON",
    )
    baseline_cron: str | None = Field(default=None, description="5-field cron, evaluated in `timezone`")
    baseline_interval_ms: StrictInt | None = Field(default=None, description=">= 1000")
    timezone: str | None = Field(default=None, description="IANA time zone of the cron (default UTC)")
    min_interval_ms: StrictInt | None = None
    max_interval_ms: StrictInt | None = None
    timeout_ms: StrictInt | None = Field(default=None, description=">= 1000, default 30000")
    max_execution_time_ms: StrictInt | None = Field(default=None, description="<= 1800000, default 60000")
    max_response_size_kb: StrictInt | None = Field(default=None, description="1-10240, default 100")
    upstream_endpoint_ids: list[str] | None = Field(
        default=None, description="endpoints of other jobs the planner may read"
    )
    # --- retries within a slot (issue 12) ----------------------------------------------------
    retry_max_attempts: StrictInt | None = Field(
        default=None,
        description=f"retries of a failed slot, same Idempotency-Key, 0-{MAX_RETRY_ATTEMPTS} (default 0: none)",
    )
    retry_backoff_ms: StrictInt | None = Field(
        default=None,
        description=f"retry k waits retryBackoffMs x 2^(k-1); {MIN_RUN_SPACING_MS}-{MAX_RETRY_BACKOFF_MS}, "
        f"default {DEFAULT_RETRY_BACKOFF_MS}",
    )
    retry_backoff_max_ms: StrictInt | None = Field(
        default=None,
        description=f"longest wait before a retry, >= retryBackoffMs, default {DEFAULT_RETRY_BACKOFF_MAX_MS}",
    )
    retry_on: list[str] | None = Field(
        default=None,
        description="the failures retried, any of " + ", ".join(k.value for k in RetryOn) + " (default all)",
    )
    # --- schedule options (issue 12) ---------------------------------------------------------
    run_at: datetime | None = Field(
        default=None, description="a one-off: run once at this aware ISO 8601 time, instead of a baseline"
    )
    catch_up: str | None = Field(
        default=None,
        description="slots missed while the scheduler was down: coalesce (one run at once), skip (the next "
        "slot ahead) or all (each, within catchUpWindowMs); default CRONICORN_CATCH_UP",
    )
    catch_up_window_ms: StrictInt | None = Field(
        default=None, description=f"how far back `all` replays, {MIN_CATCH_UP_WINDOW_MS}-{MAX_CATCH_UP_WINDOW_MS}"
    )
    overlap: str | None = Field(
        default=None, description="a slot due while the endpoint's call runs: skip (default) or buffer_one"
    )
    jitter_ms: StrictInt | None = Field(
        default=None, description=f"each slot moves by a fixed offset in [0, jitterMs]; 0-{MAX_JITTER_MS}"
    )
    starts_at: datetime | None = Field(default=None, description="aware ISO 8601 time; nothing runs before it")
    ends_at: datetime | None = Field(default=None, description="aware ISO 8601 time; the endpoint ends after it")
    max_runs: StrictInt | None = Field(default=None, description=f"runs it may make, 1-{MAX_RUNS}; then it ends")

    def snake(self) -> dict[str, Any]:
        data = super().snake()
        # On create, null means "use the default".
        return {k: v for k, v in data.items() if v is not None or k in ("body", "description")}


class EndpointPatchIn(EndpointIn):
    """Only the fields sent change; null clears an optional field."""

    name: str | None = None  # type: ignore[assignment]
    url: str | None = None  # type: ignore[assignment]

    def snake(self) -> dict[str, Any]:
        return _In.snake(self)


# Hint and pause bodies only read the JSON: the caps are checked by cronicorn.producer.hints, the
# same models the Python client and the planner go through, and errors come back in these names.
_TTL = f"minutes the hint lasts, in (0, {MAX_HINT_TTL_MINUTES}]"
_REASON = f"why, up to {MAX_REASON_CHARS} characters"


class IntervalHintIn(_In):
    interval_ms: StrictInt = Field(
        description=f"{MIN_INTERVAL_HINT_MS}-{MAX_INTERVAL_HINT_MS} ms, clamped into min/max"
    )
    ttl_minutes: StrictFloat | StrictInt = Field(default=DEFAULT_INTERVAL_HINT_TTL_MINUTES, description=_TTL)
    reason: str | None = Field(default=None, description=_REASON)


class OneShotHintIn(_In):
    """Exactly one of nextRunAt or nextRunInMs."""

    next_run_at: datetime | None = Field(default=None, description="aware ISO 8601 time, within a year")
    next_run_in_ms: StrictInt | None = Field(default=None, description=f"0-{MAX_HINT_REACH_MS}")
    ttl_minutes: StrictFloat | StrictInt = Field(default=DEFAULT_ONESHOT_HINT_TTL_MINUTES, description=_TTL)
    reason: str | None = Field(default=None, description=_REASON)


class PauseIn(_In):
    paused_until: datetime | None = Field(description="aware ISO 8601 time in the future, or null to resume")
    reason: str | None = Field(default=None, description=_REASON)


class BackfillIn(_In):
    """A past range of the endpoint's schedule to run now: [since, until)."""

    since: datetime = Field(description="aware ISO 8601 time: the first slot at or after it runs")
    until: datetime = Field(description="aware ISO 8601 time, not in the future; slots before it run")


class ErrorDetail(BaseModel):
    field: str
    reason: str


class ErrorOut(BaseModel):
    error: str
    details: list[ErrorDetail] = []


# Every answer a route may give besides its success, documented so clients (and schemathesis) know them.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "malformed request (a body that cannot be read)"),
        (401, "missing, invalid or revoked API key"),
        (404, "no such object for this tenant"),
        (409, "the object's state does not allow this"),
        (413, "request body larger than CRONICORN_API_MAX_REQUEST_BYTES"),
        (422, "invalid input, naming each field"),
        (429, "rate limit reached; see Retry-After"),
        (503, "database or Redis unreachable"),
    )
}


class RegisterIn(_In):
    """A job and its endpoints, created or brought up to date by name in one transaction."""

    job: JobIn
    endpoints: list[EndpointIn]
    on_conflict: Literal["update", "skip", "error"] = Field(
        default="update", description="an existing endpoint that differs: update it, skip it, or refuse (409)"
    )
