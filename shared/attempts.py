"""The database side of one attempt: start it (fenced), then finish it and plan the next run."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, select
from sqlalchemy.exc import IntegrityError

from shared.claims import lease_ms
from shared.governor import plan_next_run, settle_after_run
from shared.metrics import ABANDONED
from shared.model import ErrorKind, RunStatus
from shared.planning import lock_endpoint_row, schedulable, state_from_row
from shared.tables import endpoints, runs


@dataclass(frozen=True)
class Attempt:
    run_id: str
    endpoint_id: str
    fence: int
    slot: datetime
    attempt: int
    started_at: datetime
    lease_until: datetime
    source: str | None
    config: dict[str, Any]  # url, method, headers, body, timeout_ms, max_response_size_kb, tenant_id


@dataclass(frozen=True)
class RunResult:
    """What an attempt produced, in the runs table's terms."""

    status: RunStatus
    finished_at: datetime
    duration_ms: int | None = None
    status_code: int | None = None
    request_url: str | None = None
    response_headers: dict[str, str] | None = None
    response_body: Any = None
    response_text: str | None = None
    response_size_bytes: int | None = None
    response_truncated: bool = False
    content_type: str | None = None
    error_kind: str | None = None
    error_message: str | None = None


def read_claim(engine: Engine, endpoint_id: str) -> Any:
    """The claim columns and timeouts of an endpoint, without locking (a cheap first look)."""
    query = select(
        endpoints.c.fence,
        endpoints.c.claimed_slot,
        endpoints.c.timeout_ms,
        endpoints.c.max_execution_time_ms,
    ).where(endpoints.c.id == endpoint_id)
    with engine.connect() as conn:
        return conn.execute(query).first()


def begin_attempt(engine: Engine, endpoint_id: str, fence: int, now: datetime, *, grace_ms: int) -> Attempt | None:
    """Record a `running` run for the claim `fence`; None if the claim is no longer current.

    The fence check, the lease renewal and the run insert share one transaction, and runs are
    unique per (endpoint, slot, attempt): a duplicated message can never start a second call.
    """
    try:
        with engine.begin() as conn:
            row = lock_endpoint_row(conn, endpoint_id)
            if row is None or row.fence != fence or row.claimed_slot is None:
                return None
            lease_until = now + timedelta(milliseconds=lease_ms(row.timeout_ms, row.max_execution_time_ms, grace_ms))
            conn.execute(
                endpoints.update()
                .where(and_(endpoints.c.id == endpoint_id, endpoints.c.fence == fence))
                .values(lease_until=lease_until, next_run_at=lease_until)
            )
            # Earlier attempts still marked running lost their lease (we hold the lock now).
            lost = conn.execute(
                runs.update()
                .where(and_(runs.c.endpoint_id == endpoint_id, runs.c.status == RunStatus.RUNNING.value, runs.c.fence < fence))
                .values(
                    status=RunStatus.ABANDONED.value,
                    finished_at=now,
                    error_kind=ErrorKind.ABANDONED.value,
                    error_message="attempt abandoned: its lease expired before it finished (worker lost or cut off)",
                )
            )
            ABANDONED.inc(lost.rowcount)
            run_id = str(uuid.uuid4())
            conn.execute(
                runs.insert().values(
                    id=run_id,
                    endpoint_id=endpoint_id,
                    job_id=row.job_id,
                    status=RunStatus.RUNNING.value,
                    source=row.claimed_source,
                    scheduled_at=row.claimed_slot,
                    attempt=row.claim_attempt,
                    fence=fence,
                    started_at=now,
                    lease_until=lease_until,
                    request_url=row.url,
                )
            )
    except IntegrityError:
        return None  # this (endpoint, slot, attempt) already has a run: a duplicate message
    return Attempt(
        run_id=run_id,
        endpoint_id=endpoint_id,
        fence=fence,
        slot=row.claimed_slot,
        attempt=row.claim_attempt,
        started_at=now,
        lease_until=lease_until,
        source=row.claimed_source,
        config={
            "url": row.url,
            "method": row.method,
            "headers": dict(row.headers or {}),
            "body": row.body,
            "timeout_ms": row.timeout_ms,
            "max_response_size_kb": row.max_response_size_kb,
            "tenant_id": row.tenant_id,
        },
    )


def finish_attempt(engine: Engine, attempt: Attempt, result: RunResult) -> bool:
    """Store the run's result and, if the claim is still ours, plan the next run. One transaction.

    Returns False when the claim was superseded (fence moved on): the run is still stored,
    flagged `superseded`, but it plans nothing, so a stale attempt can never overwrite the
    schedule a newer claim owns.
    """
    now = result.finished_at
    with engine.begin() as conn:
        row = lock_endpoint_row(conn, attempt.endpoint_id)
        current = row is not None and row.fence == attempt.fence and row.claimed_slot is not None
        values = {k: v for k, v in result.__dict__.items() if k != "status"}
        conn.execute(
            runs.update()
            .where(runs.c.id == attempt.run_id)
            .values(status=result.status.value, superseded=not current, **values)
        )
        if not current:
            return False
        success = result.status is RunStatus.SUCCESS
        state = settle_after_run(state_from_row(row), success=success, started_at=attempt.started_at, now=now)
        plan = plan_next_run(state, now, after_slot=attempt.slot) if schedulable(row) else None
        conn.execute(
            endpoints.update()
            .where(and_(endpoints.c.id == attempt.endpoint_id, endpoints.c.fence == attempt.fence))
            .values(
                failure_count=state.failure_count,
                last_run_at=state.last_run_at,
                run_requested_at=state.run_requested_at,
                ai_hint_interval_ms=state.ai_hint_interval_ms,
                ai_hint_next_run_at=state.ai_hint_next_run_at,
                ai_hint_expires_at=state.ai_hint_expires_at,
                ai_hint_reason=row.ai_hint_reason if state.ai_hint_expires_at is not None else None,
                next_run_at=plan.at if plan else None,
                next_run_source=plan.source.value if plan else None,
                claimed_slot=None,
                claimed_source=None,
                claim_attempt=0,
                lease_until=None,
            )
        )
        return True
