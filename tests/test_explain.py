"""`explain`: the next n run times and why, simulated from the governor without writing anything."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.core.errors import InvalidInput
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.explain import explain
from cronicorn.producer.records import Endpoint, PlannedRun
from cronicorn.store.tables import endpoints
from tests.clients import Clock, snapshot

UTC = UTC
MS = timedelta(milliseconds=1)
SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def add(client: Cronicorn, **fields: Any) -> Endpoint:
    job = client.create_job(name="j")
    return client.add_endpoint(
        job.id, **{"name": "e", "url": "https://api.example.com/x", "baseline_interval_ms": 3_600_000, **fields}
    )


def increasing(planned: list[PlannedRun]) -> bool:
    return all(a.at < b.at for a, b in pairwise(planned))


def test_an_interval_endpoint_runs_every_interval(client: Cronicorn, now: datetime) -> None:
    planned = client.explain(add(client, baseline_interval_ms=600_000).id, n=4)
    assert [p.at for p in planned] == [now + 10 * MIN, now + 20 * MIN, now + 30 * MIN, now + 40 * MIN]
    assert {p.source for p in planned} == {"baseline-interval"}


def test_an_interval_endpoint_keeps_its_fixed_rate_grid_whatever_the_calls_take(
    client: Cronicorn, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=15_000)
    for took in (timedelta(0), SEC, 14 * SEC):
        planned = explain(ep, now, 4, call_duration=took)
        assert [p.at for p in planned] == [now + 15 * SEC, now + 30 * SEC, now + 45 * SEC, now + MIN], took
        assert {p.source for p in planned} == {"baseline-interval"}


def test_a_call_longer_than_its_interval_skips_the_slots_it_overran(client: Cronicorn, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=15_000)
    planned = explain(ep, now, 4, call_duration=20 * SEC)
    # overlap=skip (the default): each run ends after the next slot, which is skipped for the one after it.
    assert [(p.at, p.source) for p in planned] == [
        (now + 15 * SEC, "baseline-interval"),
        (now + 45 * SEC, "baseline-interval"),
        (now + 75 * SEC, "baseline-interval"),
        (now + 105 * SEC, "baseline-interval"),
    ]


def test_with_buffer_one_a_call_longer_than_its_interval_shows_one_buffered_run_after_each(
    client: Cronicorn, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=15_000, overlap="buffer_one")
    planned = explain(ep, now, 4, call_duration=20 * SEC)
    # Each run ends after the next slot: that slot runs once, when the run ends, and the grid goes on from there.
    assert [(p.at, p.source) for p in planned] == [
        (now + 15 * SEC, "baseline-interval"),
        (now + 35 * SEC, "baseline-interval"),
        (now + 55 * SEC, "baseline-interval"),
        (now + 75 * SEC, "baseline-interval"),
    ]


def test_an_overdue_endpoint_runs_now_then_returns_to_its_grid(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=600_000)
    with engine.begin() as conn:  # it was due 65 minutes ago (an outage)
        conn.execute(endpoints.update().where(endpoints.c.id == ep.id).values(next_run_at=now - 65 * MIN))
    planned = client.explain(ep.id, n=4)
    # The late run serves every slot missed before it; the next is the grid's next slot after it.
    assert [p.at for p in planned] == [now - 65 * MIN, now + 5 * MIN, now + 15 * MIN, now + 25 * MIN]


def test_a_sub_second_interval_hint_is_shown_held_to_one_run_a_second(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    client.set_interval_hint(ep.id, 100, ttl_minutes=5)
    planned = client.explain(ep.id, n=4)
    assert [(p.at, p.source) for p in planned] == [
        (now + 100 * MS, "ai-interval"),
        (now + 1100 * MS, "ai-interval"),
        (now + 2100 * MS, "ai-interval"),
        (now + 3100 * MS, "ai-interval"),
    ]


def test_a_negative_call_duration_is_refused(client: Cronicorn, now: datetime) -> None:
    with pytest.raises(InvalidInput, match="call_duration: "):
        explain(add(client), now, call_duration=-SEC)


def test_n_defaults_to_five_and_is_bounded(client: Cronicorn) -> None:
    ep = add(client)
    assert len(client.explain(ep.id)) == 5 and increasing(client.explain(ep.id, n=100))
    for bad in (0, 101):
        with pytest.raises(InvalidInput, match="n: "):
            client.explain(ep.id, n=bad)


def test_a_cron_follows_its_time_zone_across_a_dst_change(client: Cronicorn, clock: Clock) -> None:
    clock.now = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Europe moves to summer time on 29 March
    ep = add(client, baseline_interval_ms=None, baseline_cron="0 9 * * *", timezone="Europe/Berlin")
    planned = client.explain(ep.id, n=4)
    assert [p.at for p in planned] == [
        datetime(2026, 3, 28, 8, 0, tzinfo=UTC),  # 09:00 CET
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),  # 09:00 CEST
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 7, 0, tzinfo=UTC),
    ]
    assert {p.source for p in planned} == {"baseline-cron"}


def test_a_half_hour_time_zone_keeps_its_grid(client: Cronicorn, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=None, baseline_cron="0 * * * *", timezone="Asia/Kolkata")
    planned = client.explain(ep.id, n=3)
    assert [p.at for p in planned] == [now + 30 * MIN, now + 90 * MIN, now + 150 * MIN]


def test_an_interval_hint_runs_until_it_expires_then_the_baseline_returns(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    client.set_interval_hint(ep.id, 600_000, ttl_minutes=25)
    planned = client.explain(ep.id, n=5)
    assert [(p.at, p.source) for p in planned] == [
        (now + 10 * MIN, "ai-interval"),
        (now + 20 * MIN, "ai-interval"),
        (now + 30 * MIN, "ai-interval"),  # planned at +20 while the hint was still fresh
        (now + 90 * MIN, "baseline-interval"),
        (now + 150 * MIN, "baseline-interval"),
    ]


def test_an_interval_hint_replaces_a_cron_baseline_while_fresh(client: Cronicorn) -> None:
    ep = add(client, baseline_interval_ms=None, baseline_cron="0 * * * *", timezone="Asia/Kolkata")
    client.set_interval_hint(ep.id, 600_000, ttl_minutes=15)
    planned = client.explain(ep.id, n=4)
    assert [p.source for p in planned] == ["ai-interval", "ai-interval", "baseline-cron", "baseline-cron"]
    assert increasing(planned)


def test_a_oneshot_hint_runs_once_then_the_baseline(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    client.set_oneshot_hint(ep.id, next_run_in_ms=5 * 60_000)
    planned = client.explain(ep.id, n=3)
    assert [(p.at, p.source) for p in planned] == [
        (now + 5 * MIN, "ai-oneshot"),
        (now + 65 * MIN, "baseline-interval"),
        (now + 125 * MIN, "baseline-interval"),
    ]


def test_a_run_now_request_is_served_once(client: Cronicorn, now: datetime) -> None:
    ep = client.run_now(add(client).id)
    planned = client.explain(ep.id, n=2)
    assert [(p.at, p.source) for p in planned] == [(now, "manual"), (now + HOUR, "baseline-interval")]


def test_a_paused_endpoint_starts_at_the_pause_end(client: Cronicorn, now: datetime) -> None:
    ep = client.pause_endpoint(add(client).id, now + 3 * HOUR)
    planned = client.explain(ep.id, n=3)
    assert [(p.at, p.source) for p in planned] == [
        (now + 3 * HOUR, "paused"),
        (now + 4 * HOUR, "baseline-interval"),
        (now + 5 * HOUR, "baseline-interval"),
    ]


def test_guardrails_clamp_every_simulated_run(client: Cronicorn, now: datetime) -> None:
    ep = add(client, max_interval_ms=900_000)
    planned = client.explain(ep.id, n=3)
    assert [(p.at, p.source) for p in planned] == [
        (now + 15 * MIN, "clamped-max"),
        (now + 30 * MIN, "clamped-max"),
        (now + 45 * MIN, "clamped-max"),
    ]


def test_the_stored_failure_backoff_ends_after_a_simulated_success(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=60_000)
    with engine.begin() as conn:
        conn.execute(
            endpoints.update().where(endpoints.c.id == ep.id).values(failure_count=3, next_run_at=now + 8 * MIN)
        )
    planned = client.explain(ep.id, n=3)
    assert [p.at for p in planned] == [now + 8 * MIN, now + 9 * MIN, now + 10 * MIN]


def test_a_running_endpoint_is_explained_from_its_state_not_its_lease(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=60_000)
    with engine.begin() as conn:
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == ep.id)
            .values(claimed_slot=now, next_run_at=now + 10 * MIN, fence=1)
        )
    assert client.explain(ep.id, n=1)[0].at == now + MIN


def test_the_runs_after_an_attempt_in_flight_follow_its_slot(client: Cronicorn, engine: Engine, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=60_000)
    with engine.begin() as conn:  # an attempt for the slot 20 s ago is still running
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == ep.id)
            .values(claimed_slot=now - 20 * SEC, next_run_at=now + 10 * MIN, fence=1)
        )
    planned = client.explain(ep.id, n=3)
    assert [(p.at, p.source) for p in planned] == [
        (now + 40 * SEC, "baseline-interval"),
        (now + 100 * SEC, "baseline-interval"),
        (now + 160 * SEC, "baseline-interval"),
    ]


def test_a_run_now_made_during_an_attempt_is_explained_as_the_next_run(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=60_000)
    with engine.begin() as conn:
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == ep.id)
            .values(claimed_slot=now - 20 * SEC, next_run_at=now + 10 * MIN, fence=1)
        )
    client.run_now(ep.id)
    planned = client.explain(ep.id, n=2)
    assert [(p.at, p.source) for p in planned] == [(now, "manual"), (now + MIN, "baseline-interval")]


def test_nothing_is_planned_for_an_endpoint_that_cannot_run(client: Cronicorn) -> None:
    archived = client.archive_endpoint(add(client).id)
    assert client.explain(archived.id) == []
    paused_job = add(client)
    client.pause_job(paused_job.job_id)
    assert client.explain(paused_job.id) == []


def test_explaining_writes_nothing(client: Cronicorn, engine: Engine, clock: Clock, now: datetime) -> None:
    ep = add(client)
    client.set_interval_hint(ep.id, 60_000, ttl_minutes=5)
    before = snapshot(engine)
    clock.now = now + 30 * MIN
    client.explain(ep.id, n=10)
    assert snapshot(engine) == before


def test_explain_is_a_pure_function_of_the_endpoint_record(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    unplanned = replace(ep, next_run_at=None, next_run_source=None, baseline_interval_ms=120_000)
    assert [(p.at, p.source) for p in explain(unplanned, now, 2)] == [
        (now + 2 * MIN, "baseline-interval"),
        (now + 4 * MIN, "baseline-interval"),
    ]
    assert explain(ep, now, 2, job_status="paused") == []
    assert explain(ep, now, 2) == explain(ep, now, 2)


# --- schedule options (issue 12): explain shows each with its source and detail -------------------
def test_jitter_is_shown_with_the_slot_it_moved_and_never_accumulates(client: Cronicorn, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=600_000, jitter_ms=60_000)
    assert ep.grid_slot_at == now + 10 * MIN and now + 10 * MIN < ep.next_run_at <= now + 11 * MIN
    planned = client.explain(ep.id, n=6)
    assert planned[0].at == ep.next_run_at
    for k, p in enumerate(planned, start=1):
        slot = now + k * 10 * MIN  # the grid itself never moves
        assert slot <= p.at <= slot + MIN and p.source == "baseline-interval"
        assert p.detail == f"jitter +{(p.at - slot).total_seconds():g} s from its slot {slot:%Y-%m-%dT%H:%M:%SZ}"


def test_max_runs_counts_down_and_the_last_run_says_the_schedule_ends(client: Cronicorn, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=600_000, max_runs=3)
    planned = client.explain(ep.id, n=5)
    assert [(p.at, p.detail) for p in planned] == [
        (now + 10 * MIN, "3 of max_runs left, this one included"),
        (now + 20 * MIN, "2 of max_runs left, this one included"),
        (now + 30 * MIN, "1 of max_runs left, this one included; then ended: max_runs reached"),
    ]


def test_ends_at_stops_the_plan_at_the_last_slot_before_it(client: Cronicorn, now: datetime) -> None:
    ep = add(client, ends_at=now + 150 * MIN)
    planned = client.explain(ep.id, n=5)
    assert [(p.at, p.detail) for p in planned] == [
        (now + HOUR, None),
        (now + 2 * HOUR, "then ended: ends_at 2026-03-02T14:30:00Z"),
    ]


def test_starts_at_holds_the_first_run_and_the_grid_starts_there(client: Cronicorn, now: datetime) -> None:
    start = now + 24 * HOUR
    planned = client.explain(add(client, baseline_interval_ms=600_000, starts_at=start).id, n=3)
    assert [(p.at, p.source, p.detail) for p in planned] == [
        (start, "starts-at", "starts_at 2026-03-03T12:00:00Z"),
        (start + 10 * MIN, "baseline-interval", None),
        (start + 20 * MIN, "baseline-interval", None),
    ]
    cron = add(client, baseline_interval_ms=None, baseline_cron="0 * * * *", starts_at=now + 90 * MIN)
    assert [p.at for p in client.explain(cron.id, n=2)] == [now + 2 * HOUR, now + 3 * HOUR]


def test_a_one_off_runs_once_and_then_ends(client: Cronicorn, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=None, run_at=now + HOUR)
    assert [(p.at, p.source, p.detail) for p in client.explain(ep.id, n=5)] == [
        (now + HOUR, "one-off", "then ended: its one-off ran")
    ]


def test_a_backfill_runs_its_slots_first_then_the_schedule_resumes(client: Cronicorn, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=None, baseline_cron="0 * * * *")
    ep = client.backfill(ep.id, now - 3 * HOUR, now)
    until = "2026-03-02T12:00:00Z"
    assert [(p.at, p.source, p.detail) for p in client.explain(ep.id, n=5)] == [
        (now - 3 * HOUR, "backfill", f"backfill until {until}: its own slot and Idempotency-Key"),
        (now - 2 * HOUR, "backfill", f"backfill until {until}: its own slot and Idempotency-Key"),
        (now - HOUR, "backfill", f"backfill until {until}: its own slot and Idempotency-Key"),
        (now + HOUR, "baseline-cron", None),
        (now + 2 * HOUR, "baseline-cron", None),
    ]


def test_catch_up_all_shows_each_missed_slot_replayed_after_an_outage(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=600_000, catch_up="all")
    with engine.begin() as conn:  # it was due 35 minutes ago (an outage)
        conn.execute(endpoints.update().where(endpoints.c.id == ep.id).values(next_run_at=now - 35 * MIN))
    planned = client.explain(ep.id, n=5)
    assert [(p.at, p.source) for p in planned] == [
        (now - 35 * MIN, "baseline-interval"),  # the late run
        (now - 25 * MIN, "catch-up"),  # then each slot it missed, oldest first, keeping its own slot
        (now - 15 * MIN, "catch-up"),
        (now - 5 * MIN, "catch-up"),
        (now + 5 * MIN, "baseline-interval"),
    ]


def test_an_ended_endpoint_plans_nothing_and_says_when_it_ended(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client, ends_at=now + 30 * MIN)  # the first slot (+1 h) is already after the end
    assert (ep.next_run_at, ep.next_run_source, ep.ended_at) == (None, None, now)
    assert client.explain(ep.id) == []
