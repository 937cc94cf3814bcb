"""The timeline's data and its colors: pure functions of records, as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cronicorn.api.dashboard.timeline import source_group, timeline_data
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
