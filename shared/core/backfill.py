"""Backfill: the slots of a past range of an endpoint's baseline schedule, run one after another.

The range is half-open, [since, until). Its slots are the baseline's: a cron endpoint's cron slots
in the range, an interval endpoint's `since`, `since + interval`, ... (no failure backoff, no
hints: those steer the live schedule, not the past). The endpoint stores a cursor, the next
backfill slot and the range's end; the governor plans the cursor before anything else (its rule
0), and each finished backfill run moves it on (`advance_backfill`), so the slots run in order,
one at a time, each with its own slot and so its own Idempotency-Key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cronicorn.core.schedule import next_cron_after

if TYPE_CHECKING:  # the governor imports this module; its state type is only needed for typing
    from cronicorn.core.governor import EndpointState

_RESOLUTION = timedelta(microseconds=1)


def _after(state: EndpointState, slot: datetime) -> datetime:
    """The baseline's first slot strictly after `slot`."""
    if state.baseline_cron is not None:
        return next_cron_after(state.baseline_cron, state.timezone, slot)
    if state.baseline_interval_ms is None:
        raise ValueError("a one-off endpoint (run_at) has no slots to backfill")
    return slot + timedelta(milliseconds=state.baseline_interval_ms)


def backfill_slots(state: EndpointState, since: datetime, until: datetime, *, limit: int) -> list[datetime]:
    """The baseline's slots in [since, until), oldest first, at most `limit + 1` (so a caller sees there are more)."""
    slot = since if state.baseline_cron is None else _after(state, since - _RESOLUTION)
    slots: list[datetime] = []
    while slot < until and len(slots) <= limit:
        slots.append(slot)
        slot = _after(state, slot)
    return slots


def advance_backfill(state: EndpointState, slot: datetime) -> tuple[datetime | None, datetime | None]:
    """The cursor (next slot, end) after the backfill run of `slot`: both None once the range is done."""
    following = _after(state, slot)
    if state.backfill_until is not None and following < state.backfill_until:
        return following, state.backfill_until
    return None, None
