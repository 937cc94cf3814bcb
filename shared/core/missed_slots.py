"""Slots the scheduler missed: which claimed slot an endpoint with catch_up=skip does not run.

The tick asks this of a claim it has just made (`cronicorn.store.missed`); the governor's rule 4
explains the policies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cronicorn.core.governor import EndpointState, grid_anchor, schedule_grid
from cronicorn.core.model import MISSED_SLOT_GRACE_MS, CatchUp, PlanSource

MISSED_SLOT_GRACE = timedelta(milliseconds=MISSED_SLOT_GRACE_MS)

# Plans that stand for a slot of the schedule: a claim of one of them that the scheduler missed
# may be skipped (catch_up=skip). Run-now, one-shot hints, one-offs, backfills and a pause's end
# were asked for, not scheduled, and run however late.
GRID_SOURCES = frozenset(
    source.value  # the text a claim carries
    for source in (
        PlanSource.BASELINE_CRON,
        PlanSource.BASELINE_INTERVAL,
        PlanSource.AI_INTERVAL,
        PlanSource.CLAMPED_MIN,
        PlanSource.CLAMPED_MAX,
        PlanSource.CATCH_UP,
        PlanSource.STARTS_AT,
    )
)


def skipped_as_missed(state: EndpointState, now: datetime, *, slot: datetime, source: str | None) -> bool:
    """Whether a claimed `slot` was missed and, under catch_up=skip, must not run (see rule 4).

    Missed means the scheduler could not run it in time: it is more than `MISSED_SLOT_GRACE`
    late *and* the schedule's next slot has come due too. A slot that is merely late (a short
    outage, a busy queue) still runs.
    """
    if CatchUp(state.catch_up) is not CatchUp.SKIP or source not in GRID_SOURCES or state.run_at is not None:
        return False
    if now - slot <= MISSED_SLOT_GRACE:
        return False
    anchor = grid_anchor(state, slot, now)
    slot_after, _ = schedule_grid(state, now, anchor)
    return slot_after(anchor) <= now
