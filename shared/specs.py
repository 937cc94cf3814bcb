"""Validated input for jobs and endpoints, shared by the Python client, the CLI and the REST API."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.errors import FieldError, InvalidInput
from shared.model import (
    DEFAULT_MAX_EXECUTION_TIME_MS,
    DEFAULT_MAX_RESPONSE_SIZE_KB,
    DEFAULT_TIMEOUT_MS,
    HTTP_METHODS,
    MAX_EXECUTION_TIME_MS,
    MIN_BASELINE_INTERVAL_MS,
    MIN_TIMEOUT_MS,
)
from shared.schedule import validate_cron, validate_timezone

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
MAX_INTERVAL_MS = 366 * 24 * 3_600_000  # a year: longer is a mistake, and must fit every integer column


class JobSpec(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)


class JobPatch(BaseModel):
    model_config = _STRICT
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)


class EndpointSpec(BaseModel):
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
    max_execution_time_ms: int = Field(default=DEFAULT_MAX_EXECUTION_TIME_MS, ge=MIN_TIMEOUT_MS, le=MAX_EXECUTION_TIME_MS)
    max_response_size_kb: int = Field(default=DEFAULT_MAX_RESPONSE_SIZE_KB, ge=1, le=10_240)
    upstream_endpoint_ids: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
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
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            if not name or any(c in name for c in "\r\n:") or any(c in header for c in "\r\n"):
                raise ValueError(f"header {name!r} has an empty name or a line break / colon in it")
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
    def _consistent(self) -> "EndpointSpec":
        if (self.baseline_cron is None) == (self.baseline_interval_ms is None):
            raise ValueError("baseline: set exactly one of baseline_cron or baseline_interval_ms")
        if self.min_interval_ms is not None and self.max_interval_ms is not None and self.min_interval_ms > self.max_interval_ms:
            raise ValueError("min_interval_ms: must not exceed max_interval_ms")
        if self.timeout_ms > self.max_execution_time_ms:
            raise ValueError("timeout_ms: must not exceed max_execution_time_ms")
        if len(set(self.upstream_endpoint_ids)) != len(self.upstream_endpoint_ids):
            raise ValueError("upstream_endpoint_ids: lists an endpoint twice")
        if self.body is not None and self.method not in ("POST", "PUT", "PATCH"):
            raise ValueError(f"body: a {self.method} request carries no body; use POST, PUT or PATCH")
        return self


ENDPOINT_FIELDS = tuple(EndpointSpec.model_fields)


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        reason = str(err["msg"]).removeprefix("Value error, ")
        if not loc and ": " in reason:  # model-level checks name their field first
            loc, reason = reason.split(": ", 1)
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        errors.append(FieldError(loc or "input", reason))
    return errors


def parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """Validate `data` into `model`, raising InvalidInput that names every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_field_errors(exc)) from None


def merge_endpoint(current: dict[str, Any], patch: dict[str, Any]) -> EndpointSpec:
    """Apply a partial update; setting one kind of baseline replaces the other."""
    unknown = [k for k in patch if k not in ENDPOINT_FIELDS]
    if unknown:
        raise InvalidInput([FieldError(k, "unknown field") for k in unknown])
    merged = {**current, **patch}
    if patch.get("baseline_cron") is not None and "baseline_interval_ms" not in patch:
        merged["baseline_interval_ms"] = None
    if patch.get("baseline_interval_ms") is not None and "baseline_cron" not in patch:
        merged["baseline_cron"] = None
    return parse(EndpointSpec, merged)  # type: ignore[no-any-return]
