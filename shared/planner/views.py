"""Compact, model-readable views of endpoints and runs (bodies truncated, secrets redacted).

What a target answers may carry credentials (a token endpoint's `access_token`, an error quoting the
URL with its `?api_key=`): they are masked before a model, and the provider behind it, sees them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from cronicorn.producer.redaction import redact_json, redact_text
from cronicorn.store.endpoint_rows import EndpointRow


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def body_preview(row: Row[Any], chars: int) -> str | None:
    """The run's response (JSON or text), secrets redacted, cut to `chars` characters; None if it had none."""
    if row.response_body is not None:
        text = json.dumps(redact_json(row.response_body), default=str)
    elif row.response_text is not None:
        text = redact_text(row.response_text)
    else:
        return None
    return text if len(text) <= chars else text[:chars] + "…"


def run_view(row: Row[Any], *, body_chars: int) -> dict[str, Any]:
    """A finished run (a `runs` row) as the model sees it."""
    return {
        "status": row.status,
        "status_code": row.status_code,
        "started_at": _iso(row.started_at),
        "duration_ms": row.duration_ms,
        "source": row.source,
        "error": redact_text(row.error_message) if row.error_message is not None else None,
        "body": body_preview(row, body_chars),
    }


def _schedule(row: EndpointRow | Row[Any]) -> dict[str, Any]:
    if row.baseline_cron:
        return {"cron": row.baseline_cron, "timezone": row.timezone}
    if row.baseline_interval_ms is not None:
        return {"interval_ms": row.baseline_interval_ms}
    return {"run_at": _iso(row.run_at)}  # a one-off


def endpoint_view(row: EndpointRow | Row[Any], now: datetime) -> dict[str, Any]:
    """An endpoint's schedule and state as the model sees it; a bare `endpoints` row (no job columns) will do."""
    fresh = row.ai_hint_expires_at is not None and row.ai_hint_expires_at > now
    return {
        "name": row.name,
        "description": row.description,
        "schedule": _schedule(row),
        "min_interval_ms": row.min_interval_ms,
        "max_interval_ms": row.max_interval_ms,
        "paused_until": _iso(row.paused_until) if row.paused_until and row.paused_until > now else None,
        "paused_by": row.paused_by if row.paused_until and row.paused_until > now else None,
        "failure_count": row.failure_count,
        "next_run_at": _iso(row.next_run_at),
        "active_hints": {
            "interval_ms": row.ai_hint_interval_ms,
            "next_run_at": _iso(row.ai_hint_next_run_at),
            "expires_at": _iso(row.ai_hint_expires_at),
            "reason": row.ai_hint_reason,
        }
        if fresh
        else None,
    }
