"""The timeline's data and its colors: pure functions of records, as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cronicorn.api.dashboard.timeline import past_bands, source_group, timeline_data
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.records import PlannedRun

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("source", "group"),
    [
        ("baseline-interval", "baseline"),
        ("baseline-cron", "baseline"),
        ("clamped-min", "baseline"),
        ("catch-up", "baseline"),
        ("ai-interval", "hint"),
        ("ai-oneshot", "hint"),
        ("manual", "manual"),
        ("backfill", "manual"),
        ("dependency", "dependency"),
        ("retry", "retry"),
        ("retry-after", "retry"),
        (None, "baseline"),
        ("", "baseline"),
    ],
)
def test_each_run_source_has_one_color(source: str | None, group: str) -> None:
    assert source_group(source) == group


def test_the_timeline_has_one_point_per_run_in_time_order_and_the_planned_runs_after(client: Cronicorn) -> None:
    job = client.create_job(name="j")
    ep = client.add_endpoint(job.id, name="e", url="https://x.test/", baseline_interval_ms=60_000)
    paused = client.pause_endpoint(ep.id, NOW + timedelta(hours=1), "deploy")
    planned = [PlannedRun(at=NOW + timedelta(hours=1), source="paused")]
    data = timeline_data(paused, [], planned, NOW)
    assert data["runs"] == [] and [p["at"] for p in data["planned"]] == [(NOW + timedelta(hours=1)).timestamp()]
    assert data["bands"] == [
        {"kind": "pause", "from": NOW.timestamp(), "to": (NOW + timedelta(hours=1)).timestamp(), "by": paused.paused_by}
    ]


def at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def test_past_pauses_and_hints_become_bands_until_they_expired_or_were_lifted() -> None:
    history = [
        {"at": at(-60), "actor": "user", "action": "pause", "expires_at": at(-30)},  # ran out
        {"at": at(-20), "actor": "ai", "action": "interval", "expires_at": at(40)},  # cleared at -10
        {"at": at(-10), "actor": "user", "action": "clear", "expires_at": None},
        {"at": at(-5), "actor": "user", "action": "pause", "expires_at": at(30)},  # still on: cut at now
    ]
    assert [(b["kind"], b["from"], b["to"], b["by"]) for b in past_bands(history, NOW)] == [
        ("pause", at(-60).timestamp(), at(-30).timestamp(), "user"),
        ("hint", at(-20).timestamp(), at(-10).timestamp(), "ai"),
        ("pause", at(-5).timestamp(), NOW.timestamp(), "user"),
    ]
