"""Validated input for jobs and endpoints, shared by the Python client, the CLI and the REST API."""

from __future__ import annotations

from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from cronicorn.core.errors import FieldError, InvalidInput
from cronicorn.core.model import (
    BODY_METHODS,
    DEFAULT_CATCH_UP_WINDOW_MS,
    DEFAULT_MAX_EXECUTION_TIME_MS,
    DEFAULT_MAX_RESPONSE_SIZE_KB,
    DEFAULT_RETRY_BACKOFF_MAX_MS,
    DEFAULT_RETRY_BACKOFF_MS,
    DEFAULT_RETRY_ON,
    DEFAULT_TIMEOUT_MS,
    HTTP_METHODS,
    MAX_CATCH_UP_WINDOW_MS,
    MAX_EXECUTION_TIME_MS,
    MAX_JITTER_MS,
    MAX_RETRY_ATTEMPTS,
    MAX_RETRY_BACKOFF_MS,
    MAX_RUNS,
    MIN_BASELINE_INTERVAL_MS,
    MIN_CATCH_UP_WINDOW_MS,
    MIN_RUN_SPACING_MS,
    MIN_TIMEOUT_MS,
    RetryOn,
)
from cronicorn.core.schedule import validate_cron, validate_timezone
from cronicorn.producer.input_caps import DEFAULT_CAPS, InputCaps
from cronicorn.producer.request_parts import body_problem, headers_problem, url_problem
from cronicorn.producer.storable import Instant, StorableModel

M = TypeVar("M", bound=BaseModel)
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
MAX_INTERVAL_MS = 366 * 24 * 3_600_000  # a year: longer is a mistake, and must fit every integer column
MAX_RESPONSE_SIZE_KB = 10_240
# The values of `cronicorn.core.model.CatchUp` and `Overlap` (a test holds them equal), as the text stored.
CatchUpName = Literal["coalesce", "skip", "all"]
OverlapName = Literal["skip", "buffer_one"]
SCHEDULE_KINDS = ("baseline_cron", "baseline_interval_ms", "run_at")


def _caps(info: ValidationInfo) -> InputCaps:
    """The caps `parse` was given (the defaults when a model is built directly)."""
    context = info.context if isinstance(info.context, dict) else {}
    caps = context.get("caps")
    return caps if isinstance(caps, InputCaps) else DEFAULT_CAPS


class JobSpec(StorableModel):
    """A job as a producer declares it."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)


class JobPatch(StorableModel):
    """A partial job update: only the fields given change (description None clears it)."""

    model_config = _STRICT
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)


class EndpointSpec(StorableModel):
    """An endpoint as a producer declares it: the HTTP call, its schedule and its guardrails."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    url: str = Field(min_length=1, max_length=2048)
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    baseline_cron: str | None = None
    baseline_interval_ms: int | None = Field(default=None, ge=MIN_BASELINE_INTERVAL_MS, le=MAX_INTERVAL_MS)
    timezone: str = "UTC"
    min_interval_ms: int | None = Field(default=None, ge=0, le=MAX_INTERVAL_MS)
    max_interval_ms: int | None = Field(default=None, ge=MIN_BASELINE_INTERVAL_MS, le=MAX_INTERVAL_MS)
    timeout_ms: int = Field(default=DEFAULT_TIMEOUT_MS, ge=MIN_TIMEOUT_MS)
    max_execution_time_ms: int = Field(
        default=DEFAULT_MAX_EXECUTION_TIME_MS, ge=MIN_TIMEOUT_MS, le=MAX_EXECUTION_TIME_MS
    )
    max_response_size_kb: int = Field(default=DEFAULT_MAX_RESPONSE_SIZE_KB, ge=1, le=MAX_RESPONSE_SIZE_KB)
    upstream_endpoint_ids: list[str] = Field(default_factory=list, max_length=20)
    # Retries within a slot (`cronicorn.core.retries`); a retry is never sooner than the 1 s spacing.
    retry_max_attempts: int = Field(default=0, ge=0, le=MAX_RETRY_ATTEMPTS)
    retry_backoff_ms: int = Field(default=DEFAULT_RETRY_BACKOFF_MS, ge=MIN_RUN_SPACING_MS, le=MAX_RETRY_BACKOFF_MS)
    retry_backoff_max_ms: int = Field(
        default=DEFAULT_RETRY_BACKOFF_MAX_MS, ge=MIN_RUN_SPACING_MS, le=MAX_RETRY_BACKOFF_MS
    )
    retry_on: list[str] = Field(default_factory=lambda: [k.value for k in DEFAULT_RETRY_ON], max_length=len(RetryOn))
    # --- schedule options (issue 12) ---------------------------------------------------------
    run_at: Instant | None = None
    catch_up: CatchUpName | None = None  # None: the installation's default (CRONICORN_CATCH_UP)
    catch_up_window_ms: int = Field(
        default=DEFAULT_CATCH_UP_WINDOW_MS, ge=MIN_CATCH_UP_WINDOW_MS, le=MAX_CATCH_UP_WINDOW_MS
    )
    overlap: OverlapName = "skip"
    jitter_ms: int = Field(default=0, ge=0, le=MAX_JITTER_MS)
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    max_runs: int | None = Field(default=None, ge=1, le=MAX_RUNS)

    @field_validator("retry_on")
    @classmethod
    def _retry_on(cls, value: list[str]) -> list[str]:
        known = [k.value for k in RetryOn]
        for item in value:
            if item not in known:
                raise ValueError(f"{item!r} is not a failure that can be retried; use {', '.join(known)}")
        if len(set(value)) != len(value):
            raise ValueError("names a failure twice")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        method = value.upper()
        if method not in HTTP_METHODS:
            raise ValueError(f"must be one of {', '.join(HTTP_METHODS)}")
        return method

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        problem = headers_problem(value, _caps(info))
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("body")
    @classmethod
    def _body(cls, value: Any, info: ValidationInfo) -> Any:
        problem = body_problem(value, _caps(info))
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("baseline_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            validate_cron(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        validate_timezone(value)
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> EndpointSpec:
        # Model-level messages start with "<field>: " so the error names the field.
        if sum(getattr(self, kind) is not None for kind in SCHEDULE_KINDS) != 1:
            raise ValueError("baseline: set exactly one of baseline_cron, baseline_interval_ms or run_at")
        if (
            self.min_interval_ms is not None
            and self.max_interval_ms is not None
            and self.min_interval_ms > self.max_interval_ms
        ):
            raise ValueError("min_interval_ms: must not exceed max_interval_ms")
        if self.timeout_ms > self.max_execution_time_ms:
            raise ValueError("timeout_ms: must not exceed max_execution_time_ms")
        if len(set(self.upstream_endpoint_ids)) != len(self.upstream_endpoint_ids):
            raise ValueError("upstream_endpoint_ids: lists an endpoint twice")
        if self.body is not None and self.method not in BODY_METHODS:
            raise ValueError(f"body: a {self.method} request carries no body; use POST, PUT or PATCH")
        if self.retry_backoff_max_ms < self.retry_backoff_ms:
            raise ValueError("retry_backoff_max_ms: must not be less than retry_backoff_ms")
        _check_schedule_options(self)
        if self.catch_up is None:
            self.catch_up = cast(CatchUpName, _caps(info).catch_up)  # the setting checked it is one
        return self


def _check_schedule_options(spec: EndpointSpec) -> None:
    """The schedule options against each other and the schedule (model-level: "<field>: reason")."""
    if spec.starts_at is not None and spec.ends_at is not None and spec.starts_at >= spec.ends_at:
        raise ValueError("ends_at: must be after starts_at")
    if spec.baseline_interval_ms is not None and spec.jitter_ms > spec.baseline_interval_ms:
        raise ValueError("jitter_ms: must not exceed baseline_interval_ms (a slot may move at most one interval)")
    if spec.run_at is None:
        return
    if spec.jitter_ms:
        raise ValueError("jitter_ms: a one-off (run_at) runs at its time; jitter moves slots of a cron or interval")
    if spec.max_interval_ms is not None:
        raise ValueError("max_interval_ms: a one-off (run_at) has no interval to cap")
    if spec.starts_at is not None and spec.run_at < spec.starts_at:
        raise ValueError("run_at: must not be before starts_at")
    if spec.ends_at is not None and spec.run_at > spec.ends_at:
        raise ValueError("run_at: must not be after ends_at")


class EndpointPatch(StorableModel):
    """A partial endpoint update; the merged endpoint is validated as a whole by `merge_endpoint`."""

    model_config = _STRICT
    name: str | None = None
    description: str | None = None
    url: str | None = None
    method: str | None = None
    headers: dict[str, str] | None = None
    body: Any = None
    baseline_cron: str | None = None
    baseline_interval_ms: int | None = None
    timezone: str | None = None
    min_interval_ms: int | None = None
    max_interval_ms: int | None = None
    timeout_ms: int | None = None
    max_execution_time_ms: int | None = None
    max_response_size_kb: int | None = None
    upstream_endpoint_ids: list[str] | None = None
    retry_max_attempts: int | None = None
    retry_backoff_ms: int | None = None
    retry_backoff_max_ms: int | None = None
    retry_on: list[str] | None = None
    # --- schedule options (issue 12) ---------------------------------------------------------
    run_at: Instant | None = None
    catch_up: CatchUpName | None = None
    catch_up_window_ms: int | None = None
    overlap: OverlapName | None = None
    jitter_ms: int | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    max_runs: int | None = None


ENDPOINT_FIELDS = tuple(EndpointSpec.model_fields)
# Fields that cannot be cleared: a None in a patch means "leave as is" for them.
_REQUIRED = frozenset(
    {
        "name",
        "url",
        "method",
        "headers",
        "timezone",
        "timeout_ms",
        "max_execution_time_ms",
        "max_response_size_kb",
        "upstream_endpoint_ids",
        "retry_max_attempts",
        "retry_backoff_ms",
        "retry_backoff_max_ms",
        "retry_on",
        "catch_up",
        "catch_up_window_ms",
        "overlap",
        "jitter_ms",
    }
)


_REASONS = {
    "extra_forbidden": "unknown field",
    "missing": "is required",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "too_long": "must have at most {max_length} items",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "string_type": "must be text",
    "datetime_type": "must be an aware datetime (with a time zone)",
    "timezone_aware": "must be an aware datetime (with a time zone)",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "literal_error": "must be one of {expected}",
}


def _reason(err: Any) -> str:
    if err["type"] == "string_too_short" and err.get("ctx", {}).get("min_length") == 1:
        return "must not be empty"
    template = _REASONS.get(err["type"])
    if template is not None:
        # A float field's bounds arrive as floats: "must be <= 10080", not "<= 10080.0".
        ctx = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in err.get("ctx", {}).items()}
        try:
            return template.format(**ctx)
        except (KeyError, IndexError):
            pass
    return str(err["msg"]).removeprefix("Value error, ")


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic errors as FieldErrors with dotted field names and readable reasons."""
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        reason = _reason(err)
        if not loc and ": " in reason:  # model-level checks name their field first
            loc, reason = reason.split(": ", 1)
        errors.append(FieldError(loc or "input", reason))
    return errors


def invalid_input(exc: ValidationError) -> InvalidInput:
    """The InvalidInput a pydantic ValidationError stands for."""
    return InvalidInput(field_errors(exc))


def parse(model: type[M], data: dict[str, Any] | BaseModel, caps: InputCaps | None = None) -> M:
    """Validate `data` into `model` within `caps`, raising InvalidInput that names every bad field."""
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_unset=True)
    if not isinstance(data, dict):
        raise InvalidInput.one("input", "must be a mapping of field names to values")
    try:
        return model.model_validate(data, context={"caps": caps or DEFAULT_CAPS})
    except ValidationError as exc:
        raise invalid_input(exc) from None


def merge_endpoint(
    current: dict[str, Any], patch: dict[str, Any] | EndpointPatch, caps: InputCaps | None = None
) -> EndpointSpec:
    """Apply a partial update and validate the result; setting one kind of schedule (cron, interval,
    one-off) replaces the others."""
    changes = parse(EndpointPatch, patch, caps).model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if not (v is None and k in _REQUIRED)}
    merged = {**current, **changes}
    for kind in SCHEDULE_KINDS:
        if changes.get(kind) is not None:
            merged.update({other: None for other in SCHEDULE_KINDS if other != kind and other not in changes})
    return parse(EndpointSpec, merged, caps)
