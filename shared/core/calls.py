"""A scheduled HTTP call as values: what to send and what came back. The executor lives in `cronicorn.http`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cronicorn.core.model import ErrorKind


@dataclass(frozen=True)
class HttpRequest:
    """One call to make: where, how, and the bounds on time and size."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None  # a JSON value; sent only for POST, PUT and PATCH
    timeout_ms: int = 30_000
    max_response_size_kb: int = 100
    idempotency_key: str | None = None
    signing_keys: tuple[bytes, ...] = ()  # the tenant's live keys; empty: the caller's own key


@dataclass(frozen=True)
class HttpOutcome:
    """What came back (or why nothing did), ready to store on a run."""

    ok: bool
    status_code: int | None
    duration_ms: int
    final_url: str
    response_headers: dict[str, str] = field(
        default_factory=dict
    )  # the executor's kept headers only, lower-cased names
    body_json: Any | None = None
    body_text: str | None = None
    body_size_bytes: int | None = None
    truncated: bool = False
    content_type: str | None = None
    error_kind: ErrorKind | None = None
    error_message: str | None = None
