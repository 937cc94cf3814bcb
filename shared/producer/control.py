"""Steering an endpoint: pause, resume, run now, hints. The one validated write path for people and the AI.

Hints and run-now only ever move the next run earlier; the governor clamps them into the
guardrails. A pause records who set it (`actor`), and the AI (actor "ai") can never lift or
change a pause a person set while it lasts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine

from cronicorn.core.constants import (
    DEFAULT_INTERVAL_HINT_TTL_MINUTES,
    DEFAULT_ONESHOT_HINT_TTL_MINUTES,
    MAX_AI_PAUSE_MINUTES,
)
from cronicorn.core.coordination import Direction, interval_direction
from cronicorn.core.errors import Conflict, FieldError, InvalidInput
from cronicorn.core.model import JobStatus, PausedBy
from cronicorn.core.notifications import NotifyEvent
from cronicorn.producer.endpoints import endpoint_row
from cronicorn.producer.hint_notes import interval_notes, oneshot_notes
from cronicorn.producer.hints import IntervalHint, OneShotHint, Pause
from cronicorn.producer.records import Endpoint
from cronicorn.producer.specs import parse
from cronicorn.store.endpoint_rows import EndpointRow
from cronicorn.store.hint_events import record_decision
from cronicorn.store.notifications import queue_pause_notification
from cronicorn.store.replanning import replan
from cronicorn.store.tables import endpoints

Actor = Literal["user", "ai"]


@dataclass(frozen=True)
class Steer:
    """The decision a write records (`hint_events`): thrash and contradictions are read from these."""

    actor: str
    action: str
    direction: Callable[[EndpointRow], Direction]
    interval_ms: int | None = None
    expires_at: datetime | None = None
    reason: str | None = None
    chain: Sequence[str] | None = None  # the cascade behind an AI decision (`cronicorn.store.analysis_wanted`)
    session_id: str | None = None


def _actor(actor: str) -> PausedBy:
    if actor not in ("user", "ai"):
        raise InvalidInput.one("actor", "must be 'user' or 'ai'")
    return PausedBy(actor)


def _paused_by_person(row: EndpointRow, now: datetime) -> bool:
    """A pause the AI may not touch: a person's, or the auto-pause policy's (a person lifts it)."""
    return row.paused_until is not None and row.paused_until > now and row.paused_by != PausedBy.AI.value


def _write(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    endpoint_id: str,
    values: dict[str, Any],
    mode: Literal["reset", "earlier"],
    check: Callable[[EndpointRow], None] | None = None,
    steer: Steer | None = None,
) -> Endpoint:
    with engine.begin() as conn:
        row = endpoint_row(conn, tenant_id, endpoint_id, lock=True)
        if row.archived_at is not None:
            raise Conflict(f"endpoint {endpoint_id!r} is archived")
        if check is not None:
            check(row)
        if steer is not None:
            decision_id = record_decision(
                conn,
                endpoint_id,
                now,
                actor=steer.actor,
                action=steer.action,
                direction=steer.direction(row),
                interval_ms=steer.interval_ms,
                expires_at=steer.expires_at,
                reason=steer.reason,
                chain=steer.chain,
                session_id=steer.session_id,
            )
            if steer.actor == PausedBy.AI.value and steer.action == "pause" and steer.expires_at is not None:
                # Told in the pause's own transaction: a pause that is rolled back notifies nobody.
                queue_pause_notification(
                    conn,
                    tenant_id=row.tenant_id,
                    job_id=row.job_id,
                    endpoint_id=endpoint_id,
                    endpoint_name=row.name,
                    event=NotifyEvent.AI_PAUSED,
                    source_id=decision_id,
                    until=steer.expires_at,
                    reason=steer.reason,
                    now=now,
                )
        conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(updated_at=now, **values))
        replan(conn, endpoint_id, now, mode=mode)
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))


def pause_endpoint(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    endpoint_id: str,
    until: datetime,
    reason: str | None = None,
    *,
    actor: Actor = "user",
    chain: Sequence[str] | None = None,
    session_id: str | None = None,
) -> Endpoint:
    """Pause until `until` (future); next_run_at moves to it. The AI cannot override a person's pause."""
    who = _actor(actor)
    pause = parse(Pause, {"paused_until": until, "reason": reason})
    if who is PausedBy.AI and pause.until(now) > now + timedelta(minutes=MAX_AI_PAUSE_MINUTES):
        # Capped here, on the one write path, not only in the planner's tool: any AI path obeys it.
        raise InvalidInput(
            [FieldError("paused_until", f"an AI pause may reach at most {MAX_AI_PAUSE_MINUTES // 1440} days ahead")]
        )
    values = {"paused_until": pause.until(now), "paused_by": who.value, "pause_reason": pause.reason}

    def check(row: EndpointRow) -> None:
        if who is PausedBy.AI and _paused_by_person(row, now):
            raise Conflict("the endpoint was paused by a person; the AI cannot change that pause")

    steer = Steer(
        who.value, "pause", lambda _: Direction.SLOWER, None, pause.until(now), pause.reason, chain, session_id
    )
    return _write(engine, tenant_id, now, endpoint_id, values, "reset", check, steer)


def resume_endpoint(
    engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *, actor: Actor = "user"
) -> Endpoint:
    """Lift a pause and re-plan from now. The AI cannot lift a person's pause (Conflict)."""
    who = _actor(actor)

    def check(row: EndpointRow) -> None:
        if who is PausedBy.AI and _paused_by_person(row, now):
            raise Conflict("the endpoint was paused by a person; the AI cannot resume it")

    values = {"paused_until": None, "paused_by": None, "pause_reason": None}
    steer = Steer(who.value, "resume", lambda _: Direction.NEUTRAL)
    return _write(engine, tenant_id, now, endpoint_id, values, "reset", check, steer)


def run_now(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *, actor: Actor = "user") -> Endpoint:
    """Ask for a run as soon as the guardrails allow; runs right after an attempt in flight."""
    _actor(actor)

    def check(row: EndpointRow) -> None:
        if row.job_status != JobStatus.ACTIVE.value:
            raise Conflict(f"the endpoint's job is {row.job_status}; resume the job first")
        if row.paused_until is not None and row.paused_until > now:
            raise Conflict(f"the endpoint is paused until {row.paused_until.isoformat()}; resume it first")
        # Nothing runs outside the endpoint's dates or past its count: a run-now would be planned never.
        if row.ended_at is not None:
            raise Conflict(
                f"the endpoint's schedule ended at {row.ended_at.isoformat()}; "
                "change its ends_at, max_runs or run_at to run it again"
            )
        if row.starts_at is not None and row.starts_at > now:
            raise Conflict(f"the endpoint starts at {row.starts_at.isoformat()}; nothing runs before that")

    return _write(engine, tenant_id, now, endpoint_id, {"run_requested_at": now}, "earlier", check)


def set_interval_hint(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    endpoint_id: str,
    interval_ms: int,
    ttl_minutes: float = DEFAULT_INTERVAL_HINT_TTL_MINUTES,
    reason: str | None = None,
    *,
    actor: Actor = "user",
    chain: Sequence[str] | None = None,
    session_id: str | None = None,
) -> Endpoint:
    """Run every `interval_ms` (clamped into min/max) until now + ttl; moves the next run earlier only."""
    who = _actor(actor)
    hint = parse(IntervalHint, {"interval_ms": interval_ms, "ttl_minutes": ttl_minutes, "reason": reason})
    values = {
        "ai_hint_interval_ms": hint.interval_ms,
        "ai_hint_expires_at": now + timedelta(minutes=hint.ttl_minutes),
        "ai_hint_reason": hint.reason,
    }
    steer = Steer(
        who.value,
        "interval",
        lambda row: interval_direction(
            hint.interval_ms,
            baseline_interval_ms=row.baseline_interval_ms,
            planned_in_ms=int((row.next_run_at - now).total_seconds() * 1000) if row.next_run_at else None,
        ),
        hint.interval_ms,
        now + timedelta(minutes=hint.ttl_minutes),
        hint.reason,
        chain,
        session_id,
    )
    ep = _write(engine, tenant_id, now, endpoint_id, values, "earlier", steer=steer)
    return replace(ep, notes=tuple(interval_notes(hint.interval_ms, ep, now)))


def set_oneshot_hint(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    endpoint_id: str,
    *,
    next_run_at: datetime | None = None,
    next_run_in_ms: int | None = None,
    ttl_minutes: float = DEFAULT_ONESHOT_HINT_TTL_MINUTES,
    reason: str | None = None,
    actor: Actor = "user",
    chain: Sequence[str] | None = None,
    session_id: str | None = None,
) -> Endpoint:
    """Run once at `next_run_at` (or now + `next_run_in_ms`) if that is earlier than planned."""
    who = _actor(actor)
    hint = parse(
        OneShotHint,
        {"next_run_at": next_run_at, "next_run_in_ms": next_run_in_ms, "ttl_minutes": ttl_minutes, "reason": reason},
    )
    values = {
        "ai_hint_next_run_at": hint.at(now),
        "ai_hint_expires_at": hint.expires(now),
        "ai_hint_reason": hint.reason,
    }
    steer = Steer(
        who.value, "oneshot", lambda _: Direction.FASTER, None, hint.expires(now), hint.reason, chain, session_id
    )
    ep = _write(engine, tenant_id, now, endpoint_id, values, "earlier", steer=steer)
    return replace(ep, notes=tuple(oneshot_notes(hint.at(now), ep, now)))


def clear_hints(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, *, actor: Actor = "user") -> Endpoint:
    """Drop every hint and re-plan from the baseline."""
    who = _actor(actor)
    values = {
        "ai_hint_interval_ms": None,
        "ai_hint_next_run_at": None,
        "ai_hint_expires_at": None,
        "ai_hint_reason": None,
    }
    return _write(engine, tenant_id, now, endpoint_id, values, "reset", steer=Steer(who.value, "clear", _neutral))


def _neutral(_: EndpointRow) -> Direction:
    return Direction.NEUTRAL
