""" "Why did or didn't it run": the endpoint's state read back as sentences, most decisive first."""

from __future__ import annotations

from datetime import datetime

from cronicorn.api.dashboard.render import ago, millis, when
from cronicorn.producer.records import Endpoint, Job, PlannedRun


def endpoint_status(endpoint: Endpoint, job_status: str, now: datetime) -> str:
    """One word for the table and the page: archived, ended, job-paused, paused, running, failing or active."""
    if endpoint.archived_at is not None:
        return "archived"
    if endpoint.ended_at is not None:
        return "ended"
    if job_status != "active":
        return f"job-{job_status}"
    if endpoint.paused_until and endpoint.paused_until > now:
        return "paused"
    if endpoint.running:
        return "running"
    if endpoint.failure_count > 0:
        return "failing"
    return "active"


def reasons(endpoint: Endpoint, job: Job, planned: list[PlannedRun], now: datetime) -> list[str]:
    """What holds the endpoint back or moves it, then when it runs next and by which rule."""
    said: list[str] = []
    if endpoint.archived_at is not None:
        return [f"It does not run: archived {when(endpoint.archived_at, now)}."]
    if endpoint.ended_at is not None:
        said.append(f"It does not run any more: its schedule ended {when(endpoint.ended_at, now)}.")
    if job.status != "active":
        said.append(f"It does not run: its job {job.name!r} is {job.status}.")
    if endpoint.paused_until and endpoint.paused_until > now:
        by = f" by {endpoint.paused_by}" if endpoint.paused_by else ""
        why = f" ({endpoint.pause_reason})" if endpoint.pause_reason else ""
        said.append(f"Paused{by} until {when(endpoint.paused_until, now)}{why}.")
    if endpoint.running:
        said.append("An attempt is running right now; the next run is planned when it finishes.")
    if endpoint.failure_count > 0:
        said.append(
            f"{endpoint.failure_count} consecutive failure(s): the interval backs off until a call succeeds "
            "(reset failures to plan from the baseline again)."
        )
    if endpoint.retry_slot_at is not None:
        said.append(
            f"Retry {endpoint.retry_number} of the slot {when(endpoint.retry_slot_at)} is pending"
            f"{' after ' + endpoint.retry_reason if endpoint.retry_reason else ''}."
        )
    if endpoint.not_before_at and endpoint.not_before_at > now:
        said.append(f"The target asked not to be called before {when(endpoint.not_before_at, now)} (Retry-After).")
    if endpoint.ai_hint_expires_at and endpoint.ai_hint_expires_at > now:
        what = (
            f"run every {millis(endpoint.ai_hint_interval_ms)}"
            if endpoint.ai_hint_interval_ms
            else f"run once at {when(endpoint.ai_hint_next_run_at)}"
        )
        said.append(
            f"A hint says {what} until {when(endpoint.ai_hint_expires_at, now)}"
            f"{' (' + endpoint.ai_hint_reason + ')' if endpoint.ai_hint_reason else ''}; "
            "the guardrails clamp it."
        )
    if planned:
        first = planned[0]
        extra = "; ".join(x for x in (first.note, first.detail) if x)
        said.append(
            f"Next run {ago(first.at, now)} ({when(first.at)}), chosen by the rule {first.source!r}"
            f"{': ' + extra if extra else ''}."
        )
    elif not said:
        said.append("Nothing is planned.")
    if endpoint.last_run_at:
        said.append(f"Last run started {ago(endpoint.last_run_at, now)}.")
    else:
        said.append("It has not run yet.")
    return said
