"""Steering an endpoint: pause, resume, run now, hints. The one validated write path for people and the AI.

Hints and run-now only ever move the next run earlier; the governor clamps them into the
guardrails. A pause records who set it (`actor`), and the AI (actor "ai") can never lift or
change a pause a person set while it lasts.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine

from cronicorn.producer.endpoints import endpoint_row
from cronicorn.core.errors import Conflict, InvalidInput
from cronicorn.core.model import JobStatus, PausedBy
from cronicorn.store.replanning import replan
from cronicorn.producer.records import Endpoint
from cronicorn.store.tables import endpoints

Actor = Literal["user", "ai"]
MAX_TTL_MINUTES = 7 * 24 * 60
MAX_HINT_MS = 366 * 24 * 3_600_000
MAX_REASON = 1000


def _actor(actor: str) -> PausedBy:
    if actor not in ("user", "ai"):
        raise InvalidInput.one("actor", "must be 'user' or 'ai'")
    return PausedBy(actor)


def _reason(reason: str | None) -> str | None:
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise InvalidInput.one("reason", f"must be text of at most {MAX_REASON} characters")
    return reason.strip() or None if reason is not None else None


def _ttl(ttl_minutes: float) -> timedelta:
    if not isinstance(ttl_minutes, (int, float)) or isinstance(ttl_minutes, bool) or not 0 < ttl_minutes <= MAX_TTL_MINUTES:
        raise InvalidInput.one("ttl_minutes", f"must be a number of minutes in (0, {MAX_TTL_MINUTES}]")
    return timedelta(minutes=ttl_minutes)


def _ms(name: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_HINT_MS:
        raise InvalidInput.one(name, f"must be a whole number of milliseconds in [{low}, {MAX_HINT_MS}]")
    return value


def _aware(name: str, value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput.one(name, "must be an aware datetime (with a time zone)")
    return value


def _paused_by_person(row: Any, now: datetime) -> bool:
    return row.paused_until is not None and row.paused_until > now and row.paused_by == PausedBy.USER.value


def _write(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, values: dict[str, Any],
           mode: Literal["reset", "earlier"], check: Callable[[Any], None] | None = None) -> Endpoint:
    with engine.begin() as conn:
        row = endpoint_row(conn, tenant_id, endpoint_id, lock=True)
        if row.archived_at is not None:
            raise Conflict(f"endpoint {endpoint_id!r} is archived")
        if check is not None:
            check(row)
        conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(updated_at=now, **values))
        replan(conn, endpoint_id, now, mode=mode)
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))


def pause_endpoint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, until: datetime,
                   reason: str | None = None, *, actor: Actor = "user") -> Endpoint:
    """Pause until `until` (future); next_run_at moves to it. The AI cannot override a person's pause."""
    who = _actor(actor)
    until = _aware("paused_until", until)
    if until <= now:
        raise InvalidInput.one("paused_until", f"must be in the future (now is {now.isoformat()})")
    values = {"paused_until": until, "paused_by": who.value, "pause_reason": _reason(reason)}

    def check(row: Any) -> None:
        if who is PausedBy.AI and _paused_by_person(row, now):
            raise Conflict("the endpoint was paused by a person; the AI cannot change that pause")

    return _write(engine, tenant_id, now, endpoint_id, values, "reset", check)


def resume_endpoint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *, actor: Actor = "user") -> Endpoint:
    """Lift a pause and re-plan from now. The AI cannot lift a person's pause (Conflict)."""
    who = _actor(actor)

    def check(row: Any) -> None:
        if who is PausedBy.AI and _paused_by_person(row, now):
            raise Conflict("the endpoint was paused by a person; the AI cannot resume it")

    values = {"paused_until": None, "paused_by": None, "pause_reason": None}
    return _write(engine, tenant_id, now, endpoint_id, values, "reset", check)


def run_now(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *, actor: Actor = "user") -> Endpoint:
    """Ask for a run as soon as the guardrails allow; runs right after an attempt in flight."""
    _actor(actor)

    def check(row: Any) -> None:
        if row.job_status != JobStatus.ACTIVE.value:
            raise Conflict(f"the endpoint's job is {row.job_status}; resume the job first")
        if row.paused_until is not None and row.paused_until > now:
            raise Conflict(f"the endpoint is paused until {row.paused_until.isoformat()}; resume it first")

    return _write(engine, tenant_id, now, endpoint_id, {"run_requested_at": now}, "earlier", check)


def set_interval_hint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, interval_ms: int,
                      ttl_minutes: float = 60, reason: str | None = None, *, actor: Actor = "user") -> Endpoint:
    """Run every `interval_ms` (clamped into min/max) until now + ttl; moves the next run earlier only."""
    _actor(actor)
    values = {
        "ai_hint_interval_ms": _ms("interval_ms", interval_ms, 1),
        "ai_hint_expires_at": now + _ttl(ttl_minutes),
        "ai_hint_reason": _reason(reason),
    }
    return _write(engine, tenant_id, now, endpoint_id, values, "earlier")


def set_oneshot_hint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *,
                     next_run_at: datetime | None = None, next_run_in_ms: int | None = None,
                     ttl_minutes: float = 30, reason: str | None = None, actor: Actor = "user") -> Endpoint:
    """Run once at `next_run_at` (or now + `next_run_in_ms`) if that is earlier than planned."""
    _actor(actor)
    if (next_run_at is None) == (next_run_in_ms is None):
        raise InvalidInput.one("next_run_at", "give exactly one of next_run_at or next_run_in_ms")
    if next_run_in_ms is not None:
        at = now + timedelta(milliseconds=_ms("next_run_in_ms", next_run_in_ms, 0))
    else:
        at = _aware("next_run_at", next_run_at)
        if at > now + timedelta(milliseconds=MAX_HINT_MS):
            raise InvalidInput.one("next_run_at", "must be within a year from now")
    ttl = _ttl(ttl_minutes)
    # The hint must outlive its own time, or it would expire before it could fire.
    expires = max(now + ttl, at + timedelta(minutes=1))
    values = {"ai_hint_next_run_at": at, "ai_hint_expires_at": expires, "ai_hint_reason": _reason(reason)}
    return _write(engine, tenant_id, now, endpoint_id, values, "earlier")


def clear_hints(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *, actor: Actor = "user") -> Endpoint:
    """Drop every hint and re-plan from the baseline."""
    _actor(actor)
    values = {"ai_hint_interval_ms": None, "ai_hint_next_run_at": None, "ai_hint_expires_at": None, "ai_hint_reason": None}
    return _write(engine, tenant_id, now, endpoint_id, values, "reset")
