"""The producer client on SQLite and PostgreSQL: every change takes effect at once, bad input writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import Engine, func, select

from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.producer import control
from cronicorn.producer.client import Cronicorn
from cronicorn.store.tables import endpoints, jobs

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Cronicorn:
    return Cronicorn(engine, clock=clock)


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(jobs)).scalar_one(),
            conn.execute(select(func.count()).select_from(endpoints)).scalar_one(),
        )


def add(client: Cronicorn, **fields: object):  # type: ignore[no-untyped-def]
    job = client.create_job(name="j")
    base = {"name": "e", "url": "https://api.example.com/x", "baseline_interval_ms": 60_000}
    return client.add_endpoint(job.id, **{**base, **fields})


def test_it_creates_lists_and_updates_jobs(client: Cronicorn) -> None:
    job = client.create_job(name="  billing ", description="invoices")
    assert job.name == "billing" and job.status == "active"
    assert [j.id for j in client.list_jobs()] == [job.id]
    assert client.update_job(job.id, description="new").description == "new"
    assert client.get_job(job.id).description == "new"


def test_a_new_endpoint_is_planned_at_once(client: Cronicorn) -> None:
    ep = add(client)
    assert ep.next_run_at == NOW + MIN and ep.next_run_source == "baseline-interval"
    cron = add(client, baseline_interval_ms=None, baseline_cron="0 9 * * *", timezone="Europe/Berlin")
    assert cron.next_run_at == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"url": "ftp://x"}, "url"),
        ({"url": "http://"}, "url"),
        ({"method": "FETCH"}, "method"),
        ({"baseline_interval_ms": 999}, "baseline_interval_ms"),
        ({"baseline_cron": "0 9 * * *"}, "baseline"),
        ({"baseline_interval_ms": None}, "baseline"),
        ({"baseline_interval_ms": None, "baseline_cron": "bad cron"}, "baseline_cron"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"min_interval_ms": 120_000, "max_interval_ms": 60_000}, "min_interval_ms"),
        ({"timeout_ms": 500}, "timeout_ms"),
        ({"timeout_ms": 90_000}, "timeout_ms"),
        ({"max_execution_time_ms": 1_800_001}, "max_execution_time_ms"),
        ({"max_response_size_kb": 0}, "max_response_size_kb"),
        ({"body": {"a": 1}}, "body"),
        ({"headers": {"X-Bad": "a\r\nInjected: 1"}}, "headers"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_endpoint_input_names_the_field_and_writes_nothing(
    client: Cronicorn, engine: Engine, fields: dict, field: str
) -> None:  # type: ignore[type-arg]
    job = client.create_job(name="j")
    before = counts(engine)
    base = {"name": "e", "url": "https://api.example.com/x", "baseline_interval_ms": 60_000}
    with pytest.raises(InvalidInput) as info:
        client.add_endpoint(job.id, **{**base, **fields})
    assert any(e.field.startswith(field) for e in info.value.errors), info.value
    assert counts(engine) == before


def test_an_invalid_update_writes_nothing(client: Cronicorn) -> None:
    ep = add(client)
    with pytest.raises(InvalidInput, match="min_interval_ms"):
        client.update_endpoint(ep.id, min_interval_ms=10 * 60_000, max_interval_ms=60_000)
    assert client.get_endpoint(ep.id) == ep


def test_another_tenants_objects_are_not_found(engine: Engine, client: Cronicorn, clock: Clock) -> None:
    ep = add(client)
    other = Cronicorn(engine, tenant_id="acme", clock=clock)
    with pytest.raises(NotFound):
        other.get_endpoint(ep.id)
    with pytest.raises(NotFound):
        other.get_job(ep.job_id)
    with pytest.raises(NotFound):
        other.run_now(ep.id)
    with pytest.raises(NotFound):
        other.add_endpoint(ep.job_id, name="x", url="https://a.example/x", baseline_interval_ms=1000)
    assert other.list_jobs() == [] and other.list_endpoints() == []


def test_an_interval_edit_moves_the_next_run_at_once(client: Cronicorn, clock: Clock) -> None:
    ep = add(client, baseline_interval_ms=3_600_000)
    clock.now = NOW + MIN
    updated = client.update_endpoint(ep.id, baseline_interval_ms=10_000)
    assert updated.next_run_at == NOW + MIN + timedelta(seconds=10)


def test_switching_to_cron_replaces_the_interval(client: Cronicorn) -> None:
    ep = client.update_endpoint(add(client).id, baseline_cron="*/5 * * * *")
    assert ep.baseline_interval_ms is None and ep.next_run_source == "baseline-cron"


def test_run_now_moves_the_next_run_to_now(client: Cronicorn) -> None:
    ep = client.run_now(add(client, baseline_interval_ms=3_600_000).id)
    assert ep.next_run_at == NOW and ep.next_run_source == "manual"


def test_run_now_respects_the_min_interval_since_the_last_run(client: Cronicorn, engine: Engine) -> None:
    ep = add(client, baseline_interval_ms=3_600_000, min_interval_ms=300_000)
    with engine.begin() as conn:
        conn.execute(endpoints.update().where(endpoints.c.id == ep.id).values(last_run_at=NOW - MIN))
    assert client.run_now(ep.id).next_run_at == NOW + 4 * MIN


def test_a_hint_moves_the_next_run_earlier_but_never_later(client: Cronicorn) -> None:
    ep = add(client, baseline_interval_ms=600_000)
    faster = client.set_interval_hint(ep.id, 60_000, ttl_minutes=30, reason="degraded")
    assert faster.next_run_at == NOW + MIN and faster.ai_hint_reason == "degraded"
    slower = client.set_interval_hint(ep.id, 3_600_000)
    assert slower.next_run_at == NOW + MIN  # hints never push the next run later by themselves
    once = client.set_oneshot_hint(ep.id, next_run_in_ms=5_000)
    assert once.next_run_at == NOW + timedelta(seconds=5) and once.next_run_source == "ai-oneshot"


def test_hints_are_clamped_into_the_guardrails(client: Cronicorn, engine: Engine) -> None:
    ep = add(client, baseline_interval_ms=600_000, min_interval_ms=120_000, max_interval_ms=900_000)
    with engine.begin() as conn:
        conn.execute(endpoints.update().where(endpoints.c.id == ep.id).values(last_run_at=NOW))
    fast = client.set_interval_hint(ep.id, 1, reason="run every millisecond")
    assert fast.next_run_at == NOW + 2 * MIN and fast.next_run_source == "clamped-min"
    explained = client.explain(ep.id, n=3)
    assert all(b.at - a.at >= 2 * MIN for a, b in pairwise(explained))


def test_invalid_hints_name_the_field(client: Cronicorn) -> None:
    ep = add(client)
    with pytest.raises(InvalidInput, match="interval_ms"):
        client.set_interval_hint(ep.id, 0)
    with pytest.raises(InvalidInput, match="ttl_minutes"):
        client.set_interval_hint(ep.id, 1000, ttl_minutes=0)
    with pytest.raises(InvalidInput, match="next_run_at"):
        client.set_oneshot_hint(ep.id)
    with pytest.raises(InvalidInput, match="next_run_at"):
        client.set_oneshot_hint(ep.id, next_run_at=datetime(2026, 3, 2, 12, 5))  # naive
    assert client.get_endpoint(ep.id) == ep


def test_clear_hints_restores_the_baseline_plan(client: Cronicorn) -> None:
    ep = add(client, baseline_interval_ms=600_000)
    client.set_interval_hint(ep.id, 60_000)
    cleared = client.clear_hints(ep.id)
    assert cleared.ai_hint_interval_ms is None and cleared.next_run_at == NOW + 10 * MIN


def test_pause_moves_the_next_run_to_the_pause_end_and_resume_replans(client: Cronicorn, clock: Clock) -> None:
    ep = add(client)
    paused = client.pause_endpoint(ep.id, NOW + timedelta(hours=2), reason="maintenance")
    assert paused.next_run_at == NOW + timedelta(hours=2) and paused.paused_by == "user"
    with pytest.raises(Conflict, match="paused"):
        client.run_now(ep.id)
    clock.now = NOW + MIN
    resumed = client.resume_endpoint(ep.id)
    assert resumed.paused_until is None and resumed.next_run_at == NOW + 2 * MIN


def test_a_pause_in_the_past_is_refused(client: Cronicorn) -> None:
    with pytest.raises(InvalidInput, match="paused_until"):
        client.pause_endpoint(add(client).id, NOW - MIN)


def test_the_ai_cannot_lift_or_change_a_persons_pause(client: Cronicorn, engine: Engine) -> None:
    ep = add(client)
    client.pause_endpoint(ep.id, NOW + timedelta(hours=2))
    with pytest.raises(Conflict, match="person"):
        control.resume_endpoint(engine, "default", NOW, ep.id, actor="ai")
    with pytest.raises(Conflict, match="person"):
        control.pause_endpoint(engine, "default", NOW, ep.id, NOW + MIN, actor="ai")
    assert client.get_endpoint(ep.id).paused_until == NOW + timedelta(hours=2)


def test_the_ai_can_lift_its_own_pause(client: Cronicorn, engine: Engine) -> None:
    ep = add(client)
    control.pause_endpoint(engine, "default", NOW, ep.id, NOW + timedelta(hours=1), "spike", actor="ai")
    assert control.resume_endpoint(engine, "default", NOW, ep.id, actor="ai").paused_until is None


def test_pausing_a_job_unschedules_its_endpoints_and_resuming_replans_them(client: Cronicorn, clock: Clock) -> None:
    ep = add(client)
    client.pause_job(ep.job_id)
    assert client.get_endpoint(ep.id).next_run_at is None
    with pytest.raises(Conflict, match="job is paused"):
        client.run_now(ep.id)
    clock.now = NOW + MIN
    client.resume_job(ep.job_id)
    assert client.get_endpoint(ep.id).next_run_at == NOW + 2 * MIN


def test_archiving_stops_an_endpoint_for_good(client: Cronicorn) -> None:
    ep = client.archive_endpoint(add(client).id)
    assert ep.archived_at == NOW and ep.next_run_at is None
    with pytest.raises(Conflict):
        client.update_endpoint(ep.id, baseline_interval_ms=5000)
    assert client.list_endpoints(ep.job_id) == [] and len(client.list_endpoints(ep.job_id, include_archived=True)) == 1


def test_an_archived_job_cannot_be_resumed(client: Cronicorn) -> None:
    job = client.create_job(name="old")
    client.archive_job(job.id)
    with pytest.raises(Conflict):
        client.resume_job(job.id)


def test_a_running_endpoint_keeps_its_claim_and_plans_the_change_when_it_finishes(
    client: Cronicorn, engine: Engine
) -> None:
    ep = add(client)
    with engine.begin() as conn:
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == ep.id)
            .values(claimed_slot=NOW, lease_until=NOW + MIN, next_run_at=NOW + MIN, fence=1)
        )
    after = client.run_now(ep.id)
    assert after.running and after.next_run_at == NOW + MIN and after.run_requested_at == NOW


def test_reset_failures_drops_the_backoff_at_once(client: Cronicorn, engine: Engine) -> None:
    ep = add(client)
    with engine.begin() as conn:
        conn.execute(
            endpoints.update().where(endpoints.c.id == ep.id).values(failure_count=4, next_run_at=NOW + 16 * MIN)
        )
    after = client.reset_failures(ep.id)
    assert after.failure_count == 0 and after.next_run_at == NOW + MIN


def test_explain_lists_the_next_runs_with_their_sources(client: Cronicorn) -> None:
    ep = add(client, baseline_interval_ms=None, baseline_cron="0 * * * *", timezone="Asia/Kolkata")
    planned = client.explain(ep.id, n=3)
    # Kolkata is UTC+05:30: the hourly grid sits on the half hour in UTC.
    assert [p.at.minute for p in planned] == [30, 30, 30] and all(p.source == "baseline-cron" for p in planned)
    assert planned[0].at == NOW + timedelta(minutes=30)
    client.set_interval_hint(ep.id, 600_000, ttl_minutes=15)
    hinted = client.explain(ep.id, n=4)
    assert [p.source for p in hinted] == ["ai-interval", "ai-interval", "baseline-cron", "baseline-cron"]


def test_register_is_idempotent_and_updates_what_changed(client: Cronicorn, clock: Clock) -> None:
    spec = [
        {"name": "a", "url": "https://a.example/x", "baseline_interval_ms": 60_000},
        {"name": "b", "url": "https://b.example/x", "baseline_cron": "*/5 * * * *"},
    ]
    job, eps = client.register({"name": "deploy"}, spec)
    clock.now = NOW + MIN
    job2, eps2 = client.register({"name": "deploy"}, spec)
    assert job2.id == job.id and [e.id for e in eps2] == [e.id for e in eps]
    assert [e.updated_at for e in eps2] == [NOW, NOW]  # nothing changed, nothing written
    _, eps3 = client.register({"name": "deploy"}, [{**spec[0], "baseline_interval_ms": 30_000}])
    assert eps3[0].id == eps[0].id and eps3[0].baseline_interval_ms == 30_000
    assert len(client.list_endpoints(job.id)) == 2  # undeclared endpoints are left alone


def test_register_skip_and_error_modes(client: Cronicorn) -> None:
    spec = {"name": "a", "url": "https://a.example/x", "baseline_interval_ms": 60_000}
    client.register({"name": "deploy"}, [spec])
    _, [kept] = client.register({"name": "deploy"}, [{**spec, "baseline_interval_ms": 5_000}], on_conflict="skip")
    assert kept.baseline_interval_ms == 60_000
    with pytest.raises(Conflict, match="a"):
        client.register({"name": "deploy"}, [{**spec, "baseline_interval_ms": 5_000}], on_conflict="error")


def test_register_validates_everything_before_writing(client: Cronicorn, engine: Engine) -> None:
    with pytest.raises(InvalidInput, match=r"endpoints\[1\]\.url"):
        client.register(
            {"name": "deploy"},
            [
                {"name": "a", "url": "https://a.example/x", "baseline_interval_ms": 60_000},
                {"name": "b", "url": "nope", "baseline_interval_ms": 60_000},
            ],
        )
    assert counts(engine) == (0, 0)


def test_runs_are_listed_newest_first_with_filters_and_a_total(client: Cronicorn, engine: Engine) -> None:
    from cronicorn.store.tables import runs

    ep = add(client)
    with engine.begin() as conn:
        for i in range(5):
            conn.execute(
                runs.insert().values(
                    id=f"r{i}",
                    endpoint_id=ep.id,
                    job_id=ep.job_id,
                    status="success" if i % 2 else "failed",
                    source="baseline-interval",
                    scheduled_at=NOW + i * MIN,
                    attempt=1,
                    fence=i + 1,
                    started_at=NOW + i * MIN,
                )
            )
    page = client.list_runs(endpoint_id=ep.id, limit=2)
    assert page.total == 5 and [r.id for r in page.runs] == ["r4", "r3"]
    assert [r.id for r in client.list_runs(endpoint_id=ep.id, limit=2, offset=2).runs] == ["r2", "r1"]
    assert client.list_runs(status="failed").total == 3
    assert client.list_runs(since=NOW + 3 * MIN).total == 2
    assert client.get_run("r1").status == "success"
    with pytest.raises(InvalidInput, match="limit"):
        client.list_runs(limit=1001)
    with pytest.raises(InvalidInput, match="status"):
        client.list_runs(status="exploded")
    with pytest.raises(NotFound):
        Cronicorn(engine, tenant_id="acme").get_run("r1")


def test_declared_upstreams_must_be_live_endpoints_of_the_same_tenant(
    client: Cronicorn, engine: Engine, clock: Clock
) -> None:
    upstream = add(client)
    other_tenant = Cronicorn(engine, tenant_id="acme", clock=clock)
    foreign = other_tenant.add_endpoint(
        other_tenant.create_job(name="x").id, name="f", url="https://f.example/", baseline_interval_ms=1000
    )
    job = client.create_job(name="downstream")
    base = {"name": "d", "url": "https://d.example/", "baseline_interval_ms": 60_000}
    before = counts(engine)
    with pytest.raises(InvalidInput) as info:
        client.add_endpoint(job.id, **base, upstream_endpoint_ids=[upstream.id, foreign.id, "nope"])
    assert [e.field for e in info.value.errors] == ["upstream_endpoint_ids[1]", "upstream_endpoint_ids[2]"]
    assert counts(engine) == before
    down = client.add_endpoint(job.id, **base, upstream_endpoint_ids=[upstream.id])
    assert down.upstream_endpoint_ids == [upstream.id]
    with pytest.raises(InvalidInput, match="its own upstream"):
        client.update_endpoint(down.id, upstream_endpoint_ids=[down.id])
