"""Sweep: attempts still `running` past their lease are recorded as abandoned."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_

from cronicorn.core.model import ErrorKind, RunStatus
from cronicorn.store.attempts import ABANDONED_MESSAGE
from cronicorn.store.tables import runs
from cronicorn.telemetry.metrics import ABANDONED


def sweep_abandoned(engine: Engine, now: datetime) -> int:
    """Mark runs whose lease ended without a finish as abandoned; returns how many.

    Their endpoints need no action here: a claim keeps `next_run_at` at its lease end, so an
    endpoint whose attempt died is due again once heartbeats stop, and the next tick claims it.
    """
    with engine.begin() as conn:
        result = conn.execute(
            runs.update()
            .where(and_(runs.c.status == RunStatus.RUNNING.value, runs.c.lease_until < now))
            .values(
                status=RunStatus.ABANDONED.value,
                finished_at=now,
                error_kind=ErrorKind.ABANDONED.value,
                error_message=ABANDONED_MESSAGE,
            )
        )
        ABANDONED.inc(result.rowcount)
        return int(result.rowcount)
