"""Claiming due endpoints: atomic across any number of ticks, beats and scheduler workers.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` then the claim UPDATE, in one transaction, so
two concurrent ticks never see the same row. SQLite: the engine opens every transaction with
BEGIN IMMEDIATE, which serialises claimers on the database write lock (same guarantee).

Each claim bumps the endpoint's fencing token; an `execute` message carries it and every later
write of that attempt must still match it, so a stale or duplicated message does nothing.

The claim's life, and who ends each state (so no path leaves an endpoint claimed for good):
- claimed, not started: `next_run_at = lease_until = run_at + claim lease` (a few seconds;
  `run_at` is now, or the slot's time when it was claimed a moment ahead). If no worker starts
  it (message lost, scheduler killed before publishing, lock held), the tick claims the same
  slot again when that lease ends, as the same attempt.
- started (`claim_started_at` set): the worker renews the lease every heartbeat while its call
  is in flight. A worker killed or frozen stops renewing; the tick claims the slot again as
  the next attempt once the lease ends, and the lost run is recorded as abandoned.
- finished: the attempt's fenced write clears the claim and plans the next run, or, when the
  call failed and the endpoint retries it, keeps the slot pending as a retry (`retry_slot_at`,
  `retry_attempt`, `next_run_at` the retry's time): the tick claims it like any due row, as
  that slot and attempt.
- released (`release_claims`): a claim whose endpoint can no longer run (job paused or
  archived, endpoint paused) or whose lease ended before an edit, is cleared and its fence
  bumped, so its holder, if it ever wakes, can write nothing but its own run's record. A
  pending retry goes with it (`NO_RETRY`): the slot ends with the attempts it had.

Attempt numbers of one slot grow by one per attempt, whatever made it: a claim started and lost
(crash retry) and a failed call retried (failure retry) both run as the next number, so the two
never collide in the runs' (endpoint, slot, attempt) key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, or_, select

from cronicorn.core.model import JobStatus, PlanSource
from cronicorn.store.tables import endpoints, jobs


@dataclass(frozen=True)
class Claim:
    endpoint_id: str
    job_id: str
    name: str
    fence: int
    slot: datetime
    attempt: int
    source: str | None
    lease_until: datetime
    # When its call is due: its planned time, or at once for a slot whose earlier claim lapsed. A
    # claim can be made a moment ahead of it (`claim_due`'s `ahead_ms`); the worker holds the call.
    run_at: datetime


def lease_ms(timeout_ms: int, max_execution_time_ms: int, grace_ms: int) -> int:
    """The longest one attempt may hold its endpoint, renewals included: never shorter than the
    request timeout. Heartbeats stop renewing past it, so a stuck call cannot hold forever."""
    return max(max_execution_time_ms, timeout_ms + grace_ms)


# A pending retry belongs to its slot: whatever ends the slot, or clears its claim, drops it too.
NO_RETRY: dict[str, Any] = {"retry_slot_at": None, "retry_number": 0, "retry_attempt": 0, "retry_reason": None}


MAX_PUBLISH_BACKOFF = 4  # an unstarted claim's lease doubles per republish, up to 16x


def claim_lease_ms(base_ms: int, publishes: int) -> int:
    """The lease of a claim published `publishes` times before without being started.

    While the execute queue has a backlog, a claim can wait longer than its lease; doubling the
    lease each time keeps a backlog from growing by a fresh message per claim every few seconds.
    """
    return base_ms * (1 << min(max(publishes, 0), MAX_PUBLISH_BACKOFF))


_DUE = (
    select(
        endpoints.c.id,
        endpoints.c.job_id,
        endpoints.c.name,
        endpoints.c.fence,
        endpoints.c.next_run_at,
        endpoints.c.next_run_source,
        endpoints.c.claimed_slot,
        endpoints.c.claimed_source,
        endpoints.c.claim_attempt,
        endpoints.c.claim_started_at,
        endpoints.c.claim_publishes,
        endpoints.c.retry_slot_at,
        endpoints.c.retry_attempt,
        endpoints.c.timeout_ms,
        endpoints.c.max_execution_time_ms,
        endpoints.c.paused_until,
        endpoints.c.archived_at,
        jobs.c.status.label("job_status"),
    )
    .join(jobs, jobs.c.id == endpoints.c.job_id)
    .where(
        endpoints.c.next_run_at <= bindparam("horizon"),
        # Only a free slot is claimed ahead: a claimed row falls due when its lease ends, never
        # before, or a slot could be claimed again while its holder may still send.
        or_(endpoints.c.claimed_slot.is_(None), endpoints.c.next_run_at <= bindparam("now")),
    )
    .order_by(endpoints.c.next_run_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=endpoints)
)

_CLAIM = (
    endpoints.update()
    .where(endpoints.c.id == bindparam("b_id"))
    .values(
        fence=bindparam("b_fence"),
        claimed_slot=bindparam("b_slot"),
        claimed_source=bindparam("b_source"),
        claim_attempt=bindparam("b_attempt"),
        claim_started_at=None,
        claim_publishes=bindparam("b_publishes"),
        lease_until=bindparam("b_lease"),
        # A claim nobody starts, or an attempt that never finishes, makes the endpoint due
        # again when its lease ends.
        next_run_at=bindparam("b_lease"),
    )
)

NO_CLAIM: dict[str, Any] = {
    "claimed_slot": None,
    "claimed_source": None,
    "claim_attempt": 0,
    "claim_started_at": None,
    "claim_publishes": 0,
    "lease_until": None,
}
"""The claim columns of an endpoint nobody holds: what every path that ends a claim writes."""

# Clearing a claim bumps the fence too: the holder, if it ever resumes, is fenced off.
_RELEASE = (
    endpoints.update()
    .where(endpoints.c.id == bindparam("b_id"))
    .values(
        fence=endpoints.c.fence + 1,
        next_run_at=bindparam("b_next"),
        next_run_source=bindparam("b_source"),
        **NO_CLAIM,
        **NO_RETRY,
    )
)


def release_claims(conn: Connection, released: Sequence[dict[str, Any]]) -> None:
    """Clear claims and set the next run: each entry has `b_id`, `b_next` and `b_source`."""
    if released:
        conn.execute(_RELEASE, list(released))


def claim_due(engine: Engine, now: datetime, *, limit: int, claim_lease: int = 4000, ahead_ms: int = 0) -> list[Claim]:
    """Claim up to `limit` due endpoints in one transaction; publish only after it commits.

    `claim_lease` (ms) is how long a claim waits to be started before it is claimed again.
    `ahead_ms`: free slots due within this much from now are claimed too (each claim's `run_at`
    says when its call is due), so the message reaches its worker before the slot instead of after.
    """
    horizon = now + timedelta(milliseconds=ahead_ms)
    with engine.begin() as conn:
        rows = conn.execute(_DUE, {"now": now, "horizon": horizon, "limit": limit}).all()
        return _claim_rows(conn, rows, now, claim_lease)


def _park(row: Any, now: datetime) -> dict[str, Any] | None:
    """The release of a due row that must not run now (a race with a pause or archive), or None.

    Parked rows are never scanned again until they can run, so the tick's cost stays with real
    due work; a claim they held is cleared, so resuming them later starts from a clean state.
    """
    if row.archived_at is not None or row.job_status != JobStatus.ACTIVE.value:
        return {"b_id": row.id, "b_next": None, "b_source": None}
    if row.paused_until is not None and row.paused_until > max(now, row.next_run_at):
        return {"b_id": row.id, "b_next": row.paused_until, "b_source": PlanSource.PAUSED.value}
    return None


def _slot_and_attempt(row: Any, *, reclaim: bool, started: bool) -> tuple[datetime, int]:
    """The slot a due row is claimed for, and as which attempt."""
    if reclaim:
        # A claim never started keeps its attempt number: no call was made, nothing was lost.
        return row.claimed_slot, row.claim_attempt + 1 if started else row.claim_attempt
    if row.retry_slot_at is not None:  # a failed attempt's slot, tried again (`cronicorn.core.retries`)
        return row.retry_slot_at, row.retry_attempt
    return row.next_run_at, 1


def _claim_rows(conn: Connection, rows: Sequence[Any], now: datetime, claim_lease: int) -> list[Claim]:
    claims: list[Claim] = []
    updates: list[dict[str, Any]] = []
    parked: list[dict[str, Any]] = []
    for row in rows:
        park = _park(row, now)
        if park is not None:
            parked.append(park)
            continue
        reclaim = row.claimed_slot is not None  # the previous claim's lease ran out
        started = reclaim and row.claim_started_at is not None
        publishes = row.claim_publishes + 1 if reclaim and not started else 0
        # A lapsed claim's row is due at its lease's end, which has passed: at once.
        run_at = max(now, row.next_run_at)
        lease_until = run_at + timedelta(milliseconds=claim_lease_ms(claim_lease, publishes))
        slot, attempt = _slot_and_attempt(row, reclaim=reclaim, started=started)
        claim = Claim(
            endpoint_id=row.id,
            job_id=row.job_id,
            name=row.name,
            fence=row.fence + 1,
            slot=slot,
            attempt=attempt,
            source=row.claimed_source if reclaim else row.next_run_source,
            lease_until=lease_until,
            run_at=run_at,
        )
        claims.append(claim)
        updates.append(
            {
                "b_id": claim.endpoint_id,
                "b_fence": claim.fence,
                "b_slot": claim.slot,
                "b_source": claim.source,
                "b_attempt": claim.attempt,
                "b_publishes": publishes,
                "b_lease": lease_until,
            }
        )
    if updates:
        conn.execute(_CLAIM, updates)
    release_claims(conn, parked)
    return claims
