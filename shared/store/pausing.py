"""Auto-pause: an endpoint whose failures in a row reach its policy's count is paused, in the finish.

The policy (`auto_pause_policies`) is optional, set on an endpoint or on its job. The pause is
recorded as `paused_by = "auto"`: like a person's, the AI cannot lift it; a person resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from cronicorn.core.model import PausedBy
from cronicorn.core.notifications import auto_pauses
from cronicorn.store.notifications import RunChange, auto_pause_after, auto_pause_counts
from cronicorn.store.replanning import replan
from cronicorn.store.tables import endpoints

AUTO_PAUSE_FOR = timedelta(days=100 * 365)
"""An auto-pause lasts until a person resumes the endpoint (a date no schedule reaches)."""


def auto_pause(conn: Connection, changes: Sequence[RunChange], now: datetime) -> set[str]:
    """Pause the endpoints these runs took to their auto-pause count; their ids."""
    failed = [ch for ch in changes if not ch.success and ch.failures_after > ch.failures_before]
    if not failed:
        return set()
    counts = auto_pause_counts(conn, [ch.endpoint_id for ch in failed], [ch.job_id for ch in failed])
    paused: set[str] = set()
    for ch in failed:
        after = auto_pause_after(counts, ch.endpoint_id, ch.job_id)
        if not auto_pauses(
            success=False, failures_before=ch.failures_before, failures_after=ch.failures_after, after_failures=after
        ):
            continue
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == ch.endpoint_id)
            .values(
                paused_until=now + AUTO_PAUSE_FOR,
                paused_by=PausedBy.AUTO.value,
                pause_reason=f"auto-paused after {ch.failures_after} failures in a row (last: {ch.error})",
                updated_at=now,
            )
        )
        replan(conn, ch.endpoint_id, now, mode="reset")
        paused.add(ch.endpoint_id)
    return paused
