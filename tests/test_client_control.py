"""Steering endpoints (run now, hints, pause, resume) through the client and the actor-aware write path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.producer import control
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.records import Endpoint
from cronicorn.store.tables import endpoints
from tests.clients import Clock, snapshot

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def add(client: Cronicorn, **fields: Any) -> Endpoint:
    job = client.create_job(name="j")
    return client.add_endpoint(
        job.id, **{"name": "e", "url": "https://api.example.com/x", "baseline_interval_ms": 600_000, **fields}
    )


def set_columns(engine: Engine, endpoint_id: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(**values))


# --- run now -------------------------------------------------------------------------------
def test_run_now_moves_the_next_run_to_now(client: Cronicorn, now: datetime) -> None:
    ep = client.run_now(add(client, baseline_interval_ms=3_600_000).id)
    assert (ep.next_run_at, ep.next_run_source, ep.run_requested_at) == (now, "manual", now)


def test_run_now_respects_the_min_interval_since_the_last_run(client: Cronicorn, engine: Engine, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=3_600_000, min_interval_ms=300_000)
    set_columns(engine, ep.id, last_run_at=now - MIN)
    after = client.run_now(ep.id)
    assert after.next_run_at == now + 4 * MIN and after.next_run_source == "clamped-min"


def test_run_now_long_after_the_last_run_is_not_held_back(client: Cronicorn, engine: Engine, now: datetime) -> None:
    ep = add(client, baseline_interval_ms=3_600_000, min_interval_ms=300_000)
    set_columns(engine, ep.id, last_run_at=now - HOUR)
    assert client.run_now(ep.id).next_run_at == now


@pytest.mark.parametrize("state", ["paused", "archived", "job paused", "job archived"])
def test_run_now_is_refused_when_the_endpoint_cannot_run(
    client: Cronicorn, engine: Engine, now: datetime, state: str
) -> None:
    ep = add(client)
    if state == "paused":
        client.pause_endpoint(ep.id, now + HOUR)
    elif state == "archived":
        client.archive_endpoint(ep.id)
    elif state == "job paused":
        client.pause_job(ep.job_id)
    else:
        client.archive_job(ep.job_id)
    before = snapshot(engine)
    with pytest.raises(Conflict):
        client.run_now(ep.id)
    assert snapshot(engine) == before


def test_run_now_on_a_running_endpoint_follows_the_attempt_without_touching_its_claim(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client)
    set_columns(engine, ep.id, claimed_slot=now, lease_until=now + MIN, next_run_at=now + MIN, fence=3)
    after = client.run_now(ep.id)
    assert after.running and after.next_run_at == now + MIN and after.run_requested_at == now


# --- hints ---------------------------------------------------------------------------------
def test_an_interval_hint_moves_the_next_run_earlier_and_records_its_ttl(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    hinted = client.set_interval_hint(ep.id, 60_000, ttl_minutes=30, reason="queue growing")
    assert (hinted.next_run_at, hinted.next_run_source) == (now + MIN, "ai-interval")
    assert (hinted.ai_hint_interval_ms, hinted.ai_hint_expires_at, hinted.ai_hint_reason) == (
        60_000,
        now + 30 * MIN,
        "queue growing",
    )


def test_a_hint_never_moves_the_next_run_later(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    slower = client.set_interval_hint(ep.id, 3_600_000)
    assert slower.next_run_at == now + 10 * MIN and slower.ai_hint_interval_ms == 3_600_000
    later = client.set_oneshot_hint(ep.id, next_run_at=now + HOUR)
    assert later.next_run_at == now + 10 * MIN


def test_a_oneshot_hint_moves_the_next_run_to_its_time(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    soon = client.set_oneshot_hint(ep.id, next_run_in_ms=5_000, reason="deploy finished")
    assert (soon.next_run_at, soon.next_run_source) == (now + timedelta(seconds=5), "ai-oneshot")
    assert soon.ai_hint_expires_at == now + 30 * MIN
    at = client.set_oneshot_hint(add(client).id, next_run_at=now + 2 * MIN, ttl_minutes=1)
    assert at.next_run_at == now + 2 * MIN
    assert at.ai_hint_expires_at == now + 3 * MIN  # a hint outlives its own time


def test_hints_are_clamped_into_the_guardrails(client: Cronicorn, engine: Engine, now: datetime) -> None:
    ep = add(client, min_interval_ms=120_000, max_interval_ms=900_000)
    set_columns(engine, ep.id, last_run_at=now)
    fast = client.set_interval_hint(ep.id, 1)
    assert (fast.next_run_at, fast.next_run_source) == (now + 2 * MIN, "clamped-min")
    once = client.set_oneshot_hint(ep.id, next_run_in_ms=0)
    assert once.next_run_at == now + 2 * MIN


def test_clearing_hints_replans_from_the_baseline(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    client.set_interval_hint(ep.id, 60_000)
    client.set_oneshot_hint(ep.id, next_run_in_ms=1_000)
    cleared = client.clear_hints(ep.id)
    assert (
        cleared.ai_hint_interval_ms,
        cleared.ai_hint_next_run_at,
        cleared.ai_hint_expires_at,
        cleared.ai_hint_reason,
    ) == (None,) * 4
    assert (cleared.next_run_at, cleared.next_run_source) == (now + 10 * MIN, "baseline-interval")


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda c, i: c.set_interval_hint(i, 0), "interval_ms"),
        (lambda c, i: c.set_interval_hint(i, -5), "interval_ms"),
        (lambda c, i: c.set_interval_hint(i, 1.5), "interval_ms"),
        (lambda c, i: c.set_interval_hint(i, True), "interval_ms"),
        (lambda c, i: c.set_interval_hint(i, 1000, ttl_minutes=0), "ttl_minutes"),
        (lambda c, i: c.set_interval_hint(i, 1000, ttl_minutes=8 * 24 * 60), "ttl_minutes"),
        (lambda c, i: c.set_interval_hint(i, 1000, reason="x" * 1001), "reason"),
        (lambda c, i: c.set_oneshot_hint(i), "next_run_at"),
        (lambda c, i: c.set_oneshot_hint(i, next_run_at=datetime(2026, 3, 2, 12, 5), next_run_in_ms=1), "next_run_at"),
        (lambda c, i: c.set_oneshot_hint(i, next_run_at=datetime(2026, 3, 2, 12, 5)), "next_run_at"),
        (lambda c, i: c.set_oneshot_hint(i, next_run_in_ms=-1), "next_run_in_ms"),
        (lambda c, i: c.set_oneshot_hint(i, next_run_in_ms=1, ttl_minutes=-1), "ttl_minutes"),
    ],
)
def test_invalid_hints_name_the_field_and_write_nothing(
    client: Cronicorn, engine: Engine, call: Any, field: str
) -> None:
    ep = add(client)
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as info:
        call(client, ep.id)
    assert [e.field for e in info.value.errors] == [field]
    assert snapshot(engine) == before


def test_hints_on_an_archived_endpoint_are_refused(client: Cronicorn) -> None:
    ep = client.archive_endpoint(add(client).id)
    calls: list[Callable[[], object]] = [
        lambda: client.set_interval_hint(ep.id, 1000),
        lambda: client.set_oneshot_hint(ep.id, next_run_in_ms=0),
        lambda: client.clear_hints(ep.id),
    ]
    for call in calls:
        with pytest.raises(Conflict, match="archived"):
            call()


# --- pause and resume ----------------------------------------------------------------------
def test_a_pause_moves_the_next_run_to_its_end_and_resume_replans(
    client: Cronicorn, clock: Clock, now: datetime
) -> None:
    ep = add(client)
    paused = client.pause_endpoint(ep.id, now + 2 * HOUR, reason="maintenance")
    assert (paused.next_run_at, paused.next_run_source) == (now + 2 * HOUR, "paused")
    assert (paused.paused_until, paused.paused_by, paused.pause_reason) == (now + 2 * HOUR, "user", "maintenance")
    hinted = client.set_oneshot_hint(ep.id, next_run_in_ms=0)
    assert hinted.next_run_at == now + 2 * HOUR  # a hint never cuts a pause short
    clock.now = now + MIN
    resumed = client.resume_endpoint(ep.id)
    assert (resumed.paused_until, resumed.paused_by, resumed.pause_reason) == (None, None, None)
    assert resumed.next_run_at == now + MIN  # the one-shot hint is still fresh and now wins


def test_resume_replans_from_the_baseline(client: Cronicorn, clock: Clock, now: datetime) -> None:
    ep = add(client)
    client.pause_endpoint(ep.id, now + HOUR)
    clock.now = now + 5 * MIN
    assert client.resume_endpoint(ep.id).next_run_at == now + 15 * MIN


@pytest.mark.parametrize("until, field", [(datetime(2026, 3, 2, 11, 0), "paused_until"), ("tomorrow", "paused_until")])
def test_a_pause_needs_an_aware_time(client: Cronicorn, engine: Engine, until: Any, field: str) -> None:
    ep = add(client)
    before = snapshot(engine)
    with pytest.raises(InvalidInput, match=field):
        client.pause_endpoint(ep.id, until)
    assert snapshot(engine) == before


def test_a_pause_in_the_past_or_now_is_refused(client: Cronicorn, now: datetime) -> None:
    ep = add(client)
    for until in (now - MIN, now):
        with pytest.raises(InvalidInput, match="paused_until: must be in the future"):
            client.pause_endpoint(ep.id, until)
    assert client.get_endpoint(ep.id) == ep


def test_the_ai_cannot_lift_or_change_a_persons_pause(client: Cronicorn, engine: Engine, now: datetime) -> None:
    ep = client.pause_endpoint(add(client).id, now + 2 * HOUR)
    before = snapshot(engine)
    with pytest.raises(Conflict, match="person"):
        control.resume_endpoint(engine, "default", now, ep.id, actor="ai")
    with pytest.raises(Conflict, match="person"):
        control.pause_endpoint(engine, "default", now, ep.id, now + MIN, "shorter", actor="ai")
    assert snapshot(engine) == before


def test_an_ai_pause_is_capped_on_every_ai_path_a_persons_is_not(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client)
    before = snapshot(engine)
    with pytest.raises(InvalidInput, match="paused_until: an AI pause may reach at most 7 days"):
        control.pause_endpoint(engine, "default", now, ep.id, now + timedelta(days=8), "forever", actor="ai")
    assert snapshot(engine) == before
    assert control.pause_endpoint(engine, "default", now, ep.id, now + timedelta(days=7), actor="ai").paused_by == "ai"
    assert client.pause_endpoint(ep.id, now + timedelta(days=90)).paused_until == now + timedelta(days=90)


def test_the_ai_may_act_once_a_persons_pause_has_ended(client: Cronicorn, engine: Engine, now: datetime) -> None:
    ep = client.pause_endpoint(add(client).id, now + HOUR)
    later = now + 2 * HOUR
    paused = control.pause_endpoint(engine, "default", later, ep.id, later + HOUR, "upstream down", actor="ai")
    assert (paused.paused_by, paused.next_run_at) == ("ai", later + HOUR)


def test_the_ai_can_lift_its_own_pause_and_a_person_can_override_it(
    client: Cronicorn, engine: Engine, now: datetime
) -> None:
    ep = add(client)
    ai_paused = control.pause_endpoint(engine, "default", now, ep.id, now + HOUR, "spike", actor="ai")
    assert ai_paused.paused_by == "ai"
    assert control.resume_endpoint(engine, "default", now, ep.id, actor="ai").paused_until is None
    control.pause_endpoint(engine, "default", now, ep.id, now + HOUR, actor="ai")
    mine = client.pause_endpoint(ep.id, now + 3 * HOUR)
    assert (mine.paused_by, mine.next_run_at) == ("user", now + 3 * HOUR)


def test_the_ai_writes_hints_through_the_same_validated_path(client: Cronicorn, engine: Engine, now: datetime) -> None:
    ep = add(client)
    hinted = control.set_interval_hint(engine, "default", now, ep.id, 30_000, 15, "errors rising", actor="ai")
    assert hinted.next_run_at == now + timedelta(seconds=30)
    with pytest.raises(InvalidInput, match="interval_ms"):
        control.set_interval_hint(engine, "default", now, ep.id, 0, actor="ai")
    with pytest.raises(InvalidInput, match="actor"):
        control.set_interval_hint(engine, "default", now, ep.id, 1000, actor="robot")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="actor"):
        control.resume_endpoint(engine, "default", now, ep.id, actor="admin")  # type: ignore[arg-type]


def test_another_tenants_endpoints_cannot_be_steered(
    engine: Engine, client: Cronicorn, clock: Clock, now: datetime
) -> None:
    ep = add(client)
    other = Cronicorn(engine, tenant_id="acme", clock=clock)
    before = snapshot(engine)
    calls: list[Callable[[], object]] = [
        lambda: other.run_now(ep.id),
        lambda: other.set_interval_hint(ep.id, 1000),
        lambda: other.set_oneshot_hint(ep.id, next_run_in_ms=0),
        lambda: other.clear_hints(ep.id),
        lambda: other.pause_endpoint(ep.id, now + HOUR),
        lambda: other.resume_endpoint(ep.id),
        lambda: control.pause_endpoint(engine, "acme", now, ep.id, now + HOUR, actor="ai"),
    ]
    for call in calls:
        with pytest.raises(NotFound, match=f"endpoint '{ep.id}' not found"):
            call()
    assert snapshot(engine) == before


def test_a_clamped_hint_says_so_to_the_python_client_and_over_rest(client: Cronicorn, now: datetime) -> None:
    """Issue 12: whichever edge set it, the caller is told what the guardrails changed."""
    ep = client.add_endpoint(
        client.create_job(name="j").id,
        name="e",
        url="https://x.example.com/",
        baseline_interval_ms=600_000,
        min_interval_ms=30_000,
        max_interval_ms=3_600_000,
    )
    clamped = client.set_interval_hint(ep.id, 1_000, 30, "busy")
    assert clamped.notes == (
        "the interval hint of 1000 ms was clamped to 30000 ms: the endpoint's minimum interval "
        "(min_interval_ms) keeps its runs at least 30000 ms apart",
    )
    assert client.set_interval_hint(ep.id, 60_000, 30, "calm").notes == ()
    assert client.get_endpoint(ep.id).notes == ()  # reads carry no notes
