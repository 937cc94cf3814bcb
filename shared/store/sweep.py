"""Sweep: attempts still `running` past their lease are recorded as abandoned."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, Select, select

from cronicorn.core.model import ErrorKind, RunStatus
from cronicorn.store.attempts import ABANDONED_MESSAGE
from cronicorn.store.tables import runs
from cronicorn.telemetry.metrics import ABANDONED

# Rows one sweep transaction marks at most: its row locks are held briefly, and a sweep after an
# outage (thousands of lapsed leases) goes on in further transactions.
SWEEP_BATCH = 500


def sweep_abandoned(engine: Engine, now: datetime) -> int:
    """Mark runs whose lease ended without a finish as abandoned; returns how many.

    Their endpoints need no action here: a claim keeps `next_run_at` at its lease end, so an
    endpoint whose attempt died is due again once heartbeats stop, and the next tick claims it.

    The sweep never waits for a row another transaction holds (`SKIP LOCKED`): a finish storing
    a late result holds its run's row, and one updating several runs while the sweep took them
    in another order would deadlock with it (seen under overload, a second lost each time). A
    row skipped is being finished right now, or is swept by the next sweep.
    """
    swept = 0
    while True:
        with engine.begin() as conn:
            ids = conn.execute(_lapsed(now)).scalars().all()
            if ids:
                result = conn.execute(
                    runs.update()
                    # Still running: SQLite takes no row locks, and a finish may have come first.
                    .where(runs.c.id.in_(ids), runs.c.status == RunStatus.RUNNING.value)
                    .values(
                        status=RunStatus.ABANDONED.value,
                        finished_at=now,
                        error_kind=ErrorKind.ABANDONED.value,
                        error_message=ABANDONED_MESSAGE,
                    )
                )
                ABANDONED.inc(result.rowcount)
                swept += int(result.rowcount)
        if len(ids) < SWEEP_BATCH:
            return swept


def _lapsed(now: datetime) -> Select[tuple[str]]:
    return (
        select(runs.c.id)
        .where(runs.c.status == RunStatus.RUNNING.value, runs.c.lease_until < now)
        .order_by(runs.c.lease_until)  # the partial index's order: no sort
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    )
