"""Why an endpoint did or didn't run, in words: a pure reading of its state, its job, its dependency and
its decisions, and its last run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cronicorn.producer.records import Endpoint, Job, Run


def _at(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _stopped(endpoint: Endpoint, job: Job, now: datetime) -> list[str]:
    """What keeps it from running at all, if anything."""
    if endpoint.archived_at is not None:
        return [f"archived at {_at(endpoint.archived_at)}: it never runs again"]
    if job.status == "archived":
        return [f"its job {job.name!r} is archived: none of its endpoints run again"]
    if job.status == "paused":
        return [f"its job {job.name!r} is paused: no endpoint of it runs until resume_job"]
    if endpoint.ended_at is not None:
        return [f"ended at {_at(endpoint.ended_at)}: its schedule ran out (ends_at, max_runs or a one-off that ran)"]
    if endpoint.paused_until is not None and endpoint.paused_until > now:
        by = endpoint.paused_by or "someone"
        reason = f" ({endpoint.pause_reason})" if endpoint.pause_reason else ""
        return [f"paused by {by} until {_at(endpoint.paused_until)}{reason}"]
    return []


def _shaping(endpoint: Endpoint, now: datetime) -> list[str]:
    """What moves its next run: a run in flight, failures, hints, retries, the target's hold, its start."""
    why = []
    if endpoint.running:
        why.append("a run is in flight right now")
    if endpoint.run_requested_at is not None:
        why.append(f"run-now requested at {_at(endpoint.run_requested_at)}")
    if endpoint.failure_count:
        why.append(f"{endpoint.failure_count} consecutive failure(s): the interval backs off (reset_failures forgets)")
    if endpoint.ai_hint_expires_at is not None and endpoint.ai_hint_expires_at > now:
        what = (
            f"every {endpoint.ai_hint_interval_ms} ms"
            if endpoint.ai_hint_interval_ms
            else f"once at {_at(endpoint.ai_hint_next_run_at)}"
            if endpoint.ai_hint_next_run_at
            else "a hint"
        )
        reason = f" ({endpoint.ai_hint_reason})" if endpoint.ai_hint_reason else ""
        why.append(f"hint: {what} until {_at(endpoint.ai_hint_expires_at)}{reason}")
    if endpoint.retry_slot_at is not None:
        why.append(f"retry {endpoint.retry_number} pending for the slot at {_at(endpoint.retry_slot_at)}")
    if endpoint.not_before_at is not None and endpoint.not_before_at > now:
        why.append(f"the target asked to wait until {_at(endpoint.not_before_at)} (Retry-After or rate limit)")
    if endpoint.starts_at is not None and endpoint.starts_at > now:
        why.append(f"starts at {_at(endpoint.starts_at)}: nothing runs before")
    return why


def _dependency(declared: dict[str, Any] | None, decisions: list[dict[str, Any]]) -> list[str]:
    """What it waits for (its dependency) and the scheduler's last decision about it."""
    if declared is None:
        return []
    spec, upstreams = declared["spec"], declared["upstreams"]
    modes = " and ".join(m for m in ("trigger", "gate") if spec.get(m))
    counted = sum(1 for u in upstreams if u.get("run_id"))
    why = [
        f"dependency ({modes}) on {len(upstreams)} upstream(s), fan-in {spec.get('fan_in', 'all')}, "
        f"on {spec.get('on', 'success')}: {counted} with a run that counts now"
    ]
    if decisions:
        last = decisions[-1]
        why.append(f"last dependency decision at {last.get('at')}: {last.get('kind')}: {last.get('reason')}")
    return why


def why_not(
    endpoint: Endpoint,
    job: Job,
    last: Run | None,
    now: datetime,
    declared: dict[str, Any] | None = None,
    decisions: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Sentences, most important first: what stops it, what shapes its next run (its dependency too), and
    how its last run went."""
    why = _stopped(endpoint, job, now) + _shaping(endpoint, now) + _dependency(declared, decisions or [])
    if endpoint.next_run_at is not None:
        due = "due now" if endpoint.next_run_at <= now else f"next run at {_at(endpoint.next_run_at)}"
        why.append(f"{due} (rule: {endpoint.next_run_source or 'baseline'})")
    elif not why:
        why.append("nothing planned")
    if last is None:
        why.append("it has not run yet")
    else:
        outcome = f"HTTP {last.status_code}" if last.status_code is not None else (last.error_kind or last.status)
        error = f": {last.error_message}" if last.error_message else ""
        why.append(f"last run {last.status} at {_at(last.started_at)} ({outcome}{error})")
    return why
