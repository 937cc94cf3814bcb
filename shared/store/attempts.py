"""The database side of attempts: start them (fenced), then finish them and plan the next runs.

Both sides work on a batch (the claims of one execute message) in one transaction each, so
the cost per run is a share of a few statements, not a dozen round trips. Every row is still
checked against its own fencing token inside that transaction: batching changes how many
rows a statement writes, never which rows may be written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, and_, bindparam, select
from sqlalchemy.exc import IntegrityError

from cronicorn.core.calls import HttpRequest
from cronicorn.core.governor import plan_next_run, settle_after_run
from cronicorn.core.model import ErrorKind, RunStatus
from cronicorn.store.claims import lease_ms
from cronicorn.store.endpoint_rows import EndpointRow
from cronicorn.store.replanning import lock_endpoint_rows, schedulable, state_from_row
from cronicorn.store.tables import endpoints, runs
from cronicorn.telemetry.metrics import ABANDONED


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
    request: HttpRequest  # without signing keys: the runner adds the tenant's
    tenant_id: str


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


@dataclass(frozen=True)
class Order:
    """What one execute message asks for: run the attempt that claim `fence` stands for."""

    endpoint_id: str
    fence: int


@dataclass(frozen=True)
class Started:
    """The outcome of `begin_attempts`, by endpoint id."""

    attempts: list[Attempt]
    stale: set[str]  # the claim moved on (or the run already exists): nothing to do
    locked: set[str]  # another execution holds the endpoint's lock


# (endpoint id, lease ms) of the current claims -> the ids whose lock was taken.
LockTaker = Callable[[dict[str, int]], set[str]]


def _is_current(row: EndpointRow | None, fence: int) -> bool:
    return row is not None and row.fence == fence and row.claimed_slot is not None


def running_runs(endpoint_ids: Sequence[str]) -> Select[Any]:
    """Runs of these endpoints still marked running (read through a small partial index)."""
    return select(runs.c.id, runs.c.endpoint_id, runs.c.fence).where(
        and_(runs.c.endpoint_id.in_(endpoint_ids), runs.c.status == RunStatus.RUNNING.value)
    )


_RENEW = (
    endpoints.update()
    .where(and_(endpoints.c.id == bindparam("b_id"), endpoints.c.fence == bindparam("b_fence")))
    .values(lease_until=bindparam("b_lease"), next_run_at=bindparam("b_lease"))
)


def begin_attempts(
    engine: Engine, orders: Sequence[Order], now: datetime, *, grace_ms: int, take_locks: LockTaker
) -> Started:
    """Start a batch; if a run of it already exists after all (a race the check cannot see),
    start each order on its own so one duplicate does not hold back the rest.

    `take_locks` must be idempotent for locks the caller already holds.
    """
    try:
        return _begin(engine, orders, now, grace_ms=grace_ms, take_locks=take_locks)
    except IntegrityError:
        if len(orders) == 1:
            return Started(attempts=[], stale={orders[0].endpoint_id}, locked=set())
    merged = Started(attempts=[], stale=set(), locked=set())
    for order in orders:
        one = begin_attempts(engine, [order], now, grace_ms=grace_ms, take_locks=take_locks)
        merged.attempts.extend(one.attempts)
        merged.stale.update(one.stale)
        merged.locked.update(one.locked)
    return merged


def _begin(engine: Engine, orders: Sequence[Order], now: datetime, *, grace_ms: int, take_locks: LockTaker) -> Started:
    """Record a `running` run for every order whose claim is current and whose lock we get.

    One transaction: lock the rows, check each fence, take the endpoint locks (Redis) for the
    current ones, renew their leases and insert their runs. Runs are unique per (endpoint,
    slot, attempt): a duplicated message finds its run and does nothing.
    """
    attempts: list[Attempt] = []
    stale: set[str] = set()
    with engine.begin() as conn:
        rows = lock_endpoint_rows(conn, [o.endpoint_id for o in orders])
        current: dict[str, tuple[EndpointRow, int]] = {}
        for order in orders:
            row = rows.get(order.endpoint_id)
            if row is not None and _is_current(row, order.fence) and order.endpoint_id not in current:
                current[order.endpoint_id] = (row, lease_ms(row.timeout_ms, row.max_execution_time_ms, grace_ms))
            else:
                stale.add(order.endpoint_id)
        if current:
            # Runs still marked running: an earlier fence lost its lease (we hold the claim now);
            # the current fence means this message is a duplicate of one already started.
            running = conn.execute(running_runs(list(current))).all()
            lost = [r.id for r in running if r.fence < current[r.endpoint_id][0].fence]
            for r in running:
                if r.fence == current[r.endpoint_id][0].fence:
                    stale.add(r.endpoint_id)
                    current.pop(r.endpoint_id)
            if lost:
                conn.execute(
                    runs.update()
                    .where(runs.c.id.in_(lost))
                    .values(
                        status=RunStatus.ABANDONED.value,
                        finished_at=now,
                        error_kind=ErrorKind.ABANDONED.value,
                        error_message="attempt abandoned: its lease expired before it finished "
                        "(worker lost or cut off)",
                    )
                )
                ABANDONED.inc(len(lost))
        locked = take_locks({eid: lease for eid, (_, lease) in current.items()}) if current else set()
        renewals: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        for eid in locked:
            claimed, lease = current[eid]
            lease_until = now + timedelta(milliseconds=lease)
            run_id = str(uuid.uuid4())
            renewals.append({"b_id": eid, "b_fence": claimed.fence, "b_lease": lease_until})
            inserts.append(
                {
                    "id": run_id,
                    "endpoint_id": eid,
                    "job_id": claimed.job_id,
                    "status": RunStatus.RUNNING.value,
                    "source": claimed.claimed_source,
                    "scheduled_at": claimed.claimed_slot,
                    "attempt": claimed.claim_attempt,
                    "fence": claimed.fence,
                    "started_at": now,
                    "lease_until": lease_until,
                    "request_url": claimed.url,
                }
            )
            attempts.append(_attempt(claimed, run_id, now, lease_until))
        if renewals:
            conn.execute(_RENEW, renewals)
            conn.execute(runs.insert(), inserts)
    return Started(attempts=attempts, stale=stale, locked=set(current) - locked)


def _attempt(row: EndpointRow, run_id: str, now: datetime, lease_until: datetime) -> Attempt:
    slot = row.claimed_slot
    if slot is None:  # unreachable: only rows that _is_current let through get here, and they are claimed
        raise ValueError(f"endpoint {row.id} has no claimed slot")
    return Attempt(
        run_id=run_id,
        endpoint_id=row.id,
        fence=row.fence,
        slot=slot,
        attempt=row.claim_attempt,
        started_at=now,
        lease_until=lease_until,
        source=row.claimed_source,
        request=HttpRequest(
            url=row.url,
            method=row.method,
            headers=dict(row.headers or {}),
            body=row.body,
            timeout_ms=row.timeout_ms,
            max_response_size_kb=row.max_response_size_kb,
            idempotency_key=idempotency_key(row.id, slot),
        ),
        tenant_id=row.tenant_id,
    )


def idempotency_key(endpoint_id: str, slot: datetime) -> str:
    """Same for every attempt at one slot, so receivers can drop a retried delivery."""
    return f"{endpoint_id}:{slot.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


_RESULT_COLUMNS = tuple(name for name in RunResult.__dataclass_fields__ if name != "status")

_FINISH_RUN = (
    runs.update()
    .where(runs.c.id == bindparam("b_run"))
    .values(
        status=bindparam("b_status"),
        superseded=bindparam("b_superseded"),
        **{name: bindparam(f"b_{name}") for name in _RESULT_COLUMNS},
    )
)

_PLAN_COLUMNS = (
    "failure_count",
    "last_run_at",
    "run_requested_at",
    "ai_hint_interval_ms",
    "ai_hint_next_run_at",
    "ai_hint_expires_at",
    "ai_hint_reason",
    "next_run_at",
    "next_run_source",
)

_SETTLE = (
    endpoints.update()
    .where(and_(endpoints.c.id == bindparam("b_id"), endpoints.c.fence == bindparam("b_fence")))
    .values(
        claimed_slot=None,
        claimed_source=None,
        claim_attempt=0,
        lease_until=None,
        **{name: bindparam(f"b_{name}") for name in _PLAN_COLUMNS},
    )
)


def finish_attempts(engine: Engine, done: Sequence[tuple[Attempt, RunResult]]) -> list[bool]:
    """Store results and, where the claim is still ours, plan the next runs. One transaction.

    An entry whose claim was superseded (fence moved on) is still stored, flagged
    `superseded`, but plans nothing (False at its index): a stale attempt can never overwrite
    the schedule a newer claim owns. A run acknowledged to the broker is stored: the caller
    acknowledges only after this commits.
    """
    if not done:
        return []
    current: list[bool] = []
    run_updates: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    with engine.begin() as conn:
        rows = lock_endpoint_rows(conn, [a.endpoint_id for a, _ in done])
        for attempt, result in done:
            row = rows.get(attempt.endpoint_id)
            ours = _is_current(row, attempt.fence)
            current.append(ours)
            run_updates.append(
                {
                    "b_run": attempt.run_id,
                    "b_status": result.status.value,
                    "b_superseded": not ours,
                    **{f"b_{name}": getattr(result, name) for name in _RESULT_COLUMNS},
                }
            )
            if ours and row is not None:
                plans.append(_settled(row, attempt, result))
        conn.execute(_FINISH_RUN, run_updates)
        if plans:
            conn.execute(_SETTLE, plans)
    return current


def _settled(row: EndpointRow, attempt: Attempt, result: RunResult) -> dict[str, Any]:
    now = result.finished_at
    state = settle_after_run(
        state_from_row(row), success=result.status is RunStatus.SUCCESS, started_at=attempt.started_at, now=now
    )
    plan = plan_next_run(state, now, after_slot=attempt.slot) if schedulable(row) else None
    return {
        "b_id": attempt.endpoint_id,
        "b_fence": attempt.fence,
        "b_failure_count": state.failure_count,
        "b_last_run_at": state.last_run_at,
        "b_run_requested_at": state.run_requested_at,
        "b_ai_hint_interval_ms": state.ai_hint_interval_ms,
        "b_ai_hint_next_run_at": state.ai_hint_next_run_at,
        "b_ai_hint_expires_at": state.ai_hint_expires_at,
        "b_ai_hint_reason": row.ai_hint_reason if state.ai_hint_expires_at is not None else None,
        "b_next_run_at": plan.at if plan else None,
        "b_next_run_source": plan.source.value if plan else None,
    }
