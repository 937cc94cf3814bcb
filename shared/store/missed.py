"""Slots the scheduler missed, under catch_up=skip: released unrun before they are published, and recorded.

A claim of a slot that came due while the scheduler was down (more than `MISSED_SLOT_GRACE` late,
with the schedule's next slot due too) is the one late run that `coalesce` makes. An endpoint with
`catch_up=skip` wants none: the tick releases such a claim before publishing it, plans the next
slot still ahead, and records the slot as a `canceled` run with error kind `missed`, so a skipped
slot is never silent (the original neither caught up missed runs nor recorded them).

Like a quota deferral, this only ever touches a claim the tick has just made and not yet
published, fenced by its token: the claim machinery itself is unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, select

from cronicorn.core.governor import plan_next_run
from cronicorn.core.missed_slots import GRID_SOURCES, MISSED_SLOT_GRACE, skipped_as_missed
from cronicorn.core.model import ErrorKind, RunStatus
from cronicorn.store.attempts import is_current
from cronicorn.store.claims import NO_CLAIM, NO_RETRY, Claim
from cronicorn.store.endpoint_rows import EndpointRow
from cronicorn.store.replanning import lock_endpoint_rows, plan_values, state_from_row
from cronicorn.store.tables import endpoints, runs

_RELEASE_MISSED = (
    endpoints.update()
    .where(and_(endpoints.c.id == bindparam("b_id"), endpoints.c.fence == bindparam("b_fence")))
    .values(
        **NO_CLAIM,
        # Whatever clears a claim drops a pending retry too (there is none here: a retry is never
        # a first attempt, and only first attempts of scheduled slots are skipped as missed).
        **NO_RETRY,
        next_run_at=bindparam("b_next_run_at"),
        next_run_source=bindparam("b_next_run_source"),
        grid_slot_at=bindparam("b_grid_slot_at"),
        ended_at=bindparam("b_ended_at"),
    )
)


def skip_missed(engine: Engine, claims: Sequence[Claim], now: datetime) -> list[Claim]:
    """The claims to publish: all but those released as missed. No database work unless a
    first attempt of a scheduled slot is later than the grace (the tick's common case costs nothing)."""
    late = [c for c in claims if c.attempt == 1 and c.source in GRID_SOURCES and now - c.slot > MISSED_SLOT_GRACE]
    if not late:
        return list(claims)
    released: set[str] = set()
    with engine.begin() as conn:
        rows = lock_endpoint_rows(conn, [c.endpoint_id for c in late])
        for claim in late:
            row = rows.get(claim.endpoint_id)
            if row is not None and _release(conn, row, claim, now):
                released.add(claim.endpoint_id)
    return [c for c in claims if c.endpoint_id not in released]


def _release(conn: Connection, row: EndpointRow, claim: Claim, now: datetime) -> bool:
    """Release one claim as missed if it is still the tick's own and its endpoint skips missed slots."""
    if not is_current(row, claim.fence) or row.claim_started_at is not None:
        return False
    state = state_from_row(row)
    if not skipped_as_missed(state, now, slot=claim.slot, source=claim.source):
        return False
    # As if a run had started now and found the slot's successors due: the next slot still ahead.
    plan = plan_next_run(state, now, after_slot=claim.slot, started_at=now)
    planned = plan_values(plan, row, now)
    released = conn.execute(
        _RELEASE_MISSED, {"b_id": row.id, "b_fence": claim.fence, **{f"b_{k}": v for k, v in planned.items()}}
    )
    if not released.rowcount:
        return False
    if not _recorded(conn, claim):
        conn.execute(runs.insert().values(**_missed_run(claim, row, now, planned["next_run_at"])))
    return True


def _recorded(conn: Connection, claim: Claim) -> bool:
    """Whether this slot's attempt already has a run (the unique key a second insert would break)."""
    query = select(runs.c.id).where(
        and_(
            runs.c.endpoint_id == claim.endpoint_id, runs.c.scheduled_at == claim.slot, runs.c.attempt == claim.attempt
        )
    )
    return conn.execute(query).first() is not None


def _missed_run(claim: Claim, row: EndpointRow, now: datetime, next_at: datetime | None) -> dict[str, Any]:
    after = f"the next run is at {next_at.isoformat()}" if next_at is not None else "its schedule has ended"
    return {
        "id": str(uuid.uuid4()),
        "endpoint_id": claim.endpoint_id,
        "job_id": row.job_id,
        "status": RunStatus.CANCELED.value,
        "source": claim.source,
        "scheduled_at": claim.slot,
        "attempt": claim.attempt,
        "fence": claim.fence,
        "started_at": now,
        "finished_at": now,
        "error_kind": ErrorKind.MISSED.value,
        "error_message": f"missed: the slot came due while the scheduler could not run it, and the endpoint's "
        f"catch_up is skip; {after}",
    }
