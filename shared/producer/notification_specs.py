"""Validated notification channels and auto-pause policies: one set of rules for every edge."""

from __future__ import annotations

import re

from pydantic import ConfigDict, Field, field_validator, model_validator

from cronicorn.core.notifications import (
    ALL_EVENTS,
    DEFAULT_FAILURE_THRESHOLD,
    MAX_FAILURE_THRESHOLD,
    ChannelKind,
)
from cronicorn.producer.request_parts import url_problem
from cronicorn.producer.storable import StorableModel

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
MIN_SECRET_CHARS = 16


class ChannelSpec(StorableModel):
    """A place to tell about endpoints' state changes: a signed webhook or an e-mail address."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: ChannelKind
    target: str = Field(min_length=1, max_length=2048)  # the webhook's URL, or the e-mail address
    name: str | None = Field(default=None, min_length=1, max_length=255)
    job_id: str | None = None  # None: every job of the tenant
    events: list[str] = Field(default_factory=lambda: list(ALL_EVENTS), min_length=1)
    failure_threshold: int = Field(default=DEFAULT_FAILURE_THRESHOLD, ge=1, le=MAX_FAILURE_THRESHOLD)
    secret: str | None = Field(default=None, min_length=MIN_SECRET_CHARS, max_length=256)  # webhook only

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: object) -> object:
        # Strict mode takes an enum member only; a name as sent by REST or the CLI is one too.
        return ChannelKind(value) if isinstance(value, str) and value in {k.value for k in ChannelKind} else value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e not in ALL_EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; expected some of {', '.join(ALL_EVENTS)}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _target(self) -> ChannelSpec:
        # Model-level messages start with "<field>: " so the error names the field.
        if self.kind is ChannelKind.WEBHOOK:
            problem = url_problem(self.target)
            if problem is not None:
                raise ValueError(f"target: {problem}")
        else:
            if not _EMAIL.match(self.target):
                raise ValueError("target: must be an e-mail address (name@domain)")
            if self.secret is not None:
                raise ValueError("secret: only a webhook channel has a secret")
        return self


class AutoPauseSpec(StorableModel):
    """Pause an endpoint after this many consecutive failures (None: no auto-pause)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    after_failures: int | None = Field(ge=1, le=MAX_FAILURE_THRESHOLD)
