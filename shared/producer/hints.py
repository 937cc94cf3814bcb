"""Validated hints and pauses: one set of caps for the Python client, the REST API and the AI planner.

Strict types: a bool is not a number, a float is not a whole number of milliseconds, and a time
must be an aware datetime (callers that read text, the API and the planner, parse it first).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ConfigDict, Field, field_validator, model_validator

from cronicorn.core.constants import (
    DEFAULT_INTERVAL_HINT_TTL_MINUTES,
    DEFAULT_ONESHOT_HINT_TTL_MINUTES,
    MAX_HINT_REACH_MS,
    MAX_HINT_TTL_MINUTES,
    MAX_INTERVAL_HINT_MS,
    MAX_REASON_CHARS,
    MIN_INTERVAL_HINT_MS,
)
from cronicorn.core.errors import InvalidInput
from cronicorn.producer.storable import Instant, StorableModel

_STRICT = ConfigDict(extra="forbid", strict=True)


class _Steering(StorableModel):
    model_config = _STRICT
    reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        # The cap applies to the text as sent; a blank reason is no reason.
        return value.strip() or None if value is not None else None


class IntervalHint(_Steering):
    """Run every `interval_ms` (the governor clamps it into min/max) for `ttl_minutes`."""

    interval_ms: int = Field(ge=MIN_INTERVAL_HINT_MS, le=MAX_INTERVAL_HINT_MS)
    ttl_minutes: float = Field(default=DEFAULT_INTERVAL_HINT_TTL_MINUTES, gt=0, le=MAX_HINT_TTL_MINUTES)


class OneShotHint(_Steering):
    """Run once at `next_run_at` or in `next_run_in_ms` (exactly one), if earlier than planned."""

    next_run_at: Instant | None = None
    next_run_in_ms: int | None = Field(default=None, ge=0, le=MAX_HINT_REACH_MS)
    ttl_minutes: float = Field(default=DEFAULT_ONESHOT_HINT_TTL_MINUTES, gt=0, le=MAX_HINT_TTL_MINUTES)

    @model_validator(mode="after")
    def _exactly_one(self) -> OneShotHint:
        # Model-level messages start with "<field>: " so the error names the field.
        if (self.next_run_at is None) == (self.next_run_in_ms is None):
            raise ValueError("next_run_at: give exactly one of next_run_at or next_run_in_ms")
        return self

    def at(self, now: datetime) -> datetime:
        """When the hinted run is due, refused when it lies beyond the reach of a hint."""
        if self.next_run_in_ms is not None:
            return now + timedelta(milliseconds=self.next_run_in_ms)
        assert self.next_run_at is not None  # exactly one is set (checked above)
        if self.next_run_at > now + timedelta(milliseconds=MAX_HINT_REACH_MS):
            raise InvalidInput.one("next_run_at", "must be within a year from now")
        return self.next_run_at

    def expires(self, now: datetime) -> datetime:
        """When the hint lapses: after its TTL, but never before its own time has come."""
        return max(now + timedelta(minutes=self.ttl_minutes), self.at(now) + timedelta(minutes=1))


class Pause(_Steering):
    """Pause until `paused_until`, which must lie in the future."""

    paused_until: Instant

    def until(self, now: datetime) -> datetime:
        """The end of the pause, refused unless it is still to come."""
        if self.paused_until <= now:
            raise InvalidInput.one("paused_until", f"must be in the future (now is {now.isoformat()})")
        return self.paused_until
