"""Steering an endpoint: pause, resume, run now, hints. The one validated write path for people and the AI.

Hints and run-now only ever move the next run earlier; the governor clamps them into the
guardrails. A pause records who set it, and the AI (actor "ai") can never lift a person's pause.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine

from shared.endpoints import endpoint_row
from shared.errors import Conflict, InvalidInput
from shared.model import JobStatus, PausedBy
from shared.planning import replan
from shared.records import Endpoint
from shared.tables import endpoints

Actor = Literal["user", "ai"]
MAX_TTL_MINUTES = 7 * 24 * 60
MAX_HINT_MS = 366 * 24 * 3_600_000


def _ttl(ttl_minutes: float) -> timedelta:
    if not isinstance(ttl_minutes, (int, float)) or isinstance(ttl_minutes, bool) or not 0 < ttl_minutes <= MAX_TTL_MINUTES:
        raise InvalidInput.one("ttl_minutes", f"must be a number of minutes in (0, {MAX_TTL_MINUTES}]")
    return timedelta(minutes=ttl_minutes)


def _aware(name: str, value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput.one(name, "must be an aware datetime (with a time zone)")
    return value


def _write(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, values: dict[str, Any],
           mode: Literal["reset", "earlier"], *, check: Any = None) -> Endpoint:
    with engine.begin() as conn:
        row = endpoint_row(conn, tenant_id, endpoint_id, lock=True)
        if row.archived_at is not None:
            raise Conflict(f"endpoint {endpoint_id!r} is archived")
        if check is not None:
            check(row)
        conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(updated_at=now, **values))
        replan(conn, endpoint_id, now, mode=mode)
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))


def _paused(row: Any, now: datetime) -> bool:
    return row.paused_until is not None and row.paused_until > now


def pause_endpoint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, until: datetime,
                   reason: str | None = None, *, actor: Actor = "user") -> Endpoint:
    until = _aware("paused_until", until)
    if until <= now:
        raise InvalidInput.one("paused_until", "must be in the future")

    def check(row: Any) -> None:
        if actor == "ai" and _paused(row, now) and row.paused_by == PausedBy.USER.value:
            raise Conflict("the endpoint was paused by a person; the AI cannot change that pause")

    values = {"paused_until": until, "paused_by": PausedBy(actor).value, "pause_reason": reason}
    return _write(engine, tenant_id, now, endpoint_id, values, "reset", check=check)


def resume_endpoint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *, actor: Actor = "user") -> Endpoint:
    def check(row: Any) -> None:
        if actor == "ai" and _paused(row, now) and row.paused_by == PausedBy.USER.value:
            raise Conflict("the endpoint was paused by a person; the AI cannot resume it")

    values = {"paused_until": None, "paused_by": None, "pause_reason": None}
    return _write(engine, tenant_id, now, endpoint_id, values, "reset", check=check)


def run_now(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str) -> Endpoint:
    """Ask for a run as soon as the guardrails allow; runs right after an attempt in flight."""

    def check(row: Any) -> None:
        if row.job_status != JobStatus.ACTIVE.value:
            raise Conflict(f"the endpoint's job is {row.job_status}; resume the job first")
        if _paused(row, now):
            raise Conflict(f"the endpoint is paused until {row.paused_until.isoformat()}; resume it first")

    return _write(engine, tenant_id, now, endpoint_id, {"run_requested_at": now}, "earlier", check=check)


def set_interval_hint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, interval_ms: int,
                      ttl_minutes: float = 60, reason: str | None = None) -> Endpoint:
    if not isinstance(interval_ms, int) or isinstance(interval_ms, bool) or not 0 < interval_ms <= MAX_HINT_MS:
        raise InvalidInput.one("interval_ms", f"must be a whole number of milliseconds in (0, {MAX_HINT_MS}]")
    values = {"ai_hint_interval_ms": interval_ms, "ai_hint_expires_at": now + _ttl(ttl_minutes), "ai_hint_reason": reason}
    return _write(engine, tenant_id, now, endpoint_id, values, "earlier")


def set_oneshot_hint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *,
                     next_run_at: datetime | None = None, next_run_in_ms: int | None = None,
                     ttl_minutes: float = 30, reason: str | None = None) -> Endpoint:
    if (next_run_at is None) == (next_run_in_ms is None):
        raise InvalidInput.one("next_run_at", "give exactly one of next_run_at or next_run_in_ms")
    if next_run_in_ms is not None:
        if not isinstance(next_run_in_ms, int) or isinstance(next_run_in_ms, bool) or not 0 <= next_run_in_ms <= MAX_HINT_MS:
            raise InvalidInput.one("next_run_in_ms", f"must be a whole number of milliseconds in [0, {MAX_HINT_MS}]")
        at = now + timedelta(milliseconds=next_run_in_ms)
    else:
        at = _aware("next_run_at", next_run_at)
    ttl = _ttl(ttl_minutes)
    # The hint must outlive its own time, or it would expire before it could fire.
    expires = max(now + ttl, at + timedelta(minutes=1))
    values = {"ai_hint_next_run_at": at, "ai_hint_expires_at": expires, "ai_hint_reason": reason}
    return _write(engine, tenant_id, now, endpoint_id, values, "earlier")


def clear_hints(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str) -> Endpoint:
    values = {"ai_hint_interval_ms": None, "ai_hint_next_run_at": None, "ai_hint_expires_at": None, "ai_hint_reason": None}
    return _write(engine, tenant_id, now, endpoint_id, values, "reset")
