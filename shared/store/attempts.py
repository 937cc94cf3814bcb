"""The database side of starting attempts (fenced) and of keeping them alive (heartbeat renewals).

Starting works on a batch (the claims of one execute message) in one transaction, so the cost
per run is a share of a few statements, not a dozen round trips. Every row is still checked
against its own fencing token inside that transaction: batching changes how many rows a
statement writes, never which rows may be written. Finishing is `cronicorn.store.finishes`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, select
from sqlalchemy.exc import IntegrityError

from cronicorn.core.calls import HttpRequest
from cronicorn.core.dependencies import handed_request
from cronicorn.core.model import ErrorKind, RunStatus
from cronicorn.store.claims import lease_ms
from cronicorn.store.dependency_edges import open_gates
from cronicorn.store.endpoint_rows import EndpointRow
from cronicorn.store.replanning import lock_endpoint_rows
from cronicorn.store.tables import endpoints, runs
from cronicorn.telemetry.metrics import ABANDONED

# A claim refused because another execution holds the endpoint's lock is claimed again this
# soon: the holder is finishing (locks are released as each call ends) or its lock expires
# with its lease, and waiting a whole lease would make the endpoint miss its slot.
LOCKED_RETRY_MS = 1000


@dataclass(frozen=True)
class Attempt:
    run_id: str
    endpoint_id: str
    fence: int
    slot: datetime
    attempt: int
    started_at: datetime
    lease_until: datetime  # as granted at the start; heartbeats push it on while the call is in flight
    hold_until: datetime  # heartbeats stop here: the longest this attempt may hold its endpoint
    source: str | None
    request: HttpRequest  # without signing keys: the runner adds the tenant's
    tenant_id: str
    retry: int = 0  # which retry of its slot this attempt makes after failed calls (0: the slot's first)
    skip_reason: str | None = None  # its dependency's gate is closed: recorded as skipped, nothing sent
    dependency: dict[str, Any] | None = None  # the upstream run that let it run, and the values handed down

    @property
    def lost_before(self) -> int:
        """How many attempts of this slot were lost with their workers before this one (the
        slot's other attempts before it were its first try and its failure retries)."""
        return self.attempt - 1 - self.retry


@dataclass(frozen=True)
class Order:
    """What one execute message asks for: run the attempt that claim `fence` stands for."""

    endpoint_id: str
    fence: int
    # When the call is due (the claim's `run_at`); the runner holds it until then. None: at once.
    run_at: datetime | None = None


@dataclass(frozen=True)
class Started:
    """The outcome of `begin_attempts`, by endpoint id."""

    attempts: list[Attempt]
    stale: set[str]  # the claim moved on (or the run already exists): nothing to do
    locked: set[str]  # another execution holds the endpoint's lock


# (endpoint id, lock time-to-live ms) of the current claims -> the ids whose lock was taken.
LockTaker = Callable[[dict[str, int]], set[str]]


@dataclass(frozen=True)
class Leases:
    """How long attempts hold their endpoints: `attempt_ms` from each start or renewal, never
    past the endpoint's timeout plus `grace_ms` (or its max execution time) from the start."""

    attempt_ms: int = 4000
    grace_ms: int = 30_000


def is_current(row: EndpointRow | None, fence: int) -> bool:
    """Whether the claim `fence` still owns the endpoint (nothing cleared or re-claimed it)."""
    return row is not None and row.fence == fence and row.claimed_slot is not None


# The statements of every batch are built once: building one (and its cache key) cost more CPU
# than executing it. `endpoint_ids`: the batch's endpoints.
# Runs of these endpoints still marked running (read through a small partial index).
RUNNING_RUNS = select(runs.c.id, runs.c.endpoint_id, runs.c.fence, runs.c.attempt).where(
    and_(runs.c.endpoint_id.in_(bindparam("endpoint_ids", expanding=True)), runs.c.status == RunStatus.RUNNING.value)
)
_INSERT_RUN = runs.insert()
_RENEW_RUN = runs.update().where(runs.c.id == bindparam("b_run")).values(lease_until=bindparam("b_until"))


_START = (
    endpoints.update()
    .where(and_(endpoints.c.id == bindparam("b_id"), endpoints.c.fence == bindparam("b_fence")))
    .values(
        claim_started_at=bindparam("b_now"),
        claim_publishes=0,
        lease_until=bindparam("b_lease"),
        next_run_at=bindparam("b_lease"),
    )
)

# The claim stays unstarted (same attempt when claimed again) and falls due again shortly.
_RETRY_LOCKED = (
    endpoints.update()
    .where(and_(endpoints.c.id == bindparam("b_id"), endpoints.c.fence == bindparam("b_fence")))
    .values(lease_until=bindparam("b_retry"), next_run_at=bindparam("b_retry"))
)


def begin_attempts(
    engine: Engine, orders: Sequence[Order], now: datetime, *, leases: Leases, take_locks: LockTaker
) -> Started:
    """Start a batch; if a run of it already exists after all (a race the check cannot see),
    start each order on its own so one duplicate does not hold back the rest.

    `take_locks` must be idempotent for locks the caller already holds.
    """
    try:
        return _begin(engine, orders, now, leases=leases, take_locks=take_locks)
    except IntegrityError:
        if len(orders) == 1:
            return Started(attempts=[], stale={orders[0].endpoint_id}, locked=set())
    merged = Started(attempts=[], stale=set(), locked=set())
    for order in orders:
        one = begin_attempts(engine, [order], now, leases=leases, take_locks=take_locks)
        merged.attempts.extend(one.attempts)
        merged.stale.update(one.stale)
        merged.locked.update(one.locked)
    return merged


def _begin(engine: Engine, orders: Sequence[Order], now: datetime, *, leases: Leases, take_locks: LockTaker) -> Started:
    """Record a `running` run for every order whose claim is current and whose lock we get.

    One transaction: lock the rows, check each fence, take the endpoint locks (Redis) for the
    current ones, start their claims and insert their runs. Runs are unique per (endpoint,
    slot, attempt): a duplicated message finds its run and does nothing.
    """
    stale: set[str] = set()
    with engine.begin() as conn:
        rows = lock_endpoint_rows(conn, [o.endpoint_id for o in orders])
        current: dict[str, EndpointRow] = {}
        for order in orders:
            row = rows.get(order.endpoint_id)
            if row is not None and is_current(row, order.fence) and order.endpoint_id not in current:
                current[order.endpoint_id] = row
            else:
                stale.add(order.endpoint_id)
        if current:
            stale |= _settle_running(conn, current, now)
            for eid in stale:
                current.pop(eid, None)
        locked = take_locks({eid: leases.attempt_ms for eid in current}) if current else set()
        refused = set(current) - locked
        if refused:
            retry = now + timedelta(milliseconds=LOCKED_RETRY_MS)
            conn.execute(
                _RETRY_LOCKED, [{"b_id": eid, "b_fence": current[eid].fence, "b_retry": retry} for eid in refused]
            )
        due = {o.endpoint_id: max(now, o.run_at or now) for o in orders}
        attempts = [_attempt(current[eid], now, leases, starts_at=due[eid]) for eid in sorted(locked)]
        attempts = _through_dependencies(conn, attempts, now)
        if attempts:
            conn.execute(
                _START,
                [{"b_id": a.endpoint_id, "b_fence": a.fence, "b_now": now, "b_lease": a.lease_until} for a in attempts],
            )
            conn.execute(_INSERT_RUN, [_run_row(a, current[a.endpoint_id]) for a in attempts])
    return Started(attempts=attempts, stale=stale, locked=refused)


def _through_dependencies(conn: Connection, attempts: list[Attempt], now: datetime) -> list[Attempt]:
    """Each attempt as its dependency lets it start: skipped while a gate is closed, or handed its
    upstream's values (in the start's transaction, so a consumed dependency is a started run)."""
    if not attempts:
        return attempts
    passages = open_gates(conn, {a.endpoint_id: (a.source, a.attempt, a.retry > 0) for a in attempts}, now)
    changed = []
    for a in attempts:
        passage = passages.get(a.endpoint_id)
        if passage is None:
            changed.append(a)
            continue
        request = a.request
        if passage.record and passage.record.get("handed"):
            url, headers, body = handed_request(
                request.url, dict(request.headers), request.body, passage.record["handed"]
            )
            request = replace(request, url=url, headers=headers, body=body)
        changed.append(replace(a, request=request, skip_reason=passage.skip_reason, dependency=passage.record))
    return changed


def _settle_running(conn: Connection, current: dict[str, EndpointRow], now: datetime) -> set[str]:
    """Record earlier attempts still marked running as abandoned; returns the duplicates.

    A run of an earlier fence lost its lease (we hold the claim now); a run of the current
    fence means this message is a duplicate of one already started.
    """
    running = conn.execute(RUNNING_RUNS, {"endpoint_ids": list(current)}).all()
    duplicates = {r.endpoint_id for r in running if r.fence == current[r.endpoint_id].fence}
    lost = [r for r in running if r.fence < current[r.endpoint_id].fence]
    if lost:
        conn.execute(
            runs.update()
            .where(runs.c.id.in_([r.id for r in lost]))
            .values(
                status=RunStatus.ABANDONED.value,
                finished_at=now,
                error_kind=ErrorKind.ABANDONED.value,
                error_message=ABANDONED_MESSAGE,
            )
        )
        ABANDONED.inc(len(lost))
    return duplicates


ABANDONED_MESSAGE = (
    "attempt abandoned: its lease ended before it finished (worker killed, frozen or cut off from the "
    "database); if its call completed, its result replaces this record when it is stored"
)


def _notes(a: Attempt, row: EndpointRow) -> str | None:
    """How a run relates to the attempts of its slot before it."""
    if a.retry and a.attempt == row.retry_attempt:
        return (
            f"retry {a.retry} of {row.retry_max_attempts} after {row.retry_reason or 'a failed call'} "
            f"(attempt {a.attempt} of this slot, same Idempotency-Key)"
        )
    if a.attempt > 1:
        return (
            f"retry {a.attempt} of this slot: attempt {a.attempt - 1} lost its lease before finishing "
            "(same Idempotency-Key, so a receiver can drop a second delivery)"
        )
    return None


def _run_row(a: Attempt, row: EndpointRow) -> dict[str, Any]:
    notes = _notes(a, row)
    return {
        "id": a.run_id,
        "endpoint_id": a.endpoint_id,
        "job_id": row.job_id,
        "status": RunStatus.RUNNING.value,
        "source": a.source,
        "scheduled_at": a.slot,
        "attempt": a.attempt,
        "fence": a.fence,
        "started_at": a.started_at,
        "lease_until": a.lease_until,
        "request_url": row.url,
        "notes": notes,
        "dependency": a.dependency,
    }


def _attempt(row: EndpointRow, now: datetime, leases: Leases, *, starts_at: datetime) -> Attempt:
    """The attempt a current claim starts now; its call is due at `starts_at` (now, or a moment later)."""
    slot = row.claimed_slot
    if slot is None:  # unreachable: only rows that is_current let through get here, and they are claimed
        raise ValueError(f"endpoint {row.id} has no claimed slot")
    hold = lease_ms(row.timeout_ms, row.max_execution_time_ms, leases.grace_ms)
    return Attempt(
        run_id=str(uuid.uuid4()),
        endpoint_id=row.id,
        fence=row.fence,
        slot=slot,
        attempt=row.claim_attempt,
        started_at=starts_at,
        lease_until=now + timedelta(milliseconds=min(leases.attempt_ms, hold)),
        hold_until=now + timedelta(milliseconds=hold),
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
        retry=row.retry_number if row.retry_slot_at == slot else 0,
    )


def idempotency_key(endpoint_id: str, slot: datetime) -> str:
    """Same for every attempt at one slot, so receivers can drop a retried delivery."""
    return f"{endpoint_id}:{slot.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


def renew_leases(engine: Engine, attempts: Sequence[Attempt], now: datetime, lease_ms: int) -> dict[str, datetime]:
    """Push on the leases of attempts whose calls are in flight: the heartbeat.

    Returns the new lease end by run id, for the attempts whose claim is still theirs; an
    attempt missing from the result has lost its claim (or reached its hold limit) and must
    not send anything more. One transaction, two statements, whatever the batch size.
    """
    live = [a for a in attempts if now < a.hold_until]
    if not live:
        return {}
    until = {a.run_id: min(now + timedelta(milliseconds=lease_ms), a.hold_until) for a in live}
    with engine.begin() as conn:
        rows = lock_endpoint_rows(conn, [a.endpoint_id for a in live])
        owned = [a for a in live if is_current(rows.get(a.endpoint_id), a.fence)]
        if owned:
            conn.execute(
                _RENEW, [{"b_id": a.endpoint_id, "b_fence": a.fence, "b_until": until[a.run_id]} for a in owned]
            )
            conn.execute(_RENEW_RUN, [{"b_run": a.run_id, "b_until": until[a.run_id]} for a in owned])
    return {a.run_id: until[a.run_id] for a in owned}


_RENEW = (
    endpoints.update()
    .where(and_(endpoints.c.id == bindparam("b_id"), endpoints.c.fence == bindparam("b_fence")))
    .values(lease_until=bindparam("b_until"), next_run_at=bindparam("b_until"))
)
