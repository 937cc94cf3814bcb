"""What a caller is told when the guardrails change what its hint asked for: nothing is clamped silently.

The same notes reach the planner's tool results, the Python client's returned `Endpoint.notes` and
the REST response's `notes`. Pure: the endpoint as it stands (after the write, or as it is in the
planner's shadow mode) and `now` in, notes out. The governor makes the same decisions (rules 4-7 in
`cronicorn.core.governor`); these notes only say so.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cronicorn.producer.records import Endpoint


def interval_notes(interval_ms: int, ep: Endpoint, now: datetime) -> list[str]:
    """Notes on an interval hint the endpoint's min/max interval holds to a bound, or a pause defers."""
    notes = []
    if ep.min_interval_ms is not None and interval_ms < ep.min_interval_ms:
        notes.append(
            f"the interval hint of {interval_ms} ms was clamped to {ep.min_interval_ms} ms: the endpoint's minimum "
            f"interval (min_interval_ms) keeps its runs at least {ep.min_interval_ms} ms apart"
        )
    elif ep.max_interval_ms is not None and interval_ms > ep.max_interval_ms:
        notes.append(
            f"the interval hint of {interval_ms} ms was clamped to {ep.max_interval_ms} ms: the endpoint's maximum "
            f"interval (max_interval_ms) runs it at least every {ep.max_interval_ms} ms"
        )
    return notes + _paused(ep, now)


def oneshot_notes(at: datetime, ep: Endpoint, now: datetime) -> list[str]:
    """Notes on a one-shot time that lies in the past, before the min-interval floor, or after the planned run."""
    notes = []
    wanted = at
    if at < now:
        notes.append(f"the one-shot time {at.isoformat()} is in the past: it counts as now")
        wanted = now
    if ep.min_interval_ms and ep.last_run_at is not None:
        floor = ep.last_run_at + timedelta(milliseconds=ep.min_interval_ms)
        if wanted < floor:
            notes.append(
                f"the one-shot time was clamped to {floor.isoformat()}: the endpoint's minimum interval "
                f"({ep.min_interval_ms} ms, min_interval_ms) counts from its last run at {ep.last_run_at.isoformat()}"
            )
            wanted = floor
    paused = _paused(ep, now)
    if paused:
        return notes + paused
    if ep.next_run_at is not None and ep.next_run_at < wanted:
        notes.append(
            f"the next run stays at {ep.next_run_at.isoformat()}, earlier than {wanted.isoformat()}: a one-shot "
            "only ever moves a run earlier; it competes again after that run until it expires"
        )
    return notes


def _paused(ep: Endpoint, now: datetime) -> list[str]:
    if ep.paused_until is None or ep.paused_until <= now:
        return []
    by = {"user": "a person", "auto": "its auto-pause policy"}.get(ep.paused_by or "", "the AI")
    return [
        f"the endpoint is paused until {ep.paused_until.isoformat()} (by {by}): the hint counts only "
        "after the pause ends, if it has not expired by then"
    ]
